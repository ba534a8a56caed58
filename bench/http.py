"""Load-test the HTTP API on loopback: requests/s and latency of /v1/evaluate (with and
without explain), /v1/route and /v1/search, served by `zhengce serve` as it is deployed.

/v1/route is measured twice. `route` cycles four questions, so after the warm-up every one is
answered from the worker's answer cache (ZHENGCE_SEARCH_CACHE): the figure of a service whose
questions repeat. `route distinct` asks questions that do not repeat in the whole scenario
(warm-up included): every routing, paraphrase and clause question of tests/data once, then
each again opened with a greeting (请问…, 您好，…) and in another region, so that neither the
answer nor the question's embedding can come from a cache: the figure of a service that has
never seen its questions. `ZHENGCE_SEARCH_CACHE=0 python bench/http.py` runs both without
the cache. `--only search` asks the same distinct questions of `GET /v1/search` (clause
search in their region), which issue 15 sets no target for.

    python bench/http.py [--workers 2] [--runs 5] [--requests 5000] [--concurrency 16]
    python bench/http.py --only evaluate --engine interpret --runs 1
    python bench/http.py --url http://127.0.0.1:8000     # a server that is already running

Without --url it starts `zhengce serve --workers N` on a free port of 127.0.0.1, with the
decision log in a temporary SQLite file, waits until every worker answers /readyz, runs the
scenarios and stops the server, also on an error, Ctrl-C or kill. Each scenario is a warm-up,
then --runs runs of a fixed number of requests over C keep-alive connections spread evenly
over the workers, each connection sending its next request once the last is answered; a run
stops early at --seconds, and a request still unanswered then gets 30 s more: a run cannot
hang. A scenario's line gives the median of its runs and their spread; the last table is the
HTTP rows of issue 15's targets, each met or not.

The client is a small HTTP/1.1 client on asyncio streams with the requests encoded up front,
so that on a two-core machine it takes as little CPU from the server as it can. Under each
run a line gives each worker's connections and CPU share and the share of every other
process on the machine: a run that shared the machine measured less than the server can do.
`cpu/req` is the server's CPU time per answered request (its workers' user and system time),
which another process's load changes far less than requests/s. Nothing is asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as `python bench/http.py`, this file's folder is sys.path[0], where "http" would be
# this file rather than the standard library's package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterable, Iterator, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlencode, urlsplit  # noqa: E402

import yaml  # noqa: E402

ROOT = _HERE.parent
LOOPBACK = ("127.0.0.1", "localhost", "::1")
REQUEST_TIMEOUT = 30.0  # one request; the scenario's --seconds bounds the whole run

# Varied so that the server does not answer one identical request: days the Pingliang policy
# is in force, and investments on both sides of its 1,000万元 threshold.
DATES = ["2023-09-01", "2024-01-15", "2024-03-01", "2024-06-30", "2025-02-01"]
INVESTMENTS = [300, 999.5, 1000, 1200, 3500, 8000, 20000]
ROUTES = [
    {"matter": "化工园区清理整顿由谁牵头", "region": "江西省", "date": "2019-06-01"},
    {"matter": "园区遇到重大困难找谁协调", "region": "甘肃省/平凉市", "date": "2024-03-01"},
    {"matter": "取缔违法违规化工企业", "region": "江西省", "date": "2019-06-01"},
    {"matter": "园区招商引资项目协调", "region": "甘肃省/平凉市", "date": "2024-03-01"},
]
# `route distinct`: the questions of these files, each once per opening; then the openings,
# and a region with a day its routing rules are in force (a request that finds no rule in
# force is answered without routing, and would measure nothing).
QUESTION_FILES = [
    "tests/data/route_queries.yaml",
    "tests/data/paraphrase_questions.yaml",
    "tests/data/kb_questions.yaml",
]
OPENINGS = [
    "",
    "请问",
    "您好，",
    "麻烦问一下，",
    "咨询一下：",
    "想了解一下，",
    "打听一下，",
    "老师好，",
    "你好，请问",
    "同志您好，",
    "请教一下，",
    "我想问问，",
    "帮忙看看，",
    "劳驾问一下，",
]
PLACES = [
    ("甘肃省/平凉市", "2024-06-01"),
    ("江西省", "2019-06-01"),
    ("上海市/嘉定区", "2024-06-01"),
    ("浙江省/温州市/鹿城区", "2017-06-01"),
    ("四川省/成都市", "2024-06-01"),
]


class BenchError(Exception):
    """The benchmark cannot go on: the message says why."""


@dataclass(frozen=True)
class Target:
    """A row of issue 15's targets table: what the median run must reach."""

    figure: str
    rps: float
    p99_ms: float | None = None

    def text(self) -> str:
        p99 = f", p99 ≤ {self.p99_ms:g} ms" if self.p99_ms is not None else ""
        return f"≥ {self.rps:,.0f} req/s{p99}"


