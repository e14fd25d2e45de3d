"""One request on the reverse front (edge/reversefront.py) as a mitmproxy flow: its head checked
as mitmproxy checks it, its hooks in mitmproxy's order, and its answer: the one an addon set, or
the stream KeyRouting parked in the relay, taken in-process and passed through
`flow.response.stream` chunk by chunk (mitmproxy's HttpStream, for the cases a router meets).

`exchange` returns whether the connection stays open for the next request.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

from mitmproxy import flow, http
from mitmproxy.net.http import http1, url
from mitmproxy.proxy.layers.http import (
    HttpErrorHook,
    HTTPMode,
    HttpRequestHeadersHook,
    HttpRequestHook,
    HttpResponseHeadersHook,
    HttpResponseHook,
    validate_request,
)
from mitmproxy.proxy.layers.http._http1 import make_error_response
from mitmproxy.utils import human

from hpn_router.edge import relay as relays
from hpn_router.edge.relayrequest import TOKEN_HEADER

if TYPE_CHECKING:
    from hpn_router.edge.frontconnection import FrontConnection

CLIENT_GONE = "Client disconnected."
BODY_TOO_LARGE = "Request body exceeds mitmproxy's body_size_limit."
NOT_ORIGIN_FORM = "The router serves HTTP/1.1 requests in origin form on this port."


class ClientGone(Exception):
    """The client closed its connection while its request was in progress."""


async def exchange(conn: FrontConnection, lines: list[bytes]) -> bool:
    """One request, from its head's lines, and its answer."""
    try:
        request = http1.read_request_head(lines)
    except ValueError as e:
        conn.unread = True
        conn.send(make_error_response(400, str(e)))
        return False
    f = http.HTTPFlow(conn.client, conn.server)
    f.request = request
    f.live = True
    try:
        expected = http1.expected_http_body_size(request)
    except ValueError as e:
        return await _refuse(conn, f, str(e), 400)
    if request.method == "PRI" or request.authority:
        return await _refuse(conn, f, NOT_ORIGIN_FORM, 400)
    options = conn.front.options
    if err := validate_request(HTTPMode.transparent, request, options.validate_inbound_headers):
        return await _refuse(conn, f, err, 400)
    request.data.host, request.data.port = conn.mode.address
    request.scheme = "https" if conn.mode.scheme == "https" else "http"
    if not options.keep_host_header:
        request.host_header = url.hostport(request.scheme, *conn.mode.address)
    limit = human.parse_size(options.body_size_limit) if options.body_size_limit else None
    if expected and limit is not None and expected > limit:
        return await _refuse(conn, f, BODY_TOO_LARGE, 413)
    return await _handle(conn, f, expected, limit)


async def _refuse(conn: FrontConnection, f: http.HTTPFlow, message: str, status: int) -> bool:
    """mitmproxy's answer to a request it will not handle: the flow is shown (requestheaders,
    error), the client gets a plain error page, the connection closes."""
    await conn.front.flow_event(HttpRequestHeadersHook, f)
    f.error = flow.Error(message)
    await conn.front.flow_event(HttpErrorHook, f)
    f.live = False
    conn.unread = True
    conn.send(make_error_response(status, message))
    return False


async def _fail(conn: FrontConnection, f: http.HTTPFlow, message: str) -> bool:
    """The flow ends without an answer (killed, or the client left): its error hook, then close."""
    if f.error is None:
        f.error = flow.Error(message)
    await conn.front.flow_event(HttpErrorHook, f)
    f.live = False
    return False


async def _handle(conn: FrontConnection, f: http.HTTPFlow, expected: int | None, limit: int | None) -> bool:
    request = f.request
    await conn.front.flow_event(HttpRequestHeadersHook, f)
    if _killed(f):
        return await _fail(conn, f, "")
    if request.headers.get("expect", "").lower() == "100-continue":
        conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.headers.pop("expect")
    try:
        request.data.content = await conn.read_body(expected, limit) if expected != 0 else b""
    except ClientGone:
        return await _fail(conn, f, CLIENT_GONE)
    except OverflowError:
        f.error = flow.Error(BODY_TOO_LARGE)
        await conn.front.flow_event(HttpErrorHook, f)
        conn.unread = True
        conn.send(make_error_response(413, BODY_TOO_LARGE))
        return False
    except ValueError as e:
        return await _fail(conn, f, str(e))
    request.timestamp_end = time.time()
    await conn.front.flow_event(HttpRequestHook, f)
    if _killed(f) or conn.closed:
        _drop_parked(f)
        return await _fail(conn, f, CLIENT_GONE)
    if f.response is None:
        return await _from_relay(conn, f)
    f.response.timestamp_start = time.time()
    await conn.front.flow_event(HttpResponseHeadersHook, f)
    if _killed(f):
        return await _fail(conn, f, "")
    return await _send_response(conn, f)


