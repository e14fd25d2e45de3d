"""GeminiTransport against a real HTTP server on 127.0.0.1: what goes on the wire (the key
only in its header), what comes back (kept headers, bodies, open streams), and failures
reported by kind only (timeout, refused connection)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from hpn_router.core.transport import UpstreamRequest
from hpn_router.edge.upstream import GeminiTransport, MistralTransport
from localserver import serving_app

KEY = "AIzaSyUpstreamKey0123456789AbCdEfGhIjKl"
PATH = "/v1beta/models/gemini-2.5-flash:generateContent"


class Gemini:
    """A stand-in Gemini that records each request and answers as told."""

    def __init__(self) -> None:
        self.seen: list[dict[str, object]] = []
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(
            {"method": request.method, "url": str(request.url), "headers": dict(request.headers), "body": await request.read()}
        )
        if request.path.endswith(":slow"):
            await self.release.wait()
        if request.path.endswith(":streamGenerateContent"):
            response = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await response.prepare(request)
            for n in range(3):
                await response.write(f'data: {{"n": {n}}}\r\n\r\n'.encode())
            await response.write_eof()
            return response
        if request.path.endswith(":limited"):
            return web.json_response({"error": {"code": 429}}, status=429)
        if request.path.endswith(":cookie"):  # a load balancer's affinity cookie, as Cloudflare sets one
            response = web.json_response({"ok": True})
            response.set_cookie("__cf_bm", "affinity-of-the-first-caller")
            return response
        if request.path == "/v1/chat/completions":
            return web.json_response({"message": "Requests rate limit exceeded"}, status=429, headers={"Retry-After": "3"})
        return web.json_response({"ok": True}, headers={"x-gemini-service-tier": "standard", "x-internal": "dropped"})


@pytest.fixture
async def gemini() -> AsyncIterator[tuple[Gemini, str]]:
    fake = Gemini()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    async with serving_app(app) as base_url:
        yield fake, f"{base_url}/"
        fake.release.set()


def request(path: str = PATH, *, query: str = "", stream: bool = False, method: str = "POST", body: bytes = b'{"contents": []}'):
    return UpstreamRequest(method, path, query, body if method != "GET" else b"", stream, "gemini-2.5-flash")


async def test_the_key_travels_only_in_its_header_and_the_answer_comes_back(gemini):
    fake, base_url = gemini
    transport = GeminiTransport(base_url, timeout_seconds=5)
    try:
        result = await transport.send(request(), KEY)
    finally:
        await transport.close()
    [seen] = fake.seen
    assert seen["method"] == "POST" and seen["url"].endswith(PATH) and KEY not in seen["url"]
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["x-goog-api-key"] == KEY and headers["content-type"] == "application/json"
    assert [name for name, value in headers.items() if KEY in value] == ["x-goog-api-key"]
    assert seen["body"] == b'{"contents": []}'
    assert result.status == 200 and result.body == b'{"ok": true}' and result.error is None and result.stream is None
    assert result.headers == {"content-type": "application/json; charset=utf-8", "x-gemini-service-tier": "standard"}


async def test_a_get_sends_no_body_and_keeps_its_query(gemini):
    fake, base_url = gemini
    transport = GeminiTransport(base_url, timeout_seconds=5)
    try:
        await transport.send(request("/v1beta/models", query="pageSize=5", method="GET"), KEY)
    finally:
        await transport.close()
    assert fake.seen[0]["method"] == "GET" and fake.seen[0]["url"].endswith("/v1beta/models?pageSize=5") and fake.seen[0]["body"] == b""


async def test_an_accepted_stream_is_returned_open_and_an_error_is_read_whole(gemini):
    _, base_url = gemini
    transport = GeminiTransport(base_url, timeout_seconds=5)
    try:
        result = await transport.send(request("/v1beta/models/m:streamGenerateContent", query="alt=sse", stream=True), KEY)
        assert result.status == 200 and result.stream is not None and result.body == b""
        chunks = b"".join([chunk async for chunk in result.stream.content.iter_any()])
        assert chunks.count(b"data: ") == 3
        result.close()
        assert result.stream is None
        limited = await transport.send(request("/v1beta/models/m:limited", stream=True), KEY)
        assert limited.status == 429 and limited.stream is None and b"429" in limited.body
    finally:
        await transport.close()


async def test_an_answer_slower_than_the_timeout_is_reported_as_a_timeout(gemini):
    fake, base_url = gemini
    transport = GeminiTransport(base_url, timeout_seconds=0.2)
    try:
        result = await transport.send(request("/v1beta/models/m:slow"), KEY)
    finally:
        await transport.close()
    assert len(fake.seen) == 1  # it was sent, then given up on
    assert result.status is None and result.error == "timeout" and result.stream is None


async def test_a_refused_connection_is_reported_by_kind_only():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    transport = GeminiTransport(f"http://127.0.0.1:{port}", timeout_seconds=5)
    try:
        result = await transport.send(request(), KEY)
    finally:
        await transport.close()
    assert result.status is None and result.error is not None
    assert result.error.startswith("connection error (") and str(port) not in result.error and KEY not in result.error


async def test_configure_follows_the_configs_base_url_and_timeout(gemini):
    from hpn_router.config import parse_config

    fake, base_url = gemini
    transport = GeminiTransport()  # as KeyRouting builds it, before the first config
    try:
        transport.configure(parse_config({"gemini": {"base_url": base_url}, "server": {"read_timeout_seconds": 7}}, {"HPN_API_KEYS": KEY}))
        assert transport.timeout_seconds == 7 and transport.base_url == base_url.rstrip("/")
        answered = await transport.send(request(), KEY)
        assert answered.status == 200 and len(fake.seen) == 1
    finally:
        await transport.close()


async def test_mistral_gets_its_key_as_a_bearer_token_from_its_own_base_url_and_retry_after_comes_back(gemini):
    from hpn_router.config import parse_config

    fake, base_url = gemini
    transport = MistralTransport()
    config = parse_config({"mistral": {"base_url": base_url}}, {"HPN_API_KEYS": KEY, "HPN_MISTRAL_API_KEYS": "mistralKey1"})
    try:
        transport.configure(config)
        result = await transport.send(UpstreamRequest("POST", "/v1/chat/completions", "", b"{}", False, "m", "mistral"), "mistralKey1")
    finally:
        await transport.close()
    headers = {k.lower(): v for k, v in fake.seen[0]["headers"].items()}
    assert headers["authorization"] == "Bearer mistralKey1" and "x-goog-api-key" not in headers
    assert [name for name, value in headers.items() if "mistralKey1" in value] == ["authorization"]
    assert result.status == 429 and result.headers["retry-after"] == "3"


async def test_anthropic_gets_x_api_key_and_its_version_and_the_organization_comes_back_as_the_group():
    from anthropic_emulator import make_app, parse_scenario
    from hpn_router.config import parse_config
    from hpn_router.edge.upstream import AnthropicTransport

    key = "sk-ant-api03-EdgeKey-0000000000000000000000000000000000000000000-AAAA"
    scenario = parse_scenario({"keys": [{"key": key, "organization": "org-edge", "script": ["ok", "rate_limit"], "retry_after": 9}]})
    transport = AnthropicTransport()
    body = b'{"model": "claude-haiku-4-5", "max_tokens": 20, "messages": [{"role": "user", "content": "Hi"}]}'
    async with serving_app(make_app(scenario)) as base_url:
        try:
            transport.configure(parse_config({"anthropic": {"base_url": base_url}}, {"HPN_ANTHROPIC_API_KEYS": key}))
            answered = await transport.send(UpstreamRequest("POST", "/v1/messages", "", body, False, "claude-haiku-4-5", "anthropic"), key)
            limited = await transport.send(UpstreamRequest("POST", "/v1/messages", "", body, False, "claude-haiku-4-5", "anthropic"), key)
        finally:
            await transport.close()
    organization = scenario.keys[0].organization_id
    assert answered.status == 200 and answered.group == organization and limited.group == organization
    # The organization id is the pool's business: it is not among the headers passed on to the client.
    assert all(organization not in value for value in [*answered.headers.values(), *limited.headers.values()])
    assert limited.status == 429 and limited.headers["retry-after"] == "9" and limited.headers["retry-after-ms"] == "9000"


async def test_a_cookie_an_upstream_sets_is_never_sent_back_with_a_later_request(gemini):
    # One key's (or client's) cookie must not travel with another's request: the transport keeps none.
    fake, base_url = gemini
    # By name: aiohttp's default cookie jar would keep a cookie for a host name, never for an IP address.
    transport = GeminiTransport(base_url.replace("127.0.0.1", "localhost"), timeout_seconds=5)
    try:
        await transport.send(request("/v1beta/models/m:cookie"), KEY)
        await transport.send(request(), "AIzaSyAnotherKey0123456789AbCdEfGhIjKlM")
    finally:
        await transport.close()
    later = {k.lower(): v for k, v in fake.seen[1]["headers"].items()}
    assert "cookie" not in later
