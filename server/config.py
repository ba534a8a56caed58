"""Settings of a serving process, read from the environment once at start.

Every replica behind a load balancer is configured the same way; the only state they share is
the decision log, so in a scaled-out deployment ZHENGCE_DECISION_LOG points at PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from server.service import project_root

MIB = 1024 * 1024


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    root: Path
    decision_log_url: str
    admin_key: str | None  # None: the admin endpoints answer 403
    max_body_bytes: int  # any request body
    max_batch_body_bytes: int  # /v1/evaluate/batch only (10,000 projects)
    warm: bool  # open the search indexes and model in the background at start

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, root: Path | None = None) -> Settings:
        env = os.environ if env is None else env
        root = (root or project_root()).resolve()
        url = env.get("ZHENGCE_DECISION_LOG") or default_log_url(root)
        return cls(
            root=root,
            decision_log_url=url,
            admin_key=env.get("ZHENGCE_ADMIN_KEY") or None,
            max_body_bytes=_size(env, "ZHENGCE_MAX_BODY_BYTES", 1 * MIB),
            max_batch_body_bytes=_size(env, "ZHENGCE_MAX_BATCH_BODY_BYTES", 32 * MIB),
            warm=env.get("ZHENGCE_WARM", "1") not in ("0", "false", "no"),
        )


def default_log_url(root: Path) -> str:
    """A SQLite file under <root>/var (git-ignored), created with its folder on first use."""
    folder = root / "var"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'decisions.sqlite3'}"


def _size(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of bytes, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value
