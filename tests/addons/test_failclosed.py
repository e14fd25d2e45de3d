"""Hook-level tests of FailClosed: every flow the router serves targets the relay until the
router answers or routes it, and a failed hook's half-made answer ends as the router's error.
(The guard around each hook is the Pipeline's: tests/addons/test_pipeline.py.)"""

from __future__ import annotations

import json

import pytest
from hpn_router.addons.failclosed import FailClosed
from hpn_router.addons.flowcontext import context
from hpn_router.edge.relay import REFUSED_HEADER, StreamRelay
from hpn_router.edge.relayrequest import TOKEN_HEADER
from mitmproxy.test import tflow, tutils

ROUTER_FAILED = {"message": "The router failed to handle this request.", "type": "server_error", "param": None, "code": None}


def client_flow():
    f = tflow.tflow(req=tutils.treq(host="api.openai.com", port=443, scheme=b"https", path=b"/v1/chat/completions"))
    f.request.headers["host"] = "api.openai.com"
    f.response = None
    return f


def router_error(f) -> dict:
    assert f.response.headers["content-type"] == "application/json"
    return json.loads(f.response.content)


@pytest.fixture
def fail_closed() -> FailClosed:
    relay = StreamRelay()
    relay.port = 41000  # a started relay's port; nothing connects in these tests
    return FailClosed(relay)


def test_every_flow_the_router_serves_targets_the_relay_without_a_token(fail_closed):
    f = client_flow()
    f.request.headers[TOKEN_HEADER] = "a-token-the-client-made-up"
    fail_closed.requestheaders(f)
    assert (f.request.scheme, f.request.host, f.request.port) == ("http", "127.0.0.1", 41000)
    assert TOKEN_HEADER not in f.request.headers
    assert f.request.path == "/v1/chat/completions" and f.request.pretty_host == "api.openai.com"


def test_passthrough_and_answered_flows_are_left_alone(fail_closed):
    passthrough = client_flow()
    context(passthrough).passthrough = True
    answered = client_flow()
    answered.response = tutils.tresp()
    for f in (passthrough, answered):
        fail_closed.requestheaders(f)
        assert (f.request.host, f.request.port) == ("api.openai.com", 443)


def test_before_the_relay_runs_a_flow_gets_the_routers_error(fail_closed):
    fail_closed.relay.port = 0
    f = client_flow()
    fail_closed.requestheaders(f)
    assert f.response.status_code == 500 and router_error(f) == {"error": ROUTER_FAILED}


def test_the_relays_refusal_is_the_final_answer_and_the_client_target_comes_back(fail_closed):
    f = client_flow()
    fail_closed.requestheaders(f)
    context(f).route = "chat"  # Endpoints ran, then the rest of `request` was skipped
    f.response = tutils.tresp(status_code=500, content=json.dumps({"error": ROUTER_FAILED}).encode())
    f.response.headers[REFUSED_HEADER] = "1"
    fail_closed.response(f)
    assert context(f).local and REFUSED_HEADER not in f.response.headers  # Translation leaves it alone
    assert router_error(f) == {"error": ROUTER_FAILED}
    assert (f.request.scheme, f.request.host, f.request.port) == ("https", "api.openai.com", 443)


def test_an_answered_flow_shows_the_client_target_and_a_relayed_stream_the_relay(fail_closed):
    answered, relayed, failed = client_flow(), client_flow(), client_flow()
    for f in (answered, relayed, failed):
        fail_closed.requestheaders(f)
    answered.response = tutils.tresp()
    relayed.response = tutils.tresp()
    context(relayed).relayed = True
    failed.error = tflow.terr()
    fail_closed.response(answered)
    fail_closed.response(relayed)
    fail_closed.error(failed)
    assert answered.request.host == failed.request.host == "api.openai.com"
    assert (relayed.request.host, relayed.request.port) == ("127.0.0.1", 41000)
    assert answered.response.status_code == 200


def test_fail_closed_comes_before_any_addon_that_answers():
    import router

    names = [type(a).__name__ for a in router.pipeline.members]
    between = names[names.index("Interception") + 1 : names.index("FailClosed")]
    # Only guards that refuse or note (never route) may see a request before FailClosed retargets it.
    assert between == ["ProxyClientAuth", "PassthroughGuard", "Timeouts", "NoteClientRequest"]
    assert router.key_routing.relay is router.fail_closed.relay
