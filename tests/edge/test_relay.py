"""The stream relay against real sockets: it serves a parked stream to the router's token
only, answers everything else with the router's own error once and closes, and bounds what
it reads (head size, body size, time)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from flowtools import captured_logs
from hpn_router.edge import relay
from hpn_router.edge.relay import REFUSED_HEADER, StreamRelay, is_loopback_peer
from hpn_router.edge.relayrequest import TOKEN_HEADER
from localserver import serving_app

EVENTS = [b'data: {"n": 1}\r\n\r\n', b'data: {"n": 2}\r\n\r\n']


@asynccontextmanager
async def serving(stream: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> AsyncIterator[aiohttp.ClientSession]:
    """A real aiohttp upstream answering GET /stream with `stream`, and a session to fetch it with."""
    app = web.Application()
    app.router.add_get("/stream", stream)
    async with serving_app(app) as base_url, aiohttp.ClientSession(base_url=base_url) as session:
        yield session


@pytest.fixture
async def upstream() -> AsyncIterator[aiohttp.ClientSession]:
    """An upstream answering an event stream."""

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for event in EVENTS:
            await response.write(event)
        return response

    async with serving(events) as session:
        yield session


@pytest.fixture(autouse=True)
def short_keep_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    """A served connection stays open for mitmproxy's next request; here it closes soon after,
    so `exchange` can read until the relay closes."""
    monkeypatch.setattr(relay, "IDLE_SECONDS", 0.3)


async def exchange(port: int, request: bytes) -> bytes:
    """Sends `request`, returns everything the relay sends until it closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(-1), 20)  # read(-1): until the relay closes
    finally:
        writer.close()


def head(token: str | None = None, extra: bytes = b"") -> bytes:
    lines = b"POST /v1beta/models/m:streamGenerateContent?alt=sse&key=x HTTP/1.1\r\nhost: 127.0.0.1\r\n"
    if token:
        lines += f"{TOKEN_HEADER}: {token}\r\n".encode()
    return lines + extra + b"\r\n"


def assert_refused(reply: bytes) -> None:
    status_line, _, rest = reply.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert status_line == b"HTTP/1.1 500 Internal Server Error"
    assert b"content-type: application/json" in headers and REFUSED_HEADER.encode() in headers and b"connection: close" in headers
    failed = {"message": "The router failed to handle this request.", "type": "server_error", "param": None, "code": None}
    assert json.loads(body) == {"error": failed}


async def test_parked_streams_are_served_once_to_their_tokens_on_one_kept_alive_connection(stream_relay, upstream):
    first = stream_relay.park(await upstream.get("/stream"))
    second = stream_relay.park(await upstream.get("/stream"))
    # Two streams on one connection (mitmproxy reuses it), then the first token again: refused,
    # and only then does the relay close the connection.
    reply = await exchange(stream_relay.port, head(first, b"content-length: 2\r\n") + b"{}" + head(second) + head(first))
    served, refusal, rest = reply.partition(b"HTTP/1.1 500")
    assert served.count(b"HTTP/1.1 200 OK\r\n") == 2 and b"connection: close" not in served
    assert all(served.count(event) == 2 for event in EVENTS) and served.endswith(b"0\r\n\r\n")
    assert_refused(refusal + rest)  # one time only


async def test_a_kept_alive_connection_with_no_next_request_closes_quietly(stream_relay, upstream):
    token = stream_relay.park(await upstream.get("/stream"))
    reply = await exchange(stream_relay.port, head(token))
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b"0\r\n\r\n") and b"HTTP/1.1 500" not in reply


@pytest.mark.parametrize("token", [None, "not-a-parked-token"])
async def test_a_request_without_a_valid_token_gets_the_routers_error_once(stream_relay, token):
    with captured_logs() as records:
        # A second request on the same connection is never read: the relay closed it.
        reply = await exchange(stream_relay.port, head(token, b"content-length: 2\r\n") + b"{}" + head(token))
    assert_refused(reply)
    assert reply.count(b"HTTP/1.1") == 1
    [record] = [r for r in records if r.get("event") == "fail_closed"]
    assert record["reason"] == "POST /v1beta/models/m:streamGenerateContent without a valid relay token"  # no query: no key= in logs


