"""The decision log: round trip, group commit under concurrency, crash safety; on SQLite
always, and on PostgreSQL when ZHENGCE_TEST_POSTGRES_URL names a reachable server (.ci/run
starts the machine's cluster and sets it)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from server.decision_log import METADATA, DecisionLog, DecisionLogError, RawJSON
from tests.conftest import ROOT


def postgres_url() -> str:
    url = os.environ.get("ZHENGCE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL: set ZHENGCE_TEST_POSTGRES_URL (.ci/run does, via .ci/postgres)")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.skip(f"PostgreSQL at ZHENGCE_TEST_POSTGRES_URL is not reachable: {exc}")
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.db'}"
    found = postgres_url()
    engine = create_engine(found)
    METADATA.drop_all(engine)  # each test starts from an empty log
    engine.dispose()
    return found


@pytest.fixture
def log(url: str) -> DecisionLog:
    log = DecisionLog(url)
    yield log  # type: ignore[misc]
    log.close()


def test_round_trip(log: DecisionLog) -> None:
    log.record("d1", "rev1", {"region": "甘肃省/平凉市"}, {"outcome": "file"})
    got = log.get("d1")
    assert got is not None
    assert (got.revision, got.input, got.result) == (
        "rev1",
        {"region": "甘肃省/平凉市"},
        {"outcome": "file"},
    )
    assert log.get("nope") is None
    assert got.created_at.tzinfo is not None  # UTC on every database, SQLite included


def test_json_encoded_once_is_stored_as_is(log: DecisionLog) -> None:
    log.record("raw", "rev", RawJSON('{"region": "江西省"}'), RawJSON('{"steps": [1, 2]}'))
    got = log.get("raw")
    assert got is not None and (got.input, got.result) == ({"region": "江西省"}, {"steps": [1, 2]})


def test_a_value_that_is_not_json_fails_its_own_request(log: DecisionLog) -> None:
    with pytest.raises(TypeError):
        log.submit("bad", "rev", {"when": object()}, {})
    log.record("good", "rev", {}, {})
    assert log.get("good") is not None


def test_concurrent_writers_share_commits(log: DecisionLog) -> None:
    ids = [uuid.uuid4().hex for _ in range(800)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: log.record(i, "r", {"n": i}, {"ok": True}), ids))
    assert all(log.get(i) is not None for i in ids[::50])
    assert log.batches < len(ids)  # group commit: fewer transactions than decisions


def test_two_processes_share_one_log(url: str) -> None:
    """Workers of one server each have their own log writer on the same database."""
    script = textwrap.dedent(f"""
        import sys
        from server.decision_log import DecisionLog
        log = DecisionLog({url!r})
        for i in range(300):
            log.record(f"{{sys.argv[1]}}-{{i}}", "r", {{"i": i}}, {{"ok": True}})
        log.close()
    """)
    workers = [
        subprocess.Popen([sys.executable, "-c", script, name], cwd=ROOT) for name in ("a", "b")
    ]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    reopened = DecisionLog(url)
    try:
        assert all(reopened.get(f"{n}-{i}") for n in ("a", "b") for i in range(0, 300, 7))
    finally:
        reopened.close()


def test_duplicate_id_fails_only_its_batch(log: DecisionLog) -> None:
    log.record("same", "r", {}, {})
    with pytest.raises(DecisionLogError):
        log.record("same", "r", {}, {})
    log.record("other", "r", {}, {})
    assert log.get("other") is not None


def test_acknowledged_decisions_survive_a_crash(url: str) -> None:
    script = textwrap.dedent(f"""
        import os
        from server.decision_log import DecisionLog
        log = DecisionLog({url!r})
        for i in range(200):
            log.record(f"d{{i}}", "r", {{"i": i}}, {{"ok": True}})
        os._exit(1)  # no clean shutdown: the process dies right after the last ack
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=120)
    assert done.returncode == 1
    reopened = DecisionLog(url)
    try:
        assert all(reopened.get(f"d{i}") is not None for i in range(200))
    finally:
        reopened.close()
