"""`zhengce serve`: check the policy set once, then start uvicorn's workers on it.

uvicorn spawns the workers only once this command has checked the set, so what it imports
delays every one of them. `zhengce serve` therefore starts from `app` here (server.cli_main),
which imports the check (server.policy_cache: a set checked before is read back in
milliseconds) and uvicorn, not server.cli, which imports every command's modules, nor the
service (NumPy, the evaluators, search): about 0.3 s of CPU less before the workers start.
"""

from __future__ import annotations

from typing import Annotated

import typer

from server.cli_common import command_line, context, out, refuse_policies
from server.config import VARIABLES

__all__ = ["app", "serve"]


def settings_help() -> str:
    return "\n\n".join(f"{v.name}: {v.meaning} (default: {v.default})." for v in VARIABLES)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes (one core each).", min=1)
    ] = 1,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    import uvicorn

    from kb.corpus import Corpus
    from server.decision_log import shown_url
    from server.policy_cache import load_checked

    settings = context(ctx).settings
    # Check the policies here, once, so that a broken set is one clear message rather than a
    # traceback from every worker; kept checked, each worker then reads it back.
    loaded = load_checked(settings.root, settings.cache_dir, Corpus(settings.root))
    if loaded.policies is None:
        refuse_policies(loaded)
    out.print(
        f"zhengce on http://{host}:{port}/ (API docs /docs), {workers} worker(s), "
        f"decision log {shown_url(settings.decision_log_url)}",  # never its password
        highlight=False,
        soft_wrap=True,
    )
    uvicorn.run(
        "server.app:serving_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        http="server.tcp:HttpProtocol",  # TCP_NODELAY, header timeout: see server/tcp.py
    )


SERVE_HELP = (
    "Serve the JSON API (/v1, docs at /docs), the health checks and the reviewer's page "
    "(/). Settings come from the environment:\n\n" + settings_help()
)

app = command_line("zhengce (政策): serve the API and the reviewer's page.")
app.command(help=SERVE_HELP)(serve)
