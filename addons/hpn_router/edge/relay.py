"""An in-process loopback relay that lets mitmproxy stream an answer the router fetched, and
answers every request the router did not route with the router's own error.

mitmproxy only pumps response bytes from a flow's own server connection, and a hook cannot
push bytes to the client. So for a streaming request the router runs its attempt loop first,
parks the open upstream response here under a random one-time token, and points the flow at
this relay; mitmproxy then streams the relay's answer through the translator chunk by chunk,
as if Gemini itself were answering. If the upstream breaks mid-stream the relay appends a
Gemini-style `{"error": ...}` event, which the translator turns into an in-band error for the
client. If mitmproxy closes the connection (the client went away) the upstream response is
closed.

FailClosed points every flow the router serves at this relay *without* a token before any
other router addon looks at it, so a request the router did not answer or route (a hook that
failed, an addon that skipped the router's hooks) ends here: it gets the router's own
OpenAI-format 500, marked with REFUSED_HEADER, and nothing goes upstream.

What it reads is bounded: only loopback peers, a head of at most MAX_HEAD bytes and the whole
request within READ_SECONDS (a connection kept alive after a served stream may wait
IDLE_SECONDS for its next request); the body (mitmproxy forwards the flow's body) is read in
pieces and discarded, at most `max_body_bytes` of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http import HTTPStatus

import aiohttp
from loguru import logger

from hpn_router.core.errors import router_failed, to_openai_error
from hpn_router.edge.relayrequest import discard_body, parse_head

REFUSED_HEADER = "x-hpn-relay-refused"  # on the relay's own error answer: FailClosed makes it final
PARK_SECONDS = 30.0  # a parked stream nobody fetched is closed after this
MAX_HEAD = 64 * 1024
READ_SECONDS = 10.0  # mitmproxy sends a whole request at once, over loopback
IDLE_SECONDS = 60.0  # a kept-alive connection waits this long for mitmproxy's next request
LINGER_SECONDS = 1.0
MAX_BODY = 64 * 1024 * 1024  # KeyRouting sets it from server.max_body_bytes
_PIECE = 64 * 1024  # what the linger discards per read


@dataclass
class _Parked:
    response: aiohttp.ClientResponse
    parked_at: float


def upstream_broke_event(reason: str) -> bytes:
    """A Gemini-shaped in-band error, so the translator has one path for every failure."""
    error = {"error": {"code": 502, "status": "UNAVAILABLE", "message": f"Upstream stream broke: {reason}"}}
    return b"data: " + json.dumps(error).encode() + b"\r\n\r\n"


def stream_headers(content_type: str) -> dict[str, str]:
    """The head of a relayed stream: what the relay sends mitmproxy, and what the lean runner's
    front shows the addons when it takes the stream in-process."""
    return {"content-type": content_type, "cache-control": "no-cache", "transfer-encoding": "chunked"}


def refusal() -> tuple[int, bytes, dict[str, str]]:
    """The relay's answer to a request the router did not route: the router's own error, marked
    final for FailClosed, and the connection closes."""
    status, body, headers = to_openai_error(router_failed())
    return status, body, {**headers, REFUSED_HEADER: "1", "connection": "close"}


def refused_answer() -> bytes:
    """The refusal, as the relay sends it."""
    status, body, headers = refusal()
    head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
    for name, value in {**headers, "content-length": str(len(body))}.items():
        head += f"{name}: {value}\r\n"
    return head.encode() + b"\r\n" + body


def log_refusal(refusal: str) -> None:
    logger.bind(event="fail_closed", reason=refusal).error(
        "The router did not route this request ({}): answered its own error (500), sent nothing upstream", refusal
    )


def is_loopback_peer(peer: object) -> bool:
    try:
        return ipaddress.ip_address(peer[0]).is_loopback  # type: ignore[index]
    except (TypeError, IndexError, ValueError):
        return False


_RUNNING: dict[int, StreamRelay] = {}  # port -> the relay listening there, in this process


def relay_at(host: str, port: int) -> StreamRelay | None:
    """The in-process relay a flow targeting host:port would reach, if any: the lean runner's
    reverse front (edge/reversefront.py) takes the parked stream from it without the socket."""
    return _RUNNING.get(port) if host == "127.0.0.1" else None


class StreamRelay:
    def __init__(self) -> None:
        self._parked: dict[str, _Parked] = {}
        self._server: asyncio.Server | None = None
        self.port = 0
        self.max_body_bytes = MAX_BODY

    async def start(self) -> int:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=MAX_HEAD)
            self.port = self._server.sockets[0].getsockname()[1]
            _RUNNING[self.port] = self
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
            _RUNNING.pop(self.port, None)
        for parked in self._parked.values():
            parked.response.close()
        self._parked.clear()

    def park(self, response: aiohttp.ClientResponse, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        self._expire(now)
        token = secrets.token_urlsafe(24)
        self._parked[token] = _Parked(response, now)
        return token

    def take(self, token: str, now: float | None = None) -> aiohttp.ClientResponse | None:
        """The stream parked under `token`, handed out once; None for an unknown or expired token."""
        self._expire(time.monotonic() if now is None else now)
        parked = self._parked.pop(token, None)
        return parked.response if parked else None

    def _expire(self, now: float) -> None:
        for token in [t for t, p in self._parked.items() if now - p.parked_at > PARK_SECONDS]:
            self._parked.pop(token).response.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The parked stream each request's token names; a served stream keeps the connection
        open for mitmproxy's next one (a new connection per stream costs the first chunk
        milliseconds). A request without a valid token gets the router's error, and the
        connection closes."""
        try:
            if not is_loopback_peer(writer.get_extra_info("peername")):
                logger.bind(event="relay_refused").warning("The relay refused a connection that is not from loopback")
                return
            wait = READ_SECONDS  # the first request arrives at once; a kept-alive one may idle
            while True:
                parked, refusal = await self._read_request(reader, wait)
                if parked is None:
                    if refusal:
                        self._refuse(refusal, writer)
                        await writer.drain()
                        await _linger(reader, writer)
                    return
                await _pipe(parked.response, writer)
                wait = IDLE_SECONDS
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # mitmproxy closed the connection: the client is gone
        finally:
            writer.close()

    def _refuse(self, refusal: str, writer: asyncio.StreamWriter) -> None:
        log_refusal(refusal)
        writer.write(refused_answer())

    async def _read_request(self, reader: asyncio.StreamReader, wait: float) -> tuple[_Parked | None, str]:
        """Reads (and discards) the whole request: the parked stream its token names, or None
        and why not ("" when a kept-alive connection saw no next request: close it quietly)."""
        parked, line = None, "request"
        try:
            async with asyncio.timeout(wait):
                head = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError as e:
            return None, "" if wait == IDLE_SECONDS else _refusal(e, line)
        except (asyncio.LimitOverrunError, ValueError) as e:
            return None, _refusal(e, line)
        try:
            async with asyncio.timeout(READ_SECONDS):
                request = parse_head(head)
                line = request.line
                parked = self._parked.pop(request.token, None) if request.token else None
                await discard_body(reader, request, self.max_body_bytes)
        except (asyncio.LimitOverrunError, TimeoutError, ValueError) as e:
            _close(parked)
            return None, _refusal(e, line)
        except BaseException:  # the connection closed mid-request, or the relay stops
            _close(parked)
            raise
        return (parked, "") if parked else (None, f"{line} without a valid relay token")


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """After an answer to a request not read to its end: end our side, then discard what the
    peer still sends for a moment, so closing does not reset the connection (which can lose
    the answer on its way)."""
    writer.write_eof()
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(LINGER_SECONDS):
            while await reader.read(_PIECE):
                pass