TARGETS = {
    "evaluate": Target("/v1/evaluate, {workers} workers", 2_500, 20.0),
    "evaluate explain": Target("/v1/evaluate with explain", 1_200),
    "route": Target("/v1/route, {workers} workers", 400, 50.0),
    "route distinct": Target("/v1/route, none repeated", 400, 50.0),
}


# ---------------------------------------------------------------------------- the client


@dataclass
class Tally:
    latencies_ns: list[int] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # no answer: error name -> count
    sent: int = 0  # requests taken from the list (the next load starts after them)

    def fail(self, exc: BaseException) -> None:
        name = type(exc).__name__
        self.failures[name] = self.failures.get(name, 0) + 1


def encode(method: str, host: str, port: int, path: str, body: Any = None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    if body is None:
        return (head + "\r\n").encode()
    data = json.dumps(body, ensure_ascii=False).encode()
    head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the server will close the connection."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("the server closed the connection")
    status = int(status_line.split(b" ", 2)[1])
    length, chunked, close = 0, False, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    if not chunked:
        return status, await reader.readexactly(length), close
    parts = []
    while size := int((await reader.readline()).split(b";")[0], 16):
        parts.append(await reader.readexactly(size))
        await reader.readline()
    while (await reader.readline()) not in (b"\r\n", b"\n", b""):  # trailers
        pass
    return status, b"".join(parts), close


class StaleConnection(ConnectionResetError):
    """The server closed a kept-alive connection before answering on it."""


class Connection:
    """One keep-alive connection, reopened when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """The status and body of the answer. A kept-alive connection that the server closed
        while it was idle (uvicorn closes them after 5 s) is reopened and the request sent
        again, once, as HTTP clients do; any other failure is raised."""
        try:
            return await self._send(request)
        except StaleConnection:
            return await self._send(request)

    async def _send(self, request: bytes) -> tuple[int, bytes]:
        if self.reader is not None and self.reader.at_eof():
            self.close()
        fresh = self.writer is None
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            sock = self.writer.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self.reader is not None
        try:
            self.writer.write(request)
            status, body, close = await read_response(self.reader)
        except ConnectionResetError as exc:
            self.close()
            if fresh:
                raise
            raise StaleConnection(str(exc)) from exc
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status, body

    def client_port(self) -> int | None:
        if self.writer is None:
            return None
        port: int = self.writer.get_extra_info("sockname")[1]
        return port

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def open_pool(
    host: str, port: int, size: int, workers: Workers | None = None
) -> list[Connection]:
    """`size` connections, each answered once, spread evenly over the server's workers.

    uvicorn's workers share one listening socket, and a worker woken by it accepts every
    connection waiting: opened all at once, the connections often all land on one worker,
    which then serves the whole keep-alive run alone while the other idles. So they are
    opened one at a time, and where the workers can be seen in /proc, a connection that
    lands on a worker that already has its share is closed and opened again (a load
    balancer in front of the workers would spread them so). The line under each scenario
    shows how the connections were spread.
    """
    probe = encode("GET", host, port, "/healthz")
    pids = workers.pids if workers else []
    share = -(-size // len(pids)) if pids else size  # ceiling
    held: dict[int | None, int] = {}
    pool: list[Connection] = []
    tries = 0
    try:
        while len(pool) < size:
            conn = Connection(host, port)
            await asyncio.wait_for(conn.send(probe), REQUEST_TIMEOUT)
            tries += 1
            pid = workers.serving(conn.client_port() or 0) if workers and pids else None
            if held.get(pid, 0) >= share and tries <= 10 * size:  # then take what comes
                conn.close()
                continue
            held[pid] = held.get(pid, 0) + 1
            pool.append(conn)
    except BaseException:
        for conn in pool:
            conn.close()
        raise
    return pool


async def load(
    pool: Sequence[Connection],
    requests: Sequence[bytes],
    total: int,
    seconds: float,
    start: int = 0,
) -> tuple[Tally, float]:
    """Send `total` requests (cycling through `requests`, from the one at `start`) over the
    connections of `pool`, each sending its next once the last is answered; stop early once
    `seconds` have passed. The tally and the wall time in seconds."""
    tally = Tally()
    counter = itertools.count()
    started = time.perf_counter()
    deadline = started + seconds

    async def worker(conn: Connection) -> None:
        while (i := next(counter)) < total and time.perf_counter() < deadline:
            start = time.perf_counter_ns()
            try:
                status, _ = await conn.send(requests[(start + i) % len(requests)])
            except (OSError, EOFError, ValueError, IndexError) as exc:
                tally.fail(exc)
                await asyncio.sleep(0.01)  # a refused connection must not spin
                continue
            tally.latencies_ns.append(time.perf_counter_ns() - start)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
        tally.sent = max(tally.sent, min(i, total))

    tasks = [asyncio.create_task(worker(conn)) for conn in pool]
    # One request in flight per connection when the deadline passes: give each its timeout.
    done, pending = await asyncio.wait(tasks, timeout=seconds + REQUEST_TIMEOUT)
    for task in pending:
        task.cancel()
        tally.fail(TimeoutError())
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if (exc := task.exception()) is not None:
            tally.fail(exc)
    return tally, time.perf_counter() - started


# --------------------------------------------------------------- the server's processes


class Workers:
    """The processes serving a port on this machine, read from /proc (Linux; elsewhere none
    are found and nothing is shown): their CPU time and the connections each holds."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.tick = os.sysconf("SC_CLK_TCK")
        listening = self._sockets("0A")  # TCP_LISTEN
        holders = {pid: ppid for pid, ppid, inodes in self._processes() if inodes & listening}
        # uvicorn's supervisor and its workers all hold the listening socket: the workers are
        # the holders whose parent holds it too; a single process serves alone.
        workers = [pid for pid, ppid in holders.items() if ppid in holders]
        self.pids = sorted(workers or holders)

    def _sockets(self, state: str, peer: int | None = None) -> set[str]:
        """Inodes of the TCP sockets on the port in this state (hex, as /proc/net/tcp), and
        only those connected to the `peer` port when it is given."""
        found = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError), open(table, encoding="ascii") as lines:
                for line in itertools.islice(lines, 1, None):
                    cols = line.split()
                    local, remote = (int(a.rsplit(":", 1)[1], 16) for a in cols[1:3])
                    if cols[3] == state and local == self.port and peer in (None, remote):
                        found.add(cols[9])
        return found

    @staticmethod
    def _processes(pids: Iterable[int] | None = None) -> Iterator[tuple[int, int, set[str]]]:
        """(pid, parent pid, socket inodes) of each process that can be read."""
        paths = [Path(f"/proc/{p}") for p in pids] if pids else Path("/proc").glob("[0-9]*")
        for entry in paths:
            try:
                ppid = int(stat_fields(entry / "stat")[1])
                links = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
            except (OSError, ValueError, IndexError):
                continue
            inodes = {link[8:-1] for link in links if link.startswith("socket:[")}
            yield int(entry.name), ppid, inodes

    def cpu_seconds(self) -> list[float]:
        out = []
        for pid in self.pids:
            try:
                fields = stat_fields(Path(f"/proc/{pid}/stat"))
                out.append((int(fields[11]) + int(fields[12])) / self.tick)
            except (OSError, ValueError, IndexError):
                out.append(float("nan"))
        return out

    def serving(self, client_port: int) -> int | None:
        """The worker that holds the connection from this client port."""
        inodes = self._sockets("01", peer=client_port)
        return next((pid for pid, _, held in self._processes(self.pids) if held & inodes), None)

    def connections(self) -> list[int]:
        """Established connections on the port, per worker."""
        established = self._sockets("01")
        held = {pid: len(inodes & established) for pid, _, inodes in self._processes(self.pids)}
        return [held.get(pid, 0) for pid in self.pids]


