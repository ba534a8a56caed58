"""Where the projects of an impact replay come from (server.impact): the decision log's
requests, the policy tests, case folders (golden decisions, project files, policy test files)
and dsl.boundary's projects at the rules of both sets. Each becomes a dsl.impact.Project with
its origin and label; the same project on the same date is kept once, first found first.

A source that cannot be read is an ImpactInputError: a stable code, a Chinese message, the
same in English, and the option at fault."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from dsl.boundary import Generated
from dsl.dates import CHINA
from dsl.impact import Project
from dsl.policytest import TestFileError, load_cases
from server.decision_log import DECISIONS, shown_url

# The most recent requests read from a decision log: a replay of a busy service's whole
# history would take hours, and recent requests are what the next ones will look like.
LOG_LIMIT = 100_000


class ImpactInputError(Exception):
    """A base, log or case folder that cannot be used (exit 2, or HTTP 422)."""

    def __init__(self, code: str, message: str, message_en: str, location: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message = message
        self.message_en = message_en
        self.location = location


Source = tuple[str, Iterable[Generated]]  # an origin and its projects


def collect(sources: Iterable[Source]) -> list[Project]:
    """Every project once (the same facts on the same date), numbered in the order found."""
    seen: set[tuple[str, str | None]] = set()
    found: list[Project] = []
    for origin, projects in sources:
        for g in projects:
            key = (_canonical(g.facts), g.date)
            if key not in seen:
                seen.add(key)
                found.append(Project(len(found), g.facts, g.date, origin, g.label))
    return found


def _canonical(facts: dict[str, Any]) -> str:
    """The facts as one text, a number written the same whether it came as 1000 or 1000.0
    (a golden decision keeps the value the schema made of the test's input)."""
    numbers = {
        k: float(v) for k, v in facts.items() if isinstance(v, int) and not isinstance(v, bool)
    }
    return json.dumps(facts | numbers, sort_keys=True, ensure_ascii=False, default=str)


# ---- the decision log ---------------------------------------------------------------------


def log_engine(url: str) -> Engine:
    """An engine over a decision log to read from; ImpactInputError for a URL that is not
    one (a SQLite file must exist: reading never creates a log)."""
    try:
        engine = create_engine(url, hide_parameters=True)
    except (ArgumentError, ImportError, ValueError) as e:
        raise _unreadable(url, str(e)) from e
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and not Path(database).exists():
        raise _unreadable(url, "no such file")
    return engine


def logged(engine: Engine, limit: int = LOG_LIMIT) -> Iterator[Generated]:
    """The requests of the log's most recent decisions, newest first. A request without a
    date was decided on the day it was logged (Beijing time), unless the project gives its
    own `date`: the replay decides it on that day again."""
    query = (
        select(DECISIONS.c.decision_id, DECISIONS.c.created_at, DECISIONS.c.input)
        .order_by(DECISIONS.c.created_at.desc())
        .limit(limit)
    )
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).all()
    except SQLAlchemyError as e:
        raise _unreadable(str(engine.url), type(e).__name__) from e
    for decision_id, created, request in rows:
        project = request.get("project") if isinstance(request, dict) else None
        if not isinstance(project, dict):
            continue
        date = request.get("date")
        if not date and "date" not in project:
            when = created if created.tzinfo else created.replace(tzinfo=dt.UTC)
            date = when.astimezone(CHINA).date().isoformat()
        yield Generated(project, date if isinstance(date, str) else None, decision_id)


def _unreadable(url: str, why: str) -> ImpactInputError:
    shown = shown_url(url)
    return ImpactInputError(
        "unreadable_log",
        f"无法读取决定日志 {shown}：{why}",
        f"cannot read the decision log {shown}: {why}",
        "--log",
    )


# ---- tests and cases ----------------------------------------------------------------------


def test_cases(folders: Iterable[Path]) -> Iterator[Generated]:
    """The inputs of the policy tests in `folders` (*.yaml), with their dates; a file the
    same as one read already (both sets' tests are mostly the same) is not read again, as
    YAML is slow to read."""
    seen: set[bytes] = set()
    for folder in folders:
        for path in sorted(folder.glob("*.yaml")):
            try:
                data = path.read_bytes()
            except OSError as e:
                raise _bad_case(path, folder, str(e), "无法读取") from e
            if data not in seen:
                seen.add(data)
                yield from _yaml_cases(path, folder)


def cases(folder: Path) -> Iterator[Generated]:
    """Every project a case folder holds, in path order: a golden decision (tests/golden:
    the facts it was given and its date), a project file (`{"project": …, "date": …}` or
    the facts alone, as `zhengce eval` reads it), or a policy test file (*.yaml)."""
    if not folder.is_dir():
        raise _bad_case(folder, folder, "not a folder", "不是文件夹")
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".json":
            yield _json_case(path, folder)
        elif path.suffix in (".yaml", ".yml"):
            yield from _yaml_cases(path, folder)


def _yaml_cases(path: Path, folder: Path) -> Iterator[Generated]:
    try:
        found = load_cases(path)
    except TestFileError as e:
        raise _bad_case(path, folder, str(e), "不是有效的策略测试文件") from e
    name = _name(path, folder)
    for i, case in enumerate(found, 1):
        date = str(case["date"]) if case.get("date") else None
        yield Generated(case["input"], date, f"{name} #{i}")


def _json_case(path: Path, folder: Path) -> Generated:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise _bad_case(path, folder, str(e), "无法读取或不是 JSON") from e
    if not isinstance(data, dict):
        raise _bad_case(path, folder, "not a JSON object", "不是 JSON 对象")
    date = data.get("date")
    if isinstance(data.get("facts"), list):  # a golden decision: the facts it was given
        facts = _given(data["facts"])
    elif isinstance(data.get("project"), dict):
        facts = data["project"]
    else:
        facts, date = data, None
    return Generated(facts, date if isinstance(date, str) else None, _name(path, folder))


def _given(facts: list[Any]) -> dict[str, Any]:
    return {
        f["name"]: f["value"]
        for f in facts
        if isinstance(f, dict) and f.get("source") == "given" and "name" in f
    }


def _name(path: Path, folder: Path) -> str:
    return f"{folder.name}/{path.relative_to(folder)}"


def _bad_case(path: Path, folder: Path, why: str, why_zh: str) -> ImpactInputError:
    return ImpactInputError(
        "unreadable_cases",
        f"案例 {path} {why_zh}",
        f"{path}: {why}",
        f"--cases {folder}",
    )
