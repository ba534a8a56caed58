"""The decision log: round trip, group commit under concurrency, crash safety; on SQLite
always, and on PostgreSQL when ZHENGCE_TEST_POSTGRES_URL names a reachable server (.ci/run
starts the machine's cluster and sets it)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from server import decision_log, decision_log_loop, decision_log_wal
from server.decision_log import (
    METADATA,
    DecisionLog,
    DecisionLogError,
    Entry,
    RawJSON,
    shown_url,
)
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
        Entry.of("bad", "rev", {"when": object()}, {})
    log.record("good", "rev", {}, {})
    assert log.get("good") is not None


def test_concurrent_writers_share_commits(log: DecisionLog) -> None:
    ids = [uuid.uuid4().hex for _ in range(800)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: log.record(i, "r", {"n": i}, {"ok": True}), ids))
    assert all(log.get(i) is not None for i in ids[::50])
    assert log.batches < len(ids)  # group commit: fewer transactions than decisions


@pytest.mark.served
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


CRASH_AFTER_ACKS = {
    # Each writes 200 decisions, then dies right after the last acknowledgement, with no
    # clean shutdown.
    "thread": """
        import os
        from server.decision_log import DecisionLog
        log = DecisionLog({url!r})
        for i in range(200):
            log.record(f"d{{i}}", "r", {{"i": i}}, {{"ok": True}})
        os._exit(1)
    """,
    "loop": """
        import asyncio, os
        from server.decision_log import DecisionLog, Entry
        log = DecisionLog({url!r})
        async def main():
            for start in range(0, 200, 20):  # in groups, as concurrent requests arrive
                await asyncio.gather(*(
                    log.write(Entry.of(f"d{{i}}", "r", {{"i": i}}, {{"ok": True}}))
                    for i in range(start, start + 20)
                ))
            os._exit(1)
        asyncio.run(main())
    """,
}


@pytest.mark.served
@pytest.mark.parametrize("writer", CRASH_AFTER_ACKS)
def test_acknowledged_decisions_survive_a_crash(url: str, writer: str) -> None:
    script = textwrap.dedent(CRASH_AFTER_ACKS[writer].format(url=url))
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=120)
    assert done.returncode == 1
    reopened = DecisionLog(url)
    try:
        assert all(reopened.get(f"d{i}") is not None for i in range(200))
    finally:
        reopened.close()


KILLED_WHILE_WRITING = """
    import asyncio, sys
    from server.decision_log import DecisionLog, Entry
    log = DecisionLog({url!r})
    async def writer(n):
        for i in range(100_000):
            await log.write(Entry.of(f"w{{n}}-{{i}}", "r", {{"i": i}}, {{"ok": True}}))
            print(f"w{{n}}-{{i}}", flush=True)  # acknowledged
    async def main():
        await asyncio.gather(*(writer(n) for n in range(16)))
    asyncio.run(main())
