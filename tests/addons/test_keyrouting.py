"""KeyRouting in-process: a scripted transport, handed to KeyRouting, stands in for Gemini, and
each client request goes through the real chain (Endpoints, Translation with the chat
translator, KeyRouting, Translation again), so the tests read what the client gets. No
sockets but the relay's own (on 127.0.0.1), no emulator."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hpn_router.addons.chat import ChatTranslation
from hpn_router.addons.endpoints import Endpoints
from hpn_router.addons.flowcontext import UpstreamPlan, context
from hpn_router.addons.keyrouting import MAX_PAGES, KeyRouting
from hpn_router.addons.poolkeeper import PoolKeeper
from hpn_router.addons.translation import Translation
from hpn_router.config import parse_config
from hpn_router.core.keypool import KeyState
from hpn_router.core.state import RouterState
from hpn_router.core.transport import AttemptResult, UpstreamRequest
from hpn_router.edge.relay import TOKEN_HEADER
from mitmproxy import http
from mitmproxy.test import taddons, tflow

FIRST, SECOND = "AIzaSyRoutingKeyFirstAaaaaaaaaaaaaaaaaaa", "AIzaSyRoutingKeySecondBbbbbbbbbbbbbbbbbb"
MISTRAL_KEY = "mistralRoutingKeyCccccccccccccccc"
MODEL = "gemini-2.5-flash"
NOW = 1_700_000_000.0


def config(**key_pool: Any):
    keys = [{"name": "first", "key": FIRST}, {"name": "second", "key": SECOND}]
    pool = {"keys": keys, "state_file": "", "max_wait_seconds": 0, "retry_backoff_ms": 0, **key_pool}
    return parse_config({"key_pool": pool, "gemini": {"default_model": MODEL}}, {})


def gemini_answer(text: str = "Hi there") -> AttemptResult:
    body = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5},
    }
    return AttemptResult(status=200, headers={"content-type": "application/json"}, body=json.dumps(body).encode())


def rate_limited() -> AttemptResult:
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaId": "GenerateRequestsPerMinutePerProjectPerModel"}],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"},
    ]
    body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota", "details": details}}
    return AttemptResult(status=429, headers={"content-type": "application/json"}, body=json.dumps(body).encode())


class FakeTransport:
    """Answers each send with the next scripted result and records what it was sent."""

    def __init__(self, *answers: AttemptResult) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[UpstreamRequest, str]] = []
        self.configured: list[Any] = []
        self.closed = False

    def configure(self, config: Any) -> None:
        self.configured.append(config)

    async def send(self, request: UpstreamRequest, key: str) -> AttemptResult:
        self.sent.append((request, key))
        return self.answers.pop(0)

    async def close(self) -> None:
        self.closed = True


class Router:
    """The addons a chat request meets, wired as router.py wires them."""

    def __init__(self, transport: Any, **key_pool: Any) -> None:
        self.state = RouterState()
        self.endpoints = Endpoints()
        self.translation = Translation({"chat": ChatTranslation()})
        self.pool = PoolKeeper(self.state, clock=lambda: NOW)
        self.routing = KeyRouting(self.state, transports={"gemini": transport}, clock=lambda: NOW)
        self.apply(config(**key_pool))

    def apply(self, cfg: Any) -> None:
        for addon in (self.endpoints, self.translation, self.pool, self.routing):
            addon.apply(cfg)

    async def ask(self, body: dict[str, Any]) -> http.HTTPFlow:
        flow = self.client_request(body)
        await self.route(flow)
        return flow

    @staticmethod
    def client_request(body: dict[str, Any]) -> http.HTTPFlow:
        flow = tflow.tflow()
        flow.response = None
        flow.request.method = "POST"
        flow.request.path = "/v1/chat/completions"
        flow.request.headers["content-type"] = "application/json"
        flow.request.headers["authorization"] = "Bearer client-token"
        flow.request.content = json.dumps(body).encode()
        return flow

    async def route(self, flow: http.HTTPFlow) -> None:
        self.endpoints.request(flow)
        self.translation.request(flow)
        await self.routing.request(flow)

    def finish(self, flow: http.HTTPFlow) -> None:
        self.translation.response(flow)
        self.pool.response(flow)


CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}


def error_of(flow: http.HTTPFlow) -> dict[str, Any]:
    return json.loads(flow.response.content)["error"]


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


def batch_flow(*bodies: bytes, provider: str = "gemini") -> http.HTTPFlow:
    """A flow as a translator leaves it: the plan names the upstream bodies."""
    flow = tflow.tflow()
    flow.response = None
    flow.request.content = b"the request mitmweb shows, not sent"
    path = "/v1beta/models/text-embedding-004:batchEmbedContents"
    context(flow).upstream = UpstreamPlan("POST", path, "", stream=False, model="text-embedding-004", batches=bodies, provider=provider)
    return flow


async def test_each_batch_goes_upstream_as_planned_and_the_answers_come_back_as_one_array():
    answers = [AttemptResult(status=200, body=b'{"embeddings": [{"values": [%d.0]}]}' % n) for n in range(2)]
    transport = FakeTransport(answers[0], rate_limited(), answers[1])
    router = Router(transport)
    with taddons.context():
        flow = batch_flow(b'{"requests": [1]}', b'{"requests": [2]}')
        await router.routing.request(flow)
    assert [(request.body, key) for request, key in transport.sent] == [
        (b'{"requests": [1]}', FIRST),
        (b'{"requests": [2]}', SECOND),  # the keys take turns; the second batch fails over on its own
        (b'{"requests": [2]}', FIRST),
    ]
    assert flow.response.status_code == 200 and flow.response.headers["content-type"] == "application/json"
    assert json.loads(flow.response.content) == [{"embeddings": [{"values": [0.0]}]}, {"embeddings": [{"values": [1.0]}]}]
    assert context(flow).attempts == 3 and context(flow).key_name == "first"


async def test_a_batch_gemini_refuses_answers_the_client_and_later_batches_are_not_sent():
    refused = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": f"bad batch for api_key:{FIRST}"}}
    transport = FakeTransport(AttemptResult(status=400, body=json.dumps(refused).encode()))
    router = Router(transport)
    with taddons.context():
        flow = batch_flow(b'{"requests": [1]}', b'{"requests": [2]}')
        await router.routing.request(flow)
    assert len(transport.sent) == 1
    assert flow.response.status_code == 400 and FIRST not in flow.response.text and "<key:first>" in flow.response.text


async def test_the_plans_provider_picks_the_transport_and_its_keys_and_an_unknown_one_sends_nothing():
    gemini, mistral = FakeTransport(), FakeTransport(AttemptResult(status=200, body=b"[]"))
    keys = [{"name": "first", "key": FIRST}, {"name": "m", "key": MISTRAL_KEY, "provider": "mistral"}, {"name": "second", "key": SECOND}]
    router = Router(gemini, keys=keys)
    router.routing.transports["mistral"] = mistral
    with taddons.context():
        served = batch_flow(b"{}", provider="mistral")
        await router.routing.request(served)
        unknown = batch_flow(b"{}", provider="nobody")
        await router.routing.request(unknown)
    assert gemini.sent == [] and [key for _, key in mistral.sent] == [MISTRAL_KEY] and served.response.status_code == 200
    assert mistral.sent[0][0].provider == "mistral"
    assert unknown.response.status_code == 500 and "no valid configuration" in error_of(unknown)["message"]


def paged_listing_flow(mistral_parts: bool = True) -> http.HTTPFlow:
    """The model lists' plan: a paged Gemini part (a page's body names the next one) and a Mistral part."""
    flow = tflow.tflow()
    flow.response = None

    def next_page(body: bytes) -> str | None:
        return json.loads(body).get("next")

    gemini = UpstreamPlan("GET", "/v1beta/models", "p=0", stream=False, model="models.list", next_page=next_page)
    mistral = UpstreamPlan("GET", "/v1/models", "", stream=False, model="models.list", provider="mistral")
    parts = (gemini, mistral) if mistral_parts else (gemini,)
    context(flow).upstream = UpstreamPlan("GET", "/v1/models", "", stream=False, model="models.list", parts=parts)
    return flow


def paging_router(*gemini_answers: AttemptResult) -> tuple[Router, FakeTransport]:
    keys = [{"name": "first", "key": FIRST}, {"name": "m", "key": MISTRAL_KEY, "provider": "mistral"}]
    gemini = FakeTransport(*gemini_answers)
    router = Router(gemini, keys=keys)
    router.routing.transports["mistral"] = FakeTransport(AttemptResult(status=200, body=b'{"data": []}'))
    return router, gemini


async def test_a_paged_part_follows_its_pages_and_answers_them_as_one_array():
    pages = [AttemptResult(status=200, body=json.dumps({"n": 0, "next": "p=1"}).encode()), AttemptResult(status=200, body=b'{"n": 1}')]
    router, gemini = paging_router(*pages)
    with taddons.context():
        flow = paged_listing_flow()
        await router.routing.request(flow)
    assert [request.query for request, _ in gemini.sent] == ["p=0", "p=1"]
    assert json.loads(flow.response.content) == {"gemini": [{"n": 0, "next": "p=1"}, {"n": 1}], "mistral": {"data": []}}
    assert [a.provider for a in context(flow).attempt_log].count("gemini") == 2


async def test_pages_that_never_end_stop_at_the_bound_and_a_failed_page_leaves_the_provider_out():
    endless = [AttemptResult(status=200, body=json.dumps({"next": f"p={n + 1}"}).encode()) for n in range(MAX_PAGES + 2)]
    router, gemini = paging_router(*endless)
    with taddons.context():
        flow = paged_listing_flow(mistral_parts=False)
        await router.routing.request(flow)
    assert len(gemini.sent) == MAX_PAGES and len(json.loads(flow.response.content)["gemini"]) == MAX_PAGES
    refused = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad page"}}
    router, gemini = paging_router(endless[0], AttemptResult(status=400, body=json.dumps(refused).encode()))
    with taddons.context():
        flow = paged_listing_flow()
        await router.routing.request(flow)
    assert len(gemini.sent) == 2 and json.loads(flow.response.content) == {"mistral": {"data": []}}


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