async def test_a_chunked_body_is_read_and_discarded(stream_relay, upstream):
    token = stream_relay.park(await upstream.get("/stream"))
    body = b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\ntrailer: x\r\n\r\n"
    reply = await exchange(stream_relay.port, head(token, b"transfer-encoding: chunked\r\n") + body)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and EVENTS[1] in reply


async def test_a_body_over_the_limit_is_refused_without_reading_it_and_closes_its_stream(stream_relay, upstream):
    stream_relay.max_body_bytes = 1024
    response = await upstream.get("/stream")
    token = stream_relay.park(response)
    assert_refused(await exchange(stream_relay.port, head(token, b"content-length: 1025\r\n")))  # no body sent: not waited for
    assert response.closed
    chunked = head(token, b"transfer-encoding: chunked\r\n") + b"800\r\n"
    assert_refused(await exchange(stream_relay.port, chunked))


async def test_a_body_is_read_in_pieces_up_to_the_limit(stream_relay, upstream):
    stream_relay.max_body_bytes = 4 * 1024 * 1024
    token = stream_relay.park(await upstream.get("/stream"))
    body = b"x" * (4 * 1024 * 1024)
    reply = await exchange(stream_relay.port, head(token, b"content-length: %d\r\n" % len(body)) + body)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")


async def test_an_oversized_head_is_refused(stream_relay):
    huge = b"x-filler: " + b"a" * (relay.MAX_HEAD + 10) + b"\r\n"
    assert_refused(await exchange(stream_relay.port, head(None, huge)))


@pytest.mark.parametrize("bad", [b"content-length: -1\r\n", b"content-length: 12abc\r\n"])
async def test_a_malformed_head_is_refused(stream_relay, bad):
    assert_refused(await exchange(stream_relay.port, head(None, bad)))


async def test_a_request_that_never_completes_is_refused_after_the_read_timeout(stream_relay, monkeypatch):
    monkeypatch.setattr(relay, "READ_SECONDS", 0.2)
    assert_refused(await exchange(stream_relay.port, b"POST / HTTP/1.1\r\nhost: x\r\n"))  # the head never ends
    assert_refused(await exchange(stream_relay.port, head(None, b"content-length: 100\r\n") + b"short"))


def test_only_loopback_peers_are_served():
    assert is_loopback_peer(("127.0.0.1", 5000)) and is_loopback_peer(("127.8.9.10", 1)) and is_loopback_peer(("::1", 1, 0, 0))
    assert not is_loopback_peer(("192.168.1.2", 5000)) and not is_loopback_peer(("10.0.0.1", 1))
    assert not is_loopback_peer(None) and not is_loopback_peer(("not-an-ip", 1))


@pytest.fixture
async def breaking_upstream() -> AsyncIterator[aiohttp.ClientSession]:
    """An upstream that sends one event, then drops the connection before the promised body's end."""

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream", "content-length": "1000"})
        await response.prepare(request)
        await response.write(EVENTS[0])
        assert request.transport is not None
        request.transport.close()
        return response

    async with serving(events) as session:
        yield session


async def test_an_upstream_that_breaks_mid_stream_ends_in_an_in_band_error(stream_relay, breaking_upstream):
    token = stream_relay.park(await breaking_upstream.get("/stream"))
    reply = await exchange(stream_relay.port, head(token))
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b"0\r\n\r\n")  # a complete chunked answer
    [broke] = [line for line in reply.split(b"\r\n") if line.startswith(b'data: {"error"')]
    error = json.loads(broke.removeprefix(b"data: "))["error"]
    assert error["code"] == 502 and error["message"].startswith("Upstream stream broke: ")


