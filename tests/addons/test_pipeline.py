"""The Pipeline: the router's addons as one mitmproxy addon. Hooks run in the list's order,
async ones are awaited, and a failing hook answers the router's own error without skipping
the addons after it."""

from __future__ import annotations

import asyncio
import inspect
import json

import pytest
from hpn_router.addons.failclosed import FailClosed
from hpn_router.addons.flowcontext import context
from hpn_router.addons.pipeline import Pipeline
from hpn_router.edge.relay import StreamRelay
from mitmproxy import connection, exceptions
from mitmproxy.proxy.layers.http import HttpRequestHook, HttpResponseHook
from mitmproxy.proxy.server_hooks import ServerConnectionHookData
from mitmproxy.test import taddons, tflow, tutils

ROUTER_FAILED = {"message": "The router failed to handle this request.", "type": "server_error", "param": None, "code": None}


def client_flow():
    f = tflow.tflow(req=tutils.treq(host="api.openai.com", port=443, scheme=b"https", path=b"/v1/chat/completions"))
    f.request.headers["host"] = "api.openai.com"
    f.response = None
    return f


def router_error(f) -> dict:
    assert f.response.headers["content-type"] == "application/json"
    return json.loads(f.response.content)


class Recorder:
    """Notes each hook it sees, in a log shared with the other recorders."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def request(self, flow) -> None:
        self.log.append(f"{self.name}.request")

    def response(self, flow) -> None:
        self.log.append(f"{self.name}.response")


class AsyncRecorder(Recorder):
    async def request(self, flow) -> None:
        await asyncio.sleep(0)  # a real suspension: the next addon must wait for it
        self.log.append(f"{self.name}.request")


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

    def error(self, flow) -> None:
        raise RuntimeError("broken error")

    def server_connect(self, data) -> None:
        raise RuntimeError("broken server_connect")

    def configure(self, updated) -> None:
        raise exceptions.OptionsError("a bad option value")  # mitmproxy's own signal passes through


# --- order and awaiting -------------------------------------------------------------------------


async def test_hooks_run_in_the_lists_order_and_async_ones_are_awaited_before_the_next():
    log: list[str] = []
    pipeline = Pipeline([Recorder("a", log), AsyncRecorder("b", log), Recorder("c", log)])
    with taddons.context() as tctx:
        tctx.master.addons.add(pipeline)
        f = client_flow()
        await tctx.master.addons.handle_lifecycle(HttpRequestHook(f))
        f.response = tutils.tresp()
        await tctx.master.addons.handle_lifecycle(HttpResponseHook(f))
    assert log == ["a.request", "b.request", "c.request", "a.response", "b.response", "c.response"]


def test_a_hook_is_async_only_when_one_of_its_addons_is():
    log: list[str] = []
    pipeline = Pipeline([Recorder("a", log), AsyncRecorder("b", log)])
    assert inspect.iscoroutinefunction(pipeline.request)
    assert not inspect.iscoroutinefunction(pipeline.response)  # mitmproxy may call it where it cannot await


def test_mitmproxy_sees_one_addon_with_only_the_hooks_its_addons_have():
    log: list[str] = []
    pipeline = Pipeline([Recorder("a", log), Recorder("b", log)])
    assert not hasattr(pipeline, "addons")  # mitmproxy would walk it on every event
    assert not hasattr(pipeline, "requestheaders") and not hasattr(pipeline, "update")
    assert [type(a) for a, _, _ in pipeline.handlers["request"]] == [Recorder, Recorder]


def test_load_reaches_the_addons_and_their_options_exist():
    class WithOption:
        def load(self, loader) -> None:
            loader.add_option("pipeline_test_option", int, 7, "an option an addon adds in load")

    with taddons.context() as tctx:
        tctx.master.addons.add(Pipeline([WithOption()]))  # mitmproxy calls `load` where it cannot await
        assert tctx.options.pipeline_test_option == 7


def test_rebuild_picks_up_a_changed_member_list():
    log: list[str] = []
    pipeline = Pipeline([Recorder("a", log)])
    pipeline.members.append(Broken())
    pipeline.rebuild()
    assert [type(a) for a, _, _ in pipeline.handlers["request"]] == [Recorder, Broken]
    pipeline.members[:] = [Recorder("a", log)]
    pipeline.rebuild()
    assert not hasattr(pipeline, "requestheaders")


# --- a flow answered in `request` ---------------------------------------------------------------


class Answering(Recorder):
    """Answers every request it sees."""

    def request(self, flow) -> None:
        super().request(flow)
        flow.response = tutils.tresp()

    def responseheaders(self, flow) -> None:
        self.log.append(f"{self.name}.responseheaders")


async def test_a_flow_answered_in_request_skips_the_rest_of_request_and_the_emulated_responseheaders():
    log: list[str] = []
    pipeline = Pipeline([Recorder("before", log), Answering("answers", log), AsyncRecorder("after", log)])
    f = client_flow()
    await pipeline.request(f)
    pipeline.responseheaders(f)  # mitmproxy emulates it for an answer set in `request`
    pipeline.response(f)
    assert log == ["before.request", "answers.request", "before.response", "answers.response", "after.response"]


def test_a_sync_request_hook_stops_at_the_answer_too():
    log: list[str] = []
    pipeline = Pipeline([Answering("answers", log), Recorder("after", log)])
    assert not inspect.iscoroutinefunction(pipeline.request)
    f = client_flow()
    pipeline.request(f)
    pipeline.responseheaders(f)
    assert log == ["answers.request"]


async def test_a_replayed_flow_that_goes_upstream_meets_responseheaders_again():
    log: list[str] = []
    answering = Answering("answers", log)
    pipeline = Pipeline([answering, AsyncRecorder("after", log)])
    f = client_flow()
    await pipeline.request(f)
    f.response = None  # a replay: this time nobody answers in `request`, the answer comes from a server
    answering.request = lambda flow: log.append("answers.request")  # type: ignore[method-assign]
    pipeline.rebuild()
    log.clear()
    await pipeline.request(f)
    f.response = tutils.tresp()
    pipeline.responseheaders(f)
    assert log == ["answers.request", "after.request", "answers.responseheaders"]


async def test_a_flow_answered_before_request_meets_every_request_hook():
    log: list[str] = []
    pipeline = Pipeline([Recorder("a", log), AsyncRecorder("b", log)])
    f = client_flow()
    f.response = tutils.tresp()  # a 413 from `requestheaders`
    await pipeline.request(f)
    assert log == ["a.request", "b.request"]


# --- a failing hook is contained ------------------------------------------------------------------


async def test_a_failing_request_hook_answers_the_routers_error_and_the_later_response_hooks_still_run():
    log: list[str] = []
    with taddons.context() as tctx:
        tctx.master.addons.add(Pipeline([Broken(), Recorder("after", log)]))
        f = client_flow()
        await tctx.master.addons.handle_lifecycle(HttpRequestHook(f))
        assert f.response.status_code == 500 and router_error(f) == {"error": ROUTER_FAILED}
        assert context(f).failed and context(f).local
        assert log == []  # answered: the later `request` hooks handle only unanswered flows
        await tctx.master.addons.handle_lifecycle(HttpResponseHook(f))
        assert log == ["after.response"]


def test_a_failing_response_hook_leaves_the_routers_error_not_a_half_made_answer():
    log: list[str] = []
    pipeline = Pipeline([Broken(), Recorder("after", log)])
    f = client_flow()
    f.response = tutils.tresp(content=b'{"candidates": "half translated"}')
    pipeline.response(f)
    assert f.response.status_code == 500 and router_error(f) == {"error": ROUTER_FAILED}
    assert log == ["after.response"]


def test_a_failing_responseheaders_hook_ends_as_the_routers_error_in_response():
    relay = StreamRelay()
    relay.port = 41000
    pipeline = Pipeline([FailClosed(relay), Broken()])
    f = client_flow()
    f.response = tutils.tresp(content=b"")
    pipeline.responseheaders(f)
    f.response.content = b'{"candidates": []}'  # mitmproxy then reads the upstream body into the response
    pipeline.response(f)  # FailClosed's, then Broken's (which fails again: still the router's error)
    assert f.response.status_code == 500 and router_error(f) == {"error": ROUTER_FAILED}


def test_a_failing_server_connect_refuses_the_connection():
    pipeline = Pipeline([Broken()])
    data = ServerConnectionHookData(server=connection.Server(address=("10.0.0.1", 80)), client=tflow.tclient_conn())
    pipeline.server_connect(data)
    assert "Broken.server_connect failed" in (data.server.error or "")


def test_mitmproxys_own_signals_pass_through():
    pipeline = Pipeline([Broken()])
    with pytest.raises(exceptions.OptionsError):
        pipeline.configure(set())


def test_an_error_hook_failure_adds_no_answer():
    pipeline = Pipeline([Broken()])
    f = client_flow()
    f.error = tflow.terr()
    pipeline.error(f)
    assert f.response is None and context(f).failed


# --- the router -----------------------------------------------------------------------------------


def test_the_router_is_one_pipeline_that_dispatches_every_hook_of_every_addon():
    import router
    from mitmproxy import hooks

    dispatch, pipeline = router.addons
    assert pipeline is router.pipeline
    assert [name for name in hooks.all_hooks if hasattr(dispatch, name)] == ["load"]  # HookDispatch: no per-event cost
    for name in hooks.all_hooks:
        expected = [a for a in router.pipeline.members if callable(getattr(a, name, None))]
        assert [a for a, _, _ in router.pipeline.handlers.get(name, ())] == expected, name


# --- async hooks after `request` ------------------------------------------------------------------


class AsyncEnding(Recorder):
    """Async responseheaders/response/error: the dispatchers must await them."""

    async def responseheaders(self, flow) -> None:
        await asyncio.sleep(0)
        self.log.append(f"{self.name}.responseheaders")

    async def response(self, flow) -> None:
        await asyncio.sleep(0)
        self.log.append(f"{self.name}.response")

    async def error(self, flow) -> None:
        await asyncio.sleep(0)
        self.log.append(f"{self.name}.error")


class AsyncBroken:
    async def response(self, flow) -> None:
        raise RuntimeError("broken async response")


async def test_async_hooks_after_request_are_awaited_and_skip_a_flow_answered_in_request():
    log: list[str] = []
    pipeline = Pipeline([Answering("answers", log), AsyncEnding("late", log)])
    assert inspect.iscoroutinefunction(pipeline.responseheaders) and inspect.iscoroutinefunction(pipeline.response)
    answered, upstream = client_flow(), client_flow()
    pipeline.request(answered)
    await pipeline.responseheaders(answered)
    await pipeline.response(answered)
    assert log == ["answers.request", "answers.response", "late.response"]
    log.clear()
    upstream.response = tutils.tresp()  # answered before `request`: it goes on as an upstream answer
    pipeline.request(upstream)
    await pipeline.responseheaders(upstream)
    upstream.error = tflow.terr()
    await pipeline.error(upstream)
    assert log == ["answers.request", "late.request", "answers.responseheaders", "late.responseheaders", "late.error"]


async def test_a_failing_async_response_hook_leaves_the_routers_error_and_the_next_still_runs():
    log: list[str] = []
    pipeline = Pipeline([AsyncBroken(), Recorder("after", log)])
    f = client_flow()
    f.response = tutils.tresp(content=b'{"candidates": "half translated"}')
    await pipeline.response(f)
    assert f.response.status_code == 500 and router_error(f) == {"error": ROUTER_FAILED}
    assert log == ["after.response"]


class SyncBroken:
    def request(self, flow) -> None:
        raise RuntimeError("broken sync request")


class Halting:
    def __init__(self, is_async: bool) -> None:
        if is_async:
            self.request = self._async_request

    def request(self, flow) -> None:
        raise exceptions.AddonHalt

    async def _async_request(self, flow) -> None:
        raise exceptions.AddonHalt


def test_a_failing_sync_request_hook_answers_the_routers_error_and_stops_the_chain():
    log: list[str] = []
    pipeline = Pipeline([SyncBroken(), Recorder("after", log)])
    f = client_flow()
    pipeline.request(f)
    assert f.response.status_code == 500 and router_error(f) == {"error": ROUTER_FAILED}
    assert log == []


@pytest.mark.parametrize("is_async", [False, True])
async def test_addon_halt_in_request_reaches_mitmproxy(is_async):
    pipeline = Pipeline([Halting(is_async), Recorder("after", [])])
    with pytest.raises(exceptions.AddonHalt):
        result = pipeline.request(client_flow())
        if inspect.isawaitable(result):
            await result


def test_a_pipeline_shows_its_members():
    assert repr(Pipeline([Recorder("a", []), Broken()])) == "Pipeline(Recorder, Broken)"
