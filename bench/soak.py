"""Soak the server with good and hostile clients at once, on loopback, and report the good
clients' error rate, which must be 0 (README, "Reliability").

    python bench/soak.py [--seconds 30] [--good 8] [--hostile 4] [--slow 200]
    python bench/soak.py --url http://127.0.0.1:8000     # a server that is already running

Without --url it starts `zhengce serve --workers 2` on a free port of 127.0.0.1 with its
decision log in a temporary folder, waits for /readyz, soaks, and stops the server, also on
an error or Ctrl-C. Bounded: --seconds of soaking (at most 600), --max-requests in all, 30 s
per request; every connection goes to 127.0.0.1.

- good clients: POST /v1/evaluate with valid projects, each answer checked (2xx, a decision
  id, the revision the others see), and GET /v1/decisions/{id} of some of them;
- hostile clients: the inputs of tests/test_hostile.py in turn (lone surrogates in keys and
  values, a batch with one bad project among good ones, 400-digit numbers, NaN, wrong content
  types, other sites, bodies over the limit, explained batches over the limit, JSON deeper
  than the decoder, garbage, huge headers) and 10,000-project batches; each answer must be
  its expected 4xx, or 2xx where it is, and never a 5xx (503 `busy` for a batch excepted);
- slow clients: connections that send a header line now and then (slowloris).

Prints, per kind of client, requests and answers by status, then the good clients' error
rate; exits 1 when a good request failed or a hostile one got a 5xx.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
REQUEST_TIMEOUT = 30.0
MAX_SECONDS = 600.0
# The example a drafter keeps beside the rules: the good clients' request.
PROJECT = json.loads((ROOT / "policies/examples/pingliang-non-land.json").read_text("utf-8"))[
    "project"
]


class SoakError(Exception):
    """The soak cannot go on: the message says why."""


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # what went wrong, first ones kept
    latencies: list[float] = field(default_factory=list)  # seconds, of the good requests

    def note(self, outcome: str, failure: str | None = None) -> None:
        self.statuses[outcome] += 1
        if failure is not None and len(self.failures) < 20:
            self.failures.append(failure)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def failed(self) -> int:
        return sum(n for s, n in self.statuses.items() if s.startswith("FAIL"))


# ----------------------------------------------------------------------------- requests


def request(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method == "POST":
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def json_post(path: str, value: Any, **headers: str) -> bytes:
    # ensure_ascii: a lone surrogate travels escaped, as a hostile client writes it.
    return request(
        "POST", path, json.dumps(value).encode(), {"Content-Type": "application/json"} | headers
    )


def literal_post(path: str, text: str) -> bytes:
    return request("POST", path, text.encode(), {"Content-Type": "application/json"})


async def send(host: str, port: int, data: bytes) -> tuple[int, bytes]:
    """One request on its own connection: the status and body (read to the end)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), REQUEST_TIMEOUT)
    try:
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), REQUEST_TIMEOUT)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if not answer:
        raise ConnectionResetError("closed without an answer")
    head, _, body = answer.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    return int(head.split(b" ", 2)[1]), body


def dechunk(data: bytes) -> bytes:
    out, rest = [], data
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2 :]
    return b"".join(out)


# --------------------------------------------------------------------------- hostility


def deep(depth: int) -> str:
    return '{"project": {"region": "甘肃省", "park": ' + "[" * depth + "]" * depth + "}}"


