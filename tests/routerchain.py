"""The addons a client request meets on its way to Gemini and back, in-process: Endpoints,
Translation with the real translators, KeyRouting with a fake transport in place of Gemini.
Tests read what the client gets (status, body, headers) and what Gemini was sent."""

from __future__ import annotations

import json
from typing import Any

from hpn_router.addons.chat import ChatTranslation
from hpn_router.addons.embeddings import Embeddings
from hpn_router.addons.endpoints import Endpoints
from hpn_router.addons.flowcontext import context
from hpn_router.addons.keyrouting import KeyRouting
from hpn_router.addons.messages import CountTokens, MessagesTranslation
from hpn_router.addons.modelsendpoint import ModelsEndpoint
from hpn_router.addons.native import NativePassthrough
from hpn_router.addons.poolkeeper import PoolKeeper
from hpn_router.addons.responses import ResponsesTranslation
from hpn_router.addons.responsestore import StoredResponses
from hpn_router.addons.translation import Translation
from hpn_router.config import RouterConfig, parse_config
from hpn_router.core.state import RouterState
from hpn_router.core.transport import AttemptResult, UpstreamRequest
from mitmproxy import http
from mitmproxy.test import tflow

POOL_KEY = "AIzaSyRouterChainKey0123456789AbCdEfGhIj"
NOW = 1_700_000_000.0


def chain_config(**sections: Any) -> RouterConfig:
    pool = {"keys": [{"name": "pool-key", "key": POOL_KEY}], "state_file": "", "max_wait_seconds": 0, "retry_backoff_ms": 0}
    return parse_config({"key_pool": pool, **sections}, {})


def gemini_json(body: Any, status: int = 200) -> AttemptResult:
    return AttemptResult(status=status, headers={"content-type": "application/json"}, body=json.dumps(body).encode())


class FakeTransport:
    """Answers each send with the next scripted result and records what it was sent."""

    def __init__(self, *answers: AttemptResult) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[UpstreamRequest, str]] = []
        self.timeout_seconds = 0.0

    async def send(self, request: UpstreamRequest, key: str) -> AttemptResult:
        self.sent.append((request, key))
        return self.answers.pop(0)

    def configure(self, config: RouterConfig) -> None:
        pass

    async def close(self) -> None:
        pass


class RouterChain:
    def __init__(self, *answers: AttemptResult, config: RouterConfig | None = None, translators: dict[str, Any] | None = None) -> None:
        self.transport = FakeTransport(*answers)
        self.state = RouterState()
        models = ModelsEndpoint(clock=lambda: NOW)
        self.responses = ResponsesTranslation(clock=lambda: NOW)
        default = {
            "chat": ChatTranslation(),
            "responses": self.responses,
            "response": StoredResponses(self.responses.store, clock=lambda: NOW),
            "messages": MessagesTranslation(),
            "count_tokens": CountTokens(),
            "embeddings": Embeddings(),
            "models": models,
            "model": models,
            "native": NativePassthrough(),
        }
        self.endpoints = Endpoints()
        self.translation = Translation(translators or default)
        self.pool = PoolKeeper(self.state, clock=lambda: NOW)
        self.routing = KeyRouting(self.state, transports={"gemini": self.transport}, clock=lambda: NOW)
        cfg = config or chain_config()
        for addon in (self.endpoints, self.translation, self.pool, self.routing):
            addon.apply(cfg)

    async def send(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, *, client: str | None = None
    ) -> http.HTTPFlow:
        """One client request through the request hooks, then (if Gemini answered it) the
        response hooks. `client` is the name Access would have given the client."""
        flow = tflow.tflow()
        flow.response = None
        flow.request.method, flow.request.path = method, path
        flow.request.headers.clear()
        flow.request.headers.update({"host": "localhost", "content-type": "application/json", **(headers or {})})
        flow.request.content = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        context(flow).client = client
        self.endpoints.request(flow)
        self.translation.request(flow)
        await self.routing.request(flow)
        if flow.response is not None:
            self.translation.response(flow)
        return flow

    @property
    def sent(self) -> list[UpstreamRequest]:
        return [request for request, _ in self.transport.sent]


def json_of(flow: http.HTTPFlow) -> Any:
    assert flow.response is not None
    return json.loads(flow.response.content)
