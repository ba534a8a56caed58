"""Fuzz the HTTP API from its own OpenAPI document (schemathesis, in process over ASGI)."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from kb.embed import HashEmbedder
from server.app import create_app
from server.config import Settings
from tests.conftest import ROOT

schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> schemathesis.BaseSchema:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    env = {
        "ZHENGCE_DECISION_LOG": f"sqlite:///{tmp}/log.db",
        "ZHENGCE_WARM": "0",
        "ZHENGCE_ADMIN_KEY": "test-key",
    }
    app = create_app(
        Settings.from_env(env, root=ROOT), embedder=HashEmbedder(), cache_dir=tmp / "cache"
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_api(case: schemathesis.Case) -> None:
    case.call_and_validate()
