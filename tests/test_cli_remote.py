"""`zhengce route` and `search` asking a running service (`--server`, ZHENGCE_SERVER): the same
answers as in-process, refusals and absences as messages, and a start that imports neither the
service nor the model's libraries.

The service is the real app under uvicorn in a thread, over the seed policies, searching with
kb's HashEmbedder (tests/conftest.py `fast_runtime`); the in-process answers use the same
settings and embedder, so both must print the same bodies and the same text.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb.embed import HashEmbedder
from server.cli import app
from server.cli_common import Context
from server.config import Settings
from tests.conftest import ROOT, fast_runtime
from tests.live import serving

pytestmark = pytest.mark.served

RUNNER = CliRunner()
QUESTIONS = [
    ["route", "化工园区清理整顿由谁牵头", "--region", "江西省", "--date", "2019-06-01"],
    ["route", "jiangxi-2019/化工园区清理整顿", "--region", "江西省", "--date", "2019-06-01"],
    ["route", "食堂的菜单由谁定", "--region", "江西省", "--date", "2019-06-01"],
    ["search", "租赁厂房的项目由谁审核", "-k", "3"],
]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    from server.app import create_app

    runtime = fast_runtime(tmp_path_factory.mktemp("remote"))
    try:
        with serving(create_app(runtime.settings, runtime=runtime)) as url:
            yield url, runtime.settings
    finally:
        runtime.close()


def here(settings: Settings, *args: str) -> tuple[int, str, str]:
    result = RUNNER.invoke(app, list(args), obj=Context(settings, HashEmbedder()))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("question", QUESTIONS, ids=["matter", "rule-id", "no-match", "search"])
def test_the_service_answers_as_the_command_would(
    service: tuple[str, Settings], question: list[str]
) -> None:
    url, settings = service
    for extra in (["--json"], []):  # the body, then the text made from it
        local = here(settings, *question, *extra)
        asked = here(settings, *question, *extra, "--server", url)
        assert asked[:2] == local[:2], extra


def test_zhengce_server_names_the_service(service: tuple[str, Settings]) -> None:
    url, settings = service
    configured = Settings.from_env(
        {"ZHENGCE_SERVER": url + "/", "ZHENGCE_CACHE": str(settings.cache_dir)}, root=ROOT
    )
    code, stdout, _ = here(configured, *QUESTIONS[0], "--json")
    assert code == 0
    assert json.loads(stdout)["match"]["rule"] == "jiangxi-2019/化工园区清理整顿"


def test_a_refusal_is_the_services_message(service: tuple[str, Settings]) -> None:
    url, settings = service
    code, _, stderr = here(settings, *QUESTIONS[3], "-k", "500", "--server", url)
    assert code == 1
    assert f"the service at {url} could not answer" in stderr
    assert "k" in stderr.split("could not answer", 1)[1]


def test_no_service_is_a_message_not_a_traceback() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once closed
    code, _, stderr = here(Settings.from_env({}, root=ROOT), *QUESTIONS[0], "--server", closed)
    assert code == 1
    assert "no answer from" in stderr and "Traceback" not in stderr


def test_a_malformed_server_url_is_a_usage_error() -> None:
    code, _, stderr = here(Settings.from_env({}, root=ROOT), *QUESTIONS[0], "--server", "x:1")
    assert code == 2 and "--server must be an http" in stderr


# Not pydantic: typer itself imports it.
HEAVY = ("torch", "sentence_transformers", "onnxruntime", "fastapi", "numpy", "sqlalchemy")
HEAVY += ("server.service", "server.views", "dsl.load")


def imported_by(argv: list[str]) -> list[str]:
    """The HEAVY modules `zhengce ARGV` imports, run as the console script runs it."""
    code = (
        "import sys\n"
        f"sys.argv = ['zhengce', *{argv!r}]\n"
        "from server.cli_main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1].replace("'", '"'))
    return found


def test_asking_a_service_loads_nothing_heavy(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    assert imported_by([*QUESTIONS[0], "--server", closed]) == []


def test_help_loads_neither_the_model_nor_the_web_stack() -> None:
    found = imported_by(["--help"])
    assert not {"torch", "sentence_transformers", "onnxruntime", "fastapi"} & set(found)
