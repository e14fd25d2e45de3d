"""Shared by the KeyRouting tests (tests/addons/test_keyrouting.py, test_multiroute.py): a
scripted transport that stands in for a provider and the addons a chat request meets, wired
as router.py wires them. No sockets but the relay's own, no emulator."""

from __future__ import annotations

import json
from typing import Any

from hpn_router.addons.chat import ChatTranslation
from hpn_router.addons.endpoints import Endpoints
from hpn_router.addons.keyrouting import KeyRouting
from hpn_router.addons.poolkeeper import PoolKeeper
from hpn_router.addons.translation import Translation
from hpn_router.config import parse_config
from hpn_router.core.state import RouterState
from hpn_router.core.transport import AttemptResult, UpstreamRequest
from mitmproxy import http
from mitmproxy.test import tflow

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


def error_of(flow: http.HTTPFlow) -> dict[str, Any]:
    return json.loads(flow.response.content)["error"]
