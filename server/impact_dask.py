"""The impact replay on Dask distributed, for more projects than one machine decides in time
(a province's project registry): `zhengce impact --cluster ADDRESS`, and bench/replay.py.

The two policy sets travel as their files' text (`SetText`: the policy files, the schema,
the industry classification and the source documents the checker proves quotes against),
scattered once to every worker; live objects (compiled rules, an engine's state) never
travel. Each worker process loads each set once (`_loaded` keeps it by digest), with the
evaluator its Service offers, and decides its partitions; a partition is a list of projects
or a range of generated ones (`Draw`, made on the worker). The partial replays merge into
the same Replay, in project order, that the in-process replay gives (dsl.impact).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from dsl.boundary import Palette, sample
from dsl.impact import Project, Replay, Side, replay
from server.config import Settings
from server.impact_sources import ImpactInputError
from server.service import Service

LOCAL = "local"  # --cluster local: a LocalCluster on this machine
# Folders of policies/ a worker does not need to decide: tests and examples are projects.
NOT_SHIPPED = ("tests", "examples")
CONNECT_TIMEOUT = 10  # seconds to reach a scheduler
PARTS_PER_WORKER = 8  # partitions per worker, so that a slow one does not hold up the end


@dataclass(frozen=True)
class SetText:
    """A policy set as the text of its policies/ folder, with its revision (as the driver
    loaded it: a worker that loads another one refuses to decide) and a digest that names
    it in each worker's cache."""

    revision: str
    digest: str
    files: tuple[tuple[str, bytes], ...] = field(compare=False, repr=False)

    @classmethod
    def of(cls, service: Service) -> SetText:
        folder = service.root / "policies"
        files = tuple(
            (str(p.relative_to(folder)), p.read_bytes())
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.relative_to(folder).parts[0] not in NOT_SHIPPED
        )
        digest = hashlib.sha256()
        for name, data in files:
            digest.update(name.encode() + b"\0" + data + b"\0")
        return cls(service.policies.revision, digest.hexdigest(), files)


@dataclass(frozen=True)
class Draw:
    """Generated projects start … start + count - 1 (dsl.boundary.sample), made where they
    are decided."""

    palette: Palette
    start: int
    count: int
    seed: int = 0

    def projects(self) -> list[Project]:
        drawn = sample(self.palette, self.start, self.count, self.seed)
        return [
            Project(self.start + i, g.facts, g.date, "generated", g.label)
            for i, g in enumerate(drawn)
        ]


Part = Sequence[Project] | Draw


@lru_cache(maxsize=4)
def _loaded(text: SetText, engine: str | None) -> Side:
    """The set, loaded once per worker process. The folder is only needed while loading:
    the checker reads the sources, deciding reads nothing."""
    with tempfile.TemporaryDirectory(prefix="zhengce-set-") as tmp:
        root = Path(tmp)
        for name, data in text.files:
            path = root / "policies" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        service = Service.load(Settings.from_env({}, root=root), conflicts=False)
        if service.policies.revision != text.revision:
            raise RuntimeError(
                f"revision {service.policies.revision} loaded, {text.revision} shipped"
            )
        return service.policies, service.engine(engine) if engine else service.engine()


def decide_part(base: SetText, new: SetText, engine: str | None, part: Part) -> Replay:
    """One partition, on a worker."""
    projects = part.projects() if isinstance(part, Draw) else part
    return replay(projects, _loaded(base, engine), _loaded(new, engine))


def partitions(projects: Sequence[Project], workers: int) -> list[Sequence[Project]]:
    size = max(1, -(-len(projects) // (workers * PARTS_PER_WORKER)))
    return [projects[i : i + size] for i in range(0, len(projects), size)]


@contextmanager
def client(address: str, workers: int = 2, processes: bool = True) -> Iterator[Any]:
    """A client of the scheduler at `address`, or of a LocalCluster of `workers`
    single-threaded workers (`local`; `processes` False runs them as threads here).
    ImpactInputError when Dask is not installed or the scheduler cannot be reached."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:
        raise ImpactInputError(
            "cluster_unavailable",
            "未安装 Dask：请先 pip install -e '.[cluster]'",
            f"Dask distributed is not installed ({e}): pip install -e '.[cluster]'",
            "--cluster",
        ) from e
    if address != LOCAL:
        try:
            connected = Client(address, timeout=CONNECT_TIMEOUT)
        except OSError as e:
            raise ImpactInputError(
                "cluster_unavailable",
                f"无法连接 Dask 调度器 {address}",
                f"cannot reach the Dask scheduler at {address}: {e}",
                "--cluster",
            ) from e
        with connected as c:
            yield c
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=processes,
            # Workers in processes talk over TCP on loopback; threads of this process need no
            # socket. The HTTP server (metrics, and the dashboard when bokeh is installed)
            # listens anyway: on a free port, never the 8787 another cluster may hold.
            host="127.0.0.1" if processes else None,
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


def replay_on(
    dask: Any, base: SetText, new: SetText, parts: Sequence[Part], engine: str | None = None
) -> Replay:
    """Replay every partition on the client's cluster, each set scattered once to every
    worker, and merge in project order."""
    if not parts:
        return Replay(0, 0, ())
    # Keys of their own (not the data's hash): a second replay of the same sets on this
    # client must not share keys that the first one's futures release as it ends.
    shipped = dask.scatter([base, new], broadcast=True, hash=False)
    futures = dask.map(decide_part, *zip(*[(*shipped, engine, p) for p in parts], strict=True))
    return Replay.merge(dask.gather(futures))


def where(dask: Any) -> str:
    workers = len(dask.scheduler_info().get("workers", {}))
    return f"dask {dask.scheduler.address} ({workers} workers)"