def _close(parked: _Parked | None) -> None:
    if parked is not None:
        parked.response.close()


def _refusal(error: Exception, line: str) -> str:
    if isinstance(error, asyncio.LimitOverrunError):
        return f"a request head or line over {MAX_HEAD} bytes"
    if isinstance(error, TimeoutError):
        return f"{line}: not read within {READ_SECONDS:g} s"
    return f"{line}: {error}"


async def _pipe(response: aiohttp.ClientResponse, writer: asyncio.StreamWriter) -> None:
    fields = stream_headers(response.headers.get("content-type", "text/event-stream"))
    head = ("HTTP/1.1 200 OK\r\n" + "".join(f"{name}: {value}\r\n" for name, value in fields.items()) + "\r\n").encode()
    # What the upstream already sent goes out with the head in one write: mitmproxy reads both
    # in one turn of its loop, so the first chunk does not wait for another wake-up.
    try:
        ready = take_buffered(response)
        writer.write(head + (b"%x\r\n%s\r\n" % (len(ready), ready) if ready else b""))
        async with contextlib.aclosing(upstream_chunks(response)) as chunks:
            async for chunk in chunks:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
    finally:
        response.close()  # also when the client went away: cancels the upstream request


async def upstream_chunks(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """A parked stream's bytes as they arrive (after what `take_buffered` took). A broken
    upstream ends with a Gemini-style in-band error event; the response is closed at the end,
    also when the reader stops early (the client went away), which cancels the upstream request."""
    try:
        try:
            async for chunk in response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as e:
            logger.warning("upstream stream broke", reason=type(e).__name__)
            yield upstream_broke_event(type(e).__name__)
    finally:
        response.close()


def take_buffered(response: aiohttp.ClientResponse) -> bytes:
    """What the upstream already sent, without waiting; b"" on an error, which the read loop
    meets again and reports in-band."""
    try:
        return response.content.read_nowait()
    except Exception:  # noqa: BLE001  (the stream's own error, raised again by iter_any)
        return b""
