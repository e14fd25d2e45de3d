"""Sends one attempt to a provider (Gemini, Mistral, Anthropic) with one key, over pooled keep-alive connections.

The router makes its upstream attempts itself (see README "How failover works"): mitmproxy
cannot retry a first attempt whose connection failed or timed out, and it cannot deliver a
retried stream incrementally. aiohttp gives pooled connections and per-attempt timeouts.

The key travels only in a header: Gemini's `x-goog-api-key`, Mistral's `Authorization: Bearer`,
Anthropic's `x-api-key`. Transport errors are reported by
exception class name only: third-party messages can quote URLs and headers.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import aiohttp

from hpn_router.core.transport import AttemptResult, UpstreamRequest

if TYPE_CHECKING:
    from hpn_router.config import RouterConfig


ANTHROPIC_VERSION = "2023-06-01"  # the Messages API version the translator (core/providers/anthropic/) writes
# Response headers worth passing on; hop-by-hop and length headers are recomputed.
_KEEP_HEADERS = ("content-type", "x-gemini-service-tier", "server-timing")


class GeminiTransport:
    """The `gemini` transport KeyRouting uses unless it is handed another (tests hand it a
    scripted one). `configure` follows each config, keeping its connections across reloads."""

    def __init__(self, base_url: str = "", *, timeout_seconds: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self._session: aiohttp.ClientSession | None = None

    keep_headers = _KEEP_HEADERS
    group_header = ""  # the response header naming the key's quota group, if the provider sends one

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-goog-api-key": key}

    def configured_base_url(self, config: RouterConfig) -> str:
        return config.gemini.base_url

    def configure(self, config: RouterConfig) -> None:
        """The provider's base URL and server.read_timeout_seconds. A new base URL gets new connections
        (streams still open on the old ones finish there); a new timeout bounds the next attempts."""
        base_url = self.configured_base_url(config).rstrip("/")
        if base_url != self.base_url:
            self._session = None
        self.base_url = base_url
        self.timeout_seconds = config.server.read_timeout_seconds

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30)
            # Per-phase timeouts: connect and every read are bounded; the whole attempt is
            # bounded in send(). A stream may run longer than one timeout, as long as data flows.
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout_seconds, sock_read=self.timeout_seconds)
            # No cookie jar: a cookie one answer set (a load balancer's affinity, Cloudflare's __cf_bm)
            # must not travel with the next request, made with another key for another client.
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=timeout, auto_decompress=True, trust_env=False, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def send(self, request: UpstreamRequest, key: str) -> AttemptResult:
        url = f"{self.base_url}{request.path}" + (f"?{request.query}" if request.query else "")
        headers = {**self.auth_headers(key), "content-type": "application/json"}
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for runs the call as a task of
            # its own, one more event-loop turn before the request leaves.
            async with asyncio.timeout(self.timeout_seconds):
                return await self._send(request, url, headers)
        except TimeoutError:
            return AttemptResult(error="timeout")
        except aiohttp.ClientError as e:
            return AttemptResult(error=f"connection error ({type(e).__name__})")
        except OSError as e:
            return AttemptResult(error=f"connection error ({type(e).__name__})")

    async def _send(self, request: UpstreamRequest, url: str, headers: dict[str, str]) -> AttemptResult:
        data = request.body if request.method != "GET" else None
        response = await self._client().request(request.method, url, data=data, headers=headers)
        kept = {name: response.headers[name] for name in self.keep_headers if name in response.headers}
        group = response.headers.get(self.group_header) if self.group_header else None
        if request.stream and response.status == 200:
            return AttemptResult(status=200, headers=kept, stream=response, group=group)
        try:
            body = await response.read()
        finally:
            response.release()
        return AttemptResult(status=response.status, headers=kept, body=body, group=group)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class MistralTransport(GeminiTransport):
    """The `mistral` transport: the same connection handling, Mistral's base URL and Bearer
    auth; Retry-After is kept, since it sets the cooldown of a 429 (core/classify.py)."""

    keep_headers = ("content-type", "retry-after")

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"}

    def configured_base_url(self, config: RouterConfig) -> str:
        return config.mistral.base_url


class AnthropicTransport(GeminiTransport):
    """The `anthropic` transport: Anthropic's base URL, `x-api-key` and the API version the
    translator writes for. The organization id (which keys share limits) is read as the
    attempt's group, never passed on; the retry and reset headers set a 429's cooldown."""

    keep_headers = (
        "content-type",
        "retry-after",
        "retry-after-ms",
        "anthropic-ratelimit-requests-reset",
        "anthropic-ratelimit-tokens-reset",
        "anthropic-ratelimit-input-tokens-reset",
        "anthropic-ratelimit-output-tokens-reset",
    )
    group_header = "anthropic-organization-id"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key, "anthropic-version": ANTHROPIC_VERSION}

    def configured_base_url(self, config: RouterConfig) -> str:
        return config.anthropic.base_url
