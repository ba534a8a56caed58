"""Settings own the environment: every ZHENGCE_* variable is declared once (server.config),
documented in README's tables and in `zhengce serve --help`, and nothing else reads it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from server.cli import app
from server.config import VARIABLES, Settings, SettingsError
from tests.conftest import ROOT

NAMES = [v.name for v in VARIABLES]


def readme_settings() -> set[str]:
    """The variable names in the first column of README's setting tables."""
    text = (ROOT / "README.md").read_text("utf-8")
    return set(re.findall(r"^\| `(ZHENGCE_[A-Z_]+)` \|", text, re.MULTILINE))


def test_every_setting_is_in_the_readme_tables_and_no_other() -> None:
    assert readme_settings() == set(NAMES)


def test_every_setting_is_in_serve_help() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    missing = [n for n in NAMES if n not in result.stdout]
    assert not missing


def test_settings_are_read_from_the_environment_given(tmp_path: Path) -> None:
    env = {
        "ZHENGCE_ROOT": str(tmp_path),
        "ZHENGCE_CACHE": str(tmp_path / "c"),
        "ZHENGCE_TORCH_THREADS": "2",
        "ZHENGCE_SERVER": "http://127.0.0.1:8000/",
        "ZHENGCE_DECISION_LOG": "sqlite:///x.db",
        "ZHENGCE_ADMIN_KEY": "k",
        "ZHENGCE_MAX_BODY_BYTES": "10",
        "ZHENGCE_MAX_BATCH_BODY_BYTES": "20",
        "ZHENGCE_WARM": "0",
        "ZHENGCE_HEADER_TIMEOUT": "3",
        "ZHENGCE_MAX_BATCHES": "4",
        "ZHENGCE_BATCH_EXPLAIN_MAX": "5",
        "ZHENGCE_LOG_RETENTION_DAYS": "90",
        "ZHENGCE_SEARCH_CACHE": "7",
    }
    assert set(env) == set(NAMES)  # this test sets every variable there is
    s = Settings.from_env(env)
    assert (s.root, s.cache_dir, s.torch_threads) == (tmp_path, tmp_path / "c", 2)
    assert (s.decision_log_url, s.admin_key) == ("sqlite:///x.db", "k")
    assert (s.max_body_bytes, s.max_batch_body_bytes, s.warm) == (10, 20, False)
    assert (s.header_timeout, s.max_batches, s.batch_explain_max) == (3, 4, 5)
    assert s.log_retention_days == 90
    assert s.search_cache == 7
    assert s.server == "http://127.0.0.1:8000"


def test_defaults_sit_under_the_root(tmp_path: Path) -> None:
    s = Settings.from_env({}, root=tmp_path)
    assert s.cache_dir == tmp_path / "var" / "index"
    assert s.decision_log_url == f"sqlite:///{tmp_path / 'var' / 'decisions.sqlite3'}"
    assert (s.torch_threads, s.admin_key, s.warm) == (1, None, True)
    assert (s.header_timeout, s.max_batches, s.batch_explain_max) == (10, 2, 100)
    assert s.log_retention_days is None  # kept for good
    assert s.server is None  # route and search answer in-process


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ZHENGCE_TORCH_THREADS", "many"),
        ("ZHENGCE_TORCH_THREADS", "0"),
        ("ZHENGCE_MAX_BODY_BYTES", "-1"),
        ("ZHENGCE_MAX_BATCH_BODY_BYTES", "1e6"),
        ("ZHENGCE_LOG_RETENTION_DAYS", "0"),
        ("ZHENGCE_HEADER_TIMEOUT", "ten"),
        ("ZHENGCE_SERVER", "127.0.0.1:8000"),
    ],
)
def test_a_bad_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_a_bad_setting_is_a_usage_error_on_the_command_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["coverage"], env={"ZHENGCE_ROOT": str(ROOT), "ZHENGCE_TORCH_THREADS": "x"}
    )
    assert result.exit_code == 2 and "ZHENGCE_TORCH_THREADS" in result.output


def test_only_the_settings_read_the_environment() -> None:
    readers = [
        str(path.relative_to(ROOT))
        for package in ("dsl", "kb", "server")
        for path in sorted((ROOT / package).rglob("*.py"))
        if re.search(r"os\.environ|os\.getenv", path.read_text("utf-8"))
    ]
    assert readers == ["server/config.py"]
