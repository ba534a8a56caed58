"""Load a policy folder: parse every file, check it against the schema and the sources, and
return the policy set with every diagnostic found (all at once, sorted by location)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from dsl.check import check_policy, check_schema
from dsl.errors import Diagnostic, DslError, Span, sort_key
from dsl.parser import parse
from dsl.resolved import PolicyR, PolicySet
from dsl.sources import ClauseSource
from dsl.vocabulary import Code

SCHEMA_FILE = "schema.zc"


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


def load_folder(folder: Path, source: ClauseSource, schema_path: Path | None = None) -> LoadResult:
    schema_file = schema_path or folder / SCHEMA_FILE
    files = [schema_file, *policy_files(folder)]
    return load_files(files, schema_file, source)


def load_files(files: list[Path], schema_file: Path, source: ClauseSource) -> LoadResult:
    diags: list[Diagnostic] = []
    texts: dict[str, str] = {}
    modules = {}
    for path in files:
        try:
            texts[str(path)] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            diags.append(Diagnostic(Code.UNREADABLE_FILE, str(e), Span(str(path))))
            continue
        try:
            modules[path] = parse(texts[str(path)], str(path))
        except DslError as e:
            diags.extend(e.diagnostics)
    schema = None
    if schema_file in modules:
        schema, schema_diags = check_schema(modules[schema_file])
        diags.extend(schema_diags)
    elif str(schema_file) in texts:
        pass  # its parse error is already reported
    else:
        diags.append(
            Diagnostic(
                Code.MISSING_SCHEMA, f"no schema file at {schema_file}", Span(str(schema_file))
            )
        )
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
                msg = f"policy id '{policy.id}' is also used by {seen[policy.id]}"
                diags.append(Diagnostic(Code.DUPLICATE_NAME, msg, policy.header.span))
            seen[policy.id] = str(path)
            policies.append(policy)
    diags.sort(key=sort_key)
    ok = schema is not None and not any(d.is_error for d in diags)
    result = (
        PolicySet(schema, tuple(policies), revision(files, texts))
        if ok and schema is not None
        else None
    )
    return LoadResult(result, tuple(diags), texts)