def stat_fields(path: Path) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces): state, ppid, …"""
    text = path.read_text("ascii", errors="replace")
    return text[text.rindex(")") + 2 :].split()


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    requests: list[bytes]
    total: int
    decisions: bool = True  # each 2xx answer is a decision the log must hold
    note: str = ""  # printed before its runs: what the figure means


@dataclass(frozen=True)
class Result:
    name: str
    count: int
    seconds: float
    rps: float
    p50: float
    p90: float
    p99: float
    max: float
    non_2xx: int
    failed: int
    client_cpu: float  # the client's CPU seconds over wall seconds
    cpu_ms: float  # the server's CPU milliseconds per answered request (NaN: not seen)
    statuses: dict[int, int]
    answered: int  # 2xx answers
    workers: str  # each worker's connections and CPU share, the other processes' CPU share

    def row(self, label: str) -> str:
        return (
            f"{label:22}{self.count:7}{self.seconds:8.1f}{self.rps:9.0f}"
            f"{self.p50:8.1f}{self.p90:8.1f}{self.p99:8.1f}{self.max:8.1f}"
            f"{self.non_2xx:8}{self.failed:7}{self.client_cpu:7.0%}{self.cpu_ms:8.2f}"
        )


HEADER = (
    f"{'scenario':22}{'n':>7}{'s':>8}{'req/s':>9}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}"
    f"{'non-2xx':>8}{'failed':>7}{'client':>7}{'cpu/req':>8}"
)


@dataclass(frozen=True)
class Summary:
    """A scenario's runs: the median run's figures and the spread of requests/s."""

    name: str
    runs: list[Result]

    @property
    def rps(self) -> float:
        return statistics.median(r.rps for r in self.runs)

    @property
    def p50(self) -> float:
        return statistics.median(r.p50 for r in self.runs)

    @property
    def p99(self) -> float:
        return statistics.median(r.p99 for r in self.runs)

    @property
    def cpu_ms(self) -> float:
        return statistics.median(r.cpu_ms for r in self.runs)

    @property
    def clean(self) -> bool:
        """Every request of every run answered 2xx."""
        return all(r.non_2xx == 0 and r.failed == 0 for r in self.runs)

    def spread(self) -> str:
        low, high = min(r.rps for r in self.runs), max(r.rps for r in self.runs)
        return f"{low:,.0f}–{high:,.0f}"

    def line(self) -> str:
        return (
            f"{self.name}: median of {len(self.runs)} run(s) {self.rps:,.0f} req/s "
            f"(runs {self.spread()}), p50 {self.p50:.1f} ms, p99 {self.p99:.1f} ms, "
            f"server CPU {self.cpu_ms:.2f} ms a request"
        )


def percentile(ordered: Sequence[int], q: float) -> float:
    """Nearest-rank percentile of sorted nanoseconds, in milliseconds."""
    if not ordered:
        return float("nan")
    rank = max(1, round(q / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1] / 1e6


def example() -> tuple[dict[str, Any], str]:
    data = json.loads((ROOT / "policies/examples/pingliang-non-land.json").read_text("utf-8"))
    return data["project"], data["date"]


def scenarios(host: str, port: int, args: argparse.Namespace) -> list[Scenario]:
    project, _ = example()
    engine = {"engine": args.engine} if args.engine else {}
    bodies = [
        {"project": project | {"investment_wan": money}, "date": date} | engine
        for date, money in itertools.product(DATES, INVESTMENTS)
    ]
    evaluate = [encode("POST", host, port, "/v1/evaluate", b) for b in bodies]
    explain = [encode("POST", host, port, "/v1/evaluate", b | {"explain": True}) for b in bodies]
    route = [encode("POST", host, port, "/v1/route", r) for r in ROUTES]
    every = {
        "evaluate": Scenario("evaluate", evaluate, args.requests),
        "explain": Scenario("evaluate explain", explain, args.requests),
        "route": Scenario(
            "route",
            route,
            args.route_requests,
            decisions=False,
            note=f"route: {len(ROUTES)} questions over and over; after the first, each is "
            "answered from the worker's cache",
        ),
    }
    needed = 1 + args.warmup + args.runs * args.route_requests
    if "search" in args.only:
        # The same distinct questions as `route distinct`, as clause searches in their region.
        searched = [
            encode(
                "GET",
                host,
                port,
                "/v1/search?" + urlencode({"q": b["matter"], "region": b["region"]}),
            )
            for b in distinct_routes(needed)
        ]
        every["search"] = Scenario(
            "search distinct",
            searched,
            args.route_requests,
            decisions=False,
            note=f"search distinct: {len(searched)} clause searches (route distinct's questions), "
            "none asked twice: no answer or embedding is cached",
        )
    if "distinct" in args.only:
        bodies = distinct_routes(needed)
        if len(bodies) < needed:
            print(f"route distinct: {len(bodies)} distinct requests, {needed} sent: some repeat")
        distinct = [encode("POST", host, port, "/v1/route", b) for b in bodies]
        every["distinct"] = Scenario(
            "route distinct",
            distinct,
            args.route_requests,
            decisions=False,
            note=f"route distinct: {len(distinct)} questions, none asked twice (tests/data's, "
            "then again with a greeting, in another region): no answer or embedding is cached",
        )
    return [every[key] for key in args.only]


def questions() -> list[str]:
    """Every question of QUESTION_FILES once, in file order, but the `route` scenario's."""
    found: dict[str, None] = {}
    for name in QUESTION_FILES:
        collect_questions(yaml.safe_load((ROOT / name).read_text("utf-8")), found)
    for r in ROUTES:
        found.pop(r["matter"], None)
    return list(found)


