"""What batches may cost one worker. Explained, a 10,000-project batch turned a 1.15 MB
request into a 78 MB answer, 460 MB more worker memory and 80 MB of log, and four at once
took a worker to 2.4 GB. So, per worker:

- at most `max_running` batches are evaluated at once; another is refused at once with 503
  `busy` and `Retry-After`, before its projects are looked at;
- `explain` is allowed for at most `explain_max` projects; a larger explained batch is
  refused with 422 `explain_limit` (send it without explain, or in smaller batches).

The body has already been read within its size limit (errors.BodyLimit) when this runs.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from server import request_body
from server.errors import refusal

__all__ = ["BatchLimits"]


class BatchLimits:
    def __init__(self, app: ASGIApp, path: str, max_running: int, explain_max: int) -> None:
        self.app = app
        self.path = path
        self.max_running = max_running
        self.explain_max = explain_max
        self.running = 0  # only the event loop's thread counts: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if self.running >= self.max_running:
            message = f"{self.max_running} batch(es) are being evaluated; try again shortly"
            await refusal(503, "busy", message, "body", {"Retry-After": "1"})(scope, receive, send)
            return
        self.running += 1
        try:
            body = await request_body.read(receive)
            if body is None:  # the client went away
                return
            if _explained(body) > self.explain_max:
                message = (
                    f"explain is allowed for at most {self.explain_max} projects in a batch; "
                    "send the batch without explain, or in smaller batches"
                )
                await refusal(422, "explain_limit", message, "explain")(scope, receive, send)
                return
            await self.app(scope, request_body.replaying(body, receive), send)
        finally:
            self.running -= 1


def _explained(body: bytes) -> int:
    """How many projects the batch asks to explain. The JSON is parsed only when the word
    can be in it: spelled out, or behind a \\u escape."""
    if b"explain" not in body and b"\\u" not in body:
        return 0
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # the app answers 400
        return 0
    if not isinstance(data, dict) or data.get("explain") is not True:
        return 0
    projects = data.get("projects")
    return len(projects) if isinstance(projects, list) else 0
