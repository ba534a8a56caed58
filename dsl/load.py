"""Load a policy folder: parse every file, check it against the schema and the sources, and
return the policy set with every diagnostic found (all at once, sorted by location).

Last, once nothing else is wrong, the whole set is analysed (dsl.analyze): two rules that give
different outcomes or paths for one project with no declared priority are the error
`unresolved_conflict`, so such a set is refused like any other error. `zhengce analyze` and
its tests load with `conflicts=False` to see the set the conflicts are in."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from dsl.analyze import analyze, conflict_issues
from dsl.check import check_policy, check_schema
from dsl.diagnostic_text import advise, diagnostic
from dsl.errors import Diagnostic, DslError, Span, sort_key
from dsl.industry import missing_classification, parse_classification
from dsl.parser import parse
from dsl.priority import check_priorities
from dsl.resolved import PolicyR, PolicySet
from dsl.schema import Schema
from dsl.sources import ClauseSource
from dsl.vocabulary import Code

SCHEMA_FILE = "schema.zc"
# The industry classification (GB/T 4754), beside the schema file: content a drafter edits.
INDUSTRY_FILE = Path("data") / "industries.yaml"


@dataclass(frozen=True)
class LoadResult:
    policies: PolicySet | None  # None when any error was found
    diagnostics: tuple[Diagnostic, ...]
    texts: dict[str, str]  # path -> file text, to render carets

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    def render(self) -> str:
        return "\n".join(d.render(self.texts.get(d.span.path)) for d in self.diagnostics)


def policy_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.zc") if p.name != SCHEMA_FILE)


def revision(files: list[Path], texts: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + texts[str(path)].encode() + b"\0")
    return digest.hexdigest()[:12]


def load_folder(
    folder: Path,
    source: ClauseSource,
    schema_path: Path | None = None,
    *,
    conflicts: bool = True,
) -> LoadResult:
    schema_file = schema_path or folder / SCHEMA_FILE
    files = [schema_file, *policy_files(folder)]
    return load_files(files, schema_file, source, conflicts=conflicts)


def load_files(
    files: list[Path],
    schema_file: Path,
    source: ClauseSource,
    *,
    conflicts: bool = True,
    unsaved: Mapping[Path, str] | None = None,
) -> LoadResult:
    """Every file checked, then (with `conflicts`, once nothing else is an error) the whole set
    analysed: each unresolved conflict is an `unresolved_conflict` error. `unsaved` gives the
    text of files an editor holds, which is checked instead of what is on disk."""
    diags: list[Diagnostic] = []
    texts: dict[str, str] = {}
    modules = {}
    for path in files:
        try:
            held = (unsaved or {}).get(path)
            texts[str(path)] = held if held is not None else path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            diags.append(unreadable(path, e))
            continue
        try:
            modules[path] = parse(texts[str(path)], str(path))
        except DslError as e:
            diags.extend(e.diagnostics)
    schema = None
    if schema_file in modules:
        schema, schema_diags = check_schema(modules[schema_file])
        diags.extend(schema_diags)
        if schema is not None:
            schema = _with_industries(schema, schema_file.parent / INDUSTRY_FILE, texts, diags)
    elif str(schema_file) in texts:
        pass  # its parse error is already reported
    else:
        where = Span(str(schema_file))
        diags.append(diagnostic(Code.MISSING_SCHEMA, where, "no_file", path=str(schema_file)))
    policies: list[PolicyR] = []
    if schema is not None:
        seen: dict[str, str] = {}
        for path, module in modules.items():
            if path == schema_file:
                continue
            policy, policy_diags = check_policy(module, schema, source)
            diags.extend(policy_diags)
            if policy is None:
                continue
            if policy.id in seen:
                diags.append(
                    diagnostic(
                        Code.DUPLICATE_NAME,
                        policy.header.span,
                        "policy",
                        name=policy.id,
                        other=seen[policy.id],
                    )
                )
            seen[policy.id] = str(path)
            policies.append(policy)
        diags.extend(check_priorities(m for path, m in modules.items() if path != schema_file))
    ok = schema is not None and not any(d.is_error for d in diags)
    # The classification decides answers too: a changed entry is a new revision.
    hashed = [p for p in (*files, schema_file.parent / INDUSTRY_FILE) if str(p) in texts]
    result = (
        PolicySet(schema, tuple(policies), revision(hashed, texts))
        if ok and schema is not None
        else None
    )
    if result is not None and conflicts:
        found = unresolved_conflicts(result)
        if found:
            diags.extend(found)
            result = None
    diags.sort(key=sort_key)
    return LoadResult(result, tuple(diags), texts)


def unresolved_conflicts(policies: PolicySet) -> list[Diagnostic]:
    """Each conflict `zhengce analyze` finds in a set that is otherwise sound, as an error at
    the first rule's name."""
    analysis = analyze(policies)
    found = []
    for finding, issue in zip(analysis.conflicts, conflict_issues(analysis), strict=True):
        first, second = finding.rules
        hint = advise("declare_priority", advice=issue.hint)
        example = finding.counterexample
        if example is None:
            found.append(
                diagnostic(
                    Code.UNRESOLVED_CONFLICT,
                    issue.span,
                    first=first,
                    second=second,
                    detail=issue.message,
                    hint=hint,
                )
            )
            continue
        found.append(
            diagnostic(
                Code.UNRESOLVED_CONFLICT,
                issue.span,
                "example",
                first=first,
                second=second,
                detail=issue.message,
                project=json.dumps(dict(example.project), ensure_ascii=False),
                date=str(example.date),
                hint=hint,
            )
        )
    return found


def unreadable(path: Path, e: OSError | UnicodeDecodeError) -> Diagnostic:
    """unreadable_file, saying why in the reader's words rather than the system's."""
    where = Span(str(path))
    if isinstance(e, UnicodeDecodeError):
        return diagnostic(Code.UNREADABLE_FILE, where, "not_utf8", position=e.start + 1)
    variant = _UNREADABLE.get(type(e))
    if variant is not None:
        return diagnostic(Code.UNREADABLE_FILE, where, variant)
    return diagnostic(Code.UNREADABLE_FILE, where, "os", reason=e.strerror or str(e))


_UNREADABLE = {
    FileNotFoundError: "missing",
    PermissionError: "denied",
    IsADirectoryError: "directory",
}


def _with_industries(
    schema: Schema, path: Path, texts: dict[str, str], diags: list[Diagnostic]
) -> Schema:
    """The schema with the industry classification in `path`. Without that file the set still
    loads (a test folder needs none), and only a rule testing membership is then an error."""
    if not path.exists():
        return replace(schema, industries=missing_classification(str(path)))
    try:
        texts[str(path)] = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        diags.append(unreadable(path, e))
        return replace(schema, industries=missing_classification(str(path)))
    industries, problems = parse_classification(texts[str(path)], str(path))
    diags.extend(problems)
    return replace(schema, industries=industries)
