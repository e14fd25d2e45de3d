"""One connection of the reverse front (edge/frontconnection.py): heads it cannot read get 400
and the connection closes without a reset, TLS and HTTP/2 starts go to mitmproxy's handler, and
a client that leaves mid-request gets client_disconnected at once and its parked stream closed."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import pytest
from frontkit import (
    GET,
    WAIT,
    Front,
    answer,
    exchange,
    read_to_end,
    relay_to,
    status_line,
)
from hpn_router.edge import frontconnection
from hpn_router.edge.frontconnection import MAX_HEAD
from hpn_router.edge.frontexchange import CLIENT_GONE
from hpn_router.edge.relay import StreamRelay
from mitmproxy import http


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_a_client_still_uploading_a_body_over_the_limit_reads_the_413_not_a_reset(front: Front, framing: str):
    """The front answers before the body is read; closing with the client's bytes unread would
    reset the connection and destroy the 413 on its way."""
    front.options.update(body_size_limit="1k")
    pieces = 32
    length = pieces * 65536
    reader, writer = await front.connect()
    framing_header = b"content-length: %d" % length if framing == "content-length" else b"transfer-encoding: chunked"
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n" + framing_header + b"\r\n\r\n")

    async def upload() -> None:
        with contextlib.suppress(ConnectionError):
            for _ in range(pieces):
                writer.write(b"x" * 65536 if framing == "content-length" else b"10000\r\n" + b"x" * 65536 + b"\r\n")
                await writer.drain()

    uploading = asyncio.create_task(upload())
    try:
        reply = await read_to_end(reader)
    finally:
        await uploading
        writer.close()
    assert status_line(reply) == b"HTTP/1.1 413 Payload Too Large"


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"GARBAGE\r\n\r\n", id="malformed request line"),
        pytest.param(b"GET /x HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * (MAX_HEAD + 10), id="head over MAX_HEAD"),
    ],
)
async def test_a_request_the_front_cannot_read_gets_400_and_closes(front: Front, request_bytes: bytes):
    front.addons.handlers["request"] = answer
    reply = await exchange(front, request_bytes)
    assert status_line(reply) == b"HTTP/1.1 400 Bad Request"
    assert b"connection: close" in reply.lower()
    await front.addons.wait_disconnected()
    assert "request" not in front.addons.names


@pytest.mark.parametrize(
    ("start", "handed_over"),
    [
        pytest.param(b"\x16\x03\x01\x02\x00\x01", True, id="TLS ClientHello"),
        pytest.param(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", True, id="HTTP/2 prior knowledge"),
        pytest.param(b"PR", False, id="a preface cut short, then EOF: closed here"),
        pytest.param(b"POST /v1/x HTTP/1.1\r\n", False, id="HTTP/1.1"),
    ],
)
async def test_tls_and_http2_starts_go_to_mitmproxys_handler(front: Front, monkeypatch, start: bytes, handed_over: bool):
    handed: list[bytes] = []

    async def hand_over(connection: frontconnection.FrontConnection) -> None:  # mitmproxy's handler needs a running mitmproxy
        handed.append(bytes(connection.buf))
        connection.handed_over = False  # let the front close it, as mitmproxy would at the end

    monkeypatch.setattr(frontconnection.FrontConnection, "_hand_over", hand_over)
    reader, writer = await front.connect()
    writer.write(start)
    writer.write_eof()
    await front.addons.wait_disconnected()
    assert handed == ([start] if handed_over else [])


async def test_a_client_leaving_during_the_request_hook_gets_an_error_and_its_parked_stream_closed(
    front: Front, stream_relay: StreamRelay, upstream: aiohttp.ClientSession
):
    parked: list[tuple[str, aiohttp.ClientResponse]] = []
    in_hook, go_on = asyncio.Event(), asyncio.Event()

    async def park_then_wait(f: http.HTTPFlow) -> None:
        response = await upstream.get("/stream")
        parked.append((stream_relay.park(response), response))
        relay_to(f, stream_relay, parked[-1][0])
        in_hook.set()
        await go_on.wait()

    front.addons.handlers["request"] = park_then_wait
    reader, writer = await front.connect()
    writer.write(GET)
    await asyncio.wait_for(in_hook.wait(), WAIT)
    (connection,) = frontconnection.OPEN_CONNECTIONS.values()
    writer.close()
    for _ in range(WAIT * 100):  # bounded: until the front has seen the client leave
        if connection.closed:
            break
        await asyncio.sleep(0.01)
    go_on.set()

    await front.addons.wait_disconnected()
    for _ in range(WAIT * 100):  # bounded: the pending hook ends after the disconnect
        if "error" in front.addons.names:
            break
        await asyncio.sleep(0.01)
    # As in mitmproxy: client_disconnected fires when the client leaves, while `request` is
    # still pending (KeyRouting cancels its upstream call on it); the flow's error follows.
    assert front.addons.names == ["client_connected", "requestheaders", "request", "client_disconnected", "error"]
    assert front.addons.errors == [CLIENT_GONE]
    token, response = parked[0]
    assert stream_relay.take(token) is None
    assert response.closed
