"""Hook-level tests of Access, Endpoints and Health with mitmproxy's test helpers."""

from __future__ import annotations

import json

from hpn_router.addons.access import Access
from hpn_router.addons.endpoints import Endpoints
from hpn_router.addons.flowcontext import context
from hpn_router.addons.health import Health
from hpn_router.config import parse_config
from hpn_router.core.keypool import KeyPool
from hpn_router.core.state import RouterState
from mitmproxy.test import taddons, tflow, tutils

TOKEN = "client-token-0123456789"
CONFIG = parse_config({"key_pool": {"keys": [{"name": "k", "key": "AIzaSyK"}]}, "server": {"client_tokens": [TOKEN]}}, {})


def flow(method: str = "POST", path: str = "/v1/chat/completions", body: bytes = b"{}", auth: str | None = None):
    headers = [(b"authorization", f"Bearer {auth}".encode())] if auth else []
    f = tflow.tflow(req=tutils.treq(method=method.encode(), path=path.encode(), content=body, headers=headers))
    f.response = None
    return f


def error_of(f) -> dict:
    return json.loads(f.response.content)["error"]


def test_missing_token_is_401_in_openai_format():
    access = Access(clock=lambda: 0.0)
    with taddons.context(access):
        access.apply(CONFIG)
        f = flow()
        access.request(f)
        assert f.response.status_code == 401
        assert error_of(f)["code"] == "invalid_api_key"


def test_valid_token_names_the_client():
    access = Access(clock=lambda: 0.0)
    with taddons.context(access):
        access.apply(CONFIG)
        f = flow(auth=TOKEN)
        access.request(f)
        assert f.response is None
        assert context(f).client.startswith("client_") and context(f).full_health
        assert TOKEN not in context(f).client


def test_already_answered_flows_are_left_alone():
    access, endpoints = Access(clock=lambda: 0.0), Endpoints()
    with taddons.context(access, endpoints):
        access.apply(CONFIG)
        endpoints.apply(CONFIG)
        f = flow()
        f.response = tutils.tresp()
        access.request(f)
        endpoints.request(f)
        assert f.response.status_code == 200 and context(f).route is None


def test_unknown_path_is_404_and_wrong_method_405():
    endpoints = Endpoints()
    with taddons.context(endpoints):
        endpoints.apply(CONFIG)
        f = flow(path="/v1/audio/speech")
        endpoints.request(f)
        assert f.response.status_code == 404 and "/v1/audio/speech" in error_of(f)["message"]
        g = flow(method="GET", path="/v1/chat/completions")
        endpoints.request(g)
        assert g.response.status_code == 405
        assert g.response.reason == "Method Not Allowed" and g.response.headers["allow"] == "POST"
        assert error_of(g)["code"] == "method_not_allowed"


def test_health_hides_counters_from_anonymous_callers():
    state = RouterState(pool=KeyPool(CONFIG.key_pool.keys, cooldown_seconds=60))
    health = Health(state)
    with taddons.context(health):
        f = flow(method="GET", path="/health")
        context(f).full_health = False
        health.request(f)
        assert json.loads(f.response.content) == {"status": "healthy"}
        g = flow(method="GET", path="/health")
        health.request(g)
        assert json.loads(g.response.content)["active_keys"] == 1