async def _send_response(conn: FrontConnection, f: http.HTTPFlow) -> bool:
    """A whole answer: the response hook, then the bytes (mitmproxy's send_response)."""
    assert f.response is not None
    f.response.timestamp_end = time.time()
    await conn.front.flow_event(HttpResponseHook, f)
    if _killed(f):
        return False
    response, request = f.response, f.request
    chunked = _chunked(response)
    out = http1.assemble_response_head(response)
    if request.method.upper() != "HEAD":
        out += _frame(response.raw_content or b"", chunked) + (b"0\r\n\r\n" if chunked else b"")
    conn.send(out)
    f.live = False
    return keeps_alive(request, response) and not conn.eof


def _drop_parked(f: http.HTTPFlow) -> None:
    """A stream parked for a client that left: closed now, not when the relay expires it."""
    relay = relays.relay_at(f.request.host, f.request.port)
    token = f.request.headers.get(TOKEN_HEADER)
    if relay is not None and token and (upstream := relay.take(token)) is not None:
        upstream.close()


async def _from_relay(conn: FrontConnection, f: http.HTTPFlow) -> bool:
    """The flow targets the relay: the stream parked under its token, or the relay's refusal."""
    token = f.request.headers.get(TOKEN_HEADER)
    relay = relays.relay_at(f.request.host, f.request.port)
    upstream = relay.take(token) if relay is not None and token else None
    if upstream is None:
        relays.log_refusal(f"{f.request.method} {f.request.path.split('?', 1)[0][:200]} without a valid relay token")
        f.response = refused_response()
        await conn.front.flow_event(HttpResponseHeadersHook, f)
        return False if _killed(f) else await _send_response(conn, f)  # it closes the connection
    try:
        return await _stream(conn, f, upstream)
    finally:
        upstream.close()


async def _stream(conn: FrontConnection, f: http.HTTPFlow, upstream: Any) -> bool:
    f.response = relay_response(upstream.headers.get("content-type", "text/event-stream"))
    await conn.front.flow_event(HttpResponseHeadersHook, f)
    if _killed(f):
        return await _fail(conn, f, "")
    ready = relays.take_buffered(upstream)
    if not f.response.stream:  # an addon wants the whole body: mitmproxy buffers it
        pieces = [ready]
        async with contextlib.aclosing(relays.upstream_chunks(upstream)) as chunks:
            pieces += [chunk async for chunk in chunks]
        f.response.data.content = b"".join(pieces)
        return await _send_response(conn, f)
    chunked = _chunked(f.response)
    pending = http1.assemble_response_head(f.response)
    try:
        # What the upstream already sent goes out with the head, in one write.
        conn.send(pending + (_through(f, ready, chunked) if ready else b""))
        async with contextlib.aclosing(relays.upstream_chunks(upstream)) as chunks:
            async for data in chunks:
                conn.send(_through(f, data, chunked) if data else b"")
                await conn.drain()
        conn.send(_through(f, b"", chunked))  # the end: a stream callable flushes
    except ClientGone:
        return await _fail(conn, f, CLIENT_GONE)
    f.response.timestamp_end = time.time()
    await conn.front.flow_event(HttpResponseHook, f)
    if _killed(f):
        return False
    conn.send(b"0\r\n\r\n" if chunked else b"")
    f.live = False
    return keeps_alive(f.request, f.response) and not conn.eof


def _through(f: http.HTTPFlow, data: bytes, chunked: bool) -> bytes:
    """`data` through the flow's stream callable (mitmproxy's state_stream_response_body),
    framed for the client. b"" means the end to a callable (StreamAdapter finishes its
    decoder), so it is passed only once, at the end, as mitmproxy does."""
    stream = f.response.stream if f.response is not None else None
    if callable(stream):
        out = stream(data)
        pieces = [out] if isinstance(out, bytes) else list(out)
    else:
        pieces = [data]
    return b"".join(_frame(piece, chunked) for piece in pieces if piece)


def _killed(f: http.HTTPFlow) -> bool:
    return f.error is not None and f.error.msg == flow.Error.KILLED_MESSAGE


def _chunked(message: http.Message) -> bool:
    return "chunked" in message.headers.get("transfer-encoding", "").lower()


def _frame(data: bytes, chunked: bool) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data) if chunked and data else data


def keeps_alive(request: http.Request, response: http.Response) -> bool:
    """mitmproxy's rule (Http1Connection.mark_done): close after a body read until close, or
    when either side asked for it. A content-length or chunked answer is never read until close,
    which spares the general check for the router's own answers."""
    framed = "content-length" in response.headers or _chunked(response)
    if not framed:
        try:
            framed = http1.expected_http_body_size(request, response) != -1
        except ValueError:
            framed = True
    closing = http1.connection_close(request.http_version, request.headers) or http1.connection_close(
        response.http_version, response.headers
    )
    return framed and not closing


def relay_response(content_type: str) -> http.Response:
    """The head mitmproxy would read from the relay for this stream."""
    headers = http.Headers([(name.encode(), value.encode()) for name, value in relays.stream_headers(content_type).items()])
    return http.Response(b"HTTP/1.1", 200, b"OK", headers, None, None, time.time(), None)


def refused_response() -> http.Response:
    """The relay's refusal, as the addons would see it from the relay."""
    status, body, headers = relays.refusal()
    return http.Response.make(status, body, headers)
