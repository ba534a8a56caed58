"""`zhengce route` and `zhengce search`: asked in-process, or of a running service.

In-process, a question costs loading the policy set and opening the indexes and the model
(seconds); with `--server URL` or ZHENGCE_SERVER the running service answers it, and the
command only parses its arguments, sends one request and prints. For that, this module and
what it imports at the top are light (typer, rich, the standard library's HTTP client), and
`zhengce` starts these two commands from `app` here (server.cli_main) rather than from
server.cli, which imports every command's modules. Both ways print the same view (the HTTP
body, server.present_kb).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from server import present_kb, remote
from server.cli_common import (
    Context,
    DateOpt,
    JsonFlag,
    checked_date,
    command_line,
    context,
    err,
    fail,
    out,
    print_json,
    reported_warnings,
)
from server.config import SettingsError, service_url

__all__ = ["app", "route", "search"]

ServerOpt = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="Ask the zhengce service at this URL (e.g. http://127.0.0.1:8000) instead of "
        "loading the policies and the model here. Default: ZHENGCE_SERVER.",
    ),
]


def route(
    ctx: typer.Context,
    matter: Annotated[
        str,
        typer.Argument(
            help="A routing rule id (policy/name or name), or the matter in plain words, "
            "e.g. 园区遇到重大困难找谁协调."
        ),
    ],
    region: Annotated[str, typer.Option("--region", help="Region path, e.g. 甘肃省/平凉市.")],
    date: DateOpt = None,
    k: Annotated[int, typer.Option("-k", help="How many candidates to list.", min=1)] = 5,
    as_json: JsonFlag = False,
    server: ServerOpt = None,
) -> None:
    """Who leads, who is responsible and who assists (牵头 / 责任 / 配合), by routing rule id
    or by the matter in plain words. Free text is matched against the rules in force for the
    region and date; below the confidence threshold it says so, lists the nearest rules and
    exits 1.
    `--json` prints the body of `POST /v1/route`."""
    day = checked_date(date)
    url = _server(context(ctx), server)
    if url is not None:
        body = {"matter": matter, "region": region, "date": day, "k": k}
        view = _asked(url, lambda: remote.post(url, "/v1/route", body))
    else:
        from kb.lexicon import LexiconError
        from server import views

        try:
            with reported_warnings():
                found = context(ctx).service().route(matter, region, day, k)
        except LexiconError as e:  # the drafters' file: say where it is wrong
            fail(str(e), 1)
        view = views.plain(views.route(found, k))
    if as_json:
        print_json(view)
    elif view["match"] is not None or view["threshold"] is not None:
        out.print(present_kb.route_match(view, matter))
    if view["match"] is None:
        if view["threshold"] is None:  # nothing was matched: no rule in force, or a wrong id
            fail(f"{view['message']}; a policy's region and effective period decide this")
        raise typer.Exit(1)


def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    k: Annotated[int, typer.Option("-k", help="How many clauses to show.", min=1)] = 10,
    region: Annotated[
        str | None,
        typer.Option(
            "--region", help="Only documents of this region, or of a region containing it."
        ),
    ] = None,
    as_json: JsonFlag = False,
    server: ServerOpt = None,
) -> None:
    """Search the source documents clause by clause (BM25, character bigrams and semantic,
    fused, with the terms of policies/lexicon.yaml), best first, each with its relevance
    (high, medium, low) and the query's words highlighted; says so when no clause answers.
    Builds the index on first use. `--json` prints the body of `GET /v1/search`."""
    url = _server(context(ctx), server)
    if url is not None:
        view = _asked(
            url, lambda: remote.get(url, "/v1/search", {"q": query, "k": k, "region": region})
        )
    else:
        from kb.lexicon import LexiconError
        from server import views

        try:
            with reported_warnings():
                found = context(ctx).service().search(query, k, region)
        except LexiconError as e:  # the drafters' file: say where it is wrong
            fail(str(e), 1)
        view = views.plain(views.search(found))
    if as_json:
        print_json(view)
    else:
        out.print(present_kb.hits(view))


def _server(context: Context, option: str | None) -> str | None:
    """The service to ask: `--server`, else ZHENGCE_SERVER, else None (answer here)."""
    try:
        return service_url(option, "--server") if option else context.settings.server
    except SettingsError as e:
        fail(str(e), 2)


def _asked(url: str, ask: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The service's answer; a refusal or no answer is a message and exit code 1, and a
    service that searches without its model says so, as the in-process search would."""
    try:
        view: dict[str, Any] = ask()
    except remote.RemoteError as e:
        fail(f"the service at {url} could not answer: {e}")
    if view.get("dense_available") is False:
        err.print(
            f"[yellow]warning:[/yellow] the service at {url} searches with BM25 alone: "
            f"{view.get('degraded_reason') or 'its semantic search is off'}",
            highlight=False,
        )
    return view


app = command_line("zhengce (政策): who leads a matter, and search of the source documents.")
app.command()(route)
app.command()(search)
