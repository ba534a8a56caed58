"""uvicorn's HTTP/1.1 protocol (httptools, the C parser) with three changes for serving:

- TCP_NODELAY on every connection. With --workers above 1, uvicorn binds the listening
  socket itself with `proto` left at 0, so asyncio does not set it on the connections it
  accepts (Kludex/uvicorn#3149). A response's head and body are written separately, and
  Nagle's algorithm then holds the body back until the client's delayed ACK: about 40 ms
  added to every keep-alive request on Linux.
- A request's headers must arrive within ZHENGCE_HEADER_TIMEOUT seconds of the connection
  opening or of the request's first byte (408, then closed), and within MAX_HEADER_BYTES
  (431). uvicorn bounds neither: 1,500 slowloris connections, each sending a header line now
  and then, stayed open, and httptools takes headers of any size.
- A request that is not HTTP is answered in the API's error shape (400), not in plain text.

httptools rather than h11 because parsing was about a tenth of a request's CPU with h11.
"""

from __future__ import annotations

import asyncio
import json
import socket
from asyncio import TimerHandle
from functools import cache

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from server.config import Settings
from server.messages import bilingual
from server.security import HEADERS

__all__ = ["MAX_HEADER_BYTES", "HttpProtocol"]

MAX_HEADER_BYTES = 64 * 1024  # the request line and every header; nginx allows 32 KiB


@cache
def header_timeout() -> float:
    """Read once per worker: the protocol is built by uvicorn, which passes no settings."""
    return float(Settings.from_env().header_timeout)


class HttpProtocol(HttpToolsProtocol):
    _timer: TimerHandle | None = None
    _header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self._arm()  # a connection that never sends a request is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():  # refused: what follows is not read
            return
        super().data_received(data)
        if self._timer is not None and self._header_bytes > MAX_HEADER_BYTES:
            self._refuse_large()

    # Parser callbacks, in the order of a request.

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        if self._timer is None:  # after keep-alive's idle wait, the headers' own
            self._arm()

    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        if self._header_bytes > MAX_HEADER_BYTES:
            self._refuse_large()
            # Stops the parser; uvicorn then calls send_400_response on a closed transport.
            raise ValueError("request headers over the limit")
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, "bad_request", "the request is not valid HTTP/1.1")

    # The timer and the refusals.

    def _arm(self) -> None:
        self._timer = self.loop.call_later(header_timeout(), self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        seconds = f"{header_timeout():g}"
        self._refuse(408, "request_timeout", f"the request headers took over {seconds} s")

    def _refuse_large(self) -> None:
        message = f"the request line and headers are over {MAX_HEADER_BYTES} bytes"
        self._refuse(431, "headers_too_large", message)

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer in the error shape, unless a response is under way, and close."""
        self._disarm()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            item = {"code": code, "message": message, "location": "request"}
            answer = bilingual({"code": code, "message": message, "errors": [item]})
            body = json.dumps(answer, ensure_ascii=False).encode()
            head = [STATUS_LINE[status]]
            head += [n + b": " + v + b"\r\n" for n, v in self.server_state.default_headers]
            head += [f"{n}: {v}\r\n".encode("latin-1") for n, v in HEADERS.items()]
            head += [
                b"content-type: application/json\r\n",
                b"content-length: %d\r\n" % len(body),
                b"connection: close\r\n\r\n",
            ]
            self.transport.write(b"".join(head) + body)
        self.transport.close()
