"""`POST /v1/evaluate`, the endpoint under load, answered without FastAPI's routing and
dependency injection when the request is well formed.

FastAPI's route matching, dependency solving, body reading and parameter checks took about
110 µs of every evaluate request here: with the app driven in process and the decision and
the log left out, a request cost 164 µs through the route and 50 µs through this path. A
well-formed request needs none of it: its body is decoded (msgspec), checked by the same
model the route declares (`api_models.EvaluateRequest`, strict, undeclared fields refused)
and answered by the route's own function (`api.evaluated`) with the same response class.

Every other request goes on to the FastAPI route, which stays: it is what OpenAPI documents,
and it gives every error its usual shape. So a body that msgspec cannot decode, or that
decodes to something the model refuses, is read again by FastAPI, which answers 400 or 422
as before; msgspec decodes only what the standard library's decoder decodes to the same
values (it refuses NaN, a lone surrogate, a byte-order mark, UTF-16: FastAPI then decides),
and nesting is bounded below the standard decoder's limit, where msgspec's lies deeper.
A project the fact schema refuses (422) or a log that cannot be written (503) is answered
here with the response the route's exception handler gives (`errors.error_response`).
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec
from starlette.types import ASGIApp, Receive, Scope, Send

from server import api_models as m
from server import request_body
from server.api import evaluated, json_response
from server.errors import ApiError, error_response
from server.runtime import NotServing, Runtime

__all__ = ["PATH", "DirectEvaluate", "DirectPost", "well_formed"]

PATH = "/v1/evaluate"
_DECODER = msgspec.json.Decoder()
# The standard decoder fails (400) from about 1,000 levels of nesting, msgspec only beyond
# a few thousand: a body that could nest deeper than this goes to FastAPI. Counted over the
# raw bytes (brackets inside strings too, which only sends more bodies there).
MAX_OPENERS = 256
R = TypeVar("R", bound=m.Request)


class DirectPost(Generic[R]):
    """Middleware that answers well-formed POSTs to `path` itself (`answer`) and lets every
    other request, or a body `model` refuses, go on to the app (re-playing the body)."""

    path: str
    model: type[R]

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await request_body.read(receive)
        if body is None:  # the client went away
            return
        request = well_formed(body, self.model)
        if request is None:
            await self.pass_on(body, scope, receive, send)
            return
        await self.answer(request, body, scope, receive, send)

    async def pass_on(self, body: bytes, scope: Scope, receive: Receive, send: Send) -> None:
        """Leave the request, whose `body` was read, to the app."""
        await self.app(scope, request_body.replaying(body, receive), send)

    async def answer(
        self, request: R, body: bytes, scope: Scope, receive: Receive, send: Send
    ) -> None:
        raise NotImplementedError


class DirectEvaluate(DirectPost[m.EvaluateRequest]):
    path = PATH
    model = m.EvaluateRequest

    async def answer(
        self, request: m.EvaluateRequest, body: bytes, scope: Scope, receive: Receive, send: Send
    ) -> None:
        try:
            text = await evaluated(self.runtime, request)
        except ApiError as exc:
            await error_response(exc)(scope, receive, send)
        except NotServing:  # nothing was decided: the app's handler answers 503
            await self.pass_on(body, scope, receive, send)
        else:
            await json_response(text)(scope, receive, send)


def well_formed(body: bytes, model: type[R]) -> R | None:
    """The request, or None when FastAPI should read it (and answer with the error)."""
    if body.count(b"[") + body.count(b"{") > MAX_OPENERS:
        return None
    try:
        return model.model_validate(_DECODER.decode(body))
    except ValueError:  # msgspec's DecodeError, a UnicodeDecodeError, pydantic's ValidationError
        return None