"""


@pytest.mark.served
def test_every_acknowledged_decision_survives_a_kill_amid_group_commits(tmp_path: Path) -> None:
    """16 concurrent writers on one loop (requests in flight), killed at no particular
    moment: commits and syncs are under way, and every decision acknowledged before the
    kill is in the log."""
    url = f"sqlite:///{tmp_path / 'log.db'}"
    script = textwrap.dedent(KILLED_WHILE_WRITING.format(url=url))
    with subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        acknowledged = [child.stdout.readline().strip() for _ in range(500)]
        child.kill()
        acknowledged += child.stdout.read().split()  # printed before the kill landed
    assert all(acknowledged)
    reopened = DecisionLog(url)
    try:
        assert [i for i in acknowledged if reopened.get(i) is None] == []
        assert reopened.batches == 0  # reading back committed nothing new
    finally:
        reopened.close()


# ------------------------------------------------------------------ writes from an event loop


def test_writes_from_a_loop_are_committed_together(log: DecisionLog) -> None:
    """An event loop's decisions (the API's path): acknowledged once committed, and those made
    in one turn of the loop share a commit, on the loop for SQLite, the thread otherwise."""
    entries = [Entry.of(f"w{i}", "r", {"i": i}, {"ok": True}) for i in range(300)]

    async def scenario() -> None:
        await asyncio.gather(*(log.write(e) for e in entries))

    asyncio.run(scenario())
    assert all(log.get(e.decision_id) is not None for e in entries)
    assert log.batches < len(entries) / 10


def test_a_loop_and_the_writer_thread_store_the_same_row(log: DecisionLog) -> None:
    log.record("thread", "r", {"region": "江西省"}, RawJSON('{"steps": [1]}'))
    asyncio.run(log.write(Entry.of("loop", "r", {"region": "江西省"}, RawJSON('{"steps": [1]}'))))
    by_thread, by_loop = log.get("thread"), log.get("loop")
    assert by_thread is not None and by_loop is not None
    assert (by_loop.revision, by_loop.input, by_loop.result) == (
        by_thread.revision,
        by_thread.input,
        by_thread.result,
    )
    assert by_loop.created_at.tzinfo is not None
    assert abs(by_loop.created_at - by_thread.created_at).total_seconds() < 60


def test_a_failed_loop_commit_fails_only_its_batch(log: DecisionLog) -> None:
    async def scenario() -> None:
        await log.write(Entry.of("same", "r", {}, {}))
        with pytest.raises(DecisionLogError):
            await log.write(Entry.of("same", "r", {}, {}))
        await log.write(Entry.of("other", "r", {}, {}))

    asyncio.run(scenario())
    assert log.get("other") is not None


@pytest.fixture
def sqlite_log(tmp_path: Path) -> DecisionLog:
    log = DecisionLog(f"sqlite:///{tmp_path / 'log.db'}")
    yield log  # type: ignore[misc]
    log.close()


def lock_database(log: DecisionLog) -> sqlite3.Connection:
    """Another program (a backup, the sqlite3 shell) holding the database's write lock."""
    database = log.engine.url.database
    assert database is not None
    blocker = sqlite3.connect(database, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    return blocker


def test_a_locked_database_does_not_stop_the_loop(sqlite_log: DecisionLog) -> None:
    """The loop commits itself, but never waits inside SQLite: while another program holds
    the lock, other work on the loop goes on, and the decision is committed once it is free."""

    async def scenario() -> None:
        blocker = lock_database(sqlite_log)
        waiting = asyncio.create_task(sqlite_log.write(Entry.of("late", "r", {}, {})))
        ticks = 0
        for _ in range(20):  # 0.2 s of other work on the same loop
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not waiting.done()
        blocker.rollback()
        blocker.close()
        await asyncio.wait_for(waiting, 5)

    asyncio.run(scenario())
    assert sqlite_log.get("late") is not None


def test_a_database_locked_too_long_fails_the_waiting_decisions(
    sqlite_log: DecisionLog, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(decision_log_loop, "LOCKED_FOR", 0.2)

    async def scenario() -> None:
        blocker = lock_database(sqlite_log)
        try:
            with pytest.raises(DecisionLogError, match="incident"):
                await asyncio.wait_for(sqlite_log.write(Entry.of("x", "r", {}, {})), 5)
            assert r"locked for more than 0.2 s" in caplog.text
        finally:
            blocker.rollback()
            blocker.close()
        await sqlite_log.write(Entry.of("y", "r", {}, {}))  # and the log works again

    asyncio.run(scenario())
    assert sqlite_log.get("x") is None and sqlite_log.get("y") is not None


def test_a_writer_lock_that_cannot_be_opened_fails_the_decision(
    sqlite_log: DecisionLog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A failure outside the database (here the lock file's folder is gone) must still
    answer every waiting request, not leave it waiting forever."""
    assert sqlite_log._loop is not None
    sqlite_log._loop.lock_file = tmp_path / "gone" / "log.db.writer-lock"

    async def scenario() -> None:
        with pytest.raises(DecisionLogError, match="incident"):
            await asyncio.wait_for(sqlite_log.write(Entry.of("x", "r", {}, {})), 5)

    asyncio.run(scenario())
    assert "No such file" in caplog.text


def test_a_cancelled_write_is_logged_all_the_same(sqlite_log: DecisionLog) -> None:
    async def scenario() -> None:
        blocker = lock_database(sqlite_log)
        waiting = asyncio.create_task(sqlite_log.write(Entry.of("gone", "r", {}, {})))
        await asyncio.sleep(0.05)
        waiting.cancel()  # its client went away
        blocker.rollback()
        blocker.close()
        await sqlite_log.write(Entry.of("next", "r", {}, {}))

    asyncio.run(scenario())
    assert sqlite_log.get("gone") is not None and sqlite_log.get("next") is not None


def test_close_commits_what_a_stopped_loop_left(sqlite_log: DecisionLog) -> None:
    """A loop that stops before its next turn leaves decisions uncommitted: close() writes
    them, and a write after close() is refused."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(sqlite_log.write(Entry.of("left", "r", {}, {})))
    loop.call_soon(loop.stop)
    loop.run_forever()  # one turn: the write is queued, its commit not yet run
    assert not task.done() and sqlite_log.get("left") is None
    sqlite_log.close()
    assert sqlite_log.get("left") is not None
    with pytest.raises(DecisionLogError, match="closed"):
        loop.run_until_complete(sqlite_log.write(Entry.of("after", "r", {}, {})))
    loop.run_until_complete(task)  # acknowledged by close()
    loop.close()


# ------------------------------------------------- one client's entry never fails another's


def test_an_entry_that_cannot_be_inserted_fails_alone(log: DecisionLog) -> None:
    """50 decisions and 1 whose text no database takes (a lone surrogate) share a commit:
    the commit is retried apart, so the 50 are logged and only the bad one fails."""
    good = [Entry.of(f"g{i}", "r", {"i": i}, {"ok": True}) for i in range(50)]
    bad = Entry.of("bad", "r", RawJSON('{"industry": "\ud800"}'), {"ok": True})
    entries = [*good[:20], bad, *good[20:]]

    async def scenario() -> list[BaseException | None]:
        return await asyncio.gather(*(log.write(e) for e in entries), return_exceptions=True)

    outcomes = asyncio.run(scenario())
    failed = [e.decision_id for e, o in zip(entries, outcomes, strict=True) if o is not None]
    assert failed == ["bad"]
    assert isinstance(outcomes[20], DecisionLogError)
    assert all(log.get(e.decision_id) is not None for e in good)


def test_the_writer_thread_also_fails_only_the_bad_entry(log: DecisionLog) -> None:
    futures = [log.submit(Entry.of(f"t{i}", "r", {}, {})) for i in range(10)]
    futures.insert(5, log.submit(Entry.of("t-bad", "r", RawJSON('"\udfff"'), {})))
    errors = [f.exception(timeout=30) for f in futures]
    assert [e is not None for e in errors] == [i == 5 for i in range(11)]
    assert all(log.get(f"t{i}") is not None for i in range(10))


def test_a_failure_is_told_with_an_incident_not_the_sql(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The driver's message (the SQL, and once every row of the commit: other clients'
    input) goes to the server log with its parameters hidden; the waiting requests get a
    fixed message with the incident id under which it is logged."""
    log = DecisionLog(url)
    try:
        with log.engine.begin() as conn:
            conn.execute(text("DROP TABLE decisions"))
        with pytest.raises(DecisionLogError) as failed:
            log.record("x", "r", {"park": "secret park"}, {})
    finally:
        log.close()
    message = str(failed.value)
    assert message.startswith("the decision log cannot be written now (incident ")
    assert "INSERT" not in message and "secret" not in message
    incident = message.rsplit(" ", 1)[1].rstrip(")")
    record = next(r for r in caplog.records if incident in r.getMessage())
    assert record.exc_info is not None
    details = logging.Formatter().formatException(record.exc_info)
    assert "INSERT" in details and "secret" not in details


def test_the_url_is_shown_without_its_password() -> None:
    shown = shown_url("postgresql+psycopg://zhengce:s3cret@db.internal/zhengce")
    assert shown == "postgresql+psycopg://zhengce:***@db.internal/zhengce"
    assert shown_url("sqlite:////var/x.db") == "sqlite:////var/x.db"
    assert shown_url("not a url") == "(not a database URL)"


# -------------------------------------------------------------------------------- retention


def test_decisions_past_retention_are_pruned(url: str) -> None:
    log = DecisionLog(url, retention_days=30)
    try:
        now = dt.datetime.now(dt.UTC)
        for i, age in enumerate((400, 31, 29, 0)):
            entry = Entry.of(f"age{i}", "r", {}, {})
            log.submit(dataclasses.replace(entry, created_at=now - dt.timedelta(days=age)))
        log.record("last", "r", {}, {})  # the writer commits in order: all are in now
        log.prune(now)  # the pruner thread may have been first: the count is not asserted
        kept = [i for i in range(4) if log.get(f"age{i}") is not None]
        assert kept == [2, 3]
    finally:
        log.close()


def test_pruning_goes_in_small_transactions(
    sqlite_log: DecisionLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(decision_log, "PRUNE_ROWS", 7)
    sqlite_log.retention_days = 1
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    for i in range(30):
        sqlite_log.submit(dataclasses.replace(Entry.of(f"o{i}", "r", {}, {}), created_at=old))
    sqlite_log.record("new", "r", {}, {})
    assert sqlite_log.prune() == 30
    assert sqlite_log.get("new") is not None and sqlite_log.get("o3") is None


def test_without_retention_nothing_is_pruned(sqlite_log: DecisionLog) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=3650)
    sqlite_log.submit(dataclasses.replace(Entry.of("ancient", "r", {}, {}), created_at=old))
    sqlite_log.record("new", "r", {}, {})
    assert sqlite_log.prune() == 0 and sqlite_log.get("ancient") is not None


# ------------------------------------------------------- the WAL synced off the event loop


def test_the_loop_serves_while_the_wal_is_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit's sync runs on its own thread: until it is done nobody is acknowledged, the
    loop goes on with other work meanwhile, and the decisions made meanwhile share the next
    commit and the next sync (group commit), which begins only once the first is done."""
    release = threading.Event()
    syncs: list[str] = []

    def slow_disk(fd: int) -> None:
        syncs.append("start")
        release.wait(10)
        syncs.append("done")

    monkeypatch.setattr(decision_log_wal, "_datasync", slow_disk)
    log = DecisionLog(f"sqlite:///{tmp_path / 'log.db'}")

    async def scenario() -> None:
        first = asyncio.create_task(log.write(Entry.of("first", "r", {}, {})))
        for _ in range(100):  # until the first commit's sync has begun
            await asyncio.sleep(0.01)
            if syncs:
                break
        later = [asyncio.create_task(log.write(Entry.of(f"l{i}", "r", {}, {}))) for i in range(9)]
        ticks = 0
        for _ in range(10):  # 0.1 s of other work on the same loop
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 10 and syncs == ["start"]
        assert not first.done() and not any(t.done() for t in later)
        assert log.batches == 0
        release.set()
        await asyncio.wait_for(asyncio.gather(first, *later), 10)

    try:
        asyncio.run(scenario())
        assert syncs == ["start", "done", "start", "done"]
        assert log.batches == 2
        assert all(log.get(i) is not None for i in ["first", *(f"l{i}" for i in range(9))])
    finally:
        release.set()
        log.close()


def test_a_failed_sync_fails_its_commit_and_not_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail = [True]

    def flaky(fd: int) -> None:
        if fail.pop():
            raise OSError(5, "Input/output error")

    monkeypatch.setattr(decision_log_wal, "_datasync", flaky)
    log = DecisionLog(f"sqlite:///{tmp_path / 'log.db'}")

    async def scenario() -> None:
        with pytest.raises(DecisionLogError, match="incident"):
            await log.write(Entry.of("unsynced", "r", {}, {}))
        fail.append(False)
        await log.write(Entry.of("synced", "r", {}, {}))

    try:
        asyncio.run(scenario())
    finally:
        log.close()