def hostile_requests() -> list[tuple[str, bytes, set[int]]]:
    """(name, request, the statuses it may get): the table of tests/test_hostile.py. A batch
    may also be refused as busy (503) while others are evaluated."""
    big, bad = 10**400, "\ud800"
    evaluate, batch = "/v1/evaluate", "/v1/evaluate/batch"
    json_type = {"Content-Type": "application/json"}
    form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"}
    nan = '{"project": {"region": "甘肃省", "investment_wan": NaN}}'
    huge = {f"X-Big-{i}": "a" * 1000 for i in range(100)}
    return [
        ("surrogate value", json_post(evaluate, {"project": {**PROJECT, "industry": bad}}), {422}),
        ("surrogate key", json_post(evaluate, {"project": {**PROJECT, bad: 1}}), {422}),
        (
            "surrogate in a batch",
            json_post(batch, {"projects": [PROJECT] * 50 + [{**PROJECT, "industry": bad}]}),
            {200, 503},
        ),
        ("400 digits", json_post(evaluate, {"project": {**PROJECT, "investment_wan": big}}), {422}),
        (
            "400 digits in a batch",
            json_post(batch, {"projects": [{**PROJECT, "investment_wan": big}]}),
            {200, 503},
        ),
        ("NaN", literal_post(evaluate, nan), {422}),
        (
            "region ..",
            json_post(evaluate, {"project": {**PROJECT, "region": "甘肃省/平凉市/../../江西省"}}),
            {422},
        ),
        (
            "text/plain",
            request("POST", evaluate, b'{"project": {}}', {"Content-Type": "text/plain"}),
            {415},
        ),
        (
            "other site",
            json_post(evaluate, {"project": PROJECT}, Origin="http://evil.example"),
            {403},
        ),
        ("form from another site", request("POST", "/decide", b"region=x", form), {403}),
        (
            "body over the limit",
            json_post(evaluate, {"project": {**PROJECT, "park": "x" * (1024 * 1024)}}),
            {413},
        ),
        (
            "explained batch",
            json_post(batch, {"projects": [PROJECT] * 500, "explain": True}),
            {422, 503},
        ),
        ("too deep", literal_post(evaluate, deep(50_000)), {400}),
        ("invalid UTF-8", request("POST", evaluate, b'{"region": "\xff"}', json_type), {400}),
        ("garbage", b"\x16\x03\x01\x02\x00 not http\r\n\r\n", {400}),
        ("huge headers", request("GET", "/healthz", headers=huge), {431}),
        ("10,000 projects", json_post(batch, {"projects": [PROJECT] * 10_000}), {200, 503}),
        ("search q of 10,000", request("GET", "/v1/search?q=" + "a" * 10_000), {422}),
    ]


# ----------------------------------------------------------------------------- clients


@dataclass
class Soak:
    host: str
    port: int
    deadline: float
    budget: int  # requests left, across all clients
    revisions: Counter[str] = field(default_factory=Counter)

    def go_on(self) -> bool:
        if time.monotonic() >= self.deadline or self.budget <= 0:
            return False
        self.budget -= 1
        return True


async def good_client(soak: Soak, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    while soak.go_on():
        project = {**PROJECT, "investment_wan": rng.choice([300, 999.5, 1000, 1200, 8000])}
        data = json_post("/v1/evaluate", {"project": project, "date": "2024-03-01"})
        try:
            started = time.monotonic()
            status, body = await send(soak.host, soak.port, data)
            tally.latencies.append(time.monotonic() - started)
            decision = json.loads(body) if status == 200 else {}
            if status != 200 or not decision.get("decision_id"):
                tally.note(f"FAIL {status}", body[:200].decode(errors="replace"))
                continue
            soak.revisions[decision["revision"]] += 1
            tally.note("200")
            if rng.random() < 0.1:
                path = f"/v1/decisions/{decision['decision_id']}"
                status, body = await send(soak.host, soak.port, request("GET", path))
                tally.note(
                    "200" if status == 200 else f"FAIL {status}", None if status == 200 else path
                )
        except (OSError, TimeoutError, ValueError) as exc:
            tally.note(f"FAIL {type(exc).__name__}", repr(exc))


async def hostile_client(soak: Soak, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    cases = hostile_requests()
    while soak.go_on():
        name, data, allowed = rng.choice(cases)
        try:
            status, body = await send(soak.host, soak.port, data)
        except (OSError, TimeoutError) as exc:
            # The server may close a refused connection before all was sent: not a 5xx.
            tally.note(f"closed ({type(exc).__name__})", f"{name}: {exc!r}")
            continue
        if status in allowed:
            tally.note(str(status))
        elif status >= 500:
            tally.note(f"FAIL {status}", f"{name}: {body[:200].decode(errors='replace')}")
        else:
            tally.note(f"unexpected {status}", f"{name}: {body[:200].decode(errors='replace')}")


async def slow_client(soak: Soak, tally: Tally) -> None:
    """A slowloris connection: a header line every 2 s until the server closes it (408 is
    the expected outcome), then another."""
    while time.monotonic() < soak.deadline:
        try:
            reader, writer = await asyncio.open_connection(soak.host, soak.port)
        except OSError as exc:
            tally.note(f"FAIL connect {type(exc).__name__}")
            await asyncio.sleep(1)
            continue
        outcome = "open at the end"
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            while time.monotonic() < soak.deadline:
                try:
                    answer = await asyncio.wait_for(reader.read(100), 2)
                except TimeoutError:
                    writer.write(b"X-Slow: 1\r\n")
                    continue
                outcome = answer.split(b" ", 2)[1].decode() if answer else "closed"
                break
        except OSError:
            outcome = "closed"
        finally:
            writer.close()
        tally.note(outcome)


async def soak_all(
    host: str, port: int, args: argparse.Namespace
) -> tuple[Tally, Tally, Tally, Soak]:
    soak = Soak(host, port, time.monotonic() + args.seconds, args.max_requests)
    good, hostile, slow = Tally(), Tally(), Tally()
    await asyncio.gather(
        *(good_client(soak, good, i) for i in range(args.good)),
        *(hostile_client(soak, hostile, 1000 + i) for i in range(args.hostile)),
        *(slow_client(soak, slow) for _ in range(args.slow)),
    )
    return good, hostile, slow, soak


# ------------------------------------------------------------------------------ server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def started_server(folder: Path, workers: int) -> Iterator[int]:
    port = free_port()
    env = os.environ | {
        "ZHENGCE_ROOT": str(ROOT),
        "ZHENGCE_DECISION_LOG": f"sqlite:///{folder / 'decisions.sqlite3'}",
        "ZHENGCE_WARM": "0",  # no search here: the soak is about decisions and hostility
        "HF_HUB_OFFLINE": "1",
    }
    command = [str(Path(sys.executable).with_name("zhengce")), "serve", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers), "--log-level", "error"]  # fmt: skip
    with (folder / "server.log").open("wb") as out:
        server = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield port
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)


