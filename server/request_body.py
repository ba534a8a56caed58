"""A request body read whole by an ASGI middleware, and handed on to the app as if unread.

The layers around the endpoints (errors.BodyLimit, limits.BatchLimits, direct.DirectEvaluate)
each look at the body before the app does; the app then reads the same body from `replaying`.
"""

from __future__ import annotations

from starlette.types import Message, Receive

__all__ = ["read", "replaying"]


async def read(receive: Receive) -> bytes | None:
    """The whole body, or None when the client went away before sending it."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that gives `body` first, then whatever `receive` gives (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