def collect_questions(node: Any, found: dict[str, None]) -> None:
    # The files nest their questions differently (lists of {query:}, {question:}, or plain
    # strings under `queries`); a question is a string under one of those keys.
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("query", "question") and isinstance(value, str):
                found[value.strip()] = None
            elif key == "queries" and isinstance(value, list):
                found.update((q.strip(), None) for q in value if isinstance(q, str))
            else:
                collect_questions(value, found)
    elif isinstance(node, list):
        for item in node:
            collect_questions(item, found)


def distinct_routes(needed: int) -> list[dict[str, str]]:
    """Up to `needed` route bodies, no two alike in text: each question with each opening in
    turn, the region and day moving on with every round."""
    asked = questions()
    out = []
    for round_, opening in enumerate(OPENINGS):
        for i, question in enumerate(asked):
            if len(out) == needed:
                return out
            region, date = PLACES[(i + round_) % len(PLACES)]
            out.append({"matter": opening + question, "region": region, "date": date})
    return out


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (Linux; NaN elsewhere)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(x) for x in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(workers: Workers | None) -> tuple[float, float, list[float]]:
    """(this process, the whole machine, each server worker) in CPU seconds."""
    return time.process_time(), machine_busy_seconds(), workers.cpu_seconds() if workers else []


def cpu_usage(
    before: tuple[float, float, list[float]],
    after: tuple[float, float, list[float]],
    seconds: float,
    workers: Workers | None,
) -> dict[str, Any]:
    """Shares of one core over `seconds`: the client's, and a line with each worker's and
    the other processes' (a benchmark that shares the machine measures less than it can)."""
    client = (after[0] - before[0]) / seconds
    server = [(b - a) / seconds for a, b in zip(before[2], after[2], strict=True)]
    others = (after[1] - before[1]) / seconds - client - sum(server)
    server_seconds = sum(server) * seconds if server else float("nan")
    parts = []
    if workers and workers.pids:
        parts.append(
            "per worker "
            + ", ".join(
                f"{n} conn {share:.0%} CPU"
                for n, share in zip(workers.connections(), server, strict=True)
            )
        )
    if others == others:  # not NaN
        parts.append(f"other processes {max(others, 0):.0%} CPU")
    return {"client": client, "server": server_seconds, "text": "; ".join(parts)}