async def wait_ready(host: str, port: int, workers: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, TimeoutError, ValueError):
            status, body = await send(host, port, request("GET", "/readyz"))
            ready: dict[str, Any] = json.loads(body)
            if status == 200 and len(ready.get("workers", [])) >= workers:
                return ready
        await asyncio.sleep(0.5)
    raise SoakError(f"the server was not ready after {timeout:g} s")


def report(good: Tally, hostile: Tally, slow: Tally, soak: Soak, seconds: float) -> int:
    print(f"soaked {seconds:.1f} s")
    for name, tally in (("good", good), ("hostile", hostile), ("slow", slow)):
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses.items()))
        print(f"{name:8} {tally.requests:7} requests  {statuses}")
        for failure in tally.failures[:5]:
            print(f"         {failure}")
    print(f"revisions seen by good clients: {dict(soak.revisions)}")
    ordered = sorted(good.latencies)
    if ordered:
        p50, p99 = (ordered[min(len(ordered) - 1, int(q * len(ordered)))] for q in (0.5, 0.99))
        print(f"good evaluate latency: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    rate = good.failed / good.requests if good.requests else 0.0
    print(f"good clients' error rate: {good.failed}/{good.requests} = {rate:.4%}")
    print(f"hostile requests answered 5xx: {hostile.failed}")
    ok = good.requests > 0 and good.failed == 0 and hostile.failed == 0 and len(soak.revisions) <= 1
    print("result:", "ok" if ok else "FAILED")
    return 0 if ok else 1


def run(args: argparse.Namespace) -> int:
    if args.url:
        parts = urlsplit(args.url)
        if parts.scheme != "http" or parts.hostname != "127.0.0.1":
            raise SoakError(f"--url must be http://127.0.0.1:PORT, got {args.url}")
        host, port = "127.0.0.1", parts.port or 80
        asyncio.run(wait_ready(host, port, 1, args.ready_timeout))
        started = time.monotonic()
        results = asyncio.run(soak_all(host, port, args))
        return report(*results, seconds=time.monotonic() - started)
    with tempfile.TemporaryDirectory(prefix="zhengce-soak-") as tmp:
        folder = Path(tmp)
        try:
            with started_server(folder, args.workers) as port:
                ready = asyncio.run(wait_ready("127.0.0.1", port, args.workers, args.ready_timeout))
                print(f"server ready: {args.workers} workers, revision {ready['revision']}")
                started = time.monotonic()
                results = asyncio.run(soak_all("127.0.0.1", port, args))
                seconds = time.monotonic() - started
        except BaseException:
            log = (folder / "server.log").read_text("utf-8", errors="replace")
            print(f"--- server log (last lines)\n{log[-3000:]}", file=sys.stderr)
            raise
        return report(*results, seconds=seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to soak")
    parser.add_argument("--max-requests", type=int, default=200_000, help="in all")
    parser.add_argument("--good", type=int, default=8, help="good clients")
    parser.add_argument("--hostile", type=int, default=4, help="hostile clients")
    parser.add_argument("--slow", type=int, default=200, help="slowloris connections")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--ready-timeout", type=float, default=180.0, help="seconds for /readyz")
    parser.add_argument("--url", help="an already running server on http://127.0.0.1")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS:g}]")
    if min(args.good, args.workers, args.max_requests) < 1 or min(args.hostile, args.slow) < 0:
        parser.error("--good, --workers, --max-requests ≥ 1; --hostile, --slow ≥ 0")
    signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(128 + signum))
    try:
        return run(args)
    except SoakError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the server is stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
