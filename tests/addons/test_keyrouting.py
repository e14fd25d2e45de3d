"""KeyRouting in-process: a scripted transport, handed to KeyRouting, stands in for Gemini, and
each client request goes through the real chain (Endpoints, Translation with the chat
translator, KeyRouting, Translation again), so the tests read what the client gets. No
sockets but the relay's own (on 127.0.0.1), no emulator."""

from __future__ import annotations

import asyncio
import json

from hpn_router.addons.flowcontext import context
from hpn_router.config import parse_config
from hpn_router.core.keystates import KeyState
from hpn_router.core.transport import AttemptResult, UpstreamRequest
from hpn_router.edge.relayrequest import TOKEN_HEADER
from keyroutingkit import FIRST, MISTRAL_KEY, MODEL, NOW, SECOND, FakeTransport, Router, config, error_of, gemini_answer, rate_limited
from mitmproxy.test import taddons

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}


async def test_a_429_fails_over_to_the_next_key_whose_answer_the_client_gets():
    transport = FakeTransport(rate_limited(), gemini_answer("Hi there"))
    router = Router(transport)
    with taddons.context():
        flow = await router.ask(CHAT)
        router.finish(flow)
    assert [key for _, key in transport.sent] == [FIRST, SECOND]
    request = transport.sent[1][0]
    assert request.path == f"/v1beta/models/{MODEL}:generateContent" and not request.stream
    assert json.loads(request.body)["contents"][0]["parts"][0]["text"] == "Hello"
    assert flow.response.status_code == 200
    answer = json.loads(flow.response.content)
    assert answer["object"] == "chat.completion" and answer["choices"][0]["message"]["content"] == "Hi there"
    assert answer["model"] == "gpt-4o" and answer["usage"]["total_tokens"] == 5
    pool = router.state.pool
    assert pool.state(0, NOW, MODEL) is KeyState.COOLING and pool.state(1, NOW, MODEL) is KeyState.ACTIVE
    assert "authorization" not in request.body.decode() and "client-token" not in flow.request.headers.get("authorization", "")


async def test_when_every_key_is_cooling_the_client_gets_a_429_and_nothing_more_goes_upstream():
    transport = FakeTransport(rate_limited(), rate_limited())
    router = Router(transport)
    with taddons.context():
        flow = await router.ask(CHAT)
        again = await router.ask(CHAT)
    assert len(transport.sent) == 2  # the second request found no key to try
    for answered in (flow, again):
        assert answered.response.status_code == 429
        assert error_of(answered)["type"] and "rate limited" in error_of(answered)["message"]
        assert 1 <= int(answered.response.headers["retry-after"]) <= 30
        assert FIRST not in answered.response.text and SECOND not in answered.response.text


async def test_an_error_quoting_the_key_reaches_the_client_without_it():
    quoted = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": f"Bad request for api_key:{FIRST}"}}
    transport = FakeTransport(AttemptResult(status=400, body=json.dumps(quoted).encode()))
    router = Router(transport)
    with taddons.context():
        flow = await router.ask(CHAT)
        router.finish(flow)
    assert flow.response.status_code == 400
    assert FIRST not in flow.response.text and "<key:first>" in error_of(flow)["message"]


class FakeStream:
    """What an open aiohttp stream offers the relay: headers, content.iter_any(), close()."""

    def __init__(self, *chunks: bytes) -> None:
        self.headers = {"content-type": "text/event-stream"}
        self.chunks = chunks
        self.content = self
        self.closed = False

    def read_nowait(self) -> bytes:
        return b""  # nothing buffered yet: every chunk comes from iter_any

    async def iter_any(self):
        for chunk in self.chunks:
            yield chunk

    def close(self) -> None:
        self.closed = True