async def run_scenario(
    host: str, port: int, s: Scenario, args: argparse.Namespace, workers: Workers | None
) -> tuple[int, list[Result]]:
    """The warm-up's 2xx answers, then each run as it is measured (and printed)."""
    pool = await open_pool(host, port, args.concurrency, workers)
    runs = []
    sent = 1  # check_answers sent the first
    try:
        warm_ok = 0
        if args.warmup:
            warm, _ = await load(pool, s.requests, args.warmup, args.seconds, sent)
            warm_ok = sum(n for status, n in warm.statuses.items() if 200 <= status < 300)
            sent += warm.sent
        for i in range(args.runs):
            before = cpu_snapshot(workers)
            tally, seconds = await load(pool, s.requests, s.total, args.seconds, sent)
            sent += tally.sent
            result = measured(
                s.name, tally, seconds, cpu_usage(before, cpu_snapshot(workers), seconds, workers)
            )
            label = s.name if args.runs == 1 else f"{s.name} {i + 1}"
            print(result.row(label), flush=True)
            if result.workers:
                print(f"{'':4}{result.workers}", flush=True)
            runs.append(result)
    finally:
        for conn in pool:
            conn.close()
    return warm_ok, runs


def measured(name: str, tally: Tally, seconds: float, usage: dict[str, Any]) -> Result:
    ordered = sorted(tally.latencies_ns)
    non_2xx = sum(n for status, n in tally.statuses.items() if not 200 <= status < 300)
    if tally.failures:
        failures = ", ".join(f"{n} {what}" for what, n in sorted(tally.failures.items()))
        print(f"  {name}: requests without an answer: {failures}", file=sys.stderr)
    answered = len(ordered) - non_2xx
    return Result(
        name=name,
        count=len(ordered),
        seconds=seconds,
        rps=len(ordered) / seconds if seconds else 0.0,
        p50=percentile(ordered, 50),
        p90=percentile(ordered, 90),
        p99=percentile(ordered, 99),
        max=ordered[-1] / 1e6 if ordered else float("nan"),
        non_2xx=non_2xx,
        failed=sum(tally.failures.values()),
        client_cpu=usage["client"],
        cpu_ms=usage["server"] / answered * 1e3 if answered else float("nan"),
        statuses=dict(sorted(tally.statuses.items())),
        answered=answered,
        workers=usage["text"],
    )


