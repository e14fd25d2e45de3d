"""Hook-level tests of FailClosed and guard_hooks: a failing router hook answers the router's
own error and never skips the addons after it."""

from __future__ import annotations

import json

import pytest
from hpn_router.addons.failclosed import FailClosed, guard_hooks
from hpn_router.addons.flowcontext import context
from hpn_router.edge.relay import REFUSED_HEADER, TOKEN_HEADER, StreamRelay
from mitmproxy import connection, exceptions
from mitmproxy.proxy.layers.http import HttpRequestHook
from mitmproxy.proxy.server_hooks import ServerConnectionHookData
from mitmproxy.test import taddons, tflow, tutils

ROUTER_FAILED = {"message": "The router failed to handle this request.", "type": "server_error", "param": None, "code": None}


def client_flow():
    f = tflow.tflow(req=tutils.treq(host="api.openai.com", port=443, scheme=b"https", path=b"/v1/chat/completions"))
    f.request.headers["host"] = "api.openai.com"
    f.response = None
    return f


class Broken:
    """Raises in every hook it has."""

    def requestheaders(self, flow) -> None:
        raise RuntimeError("broken requestheaders")

    async def request(self, flow) -> None:
        raise RuntimeError("broken request")

    def responseheaders(self, flow) -> None:
        raise RuntimeError("broken responseheaders")

    def response(self, flow) -> None:
        raise RuntimeError("broken response")

    def server_connect(self, data) -> None:
        raise RuntimeError("broken server_connect")

    def configure(self, updated) -> None:
        raise exceptions.OptionsError("a bad option value")  # mitmproxy's own signal passes through


class Recorder:
    """Notes each hook it sees: shows that the addons after a failing one still run."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def request(self, flow) -> None:
        self.seen.append("request")

    def response(self, flow) -> None:
        self.seen.append("response")


def router_error(f) -> dict:
    assert f.response.headers["content-type"] == "application/json"
    return json.loads(f.response.content)


async def test_a_failing_request_hook_answers_the_routers_error_and_later_addons_still_run():
    broken, recorder = Broken(), Recorder()
    with taddons.context() as tctx:
        tctx.master.addons.add(*guard_hooks([broken, recorder]))
        f = client_flow()
        await tctx.master.addons.handle_lifecycle(HttpRequestHook(f))
        assert f.response.status_code == 500 and router_error(f) == {"error": ROUTER_FAILED}
        assert context(f).failed and context(f).local
        assert recorder.seen == ["request"]


def test_a_failing_response_hook_leaves_the_routers_error_not_a_half_made_answer():
    broken, recorder = guard_hooks([Broken(), Recorder()])
    f = client_flow()
    f.response = tutils.tresp(content=b'{"candidates": "half translated"}')
    broken.response(f)
    recorder.response(f)
    assert f.response.status_code == 500 and router_error(f) == {"error": ROUTER_FAILED}
    assert recorder.seen == ["response"]


def test_a_failing_responseheaders_hook_ends_as_the_routers_error_in_response():
    relay = StreamRelay()
    relay.port = 41000
    fail_closed, broken = guard_hooks([FailClosed(relay), Broken()])
    f = client_flow()
    f.response = tutils.tresp(content=b"")
    broken.responseheaders(f)
    f.response.content = b'{"candidates": []}'  # mitmproxy then reads the upstream body into the response
    fail_closed.response(f)
    assert f.response.status_code == 500 and router_error(f) == {"error": ROUTER_FAILED}


def test_a_failing_server_connect_refuses_the_connection():
    [broken] = guard_hooks([Broken()])
    data = ServerConnectionHookData(server=connection.Server(address=("10.0.0.1", 80)), client=tflow.tclient_conn())
    broken.server_connect(data)
    assert "Broken.server_connect failed" in (data.server.error or "")


def test_mitmproxys_own_signals_pass_through_and_names_stay():
    [broken] = guard_hooks([Broken()])
    with pytest.raises(exceptions.OptionsError):
        broken.configure(set())
    assert isinstance(broken, Broken) and broken.request.__name__ == "request"


def test_an_error_hook_failure_adds_no_answer():
    class BrokenError:
        def error(self, flow) -> None:
            raise RuntimeError("broken error")

    [addon] = guard_hooks([BrokenError()])
    f = client_flow()
    f.error = tflow.terr()
    addon.error(f)
    assert f.response is None and context(f).failed


# --- FailClosed -------------------------------------------------------------------------------


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


def test_the_router_guards_every_hook_of_every_addon_and_fail_closed_comes_before_any_addon_that_answers():
    import router
    from mitmproxy import hooks

    hooked = [(type(a).__name__, name) for a in router.addons for name in hooks.all_hooks if callable(getattr(a, name, None))]
    assert ("FailClosed", "requestheaders") in hooked and ("KeyRouting", "request") in hooked
    hooks_of = [getattr(a, name) for a in router.addons for name in hooks.all_hooks if callable(getattr(a, name, None))]
    assert all(hasattr(hook, "__wrapped__") for hook in hooks_of)
    names = [type(a).__name__ for a in router.addons]
    between = names[names.index("Interception") + 1 : names.index("FailClosed")]
    # Only guards that refuse or note (never route) may see a request before FailClosed retargets it.
    assert between == ["ProxyClientAuth", "PassthroughGuard", "Timeouts", "NoteClientRequest"]
    assert router.key_routing.relay is router.fail_closed.relay
