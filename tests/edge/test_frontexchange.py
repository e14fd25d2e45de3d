"""One request on the reverse front (edge/frontexchange.py): checked as mitmproxy checks it
(Host header, body_size_limit, 100-continue, request smuggling, origin form), killed flows, and
its answer: an addon's, or the relay's parked stream through the flow's stream callable, or the
relay's refusal."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from frontkit import (
    ANSWER,
    EVENTS,
    GET,
    TARGET,
    WAIT,
    Front,
    answer,
    dechunk,
    exchange,
    read_one,
    read_response,
    read_to_end,
    relay_to,
    status_line,
)
from hpn_router.edge.frontexchange import BODY_TOO_LARGE
from hpn_router.edge.relay import REFUSED_HEADER, StreamRelay
from mitmproxy import http


async def test_the_host_header_is_rewritten_to_the_target_and_the_flow_points_at_it(front: Front):
    seen: list[tuple[str, str, int, str]] = []

    def record(f: http.HTTPFlow) -> None:
        seen.append((f.request.host_header or "", f.request.host, f.request.port, f.request.scheme))
        answer(f)

    front.addons.handlers["request"] = record
    request = b"GET /v1/models HTTP/1.1\r\nhost: router.example:8080\r\nconnection: close\r\n\r\n"
    assert status_line(await exchange(front, request)) == b"HTTP/1.1 200 OK"
    front.options.update(keep_host_header=True)
    assert status_line(await exchange(front, request)) == b"HTTP/1.1 200 OK"
    assert seen == [(TARGET, TARGET, 443, "https"), ("router.example:8080", TARGET, 443, "https")]


async def test_a_content_length_over_body_size_limit_gets_413_and_no_request_hook(front: Front):
    front.options.update(body_size_limit="10")
    front.addons.handlers["request"] = answer
    reply = await exchange(front, b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 11\r\n\r\n" + b"x" * 11)
    assert status_line(reply) == b"HTTP/1.1 413 Payload Too Large"
    await front.addons.wait_disconnected()
    assert front.addons.names == ["client_connected", "requestheaders", "error", "client_disconnected"]
    assert front.addons.errors == [BODY_TOO_LARGE]


async def test_a_chunked_body_over_body_size_limit_gets_413_and_no_request_hook(front: Front):
    front.options.update(body_size_limit="10")
    front.addons.handlers["request"] = answer
    body = b"6\r\nxxxxxx\r\n6\r\nxxxxxx\r\n0\r\n\r\n"
    reply = await exchange(front, b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n" + body)
    assert status_line(reply) == b"HTTP/1.1 413 Payload Too Large"
    await front.addons.wait_disconnected()
    assert front.addons.names == ["client_connected", "requestheaders", "error", "client_disconnected"]
    assert front.addons.errors == [BODY_TOO_LARGE]


async def test_a_chunked_request_body_arrives_whole_in_the_request_hook(front: Front):
    bodies: list[bytes] = []

    def record(f: http.HTTPFlow) -> None:
        bodies.append(f.request.content or b"")
        answer(f)

    front.addons.handlers["request"] = record
    reader, writer = await front.connect()
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
    await writer.drain()
    await asyncio.sleep(0.05)  # the rest arrives later, in its own segments: the front waits for it
    writer.write(b"6\r\n world\r\n")
    await writer.drain()
    writer.write(b"0\r\n\r\n")
    head, body = await read_response(reader)
    writer.close()
    assert head + body == ANSWER
    assert bodies == [b"hello world"]


async def test_expect_100_continue_gets_100_continue_before_the_body_is_read(front: Front):
    requests: list[http.Request] = []

    def record(f: http.HTTPFlow) -> None:
        requests.append(f.request)
        answer(f)

    front.addons.handlers["request"] = record
    reader, writer = await front.connect()
    writer.write(b"POST /v1/embeddings HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\n")
    assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT) == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"hello")
    head, body = await read_response(reader)
    writer.close()
    assert head + body == ANSWER
    assert [(r.content, "expect" in r.headers) for r in requests] == [(b"hello", False)]


async def test_a_flow_killed_in_the_request_hook_closes_the_connection_without_an_answer(front: Front):
    front.addons.handlers["request"] = lambda f: f.kill()
    assert await exchange(front, GET) == b""
    await front.addons.wait_disconnected()
    assert front.addons.names == ["client_connected", "requestheaders", "request", "error", "client_disconnected"]


async def test_a_relayed_stream_goes_through_the_flows_stream_callable_with_chunked_framing(
    front: Front, stream_relay: StreamRelay, upstream: aiohttp.ClientSession
):
    tokens: list[str] = []
    seen_by_stream: list[bytes] = []
    seen_at_response: list[list[bytes]] = []

    async def park(f: http.HTTPFlow) -> None:
        response = await upstream.get("/stream")
        tokens.append(stream_relay.park(response))
        relay_to(f, stream_relay, tokens[-1])

    def upper(data: bytes) -> bytes:
        seen_by_stream.append(data)
        return data.upper()

    def stream_through_upper(f: http.HTTPFlow) -> None:
        assert f.response is not None
        f.response.stream = upper

    front.addons.handlers["request"] = park
    front.addons.handlers["responseheaders"] = stream_through_upper
    front.addons.handlers["response"] = lambda f: seen_at_response.append(list(seen_by_stream))
    request = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"
    reply = await exchange(front, request)

    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"HTTP/1.1 200 OK",
        b"content-type: text/event-stream",
        b"cache-control: no-cache",
        b"transfer-encoding: chunked",
    ]
    assert b"".join(dechunk(body)) == b"".join(EVENTS).upper()
    assert seen_by_stream[-1] == b""  # the end, passed to the callable as mitmproxy does
    assert seen_at_response == [seen_by_stream]  # the response hook: once, after every chunk
    await front.addons.wait_disconnected()
    assert front.addons.names == ["client_connected", "requestheaders", "request", "responseheaders", "response", "client_disconnected"]
    assert stream_relay.take(tokens[0]) is None


@pytest.mark.parametrize("token", [None, "not-a-parked-token"])
async def test_a_flow_at_the_relay_without_a_valid_token_gets_the_routers_500_and_closes(
    front: Front, stream_relay: StreamRelay, token: str | None
):
    front.addons.handlers["request"] = lambda f: relay_to(f, stream_relay, token)
    reader, writer = await front.connect()
    writer.write(GET + GET)  # a second request that must not be answered
    reply = await read_to_end(reader)
    writer.close()
    head, body = read_one(reply)
    assert status_line(head) == b"HTTP/1.1 500 Internal Server Error"
    assert f"{REFUSED_HEADER}: 1".encode() in head.split(b"\r\n")
    assert b'"error"' in body
    assert front.addons.names.count("request") == 1


async def test_a_flow_left_at_the_original_target_gets_the_routers_500(front: Front):
    head, _ = read_one(await exchange(front, GET))
    assert status_line(head) == b"HTTP/1.1 500 Internal Server Error"
    assert f"{REFUSED_HEADER}: 1".encode() in head.split(b"\r\n")


async def test_an_http2_preface_after_an_http1_request_gets_400(front: Front):
    front.addons.handlers["request"] = answer
    reply = await exchange(front, GET + b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    assert reply.startswith(ANSWER)
    assert status_line(reply[len(ANSWER) :]) == b"HTTP/1.1 400 Bad Request"


async def test_content_length_with_transfer_encoding_is_refused_as_request_smuggling(front: Front):
    front.addons.handlers["request"] = answer
    request = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n"
    reply = await exchange(front, request)
    assert status_line(reply) == b"HTTP/1.1 400 Bad Request"
    await front.addons.wait_disconnected()
    assert front.addons.names == ["client_connected", "requestheaders", "error", "client_disconnected"]
    assert len(front.addons.errors) == 1