async def check_answers(host: str, port: int, s: Scenario) -> None:
    """One request of each kind before measuring: a benchmark of 4xx answers measures
    nothing, so a scenario whose requests are refused stops the run with the reason."""
    conn = Connection(host, port)
    try:
        status, body = await asyncio.wait_for(conn.send(s.requests[0]), REQUEST_TIMEOUT)
    finally:
        conn.close()
    if not 200 <= status < 300:
        raise BenchError(f"{s.name}: the server answered {status}: {body[:500]!r}")


async def run_all(
    host: str, port: int, args: argparse.Namespace, workers: Workers | None = None
) -> tuple[list[Summary], int]:
    """Each scenario's runs, and how many decisions were answered 2xx (warm-ups and the
    checks included), which the decision log must hold."""
    chosen = scenarios(host, port, args)
    for s in chosen:
        await check_answers(host, port, s)
    print(
        f"{args.concurrency} connections, warm-up {args.warmup} requests, {args.runs} run(s) "
        f"per scenario of at most {args.seconds:g} s each; latency in ms; client: this "
        "script's CPU share of one core; cpu/req: the server's CPU ms per request"
    )
    print(HEADER)
    summaries, decisions = [], 0
    for s in chosen:
        if s.note:
            print(s.note)
        warm_ok, runs = await run_scenario(host, port, s, args, workers)
        summary = Summary(s.name, runs)
        if args.runs > 1:
            print(f"{'':4}{summary.line()}", flush=True)
        summaries.append(summary)
        if s.decisions:
            decisions += 1 + warm_ok + sum(r.answered for r in runs)
    return summaries, decisions


