"""Access: client tokens (Bearer or Google's header), the per-client rate, and bodies over
the limit, each refused in OpenAI's format before anything else runs."""

from __future__ import annotations

import json

from hpn_router.addons.access import Access
from hpn_router.addons.sharedstate import SharedPoolState
from hpn_router.config import parse_config
from hpn_router.core.state import RouterState
from mitmproxy.test import taddons, tflow

TOKENS = ["client-one-0123456789abcdef", "client-two-0123456789abcdef"]


def access(shared: SharedPoolState | None = None, **server: object) -> Access:
    addon = Access(clock=lambda: 1000.0, shared=shared)
    addon.apply(parse_config({"server": server, "key_pool": {"keys": [{"name": "k", "key": "AIzaSyAccessKey"}], "state_file": ""}}, {}))
    return addon


def ask(addon: Access, headers: dict[str, str] | None = None, path: str = "/v1/chat/completions", body: bytes = b"{}"):
    flow = tflow.tflow()
    flow.response = None
    flow.request.method, flow.request.path, flow.request.content = "POST", path, body
    flow.request.headers.update(headers or {})
    with taddons.context():
        addon.requestheaders(flow)
        if flow.response is None:
            addon.request(flow)
    return flow


def test_a_known_token_passes_in_either_header_and_an_unknown_one_is_401():
    addon = access(client_tokens=TOKENS)
    assert ask(addon, {"authorization": f"Bearer {TOKENS[1]}"}).response is None
    assert ask(addon, {"x-goog-api-key": TOKENS[0]}).response is None
    for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKENS[0]}):
        refused = ask(addon, headers)
        assert refused.response.status_code == 401 and json.loads(refused.response.content)["error"]["code"] == "invalid_api_key"


def test_without_client_tokens_everyone_passes():
    assert ask(access()).response is None


def test_the_per_client_rate_is_enforced_with_a_retry_after():
    addon = access(client_tokens=TOKENS, client_rpm=2)
    mine, theirs = {"authorization": f"Bearer {TOKENS[0]}"}, {"authorization": f"Bearer {TOKENS[1]}"}
    assert ask(addon, mine).response is None and ask(addon, mine).response is None
    limited = ask(addon, mine)
    assert limited.response.status_code == 429 and int(limited.response.headers["retry-after"]) >= 1
    assert ask(addon, theirs).response is None  # each client has its own window


def test_with_redis_down_a_router_allows_its_share_of_the_limit():
    shared = SharedPoolState(RouterState())
    shared.url, shared.state.redis, shared.live_routers = "redis://127.0.0.1:1", "down", 2  # two routers were alive
    addon = access(shared, client_tokens=TOKENS, client_rpm=4)
    mine = {"authorization": f"Bearer {TOKENS[0]}"}
    assert ask(addon, mine).response is None and ask(addon, mine).response is None
    limited = ask(addon, mine)
    assert limited.response.status_code == 429
    assert "4 requests per minute" in json.loads(limited.response.content)["error"]["message"]  # the limit the client knows


def test_a_body_over_the_limit_is_a_413():
    flow = ask(access(max_body_bytes=1024), body=b"x" * 2048)
    assert flow.response.status_code == 413 and "1024" in json.loads(flow.response.content)["error"]["message"]


def refusal(flow) -> tuple[int, str]:
    return flow.response.status_code, json.loads(flow.response.content)["error"]["message"]


def test_a_chunked_body_over_the_limit_is_a_413_once_read():
    addon = access(max_body_bytes=1024)
    flow = tflow.tflow()
    flow.response = None
    flow.request.method, flow.request.path, flow.request.content = "POST", "/v1/chat/completions", b"x" * 2048
    flow.request.headers.pop("content-length", None)  # chunked: the size is known only once read
    flow.request.headers["transfer-encoding"] = "chunked"
    with taddons.context():
        addon.requestheaders(flow)
        assert flow.response is None
        addon.request(flow)
    assert refusal(flow) == (413, "The request body is 2048 bytes; the limit is 1024.")


def test_json_too_deep_too_large_or_with_a_lone_surrogate_is_a_400_before_parsing():
    addon = access(max_json_depth=4, max_json_items=100)
    deep = ask(addon, body=b'{"a": [[[[["too deep"]]]]]}')
    assert refusal(deep) == (400, "The request body nests JSON deeper than 4 levels.")
    many = ask(addon, body=json.dumps({"messages": list(range(500))}).encode())
    assert refusal(many)[0] == 400 and "more than 100 JSON elements" in refusal(many)[1]
    surrogate = ask(addon, body=b'{"content": "\\ud800"}')
    assert refusal(surrogate)[0] == 400 and "surrogate" in refusal(surrogate)[1]
    assert ask(addon, body=b'{"content": "\\ud83d\\ude00"}').response is None  # a whole pair is fine


def warnings_when_running(addon: Access, modes: list[str], listen_host: str = "") -> list[str]:
    from loguru import logger

    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING", format="{message}")
    try:
        with taddons.context() as tctx:
            tctx.options.update(mode=modes, listen_host=listen_host)
            addon.running()
    finally:
        logger.remove(sink)
    return lines


def test_listening_beyond_loopback_without_client_tokens_is_warned_about():
    [line] = warnings_when_running(access(), ["reverse:https://generativelanguage.googleapis.com@0.0.0.0:8080", "regular@127.0.0.1:8888"])
    assert "listens on 0.0.0.0 without client tokens" in line
    [line] = warnings_when_running(access(), ["regular@8888"], listen_host="192.168.1.5")  # no host in the spec: listen_host
    assert "listens on 192.168.1.5 without" in line
    [line] = warnings_when_running(access(), ["regular@router.lan:8888"])  # a name other than localhost may be any interface
    assert "listens on router.lan without" in line
    assert warnings_when_running(access(), ["regular@localhost:8888", "regular@[::1]:8889", "regular@127.0.0.1:8890"]) == []
    assert warnings_when_running(access(client_tokens=TOKENS), ["regular@0.0.0.0:8888"]) == []


def test_a_flow_already_answered_is_left_alone():
    addon = access(max_body_bytes=1024)
    flow = tflow.tflow(resp=True)  # answered (by an earlier addon): not a client flow any more
    flow.request.headers["content-length"] = "4096"
    with taddons.context():
        addon.requestheaders(flow)
    assert flow.response.status_code == 200
