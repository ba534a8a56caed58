"""What a browser is told about every answer, and the requests a browser could be made to send
from another site, which are refused.

- Every answer carries a Content-Security-Policy (`default-src 'self'`: the page and /docs
  load only their own files; no framing), `X-Content-Type-Options: nosniff` and
  `Referrer-Policy: no-referrer`.
- A request that changes something (any method but GET, HEAD, OPTIONS) whose `Origin` names
  another site is refused (403 `cross_origin`): the reviewer's form cannot be posted from a
  page elsewhere. Clients that are not browsers send no Origin and are not affected.
- A body sent to the JSON API must say it is JSON (415 otherwise). A form a page elsewhere
  posts (urlencoded, multipart, text/plain) is thereby refused too, as is a client that
  forgot the header, rather than read as JSON.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import refusal

__all__ = ["HEADERS", "Guard"]

# data: images: Swagger UI draws its icons from data URLs in its own stylesheet.
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
}
_RAW = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in HEADERS.items()]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_PREFIX = "/v1/"


class Guard:
    """Security headers on every answer; refuses cross-site changes and non-JSON API bodies."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *_RAW]
            await send(message)

        refusal = None if scope["method"] in SAFE_METHODS else _refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def _refusal(scope: Scope) -> JSONResponse | None:
    headers = dict(scope["headers"])
    origin = headers.get(b"origin")
    if origin is not None and not _same_site(origin, headers.get(b"host", b"")):
        return refusal(
            403,
            "cross_origin",
            "a request from another site is refused",
            "origin",
        )
    has_body = headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers
    if has_body and scope["path"].startswith(JSON_PREFIX):
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if kind != b"application/json":
            return refusal(
                415,
                "unsupported_media_type",
                "send the body as JSON, with Content-Type: application/json",
                "content-type",
            )
    return None


def _same_site(origin: bytes, host: bytes) -> bool:
    """The Origin names the host the request was sent to. The scheme is not compared: behind
    a proxy that ends TLS the server sees http while the browser says https."""
    try:
        netloc = urlsplit(origin.decode("latin-1")).netloc
    except ValueError:
        return False
    return bool(netloc) and netloc.lower() == host.decode("latin-1").lower()