def targets_table(summaries: Sequence[Summary], workers: int | str) -> str:
    """The HTTP rows of issue 15's targets table: each figure's median run, its spread and
    whether the median meets the target (every request answered 2xx, too)."""
    lines = [
        "issue 15 targets, HTTP rows (median run; spread of requests/s over the runs; "
        "cpu/req: the server's CPU ms a request):",
        f"{'figure':30}{'req/s':>8}{'spread':>15}{'p99 ms':>8}{'cpu/req':>8}  {'target':28}result",
    ]
    for summary in summaries:
        target = TARGETS.get(summary.name)
        if target is None:  # search: no target in issue 15, measured beside the others
            continue
        met = summary.clean and summary.rps >= target.rps
        if target.p99_ms is not None:
            met = met and summary.p99 <= target.p99_ms
        lines.append(
            f"{target.figure.format(workers=workers):30}{summary.rps:8,.0f}"
            f"{summary.spread():>15}{summary.p99:8.1f}{summary.cpu_ms:8.2f}  {target.text():28}"
            f"{'met' if met else 'not met'}"
        )
    return "\n".join(lines)


def machine() -> str:
    """The machine, for the record beside the numbers: CPU model, cores, load."""
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as info:
        model = next(
            (line.split(":", 1)[1].strip() for line in info if "model name" in line), model
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"machine: {model}, {os.cpu_count()} cores, load average {load} at the start"


# ----------------------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def wait_ready(
    host: str, port: int, timeout: float, server: subprocess.Popen[bytes] | None, count: int
) -> tuple[dict[str, Any], Workers]:
    """Poll /readyz, each time on a new connection, until every worker has answered 200
    (ready, or degraded: BM25 only), the server process exits, or `timeout` seconds pass.

    /readyz is answered by whichever worker accepts the connection, and the first worker up
    answers while the others may still be loading the policies: measured then, the first
    connections would all land on one worker. So the worker behind each answer is looked up
    in /proc, until all `count` of them (or all found, with count 0) have answered. Where
    /proc cannot be read, the first 200 is taken. The readiness body and the workers."""
    deadline = time.monotonic() + timeout
    request = encode("GET", host, port, "/readyz")
    last, answered = "no answer", set()
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise BenchError(f"the server exited with status {server.returncode} before ready")
        workers = Workers(port)
        conn = Connection(host, port)
        try:
            status, body = await asyncio.wait_for(conn.send(request), 5)
            last = f"{status} {body[:200].decode(errors='replace')}"
            if status == 200:
                answered.add(workers.serving(conn.client_port() or 0))
                everyone = set(workers.pids)
                if not everyone or (len(everyone) >= count and everyone <= answered):
                    ready: dict[str, Any] = json.loads(body)
                    return ready, workers
        except (OSError, EOFError, TimeoutError, ValueError) as exc:
            last = repr(exc)
        finally:
            conn.close()
        await asyncio.sleep(0.05 if answered else 0.5)
    raise BenchError(f"the server was not ready after {timeout:g} s; last answer: {last}")


