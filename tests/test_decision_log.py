"""The decision log on SQLite: round trip, group commit under concurrency, crash safety."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from server.decision_log import DecisionLog, DecisionLogError
from tests.conftest import ROOT


@pytest.fixture
def log(tmp_path: Path) -> DecisionLog:
    log = DecisionLog(f"sqlite:///{tmp_path / 'log.db'}")
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


def test_concurrent_writers_share_commits(log: DecisionLog) -> None:
    ids = [uuid.uuid4().hex for _ in range(800)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: log.record(i, "r", {"n": i}, {"ok": True}), ids))
    assert all(log.get(i) is not None for i in ids[::50])
    assert log.batches < len(ids)  # group commit: fewer transactions than decisions


def test_duplicate_id_fails_only_its_batch(log: DecisionLog) -> None:
    log.record("same", "r", {}, {})
    with pytest.raises(DecisionLogError):
        log.record("same", "r", {}, {})
    log.record("other", "r", {}, {})
    assert log.get("other") is not None


def test_acknowledged_decisions_survive_a_crash(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
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
