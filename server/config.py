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
from typing import NamedTuple, overload
from urllib.parse import urlsplit

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
        "threads for query embedding, onnxruntime's or torch's (one is fastest for single "
        "queries here)",
        "1",
    ),
    Variable(
        "ZHENGCE_SERVER",
        "URL of a running zhengce service that `zhengce route` and `search` ask instead of "
        "loading the policies and the model themselves, e.g. http://127.0.0.1:8000",
        "unset: they answer in-process",
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
    Variable(
        "ZHENGCE_HEADER_TIMEOUT",
        "seconds a connection has to send a request's headers before it is closed (408)",
        "10",
    ),
    Variable(
        "ZHENGCE_MAX_BATCHES",
        "batches one worker evaluates at once; another one is refused (503 busy)",
        "2",
    ),
    Variable(
        "ZHENGCE_BATCH_EXPLAIN_MAX",
        "most projects a batch may ask to explain; a larger explained batch is refused (422)",
        "100",
    ),
    Variable(
        "ZHENGCE_LOG_RETENTION_DAYS",
        "days a decision stays in the decision log; older ones are deleted hourly",
        "unset: kept for good",
    ),
    Variable(
        "ZHENGCE_SEARCH_CACHE",
        "answers of search and of free-text route, and query vectors, each worker remembers "
        "(each kind; the least recently asked go first; 0: none)",
        "1024",
    ),
)


@dataclass(frozen=True)
class Settings:
    root: Path
    cache_dir: Path  # the rebuilt search model (model/) and the index folders
    torch_threads: int
    server: str | None  # a running service `route` and `search` ask; None: in-process
    decision_log_url: str
    admin_key: str | None  # None: the admin endpoints answer 403
    max_body_bytes: int  # any request body
    max_batch_body_bytes: int  # /v1/evaluate/batch only (10,000 projects)
    warm: bool  # open the search indexes and model in the background at start
    header_timeout: int  # seconds for a request's headers to arrive (server.tcp)
    max_batches: int  # batches evaluated at once per worker (server.limits)
    batch_explain_max: int  # projects a batch may explain (server.limits)
    log_retention_days: int | None  # None: decisions are kept for good
    search_cache: int = 1024  # answers (and query vectors) the Searcher keeps; 0: none

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
            server=service_url(env.get("ZHENGCE_SERVER") or None, "ZHENGCE_SERVER"),
            decision_log_url=env.get("ZHENGCE_DECISION_LOG") or default_log_url(root),
            admin_key=env.get("ZHENGCE_ADMIN_KEY") or None,
            max_body_bytes=_positive(env, "ZHENGCE_MAX_BODY_BYTES", 1 * MIB, "a number of bytes"),
            max_batch_body_bytes=_positive(
                env, "ZHENGCE_MAX_BATCH_BODY_BYTES", 32 * MIB, "a number of bytes"
            ),
            warm=env.get("ZHENGCE_WARM", "1") not in ("0", "false", "no"),
            header_timeout=_positive(env, "ZHENGCE_HEADER_TIMEOUT", 10, "a number of seconds"),
            max_batches=_positive(env, "ZHENGCE_MAX_BATCHES", 2, "a number of batches"),
            batch_explain_max=_positive(
                env, "ZHENGCE_BATCH_EXPLAIN_MAX", 100, "a number of projects"
            ),
            log_retention_days=_positive(
                env, "ZHENGCE_LOG_RETENTION_DAYS", None, "a number of days"
            ),
            search_cache=_positive(
                env, "ZHENGCE_SEARCH_CACHE", 1024, "a number of answers", zero=True
            ),
        )


def service_url(url: str | None, name: str) -> str | None:
    """`url` without a trailing slash when it is an http(s) URL with a host (or None);
    else a SettingsError naming where it came from (`name`)."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name} must be an http:// or https:// URL, got {url!r}")
    return url.rstrip("/")


def default_log_url(root: Path) -> str:
    """A SQLite file under <root>/var (git-ignored); the log creates the folder."""
    return f"sqlite:///{root / 'var' / 'decisions.sqlite3'}"


@overload
def _positive(
    env: Mapping[str, str], name: str, default: int, what: str, *, zero: bool = False
) -> int: ...
@overload
def _positive(
    env: Mapping[str, str], name: str, default: None, what: str, *, zero: bool = False
) -> int | None: ...
def _positive(
    env: Mapping[str, str], name: str, default: int | None, what: str, *, zero: bool = False
) -> int | None:
    """The variable as a number above 0 (or 0 too, with `zero`), `default` when unset."""
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be {what}, got {raw!r}") from None
    if value < 0 or (value == 0 and not zero):
        least = "0 or more" if zero else "positive"
        raise SettingsError(f"{name} must be {least}, got {value}")
    return value
