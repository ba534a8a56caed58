"""What every `zhengce` command shares: the consoles, the context that holds the settings
and the service, failing with a message and an exit code, and JSON on stdout.

Heavy modules (the service, the views, pydantic) are imported where they are used: `route` and
`search` asking a running service import this module and must start in well under a second."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from dsl.dates import BadDate, date_or_today
from server.config import Settings, SettingsError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from dsl.load import LoadResult
    from kb.embed import Embedder
    from server.service import Service

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
DateOpt = Annotated[
    str | None, typer.Option("--date", help="Evaluation date YYYY-MM-DD (default: today).")
]

out = Console()
err = Console(stderr=True, soft_wrap=True)


@dataclass
class Context:
    """What every command is given: the settings and, once a command asks, the service.
    Tests hand one in (`CliRunner.invoke(app, args, obj=Context(...))`) with their own
    settings and search model."""

    settings: Settings
    embedder: Embedder | None = None
    _service: Service | None = None

    def service(self, *, conflicts: bool = True) -> Service:
        """The service, loaded once; `conflicts` False for the one command that reports
        them itself (`zhengce analyze`)."""
        from server.service import PolicyLoadError, Service

        if self._service is None:
            try:
                self._service = Service.load(
                    self.settings, embedder=self.embedder, conflicts=conflicts
                )
            except PolicyLoadError as e:
                refuse_policies(e.result)
        return self._service


def make_context(ctx: typer.Context) -> None:
    """The root callback of the command line: the settings from the environment, unless a
    test handed in its own Context."""
    if ctx.obj is None:
        try:
            ctx.obj = Context(Settings.from_env())
        except SettingsError as e:
            fail(str(e), 2)


def command_line(help: str) -> typer.Typer:
    """A zhengce command line: `zhengce` itself, or the light ones that `serve`, `route` and
    `search` start from (server/cli_main.py), all with the same options and settings."""
    app = typer.Typer(
        help=help,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="markdown",
    )
    app.callback()(make_context)
    return app


def context(ctx: typer.Context) -> Context:
    found: Context = ctx.find_root().obj
    return found


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def refuse_policies(result: LoadResult) -> NoReturn:
    """A policy set with errors: each where it is, then exit 1."""
    err.print(result.render(), highlight=False, markup=False, soft_wrap=True)
    fail(f"the policy set has {len(result.errors)} error(s); run `zhengce check`")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def print_view(model: BaseModel) -> None:
    from server import views

    print_json(views.plain(model))


def checked_date(date: str | None) -> str | None:
    """`date` when it is YYYY-MM-DD (or None); else a usage error."""
    try:
        return date_or_today(date) if date is not None else None
    except BadDate as e:
        fail(str(e), 2)


@contextmanager
def reported_warnings() -> Iterator[None]:
    """Show kb's DenseUnavailableWarning (semantic search is off) as one clear line on
    stderr, once however many indexes say it; other warnings are shown as Python would."""
    import warnings

    from kb.index import DenseUnavailableWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    said = set()
    for w in caught:
        if not issubclass(w.category, DenseUnavailableWarning):
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        elif str(w.message) not in said:
            said.add(str(w.message))
            err.print(f"[yellow]warning:[/yellow] {w.message}", highlight=False)