async def fetch_from_relay(port: int, token: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST /v1beta/models/x HTTP/1.1\r\nhost: x\r\n{TOKEN_HEADER}: {token}\r\ncontent-length: 0\r\n\r\n".encode())
    await writer.drain()
    answer = b""
    # A served stream ends with the last chunk (the relay keeps the connection for the next
    # request); a refusal ends when the relay closes.
    while not answer.endswith(b"0\r\n\r\n") and (piece := await asyncio.wait_for(reader.read(65536), 5)):
        answer += piece
    writer.close()
    return answer


async def test_an_accepted_stream_is_handed_to_the_relay_which_serves_it_once():
    event = b'data: {"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]}\r\n\r\n'
    stream = FakeStream(event)
    transport = FakeTransport(AttemptResult(status=200, headers={"content-type": "text/event-stream"}, stream=stream))
    router = Router(transport)
    await router.routing.running()
    try:
        with taddons.context():
            flow = await router.ask({**CHAT, "stream": True})
        request, _ = transport.sent[0]
        assert request.stream and request.query == "alt=sse" and request.path.endswith(":streamGenerateContent")
        assert flow.response is None  # mitmproxy fetches the answer from the relay
        assert (flow.request.host, flow.request.port) == ("127.0.0.1", router.routing.relay.port)
        assert flow.request.content == b""  # the relay discards a body: none is sent to it
        token = flow.request.headers[TOKEN_HEADER]
        answer = await fetch_from_relay(router.routing.relay.port, token)
        assert answer.startswith(b"HTTP/1.1 200") and event in answer and stream.closed
        assert b"HTTP/1.1 500" in await fetch_from_relay(router.routing.relay.port, token)  # a token serves once
    finally:
        await router.routing.done()
    assert transport.closed


class BrokenTransport(FakeTransport):
    async def send(self, request: UpstreamRequest, key: str) -> AttemptResult:
        raise RuntimeError(f"bug with {key}")


async def test_a_failing_transport_is_answered_with_the_routers_error_not_raised():
    router = Router(BrokenTransport())
    with taddons.context():
        flow = await router.ask(CHAT)
    assert flow.response.status_code == 500
    assert error_of(flow)["type"] == "server_error" and FIRST not in flow.response.text


class HangingTransport(FakeTransport):
    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.cancelled = False

    async def send(self, request: UpstreamRequest, key: str) -> AttemptResult:
        self.sent.append((request, key))
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        raise AssertionError("unreachable")


async def test_a_client_that_disconnects_cancels_its_upstream_request():
    transport = HangingTransport()
    router = Router(transport)
    with taddons.context():
        flow = router.client_request(CHAT)
        routing = asyncio.ensure_future(router.route(flow))
        await asyncio.wait_for(transport.started.wait(), 5)
        router.routing.client_disconnected(flow.client_conn)
        await asyncio.wait_for(routing, 5)
    assert len(transport.sent) == 1 and transport.cancelled
    assert flow.error is not None and flow.response is None  # killed: nothing is sent to a gone client


async def test_without_a_valid_config_the_client_gets_an_error_and_nothing_goes_upstream():
    transport = FakeTransport()
    router = Router(transport)
    router.state.pool = None  # as after a start-up whose state file another router holds
    with taddons.context():
        flow = await router.ask(CHAT)
    assert flow.response.status_code == 500 and "no valid configuration" in error_of(flow)["message"]
    assert transport.sent == []


async def test_timeouts_fail_over_and_when_every_key_times_out_the_client_gets_a_504():
    transport = FakeTransport(AttemptResult(error="timeout"), gemini_answer("Late but here"))
    router = Router(transport)
    with taddons.context():
        flow = await router.ask(CHAT)
        router.finish(flow)
    assert [key for _, key in transport.sent] == [FIRST, SECOND]
    assert json.loads(flow.response.content)["choices"][0]["message"]["content"] == "Late but here"
    timing_out = FakeTransport(AttemptResult(error="timeout"), AttemptResult(error="timeout"))
    with taddons.context():
        flow = await Router(timing_out, retry_count=1).ask(CHAT)
    assert flow.response.status_code == 504 and "timeout" in error_of(flow)["message"]


def mistral_answer(text: str) -> AttemptResult:
    body = {
        "id": "cmpl-1",
        "object": "chat.completion",
        "model": "mistral-small-latest",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    return AttemptResult(status=200, headers={"content-type": "application/json"}, body=json.dumps(body).encode())


async def test_a_fallback_model_serves_when_every_gemini_key_cools_and_the_flow_is_planned_for_it():
    gemini, mistral = FakeTransport(rate_limited(), rate_limited()), FakeTransport(mistral_answer("Bonjour"))
    keys = [{"name": "first", "key": FIRST}, {"name": "second", "key": SECOND}, {"name": "m", "key": MISTRAL_KEY, "provider": "mistral"}]
    router = Router(gemini, keys=keys)
    router.routing.transports["mistral"] = mistral
    pool = {"keys": keys, "state_file": "", "max_wait_seconds": 0, "retry_backoff_ms": 0}
    router.apply(parse_config({"key_pool": pool, "fallbacks": {MODEL: ["mistral-small-latest"]}}, {}))
    with taddons.context():
        flow = await router.ask({"model": MODEL, "messages": [{"role": "user", "content": "Hello"}], "seed": 7})
        router.finish(flow)
    assert [key for _, key in gemini.sent] == [FIRST, SECOND] and [key for _, key in mistral.sent] == [MISTRAL_KEY]
    sent = json.loads(mistral.sent[0][0].body)  # planned for Mistral from the same request: Mistral's names
    assert sent["model"] == "mistral-small-latest" and sent["random_seed"] == 7 and "seed" not in sent
    answer = json.loads(flow.response.content)
    assert flow.response.status_code == 200 and answer["choices"][0]["message"]["content"] == "Bonjour" and answer["model"] == MODEL
    assert flow.response.headers["X-HPN-Served-By"] == "mistral/mistral-small-latest"
    ctx = context(flow)
    assert (ctx.fallback_from, ctx.tried_models) == (MODEL, [("gemini", MODEL), ("mistral", "mistral-small-latest")])
    assert flow.request.path == "/v1/chat/completions" and ctx.attempts == 3  # mitmweb shows what went upstream


async def test_every_transport_follows_each_config_and_is_closed_at_shutdown():
    transport = FakeTransport()
    router = Router(transport)
    reloaded = config(retry_count=1)
    router.apply(reloaded)
    assert transport.configured[-1] is reloaded and len(transport.configured) == 2
    await router.routing.done()
    assert transport.closed


async def test_a_reload_keeps_the_pools_state_and_scrubs_with_the_keys_new_names():
    quoted = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": f"Bad request for api_key:{SECOND}"}}
    transport = FakeTransport(rate_limited(), AttemptResult(status=400, body=json.dumps(quoted).encode()))
    router = Router(transport)
    with taddons.context():
        await router.ask(CHAT)  # first: 429, cooling; second: the 400
        keys = [{"name": "renamed-first", "key": FIRST}, {"name": "renamed-second", "key": SECOND}]
        router.apply(config(keys=keys))
        assert router.state.pool.state(0, NOW, MODEL) is KeyState.COOLING  # kept by value across the reload
        again = FakeTransport(AttemptResult(status=400, body=json.dumps(quoted).encode()))
        router.routing.transports["gemini"] = again
        flow = await router.ask(CHAT)
    assert [key for _, key in again.sent] == [SECOND]  # the cooling key is still skipped
    assert SECOND not in flow.response.text and "<key:renamed-second>" in flow.response.text
