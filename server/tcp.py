"""uvicorn's HTTP/1.1 protocol (httptools, the C parser) with TCP_NODELAY on every connection.

With --workers above 1, uvicorn binds the listening socket itself with `proto` left at 0, so
asyncio does not set TCP_NODELAY on the connections it accepts (Kludex/uvicorn#3149). A
response's head and body are written separately, and Nagle's algorithm then holds the body
back until the client's delayed ACK: about 40 ms added to every keep-alive request on Linux.
httptools rather than h11 because parsing was about a tenth of a request's CPU with h11.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class NoDelayProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
