"""The lean HTTP path: the fast path of `POST /v1/evaluate` (server.direct) answers a
well-formed request exactly as the FastAPI route would and leaves every other request to it;
error bodies encoded by msgspec are the bytes Starlette's JSONResponse gave; the event loop's
insert (decision_log_batch.DriverInsert) stores the rows SQLAlchemy's insert stored, and a
decision is acknowledged only once the WAL is synced."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from server import decision_log_wal, direct
from server.app import create_app
from server.decision_log import DecisionLog, DecisionLogError, Entry, RawJSON
from server.errors import ErrorResponse
from tests.conftest import EXAMPLE, examples, fast_runtime

PROJECT: dict[str, Any] = EXAMPLE["project"]
JSON = {"content-type": "application/json"}
BOM = b"\xef\xbb\xbf"  # FastAPI's decoder reads past it; msgspec refuses it


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, list[Any]]]:
    """A client, and the requests the fast path answered (the route answers the others)."""
    taken: list[Any] = []
    answer = direct.evaluated

    async def recorded(runtime: Any, request: Any) -> str:
        taken.append(request)
        return await answer(runtime, request)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(direct, "evaluated", recorded)
        app = create_app(runtime=fast_runtime(tmp_path_factory.mktemp("fast-path")))
        with TestClient(app) as client:
            yield client, taken


def post(client: TestClient, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    r = client.post("/v1/evaluate", content=body, headers=JSON)
    return r.status_code, list(r.headers.items()), r.content


def without_ids(body: bytes) -> bytes:
    """A decision's body with its id (and the page address made from it) blanked."""
    return re.sub(rb'(/decisions/|"decision_id":")[0-9a-f]{32}', rb"\1<id>", body)


@pytest.mark.parametrize(
    "project",
    [PROJECT, {**PROJECT, "investment_wan": "many"}],
    ids=["decided", "refused by the fact schema"],
)
def test_the_fast_path_answers_what_the_route_answers(
    served: tuple[TestClient, list[Any]], project: dict[str, Any]
) -> None:
    client, taken = served
    body = json.dumps({"project": project, "date": EXAMPLE["date"]}, ensure_ascii=False).encode()
    before = len(taken)
    fast = post(client, body)
    assert len(taken) == before + 1  # the fast path answered
    routed = post(client, BOM + body)
    assert len(taken) == before + 1  # the route answered
    assert fast[0] == routed[0] and fast[0] in (200, 422)
    assert fast[1] == routed[1]  # the same headers, in the same order
    assert without_ids(fast[2]) == without_ids(routed[2])


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"project": {"region": "\\ud800"}}', 422),  # a lone surrogate
        (b'{"project": {"investment_wan": NaN}}', 422),  # not JSON, but Python's json reads it
        (b'{"project": {"park": ' + b"[" * 300 + b"]" * 300 + b"}}", 422),  # deep
        (b'{"project": {"investment_wan": 1e400}}', 422),  # beyond a float
        (b'{"project": ', 400),
        (b'{"project": {}, "explain": 1}', 422),  # strict: not a bool
    ],
    ids=["surrogate", "NaN", "deep", "huge", "truncated", "wrong type"],
)
def test_what_the_fast_path_cannot_read_goes_to_the_route(
    served: tuple[TestClient, list[Any]], body: bytes, status: int
) -> None:
    client, taken = served
    before = len(taken)
    assert post(client, body)[0] == status
    assert len(taken) == before


@given(
    st.recursive(
        st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=8,
    ),
    st.sampled_from([400, 413, 422, 503]),
)
@settings(max_examples=examples(200), deadline=None)
def test_an_error_body_is_the_bytes_starlette_gave(body: Any, status: int) -> None:
    assert ErrorResponse(body, status).body == JSONResponse(body, status).body


def test_the_loop_stores_the_row_the_writer_thread_stores(tmp_path: Path) -> None:
    """The loop's driver-level insert and SQLAlchemy's insert store the same text in every
    column, the time in the same format."""
    log = DecisionLog(f"sqlite:///{tmp_path / 'log.db'}")
    try:
        log.record("thread", "r", {"region": "江西省", "x": 1.5}, RawJSON('{"steps": [1]}'))
        entry = Entry.of("loop", "r", {"region": "江西省", "x": 1.5}, RawJSON('{"steps": [1]}'))
        asyncio.run(log.write(entry))
        with log.engine.connect() as db:
            rows = dict(
                (row[0], row[1:])
                for row in db.execute(
                    text("SELECT decision_id, created_at, revision, input, result FROM decisions")
                )
            )
    finally:
        log.close()
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
    assert stamp.match(rows["loop"][0]) and stamp.match(rows["thread"][0])
    assert rows["loop"][1:] == rows["thread"][1:]


def test_the_loop_acknowledges_a_decision_once_the_wal_is_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop commits without a sync (synchronous=NORMAL) and syncs the WAL itself after
    the writers' lock: every acknowledged decision was synced, and one whose sync fails is
    not acknowledged."""
    synced: list[str] = []

    def datasync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))

    monkeypatch.setattr(decision_log_wal, "_datasync", datasync)
    log = DecisionLog(f"sqlite:///{tmp_path / 'log.db'}")
    try:
        asyncio.run(log.write(Entry.of("synced", "r", {}, {})))
        assert synced == [str(tmp_path / "log.db-wal")]

        def failing(fd: int) -> None:
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(decision_log_wal, "_datasync", failing)
        with pytest.raises(DecisionLogError):
            asyncio.run(log.write(Entry.of("unsynced", "r", {}, {})))
    finally:
        log.close()
