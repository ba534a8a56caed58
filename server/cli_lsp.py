"""`zhengce lsp`: the language server for editors (server.lsp). Register with
`app.command("lsp")(lsp_command)`; pygls is imported only when the command runs."""

from __future__ import annotations

from typing import Annotated

import typer

from server.cli_common import context, fail


def lsp_command(
    ctx: typer.Context,
    tcp: Annotated[
        str | None,
        typer.Option(
            "--tcp",
            metavar="HOST:PORT",
            help="Listen on TCP at HOST:PORT (e.g. 127.0.0.1:2087) instead of stdio.",
        ),
    ] = None,
) -> None:
    """The language server for .zc policy files, over stdio (what an editor starts): the
    checker's diagnostics as you type, hover on a clause id or 依据 (the clause text, the
    quote in bold), go to the definition of a rule, parameter, field or clause, completion of
    fields, enum values, clause ids and units, and a quick fix for the 以上 lint. A file's
    project is the folder above it that holds policies/ (else ZHENGCE_ROOT)."""
    from server.lsp import serve

    address = None
    if tcp is not None:
        host, _, port = tcp.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            fail(f"--tcp wants HOST:PORT, such as 127.0.0.1:2087, not {tcp!r}", 2)
        address = (host, int(port))
    serve(context(ctx).settings.root, address)
