"""Health: `GET /health` answered by the router itself, the pool's state in it, counters
only for callers that may see them, and each answered client request counted once."""

from __future__ import annotations

import json
from decimal import Decimal

from hpn_router.addons.access import Access
from hpn_router.addons.endpoints import Endpoints
from hpn_router.addons.health import Health
from hpn_router.config import parse_config
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool
from hpn_router.core.state import RouterState
from mitmproxy import http
from mitmproxy.test import taddons, tflow

TOKEN = "health-client-token-0123456789"
NOW = 1_700_000_000.0
MODEL = "gemini-2.5-flash"


def config(**server: object):
    keys = [{"name": "a", "key": "AIzaSyHealthKeyAaaaaaaaaaaa"}, {"name": "b", "key": "AIzaSyHealthKeyBbbbbbbbbbbb"}]
    return parse_config({"server": server, "key_pool": {"keys": keys, "state_file": ""}}, {})


class Router:
    def __init__(self, worker: int | None = None, **server: object) -> None:
        cfg = config(**server)
        self.state = RouterState(pool=KeyPool(cfg.key_pool.keys, cooldown_seconds=60))
        self.access, self.endpoints = Access(clock=lambda: NOW), Endpoints()
        self.health = Health(self.state, worker=worker, clock=lambda: NOW)
        self.access.apply(cfg)
        self.endpoints.apply(cfg)

    def get(self, path: str, token: str | None = None) -> http.HTTPFlow:
        flow = tflow.tflow()
        flow.response = None
        flow.request.method, flow.request.path, flow.request.content = "GET", path, b""
        if token:
            flow.request.headers["authorization"] = f"Bearer {token}"
        for hook in (self.access.request, self.health.request, self.endpoints.request):
            hook(flow)
        return flow


def answer(flow: http.HTTPFlow) -> dict:
    return json.loads(flow.response.content)


def test_health_reports_the_pool_and_the_counters():
    router = Router()
    router.state.total_saved = Decimal("1.234")
    router.state.total_charged = Decimal("0.456")
    with taddons.context():
        flow = router.get("/health")
    assert flow.response.status_code == 200 and flow.response.headers["content-type"] == "application/json"
    counters = {"total_requests": 0, "total_saved": "$1.23", "total_charged": "$0.46"}
    assert answer(flow) == {"status": "healthy", "active_keys": 2, "unanswered_keys": 0, **counters}


def test_keys_that_do_not_answer_are_counted_and_health_is_degraded_once_every_key_is_disabled():
    router = Router()
    router.state.pool.report(0, Outcome(Verdict.UNANSWERED, "timeout"), NOW, MODEL)
    with taddons.context():
        flow = router.get("/health")
    assert answer(flow)["status"] == "healthy" and answer(flow)["active_keys"] == 2 and answer(flow)["unanswered_keys"] == 1
    for index in (0, 1):
        router.state.pool.report(index, Outcome(Verdict.KEY_INVALID, "400 API key invalid"), NOW, MODEL)
    with taddons.context():
        flow = router.get("/health")
    assert answer(flow)["status"] == "degraded" and answer(flow)["active_keys"] == 0 and answer(flow)["unanswered_keys"] == 0


def test_with_client_tokens_only_clients_see_the_counters():
    router = Router(client_tokens=[TOKEN])
    with taddons.context():
        anonymous = router.get("/health")
        client = router.get("/health", token=TOKEN)
    assert anonymous.response.status_code == 200 and answer(anonymous) == {"status": "healthy"}
    assert answer(client)["active_keys"] == 2


def test_answered_client_requests_are_counted_once_and_health_itself_is_not():
    router = Router()
    with taddons.context():
        chat = tflow.tflow()
        chat.response = None
        chat.request.method, chat.request.path = "POST", "/v1/chat/completions"
        router.endpoints.request(chat)
        chat.response = http.Response.make(200, b"{}")
        router.health.response(chat)
        health = router.get("/health")
        router.health.response(health)
        router.health.response(tflow.tflow(resp=True))  # not a request the router handled
        assert answer(router.get("/health"))["total_requests"] == 1


def test_health_answers_get_only():
    router = Router()
    with taddons.context():
        flow = tflow.tflow()
        flow.response = None
        flow.request.method, flow.request.path = "POST", "/health"
        router.health.request(flow)
        router.endpoints.request(flow)
    assert flow.response.status_code == 405


def test_a_worker_says_which_it_is_to_every_caller():
    """Under server.workers > 1 each worker answers /health for itself (its own counters)."""
    router = Router(worker=1, client_tokens=[TOKEN])
    with taddons.context():
        anonymous = router.get("/health")
        client = router.get("/health", token=TOKEN)
    assert answer(anonymous) == {"status": "healthy", "worker": 1}
    assert answer(client)["worker"] == 1 and answer(client)["total_requests"] == 0
