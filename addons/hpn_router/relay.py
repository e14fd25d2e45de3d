"""An in-process loopback relay that lets mitmproxy stream an answer the router fetched.

mitmproxy only pumps response bytes from a flow's own server connection, and a hook cannot
push bytes to the client (mitmproxy-notes §4.4). So for a streaming request the router runs
its attempt loop first, parks the open upstream response here under a random token, and
points the flow at this relay; mitmproxy then streams the relay's answer through the
translator chunk by chunk, as if Gemini itself were answering.

The relay speaks just enough HTTP/1.1 for mitmproxy's keep-alive connection: it reads a
request head (and body), answers with the parked response's status and headers, and pipes
the body with chunked encoding. If the upstream breaks mid-stream it appends a Gemini-style
`{"error": ...}` event, which the translator turns into an in-band error for the client.
If mitmproxy closes the connection (the client went away) the upstream response is closed.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass

import aiohttp
from loguru import logger

TOKEN_HEADER = "x-hpn-relay-token"
PARK_SECONDS = 30.0  # a parked stream nobody fetched is closed after this
_MAX_HEAD = 64 * 1024


@dataclass
class _Parked:
    response: aiohttp.ClientResponse
    parked_at: float


def upstream_broke_event(reason: str) -> bytes:
    """A Gemini-shaped in-band error, so the translator has one path for every failure."""
    error = {"error": {"code": 502, "status": "UNAVAILABLE", "message": f"Upstream stream broke: {reason}"}}
    return b"data: " + json.dumps(error).encode() + b"\r\n\r\n"


class StreamRelay:
    def __init__(self) -> None:
        self._parked: dict[str, _Parked] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> int:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for parked in self._parked.values():
            parked.response.close()
        self._parked.clear()

    def park(self, response: aiohttp.ClientResponse, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        self._expire(now)
        token = secrets.token_urlsafe(24)
        self._parked[token] = _Parked(response, now)
        return token

    def _expire(self, now: float) -> None:
        for token in [t for t, p in self._parked.items() if now - p.parked_at > PARK_SECONDS]:
            self._parked.pop(token).response.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await _read_head(reader):
                token, length = _parse_head(head)
                if length:
                    await reader.readexactly(length)
                parked = self._parked.pop(token, None) if token else None
                if parked is None:
                    writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                    await writer.drain()
                    continue
                await _pipe(parked.response, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # mitmproxy closed the connection: the client is gone
        finally:
            writer.close()


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return b""


def _parse_head(head: bytes) -> tuple[str | None, int]:
    token, length = None, 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == TOKEN_HEADER.encode():
            token = value.strip().decode("ascii", "replace")
        elif name == b"content-length":
            length = int(value.strip() or 0)
    return token, length


async def _pipe(response: aiohttp.ClientResponse, writer: asyncio.StreamWriter) -> None:
    content_type = response.headers.get("content-type", "text/event-stream")
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: " + content_type.encode() + b"\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    try:
        try:
            async for chunk in response.content.iter_any():
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
        except (TimeoutError, aiohttp.ClientError) as e:
            logger.warning("upstream stream broke", reason=type(e).__name__)
            event = upstream_broke_event(type(e).__name__)
            writer.write(b"%x\r\n%s\r\n" % (len(event), event))
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    finally:
        response.close()  # also when the client went away: cancels the upstream request
