"""How fast the impact replay decides on Dask: decisions per second over generated projects
(dsl.boundary.sample, drawn on the workers), each decided under the base and the new set, on
a local cluster of 1 and then 2 single-threaded worker processes, or on a running cluster.

    .venv/bin/python bench/replay.py                       # 1,000,000 projects, 1 and 2 workers
    .venv/bin/python bench/replay.py --projects 100000
    .venv/bin/python bench/replay.py --cluster tcp://scheduler:8786

Both sets are policies/ as it is (an unchanged set decides every project in full all the
same), so the figure is the replay's own cost. A decision here is one project under one set:
a project costs two. The in-process figure is the same replay without Dask, for scale.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# Run as `python bench/replay.py`, this file's folder is sys.path[0], where bench/kb.py would
# shadow the kb package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

from dsl.boundary import palette  # noqa: E402
from dsl.impact import replay  # noqa: E402
from server.config import Settings  # noqa: E402
from server.impact import side  # noqa: E402
from server.impact_dask import LOCAL, Draw, SetText, client, replay_on, where  # noqa: E402
from server.service import ENGINES, Service  # noqa: E402

PART = 10_000  # projects per partition
IN_PROCESS = 20_000  # projects for the in-process figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=1_000_000)
    parser.add_argument("--cluster", default=LOCAL, help="a scheduler's address, or local")
    parser.add_argument("--engine", default=None, help=f"{', '.join(ENGINES)} (default: Service's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    service = Service.load(Settings.from_env())
    text = SetText.of(service)
    colours = palette([service.policies])
    n = args.projects
    parts = [Draw(colours, start, min(PART, n - start), args.seed) for start in range(0, n, PART)]
    one = side(service, args.engine)
    print(
        f"policy set {service.policies.revision}, evaluator {type(one[1]).__name__}; "
        f"{n:,} generated projects, 2 decisions each; load average {_load()}"
    )

    sample = [p for part in parts[: -(-IN_PROCESS // PART)] for p in part.projects()]
    sample = sample[:IN_PROCESS]
    started = time.perf_counter()
    replay(sample, one, one)
    seconds = time.perf_counter() - started
    print(
        f"in-process: {len(sample):,} projects in {seconds:.1f} s, "
        f"{2 * len(sample) / seconds:,.0f} decisions/s"
    )

    for workers in (1, 2) if args.cluster == LOCAL else (0,):
        with client(args.cluster, max(workers, 1)) as dask:
            dask.run(lambda: None)  # the workers are up before the clock starts
            started = time.perf_counter()
            done = replay_on(dask, text, text, parts, args.engine)
            seconds = time.perf_counter() - started
            assert done.decided + done.invalid == n and not done.changed
            print(
                f"{where(dask)}: {n:,} projects in {seconds:.1f} s, "
                f"{2 * n / seconds:,.0f} decisions/s; load average {_load()}"
            )


def _load() -> str:
    """The machine's 1-minute load average: on a shared machine, what else was running."""
    return f"{os.getloadavg()[0]:.1f}"


if __name__ == "__main__":
    main()
