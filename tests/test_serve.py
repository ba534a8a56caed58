"""`zhengce serve` as an operator meets it: a real process on loopback with several
workers, a clear refusal of a broken policy set, and a clean stop."""

from __future__ import annotations

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

from server.decision_log import DecisionLog
from tests.conftest import EXAMPLE, ROOT

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


def get(url: str) -> tuple[int, dict[str, object]]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, json.loads(r.read())


def start_server(tmp_path: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """`zhengce serve` in its own process group, once it answers /healthz."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [*ZHENGCE, "serve", "--port", str(port), "--workers", str(workers)]
    with (tmp_path / "serve.log").open("w") as out:
        proc = subprocess.Popen(
            [*command, "--log-level", "warning"],
            cwd=ROOT,
            env=env_for(ROOT, tmp_path),
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
            except OSError:  # the server is gone: in flight, so never acknowledged
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

    from server.tcp import NoDelayProtocol

    handed_on = []
    monkeypatch.setattr(HttpToolsProtocol, "connection_made", lambda _, t: handed_on.append(t))

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
            protocol = object.__new__(NoDelayProtocol)
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
