"""`zhengce serve` as an operator meets it: a real process on loopback with several
workers, a clear refusal of a broken policy set, and a clean stop."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kb.embed import HashEmbedder
from server import runtime as runtime_module
from server.app import create_app
from server.decision_log import DecisionLog
from server.revision import RevisionStore
from server.runtime import Runtime
from tests.conftest import EXAMPLE, ROOT, serving_settings

pytestmark = pytest.mark.served

ZHENGCE = [sys.executable, "-m", "server.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def env_for(root: Path, tmp: Path) -> dict[str, str]:
    return os.environ | {
        "ZHENGCE_ROOT": str(root),
        "ZHENGCE_DECISION_LOG": f"sqlite:///{tmp / 'log.db'}",
        "ZHENGCE_WARM": "0",
    }


def get(url: str) -> tuple[int, dict[str, Any]]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, json.loads(r.read())


def start_server(
    tmp_path: Path, workers: int, root: Path = ROOT, **env: str
) -> tuple[subprocess.Popen[bytes], str]:
    """`zhengce serve` in its own process group, once it answers /healthz."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [*ZHENGCE, "serve", "--port", str(port), "--workers", str(workers)]
    with (tmp_path / "serve.log").open("w") as out:
        proc = subprocess.Popen(
            [*command, "--log-level", "warning"],
            cwd=ROOT,
            env=env_for(root, tmp_path) | env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            get(f"{base}/healthz")
            return proc, base
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the server did not start: {(tmp_path / 'serve.log').read_text()}")
            time.sleep(0.3)


def evaluate(base: str, body: dict[str, object]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base}/v1/evaluate",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        decision: dict[str, Any] = json.loads(r.read())
        return decision


def test_serve_answers_on_loopback_with_two_workers(tmp_path: Path) -> None:
    proc, base = start_server(tmp_path, workers=2)
    try:
        status, body = get(f"{base}/healthz")
        assert (status, body) == (200, {"status": "ok"})
        ids = set()
        for _ in range(6):  # over two workers: every decision lands in the one shared log
            decision = evaluate(base, EXAMPLE)
            assert decision["outcome"] == "file"
            ids.add(decision["decision_id"])
        for decision_id in ids:
            assert get(f"{base}/v1/decisions/{decision_id}")[0] == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0


def test_a_killed_server_loses_no_answered_decision(tmp_path: Path) -> None:
    """Two workers under load, killed with SIGKILL (no shutdown of any kind): every decision
    a client was given is in the log."""
    proc, base = start_server(tmp_path, workers=2)
    answered: list[str] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                answered.append(evaluate(base, EXAMPLE)["decision_id"])
            # The server is gone (mid-answer: IncompleteRead): never acknowledged.
            except (OSError, http.client.HTTPException):
                return

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 30
        while len(answered) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert len(answered) >= 300
    log = DecisionLog(f"sqlite:///{tmp_path / 'log.db'}")
    try:
        missing = [i for i in answered if log.get(i) is None]
    finally:
        log.close()
    assert missing == []


def test_serve_refuses_a_broken_policy_set(tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(ROOT / "policies", root / "policies")
    path = root / "policies/pingliang-2023.zc"
    path.write_text(path.read_text("utf-8") + "\n规则 坏 {\n", "utf-8")
    done = subprocess.run(
        [*ZHENGCE, "serve", "--port", str(free_port())],
        cwd=ROOT,
        env=env_for(root, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "pingliang-2023.zc:" in done.stderr and "run `zhengce check`" in done.stderr
    assert "Traceback" not in done.stderr


def test_served_connections_have_nagle_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """With several workers uvicorn leaves TCP_NODELAY off, and each keep-alive response then
    waits ~40 ms for the client's delayed ACK (server/tcp.py); our protocol turns it on."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from server.tcp import HttpProtocol

    handed_on = []
    monkeypatch.setattr(HttpToolsProtocol, "connection_made", lambda _, t: handed_on.append(t))
    monkeypatch.setattr(HttpProtocol, "_arm", lambda _: None)  # the header timer: no loop here

    class Transport:
        def __init__(self, sock: socket.socket) -> None:
            self.sock = sock

        def get_extra_info(self, name: str) -> object:
            return self.sock if name == "socket" else None

    with socket.socket() as listener, socket.socket() as client:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client.connect(listener.getsockname())
        accepted, _ = listener.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
            transport = Transport(accepted)
            protocol = object.__new__(HttpProtocol)
            protocol.connection_made(transport)  # type: ignore[arg-type]
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
            assert handed_on == [transport]  # uvicorn's own set-up still runs


FREEZE_PROBE = """
import gc, weakref
from fastapi.testclient import TestClient
from server.app import serving_app

app = serving_app()
runtime = app.state.runtime
before = gc.get_freeze_count()
with TestClient(app):
    started = gc.get_freeze_count()
    old = weakref.ref(runtime.service.engine("rete"))  # its rule actions refer back to it
    runtime.reload()
    print(before, started, gc.get_freeze_count(), old() is None)
"""


def test_a_serving_process_freezes_its_heap_and_frees_a_replaced_policy_set(
    tmp_path: Path,
) -> None:
    """A full collection over the loaded policies, indexes and model stopped a worker for
    ~280 ms (the whole p99 under load), so `zhengce serve`'s app freezes them at start. A
    reload must unfreeze, or every replaced policy set would stay in memory for good. Run in
    a child process: freezing is process-wide."""
    done = subprocess.run(
        [sys.executable, "-c", FREEZE_PROBE],
        cwd=ROOT,
        env=env_for(ROOT, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    before, started, reloaded, freed = done.stdout.split()
    assert int(before) == 0
    assert int(started) > 50_000  # the policy set and everything imported to serve it
    assert int(reloaded) > 50_000
    assert freed == "True"


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def project_copy(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(ROOT / "policies", root / "policies")
    return root


def ready_everywhere(base: str, workers: int, timeout: float = 90) -> dict[str, Any]:
    """/readyz, once it lists `workers` workers, each serving one revision."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            body = get(f"{base}/readyz")[1]
            revisions = {w["revision"] for w in body["workers"]}
            if len(body["workers"]) == workers and len(revisions) == 1:
                return body
        except OSError:
            pass
        assert time.monotonic() < deadline, "the workers did not all become ready"
        time.sleep(0.2)


KEY = "serve-test-key"


def test_a_reload_reaches_every_worker(tmp_path: Path) -> None:
    """Two workers under load from four clients while the policy set is reloaded: no request
    sent after the reload's answer is decided by the old revision, on either worker, and
    /readyz lists both workers on the new one."""
    root = project_copy(tmp_path)
    proc, base = start_server(tmp_path, 2, root, ZHENGCE_ADMIN_KEY=KEY)
    try:
        old = ready_everywhere(base, 2)["revision"]
        seen: list[tuple[float, str]] = []  # (when sent, revision that decided)
        stop = threading.Event()

        def client() -> None:
            while not stop.is_set():
                sent = time.monotonic()
                seen.append((sent, evaluate(base, EXAMPLE)["revision"]))

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(1)
        path = root / "policies/pingliang-2023.zc"
        path.write_text(path.read_text("utf-8").replace("1000万元", "2000万元", 1), "utf-8")
        request = urllib.request.Request(
            f"{base}/v1/admin/reload", method="POST", headers={"X-API-Key": KEY}
        )
        with urllib.request.urlopen(request, timeout=60) as r:
            new = json.loads(r.read())["revision"]
        answered = time.monotonic()
        time.sleep(2)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        after = [revision for sent, revision in seen if sent > answered]
        assert new != old and after and set(after) == {new}
        answering = set()
        # Each on a new connection; which worker accepts one is the kernel's choice, and it
        # once gave all of 30 to one worker: ask until both have answered, within a bound.
        for _ in range(300):
            body = get(f"{base}/readyz")[1]
            assert body["revision"] == new
            answering.add(body["worker"])
            if len(answering) == 2:
                break
        assert len(answering) == 2
        assert [w["revision"] for w in body["workers"]] == [new, new]
    finally:
        stop_server(proc)


def test_a_restarted_worker_rejoins_its_revision_while_policies_are_broken(
    tmp_path: Path,
) -> None:
    """A worker that dies while policies/ has errors is restarted by the server and serves
    the revision the others serve, kept on disk: no crash loop, no stopped server."""
    root = project_copy(tmp_path)
    proc, base = start_server(tmp_path, 2, root)
    try:
        before = ready_everywhere(base, 2)
        path = root / "policies/pingliang-2023.zc"
        path.write_text(path.read_text("utf-8") + "\n规则 坏 {\n", "utf-8")
        victim = before["workers"][0]["pid"]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 90
        while True:
            body = ready_everywhere(base, 2)
            pids = {w["pid"] for w in body["workers"]}
            if victim not in pids:
                break
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.3)
        assert proc.poll() is None
        assert body["revision"] == before["revision"] and body["problem"] is None
        for _ in range(10):
            assert evaluate(base, EXAMPLE)["revision"] == before["revision"]
    finally:
        stop_server(proc)


def test_serve_prints_the_log_url_without_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from server.cli import app

    monkeypatch.setattr(uvicorn, "run", lambda *_, **__: None)
    url = "postgresql+psycopg://zhengce:pa55word@db.internal/zhengce"
    env = {"ZHENGCE_ROOT": str(ROOT), "ZHENGCE_DECISION_LOG": url, "COLUMNS": "300"}
    result = CliRunner().invoke(app, ["serve"], env=env)
    assert result.exit_code == 0, result.output
    assert "pa55word" not in result.output
    assert "postgresql+psycopg://zhengce:***@db.internal/zhengce" in result.output


def fleet_runtime(tmp_path: Path, root: Path, fleet: str) -> Runtime:
    """A worker of fleet `fleet`, in this process, over `root`'s var/policy-set."""
    settings = serving_settings(tmp_path / fleet, root)
    store = RevisionStore(root / "var" / "policy-set", fleet, os.getpid())
    return Runtime(settings, embedder=HashEmbedder(), revisions=store)


def break_policies(root: Path) -> Path:
    path = root / "policies/pingliang-2023.zc"
    path.write_text(path.read_text("utf-8") + "\n规则 坏 {\n", "utf-8")
    return path


def test_a_worker_serves_the_last_good_revision_while_policies_are_broken(
    tmp_path: Path,
) -> None:
    root = project_copy(tmp_path)
    first = fleet_runtime(tmp_path, root, "1")
    good = first.service.policies.revision
    first.close()
    break_policies(root)
    second = fleet_runtime(tmp_path, root, "2")  # a new server, say, or a restart
    try:
        with TestClient(create_app(runtime=second)) as c:
            ready = c.get("/readyz").json()
            assert (ready["status"], ready["revision"]) == ("degraded", good)
            assert "error(s)" in ready["problem"] and "last good revision" in ready["problem"]
            assert c.post("/v1/evaluate", json=EXAMPLE).json()["revision"] == good
    finally:
        second.close()


def test_with_nothing_good_kept_a_worker_waits_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime_module, "RETRY_EVERY", 0.2)
    root = project_copy(tmp_path)
    path = break_policies(root)
    waiting = fleet_runtime(tmp_path, root, "1")
    try:
        with TestClient(create_app(runtime=waiting)) as c:
            r = c.get("/readyz")
            assert r.status_code == 503 and r.json()["code"] == "not_ready"
            assert "error(s)" in r.json()["message_en"]
            assert c.post("/v1/evaluate", json=EXAMPLE).status_code == 503
            path.write_text(path.read_text("utf-8").replace("\n规则 坏 {\n", ""), "utf-8")
            deadline = time.monotonic() + 30
            while c.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline, "the fixed policies were not picked up"
                time.sleep(0.1)
            assert c.post("/v1/evaluate", json=EXAMPLE).status_code == 200
    finally:
        waiting.close()
