"""`POST /v1/route`, answered without FastAPI's routing, dependency solving and thread hop
when the request is well formed, as server.direct answers `/v1/evaluate`; a question asked
again is answered with the JSON it got the last time.

Driven in process (2,000 requests of four repeated questions, their matches remembered by the
Searcher; load average 12), a route request cost 993 µs of CPU through FastAPI: route
matching, dependency solving, handing the sync endpoint to a worker thread and back, and
building the answer (Service.route, its view and JSON) again. Through this path, with the
answer's JSON kept, it cost 45 µs. So:

- A question whose match the Searcher remembers (`Searcher.remembered_route`) is answered on
  the event loop, with the JSON kept under the Searcher's key and the text as asked, the last
  ZHENGCE_SEARCH_CACHE of them, for the policy set being served (a reload serves a new set,
  and starts an empty one).
- Any other is answered off the event loop, since embedding the question takes milliseconds
  that must not stall every other connection, by the worker's one embedding thread
  (`Runtime.embedded`, which clause searches share), in the order asked: not by the thread
  pool, where eight questions of eight connections ran their embeddings at once on the
  worker's one core, each evicting the others' weights from the caches. With `bench/http.py
  --only distinct --runs 3 --warmup 1000` (2 workers, 16 connections, questions never
  repeated), run pool / one thread / pool: 246, 361, 253 requests/s; 7.8, 5.3, 7.6 ms of CPU a
  request; p99 202, 81, 159 ms; and again one thread / pool / one thread / pool: 335, 279, 327,
  250 requests/s, p99 92, 141, 93, 223 ms. (Should the match be evicted between the look and
  the answer, that one request is computed on the loop.) The thread embeds one question at a
  time, not the questions waiting as one batch: batches of 2-8 cost 23-28% less CPU a question
  (4.4-4.7 ms against 6.1 in that run), but the int8 graph quantises its activations with one
  scale per batch, so a question's vector would depend on the others asked with it (cosine
  down to 0.9956 against the same question alone, over 40 batches of 8): an answer must not
  change with another client's question.

The body is checked by the endpoint's model (`direct.well_formed`) and answered by the
endpoint's own function (`api.routed`); a body the model refuses goes on to FastAPI, which
answers the error in its usual shape, as does a worker with no policy set (503).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from dsl.dates import date_or_today
from server import api_models as m
from server.api import json_response, routed
from server.direct import DirectPost
from server.runtime import Runtime
from server.search_cache import Lru
from server.service import Service

__all__ = ["PATH", "DirectRoute"]

PATH = "/v1/route"


class DirectRoute(DirectPost[m.RouteRequest]):
    path = PATH
    model = m.RouteRequest

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        super().__init__(app, runtime)
        self._lock = threading.Lock()
        # The answers' JSON, for one policy set: held weakly, so that a replaced set is freed.
        self._held: tuple[weakref.ref[Service], Lru[Hashable, str]] | None = None

    async def answer(
        self, request: m.RouteRequest, body: bytes, scope: Scope, receive: Receive, send: Send
    ) -> None:
        service = self.runtime.serving
        if service is None:  # the app's handler answers 503
            await self.pass_on(body, scope, receive, send)
            return
        day = date_or_today(request.date)
        key = service.searcher.remembered_route(request.matter, request.region, day, request.k)
        if key is None:
            response = await self.runtime.embedded(routed, service, request)
        else:
            # the match's key, and the text as asked (a routing rule's id is not routed)
            answers = self._answers(service)
            text = answers.get((key, request.matter), lambda: _text(service, request))
            response = json_response(text)
        await response(scope, receive, send)

    def _answers(self, service: Service) -> Lru[Hashable, str]:
        with self._lock:
            held = self._held
            if held is None or held[0]() is not service:
                held = (weakref.ref(service), Lru(service.settings.search_cache))
                self._held = held
            return held[1]


def _text(service: Service, request: m.RouteRequest) -> str:
    response: Response = routed(service, request)
    return bytes(response.body).decode()
