"""The impact of an edit before it is served (`zhengce impact`, and the reload's dry run):
the same projects decided under the policy folder on disk and under a base, every change
grouped by the rule edit that causes it (dsl.impact).

The base is a git revision, read with `git archive` into a temporary folder (read-only: the
repository is never changed), or `served`: the set a running server of this root serves, as
it keeps it on disk (server.revision). The projects come from server.impact_sources and
dsl.boundary; the replay runs in this process or on Dask (server.impact_dask)."""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.engine import Engine

from dsl.boundary import boundary_projects
from dsl.impact import Project, Replay, Side, replay, summarise
from server.config import Settings
from server.impact_sources import (
    LOG_LIMIT,
    ImpactInputError,
    Source,
    cases,
    collect,
    log_engine,
    logged,
    test_cases,
)
from server.results import ImpactResult
from server.revision import served_snapshot
from server.service import Service

SERVED = "served"  # --base served: the set a running server of this root serves
GIT_TIMEOUT = 60.0  # seconds for one git command


@dataclass(frozen=True)
class Cases:
    """What to replay besides the rules' own boundary projects: a decision log (an engine
    over it, or None for none) and a folder of cases (default: tests/golden when present)."""

    log: Engine | None = None
    log_limit: int = LOG_LIMIT
    folder: Path | None = None


# ---- the base -----------------------------------------------------------------------------


@contextmanager
def base_root(root: Path, base: str) -> Iterator[tuple[str, Path]]:
    """What the base is called, and a folder holding its policies/ while the context lasts.
    ImpactInputError when `base` names no revision, or nothing is served."""
    if base == SERVED:
        found = served_snapshot(root / "var" / "policy-set")
        if found is None:
            raise ImpactInputError(
                "no_served_revision",
                "没有找到服务中的政策集：本目录下的服务从未接受过政策集",
                "no server of this root has accepted a policy set (var/policy-set/ is empty)",
                "--base",
            )
        folder, snapshot = found
        yield f"served ({snapshot.revision})", folder
        return
    commit = _git(root, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}").strip()
    prefix = _git(root, "rev-parse", "--show-prefix").strip()
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    archive = _git_bytes(top, "archive", "--format=tar", f"{commit}:{prefix}policies")
    with tempfile.TemporaryDirectory(prefix="zhengce-base-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(Path(tmp) / "policies", filter="data")
        yield f"{base} ({commit[:10]})", Path(tmp)


def _git(cwd: Path, *args: str) -> str:
    return _git_bytes(cwd, *args).decode("utf-8")


def _git_bytes(cwd: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise _no_revision(args, str(e)) from e
    if done.returncode != 0:
        said = done.stderr.decode("utf-8", "replace").strip() or "not found"
        raise _no_revision(args, said)
    return done.stdout


def _no_revision(args: Sequence[str], why: str) -> ImpactInputError:
    what = " ".join(args)
    return ImpactInputError(
        "unknown_revision",
        f"无法读取基线修订版本（git {what}）：{why}",
        f"cannot read the base revision (git {what}): {why}",
        "--base",
    )


def load_base(settings: Settings, folder: Path) -> Service:
    """The base set from `folder`. Conflicts are not looked for: a base was served or
    committed as it is, and only its decisions matter here."""
    return Service.load(replace(settings, root=folder), conflicts=False)


# ---- the projects -------------------------------------------------------------------------


def projects(settings: Settings, base: Service, new: Service, found: Cases) -> list[Project]:
    """Logged requests, the policy tests of both sets, the case folder, the examples, and
    the boundary projects of both sets, each project once."""
    sources: list[Source] = []
    if found.log is not None:
        sources.append(("log", logged(found.log, found.log_limit)))
    sources.append(("test", test_cases(s.root / "policies" / "tests" for s in (new, base))))
    golden = settings.root / "tests" / "golden"
    folder = found.folder or (golden if golden.is_dir() else None)
    if folder is not None:
        sources.append(("case", cases(folder)))
    examples = new.root / "policies" / "examples"
    if examples.is_dir():
        sources.append(("example", cases(examples)))
    for service in (new, base):
        sources.append(("boundary", boundary_projects(service.policies)))
    return collect(sources)


def default_log(settings: Settings) -> Engine | None:
    """The configured decision log when it exists (a SQLite file that is not there yet has
    nothing to replay); a URL that cannot be opened is an error."""
    try:
        return log_engine(settings.decision_log_url)
    except ImpactInputError:
        if settings.decision_log_url.startswith("sqlite"):
            return None
        raise


# ---- the replay ---------------------------------------------------------------------------


def side(service: Service, engine: str | None = None) -> Side:
    """A set with the service's evaluator: its default unless `engine` names one."""
    return service.policies, service.engine(engine) if engine else service.engine()


def impact(
    label: str,
    base: Service,
    new: Service,
    found: Sequence[Project],
    *,
    engine: str | None = None,
    replayed: Replay | None = None,
    where: str = "in-process",
) -> ImpactResult:
    """The report: `replayed` when the replay ran elsewhere (server.impact_dask), else
    replayed here."""
    if replayed is None:
        replayed = replay(found, side(base, engine), side(new, engine))
    return ImpactResult(label, summarise(base.policies, new.policies, found, replayed), where)


# A dry-run reload decides the most recent logged requests only: it answers an HTTP request.
DRY_RUN_LOG_LIMIT = 10_000


def reload_impact(settings: Settings, served: Service, new: Service, log: Engine) -> ImpactResult:
    """What reloading would change: the policy folder on disk (`new`) against the set in
    force, over the decision log's recent requests, the policy tests, the golden cases, the
    examples and both sets' boundary projects."""
    found = projects(settings, served, new, Cases(log, DRY_RUN_LOG_LIMIT))
    return impact(f"{SERVED} ({served.policies.revision})", served, new, found)