class Parked:
    """Stands in for a parked aiohttp response (a real one reads to its end, and closes, at once here)."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


async def test_a_stream_parked_too_long_is_closed_and_stop_closes_the_rest():
    stream_relay = StreamRelay()
    old, recent = Parked(), Parked()
    stale = stream_relay.park(old, now=0.0)  # type: ignore[arg-type]
    stream_relay.park(recent, now=relay.PARK_SECONDS + 1)  # type: ignore[arg-type]  # parking expires what waited too long
    assert old.closed and not recent.closed
    assert_refused(await exchange(await stream_relay.start(), head(stale)))  # its token is gone
    await stream_relay.stop()
    assert recent.closed


async def test_trailers_over_the_limit_are_refused(stream_relay, upstream):
    stream_relay.max_body_bytes = 64
    token = stream_relay.park(await upstream.get("/stream"))
    trailers = b"".join(b"x-trailer-%d: %s\r\n" % (i, b"a" * 20) for i in range(5))
    assert_refused(await exchange(stream_relay.port, head(token, b"transfer-encoding: chunked\r\n") + b"0\r\n" + trailers + b"\r\n"))


async def test_a_client_gone_mid_request_closes_the_stream_it_asked_for(stream_relay, upstream):
    response = await upstream.get("/stream")
    token = stream_relay.park(response)
    reader, writer = await asyncio.open_connection("127.0.0.1", stream_relay.port)
    writer.write(head(token, b"content-length: 100\r\n") + b"short")
    await writer.drain()
    writer.close()
    for _ in range(500):
        if response.closed:
            break
        await asyncio.sleep(0.01)
    assert response.closed


class RecordingWriter:
    """Stands in for the relay's StreamWriter: records each write, as one send each."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    async def drain(self) -> None:
        pass


async def _fully_received(response: aiohttp.ClientResponse, size: int) -> None:
    for _ in range(200):  # at most 2 s: the upstream writes both events at once
        if response.content.total_bytes >= size:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the upstream sent {response.content.total_bytes} of {size} bytes")


async def test_what_the_upstream_already_sent_goes_out_with_the_head_in_one_write(upstream):
    response = await upstream.get("/stream")
    await _fully_received(response, sum(map(len, EVENTS)))
    writer = RecordingWriter()
    await relay._pipe(response, writer)  # type: ignore[arg-type]
    first = writer.writes[0]
    assert first.startswith(b"HTTP/1.1 200 OK\r\n") and all(event in first for event in EVENTS)
    assert b"".join(writer.writes).endswith(b"0\r\n\r\n")
    assert response.closed


@pytest.fixture
async def slow_upstream() -> AsyncIterator[aiohttp.ClientSession]:
    """Sends its head at once and its one event 0.3 s later (a model still thinking)."""

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        await asyncio.sleep(0.3)
        await response.write(EVENTS[0])
        return response

    async with serving(events) as session:
        yield session


async def test_a_stream_with_nothing_received_yet_sends_its_head_at_once_then_each_chunk(slow_upstream):
    response = await slow_upstream.get("/stream")
    writer = RecordingWriter()
    await relay._pipe(response, writer)  # type: ignore[arg-type]
    assert writer.writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writer.writes[0].endswith(b"\r\n\r\n")  # the head alone
    assert EVENTS[0] in writer.writes[1] and writer.writes[-1] == b"0\r\n\r\n"


async def test_a_stream_that_already_failed_sends_its_head_then_the_in_band_error(upstream):
    response = await upstream.get("/stream")
    response.content.set_exception(aiohttp.ClientPayloadError("broken"))
    writer = RecordingWriter()
    await relay._pipe(response, writer)  # type: ignore[arg-type]
    assert writer.writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writer.writes[0].endswith(b"\r\n\r\n")
    assert b'data: {"error"' in b"".join(writer.writes[1:]) and writer.writes[-1] == b"0\r\n\r\n"
