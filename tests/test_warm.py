"""Warming a serving process: ready once the indexes and the model's query path are open; the
related clauses of every cited clause are computed after that, as remembered answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.service import RELATED_PER_CLAUSE, Service
from tests.conftest import fast_runtime


def test_a_worker_is_ready_before_it_computes_related_clauses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = fast_runtime(tmp_path)
    states: list[str] = []
    related = Service.related

    def recording(
        service: Service, document: str, clause: str, k: int = RELATED_PER_CLAUSE
    ) -> object:
        states.append(runtime.warm_state)
        return related(service, document, clause, k)

    monkeypatch.setattr(Service, "related", recording)
    try:
        runtime.warm()
    finally:
        runtime.close()
    cited = {
        (p.header.source, c.clause) for p in runtime.service.policies.policies for _, c in p.cites()
    }
    assert runtime.warm_state == "ready"
    assert states and set(states) == {"ready"}
    assert {key[:2] for key in runtime.service._related} == cited