@contextlib.contextmanager
def started_server(workers: int, folder: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`zhengce serve` on a free loopback port with its own decision log; stopped on exit,
    whatever happens (SIGTERM, then SIGKILL to its process group after 15 s)."""
    port = free_port()
    env = os.environ | {
        "ZHENGCE_ROOT": str(ROOT),
        # A log named in the environment (PostgreSQL, say) is used as it is.
        "ZHENGCE_DECISION_LOG": log_url(folder),
        "HF_HUB_OFFLINE": "1",
    }
    command = [
        str(Path(sys.executable).with_name("zhengce")),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    with (folder / "server.log").open("wb") as out:
        # Its own session, so that Ctrl-C reaches this script, which then stops the server.
        server = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield server, port
    finally:
        stop(server)


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)  # the session it was started in
        server.wait(5)


def log_url(folder: Path) -> str:
    return os.environ.get("ZHENGCE_DECISION_LOG") or f"sqlite:///{folder / 'decisions.sqlite3'}"


def logged_decisions(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as db:
            return int(db.execute(text("select count(*) from decisions")).scalar_one())
    finally:
        engine.dispose()


def print_ready(ready: dict[str, Any]) -> None:
    search = ready.get("search", {})
    print(
        f"server {ready.get('status')}: revision {ready.get('revision')}, "
        f"dense search {search.get('dense_available')}, warm {search.get('warm')}"
    )


def run(args: argparse.Namespace) -> int:
    if args.url:
        parts = urlsplit(args.url)
        host, port = parts.hostname or "", parts.port or 80
        if parts.scheme != "http" or host not in LOOPBACK:
            raise BenchError(f"--url must be http:// on loopback (127.0.0.1), got {args.url}")
        print(machine())
        ready, workers = asyncio.run(wait_ready(host, port, args.ready_timeout, None, 0))
        print_ready(ready)
        summaries, _ = asyncio.run(run_all(host, port, args, workers))
        print(targets_table(summaries, len(workers.pids) or "?"))
        return 0
    with tempfile.TemporaryDirectory(prefix="zhengce-bench-") as tmp:
        folder = Path(tmp)
        # A shared log (PostgreSQL) may hold earlier runs' decisions: count this run's.
        shared = "ZHENGCE_DECISION_LOG" in os.environ
        logged_before = logged_decisions(log_url(folder)) if shared else 0
        print(machine())
        try:
            with started_server(args.workers, folder) as (server, port):
                started = time.perf_counter()
                ready, workers = asyncio.run(
                    wait_ready("127.0.0.1", port, args.ready_timeout, server, args.workers)
                )
                print(f"started {args.workers} worker(s) in {time.perf_counter() - started:.1f} s")
                print_ready(ready)
                summaries, answered = asyncio.run(run_all("127.0.0.1", port, args, workers))
        except BaseException:
            log = (folder / "server.log").read_text("utf-8", errors="replace")
            if log.strip():
                print(f"--- server log (last lines)\n{log[-3000:]}", file=sys.stderr)
            raise
        # Every 2xx decision is logged before it is answered.
        url = log_url(folder)
        before = logged_before
        print(
            f"decisions logged: {logged_decisions(url) - before}, 2xx decisions: {answered} "
            f"({url.partition(':')[0]})"
        )
    print(targets_table(summaries, args.workers))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--runs", type=int, default=5, help="measured runs per scenario")
    parser.add_argument("--requests", type=int, default=5_000, help="per evaluate run")
    parser.add_argument(
        "--route-requests", type=int, default=500, help="per run of route and route distinct"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--warmup", type=int, default=200, help="requests before measuring")
    parser.add_argument("--seconds", type=float, default=60.0, help="time cap per run")
    parser.add_argument("--ready-timeout", type=float, default=240.0, help="seconds for /readyz")
    parser.add_argument(
        "--only",
        default="evaluate,explain,route,distinct",
        help="scenarios to run, comma-separated: evaluate, explain (evaluate with explain), "
        "route, distinct (route with no question repeated), search (GET /v1/search, no "
        "question repeated; not run unless named)",
    )
    parser.add_argument(
        "--engine",
        help="the evaluator the evaluate requests ask for (default: none named, so the API's "
        "default is measured)",
    )
    parser.add_argument("--url", help="an already running server, e.g. http://127.0.0.1:8000")
    args = parser.parse_args(argv)
    args.only = list(dict.fromkeys(s.strip() for s in args.only.split(",") if s.strip()))
    if unknown := set(args.only) - {"evaluate", "explain", "route", "distinct", "search"}:
        parser.error(f"--only: unknown scenario(s) {', '.join(sorted(unknown))}")
    if min(args.workers, args.runs, args.requests, args.concurrency) < 1 or args.seconds <= 0:
        parser.error("--workers, --runs, --requests and --concurrency must be ≥ 1, --seconds > 0")
    # Ctrl-C and a plain `kill` both unwind through started_server, which stops the server.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        return run(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the server is stopped", file=sys.stderr)
        return 130


def interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


if __name__ == "__main__":
    sys.exit(main())
