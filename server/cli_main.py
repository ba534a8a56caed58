"""The `zhengce` executable. `route` and `search` start from server.cli_search, which imports
only what they need, so that asking a running service answers in well under a second, and
`serve` from server.cli_serve, so that its workers start sooner; every other command (and
`zhengce --help`) from server.cli, which imports all of them."""

from __future__ import annotations

import sys

__all__ = ["main"]

LIGHT = ("route", "search")


def main() -> None:
    if sys.argv[1:2] and sys.argv[1] in LIGHT:
        from server.cli_search import app
    elif sys.argv[1:2] == ["serve"]:
        from server.cli_serve import app
    else:
        from server.cli import app
    app()
