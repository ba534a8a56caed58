"""Settings: the one place that reads the environment. Every `ZHENGCE_*` variable is declared
in `VARIABLES` (name, meaning, default) and read once into a frozen `Settings`; `dsl` and `kb`
never read the environment, they are given these values as arguments.

Every replica behind a load balancer is configured the same way; the only state they share is
the decision log, so in a scaled-out deployment ZHENGCE_DECISION_LOG points at PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

MIB = 1024 * 1024


class SettingsError(ValueError):
    pass


class Variable(NamedTuple):
    name: str
    meaning: str
    default: str


VARIABLES = (
    Variable("ZHENGCE_ROOT", "the project folder holding policies/", "the working directory"),
    Variable(
        "ZHENGCE_CACHE",
        "where the search model and the indexes are cached",
        "var/index in the root",
    ),
    Variable(
        "ZHENGCE_TORCH_THREADS",
        "torch threads for query embedding (one is fastest for single queries here)",
        "1",
    ),
    Variable(
        "ZHENGCE_DECISION_LOG",
        "SQLAlchemy URL of the decision log, e.g. postgresql+psycopg://user:pw@db/zhengce",
        "a SQLite file, var/decisions.sqlite3 in the root",
    ),
    Variable(
        "ZHENGCE_ADMIN_KEY",
        "the key POST /v1/admin/reload wants in X-API-Key; unset turns admin off (403)",
        "unset",
    ),
    Variable("ZHENGCE_MAX_BODY_BYTES", "largest request body", "1 MiB"),
    Variable("ZHENGCE_MAX_BATCH_BODY_BYTES", "largest body of /v1/evaluate/batch", "32 MiB"),
    Variable(
        "ZHENGCE_WARM",
        "open the indexes and model, and compute related clauses, at start (0: on first use)",
        "1",
    ),
)


@dataclass(frozen=True)
class Settings:
    root: Path
    cache_dir: Path  # the rebuilt search model (model/) and the index folders
    torch_threads: int
    decision_log_url: str
    admin_key: str | None  # None: the admin endpoints answer 403
    max_body_bytes: int  # any request body
    max_batch_body_bytes: int  # /v1/evaluate/batch only (10,000 projects)
    warm: bool  # open the search indexes and model in the background at start

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, root: Path | None = None) -> Settings:
        """The settings from `env` (default: the process environment); `root` overrides
        ZHENGCE_ROOT."""
        env = os.environ if env is None else env
        root = (root or Path(env.get("ZHENGCE_ROOT") or ".")).resolve()
        cache = env.get("ZHENGCE_CACHE")
        return cls(
            root=root,
            cache_dir=Path(cache) if cache else root / "var" / "index",
            torch_threads=_positive(env, "ZHENGCE_TORCH_THREADS", 1, "a number of threads"),
            decision_log_url=env.get("ZHENGCE_DECISION_LOG") or default_log_url(root),
            admin_key=env.get("ZHENGCE_ADMIN_KEY") or None,
            max_body_bytes=_positive(env, "ZHENGCE_MAX_BODY_BYTES", 1 * MIB, "a number of bytes"),
            max_batch_body_bytes=_positive(
                env, "ZHENGCE_MAX_BATCH_BODY_BYTES", 32 * MIB, "a number of bytes"
            ),
            warm=env.get("ZHENGCE_WARM", "1") not in ("0", "false", "no"),
        )


def default_log_url(root: Path) -> str:
    """A SQLite file under <root>/var (git-ignored); the log creates the folder."""
    return f"sqlite:///{root / 'var' / 'decisions.sqlite3'}"


def _positive(env: Mapping[str, str], name: str, default: int, what: str) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {what}, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value
