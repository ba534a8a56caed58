"""Benchmark a server's start (issue 15: a worker ready in 5 s, at most 500 MB each).

    python bench/startup.py [--workers 2] [--runs 5]

Starts `zhengce serve --workers N` on a free port of 127.0.0.1 --runs times (bench/http.py's
`started_server`: this project's policies and index cache, a temporary decision log, stopped
on exit whatever happens) and prints, measured on this machine (nothing is asserted):

1. Process start to every worker ready (/readyz 200), per run and the median: when the last
   worker became ready by its own clock (its process's start in /proc plus its /readyz
   `startup.ready_after`), beside when polling /readyz saw it; and how much of it passed
   before the workers started (`zhengce serve` itself: its imports, the policy check, uvicorn
   spawning the workers).
2. Each worker's start, phase by phase, from its /readyz `startup` (server.start_log): CPU
   and wall seconds; the related clauses are computed after ready.
3. Each worker's RSS (and the part of it that is file-backed, shared with the other
   workers) after routes in plain words and explained decisions.
4. What the checked policy set costs a process: checked (dsl.load) and read back from the
   cache (server.policy_cache).

CPU seconds are printed beside wall seconds because on a shared two-core machine the clock
moves with the other jobs; the load average is printed at the start and the end.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Run as `python bench/startup.py`, this folder is sys.path[0], where bench/http.py and
# bench/kb.py would shadow the standard library's http and the kb package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

from server.revision import start_ticks  # noqa: E402

ROOT = _HERE.parent
TARGET_SECONDS = 5.0
TARGET_RSS_MB = 500
ROUTES = ["租赁厂房的项目由谁审核", "园区遇到重大困难找谁协调", "招商引资项目由哪个部门牵头"]
EXAMPLE = json.loads((ROOT / "policies" / "examples" / "pingliang-non-land.json").read_text())


def bench_http() -> ModuleType:
    """bench/http.py, for its server start and readiness wait (its name would shadow http)."""
    spec = importlib.util.spec_from_file_location("bench_http", _HERE / "http.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def boot_clock() -> float:
    """Seconds since boot: the clock a process's start time in /proc is read on."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def started_at(pid: int) -> float | None:
    ticks = start_ticks(pid)
    return None if ticks is None else ticks / os.sysconf("SC_CLK_TCK")


def post(base: str, path: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(
        base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return int(answer.status)


def readiness(base: str, pids: Sequence[int], tries: int = 200) -> dict[int, dict[str, Any]]:
    """Each worker's /readyz body, asked on new connections until every one has answered."""
    found: dict[int, dict[str, Any]] = {}
    for _ in range(tries):
        with urllib.request.urlopen(base + "/readyz", timeout=10) as answer:
            body = json.load(answer)
        found[int(body["worker"])] = body
        if set(pids) <= set(found):
            break
    return found


def memory(pid: int) -> tuple[float, float]:
    """RSS and its file-backed part, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssFile", "RssShmem"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields.get("RssFile", 0.0) + fields.get("RssShmem", 0.0)


def one_run(http: ModuleType, workers: int, measure_memory: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="zhengce-startup-") as tmp:
        started = boot_clock()
        with http.started_server(workers, Path(tmp)) as (server, port):
            _, found = asyncio.run(http.wait_ready("127.0.0.1", port, 300, server, workers))
            polled = boot_clock() - started
            base = f"http://127.0.0.1:{port}"
            pids = list(found.pids)
            bodies = readiness(base, pids)
            spawned = {p: s - started for p in pids if (s := started_at(p)) is not None}
            # When each worker became ready by its own clock: the poll above sleeps up to
            # half a second between tries.
            ready = [spawned[p] + bodies[p]["startup"]["ready_after"] for p in pids if p in spawned]
            run: dict[str, Any] = {
                "ready": max(ready) if len(ready) == len(pids) else polled,
                "polled": polled,
                "before_workers": min(spawned.values(), default=None),
                "workers": {p: bodies[p]["startup"] for p in pids},
                "rss": {},
            }
            if measure_memory:
                for _ in range(5 * workers):
                    for matter in ROUTES:
                        post(base, "/v1/route", {"matter": matter, "region": "甘肃省/平凉市"})
                    post(base, "/v1/evaluate", {**EXAMPLE, "explain": True})
                run["rss"] = {p: memory(p) for p in pids}
            return run


def print_phases(pid: int, startup: dict[str, Any]) -> None:
    ready = startup["ready_after"]
    print(f"  worker {pid}: ready {ready:.2f} s after its process started")
    for phase in startup["phases"]:
        note = "  (after ready)" if phase["after_ready"] else ""
        print(
            f"    {phase['name']:16} cpu {phase['cpu']:6.2f} s  wall {phase['wall']:6.2f} s{note}"
        )


def policy_check_cost() -> None:
    from dsl.load import load_folder
    from kb.corpus import Corpus
    from server.config import Settings
    from server.policy_cache import load_checked

    settings = Settings.from_env(root=ROOT)
    cpu = time.process_time()
    load_folder(ROOT / "policies", Corpus(ROOT))
    checked = time.process_time() - cpu
    load_checked(ROOT, settings.cache_dir, Corpus(ROOT))  # kept, if it was not yet
    cpu = time.process_time()
    load_checked(ROOT, settings.cache_dir, Corpus(ROOT))
    cached = time.process_time() - cpu
    print(
        f"the policy set, in a process: checked {checked:.3f} s CPU, from the cache {cached:.3f} s"
    )


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    http = bench_http()
    print(http.machine())
    runs = []
    for n in range(args.runs):
        run = one_run(http, args.workers, measure_memory=n == args.runs - 1)
        before = run["before_workers"]
        before_text = "?" if before is None else f"{before:.2f} s"
        print(
            f"run {n + 1}: every worker ready {run['ready']:.2f} s (seen by polling "
            f"{run['polled']:.2f} s), the workers started at {before_text}"
        )
        runs.append(run)
    readies = [r["ready"] for r in runs]
    median = statistics.median(readies)
    print(
        f"\nprocess start to every worker ready: median {median:.2f} s of {len(runs)} "
        f"({min(readies):.2f}-{max(readies):.2f}); target <= {TARGET_SECONDS:g} s: "
        f"{'met' if median <= TARGET_SECONDS else 'not met'}"
    )
    print("\neach worker's start (last run):")
    last = runs[-1]
    for pid, startup in sorted(last["workers"].items()):
        print_phases(pid, startup)
    print("\nRSS after routes and explained decisions (last run):")
    for pid, (rss, shared) in sorted(last["rss"].items()):
        verdict = "met" if rss <= TARGET_RSS_MB else "not met"
        print(
            f"  worker {pid}: {rss:.0f} MB ({shared:.0f} MB file-backed); "
            f"target <= {TARGET_RSS_MB} MB: {verdict}"
        )
    print()
    policy_check_cost()
    print(f"load average at the end: {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
