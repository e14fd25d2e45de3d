"""Webhooks hooks: a transition the pool went through during a request is queued once, with
names only; receivers at the router's own ports are refused."""

from __future__ import annotations

import asyncio
import json
import re

from hpn_router.addons.flowcontext import UpstreamPlan, context
from hpn_router.addons.webhooks import Webhooks
from hpn_router.config import parse_config
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool
from hpn_router.core.state import RouterState
from loguru import logger
from mitmproxy import http
from mitmproxy.test import tflow

KEY_VALUE = "AIzaSyWebhookKeyAaaaaaaaaaaaaaaaaaaaaaa"
MODEL = "gemini-2.5-flash"
T0 = 1_700_000_000.0


def make(url: str = "https://hooks.example.com/hpn", own_ports: frozenset[int] = frozenset({8080})) -> tuple[Webhooks, RouterState]:
    cfg = parse_config(
        {
            "key_pool": {"keys": [{"name": "alpha", "key": KEY_VALUE}], "state_file": ""},
            "webhooks": [{"url": url, "secret": "a-webhook-secret-0123"}],
        },
        {},
    )
    state = RouterState(pool=KeyPool(cfg.key_pool.keys, cooldown_seconds=60))
    webhooks = Webhooks(state, own_ports=lambda: own_ports, clock=lambda: T0)
    webhooks.apply(cfg)
    webhooks.check_delay = 0.0  # the check runs at the loop's next turn
    return webhooks, state


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


def upstream_flow() -> http.HTTPFlow:
    flow = tflow.tflow(resp=True)
    ctx = context(flow)
    ctx.upstream = UpstreamPlan("POST", f"/v1beta/models/{MODEL}:generateContent", "", False, MODEL)
    ctx.attempts = 1
    return flow


async def test_a_cooldown_during_a_request_is_queued_once_with_names_only():
    webhooks, state = make()  # the baseline is taken with the config
    assert state.pool is not None
    webhooks.response(upstream_flow())
    await settle()
    assert len(webhooks.sender.outbox) == 0
    state.pool.report(0, Outcome(Verdict.RATE_LIMITED, "429", retry_after=30), T0, MODEL)
    for _ in range(5):  # more requests while it cools: no new event
        webhooks.response(upstream_flow())
        await settle()
    queued = webhooks.sender.outbox.take_due(T0)
    assert sorted(json.loads(d.body)["type"] for d in queued) == ["key.cooling", "pool.exhausted"]
    assert all(KEY_VALUE.encode() not in d.body and KEY_VALUE[-6:].encode() not in d.body for d in queued)


async def test_an_events_log_line_names_its_webhook_id_and_the_requests_before_it():
    """One X-Request-Id finds the event: its line names the requests that went upstream since
    the last check, and the webhook-id the receiver gets."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m).rstrip("\n")), format="{message}")
    try:
        webhooks, state = make()
        assert state.pool is not None
        state.pool.report(0, Outcome(Verdict.RATE_LIMITED, "429", retry_after=30), T0, MODEL)
        for rid in ("req_one", "req_two"):
            flow = upstream_flow()
            context(flow).request_id = rid
            webhooks.response(flow)
        await settle()
        queued = webhooks.sender.outbox.take_due(T0)
        later = upstream_flow()
        context(later).request_id = "req_three"
        webhooks.response(later)  # nothing new: no event, and its id names none
        await settle()
    finally:
        logger.remove(sink)
    events = [line for line in lines if line.startswith("webhook event")]
    assert len(events) == len(queued) == 2
    for delivery in queued:
        [line] = [line for line in events if delivery.msg_id in line]
        assert line.startswith(f"webhook event {delivery.type} {delivery.msg_id} ") and line.endswith("; after requests req_one, req_two")
    assert not any("req_three" in line for line in lines)


async def test_a_request_that_did_not_go_upstream_does_not_check():
    webhooks, state = make()
    assert state.pool is not None
    state.pool.report(0, Outcome(Verdict.RATE_LIMITED, "429", retry_after=30), T0, MODEL)
    flow = upstream_flow()
    context(flow).attempts = 0
    webhooks.response(flow)
    await settle()
    assert len(webhooks.sender.outbox) == 0
    webhooks.response(upstream_flow())  # one that did: the cooldown is seen
    await settle()
    assert sorted(json.loads(d.body)["type"] for d in webhooks.sender.outbox.take_due(T0)) == ["key.cooling", "pool.exhausted"]


def test_a_receiver_at_the_routers_own_port_is_refused_with_a_line():
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="ERROR", format="{message}")
    try:
        webhooks, _ = make("http://127.0.0.1:8080/hook?token=abc")
    finally:
        logger.remove(sink)
    assert webhooks.sender.endpoints == []
    assert lines == ["webhooks: http://127.0.0.1:8080/hook is the router itself (one of its own ports); no events go there\n"]


def test_a_receiver_elsewhere_on_loopback_is_kept():
    webhooks, _ = make("http://127.0.0.1:9999/hook")
    assert [e.url for e in webhooks.sender.endpoints] == ["http://127.0.0.1:9999/hook"]


async def test_losing_redis_and_reaching_it_again_are_one_event_each():
    webhooks, state = make()
    state.redis = "up"
    webhooks.check()
    assert len(webhooks.sender.outbox) == 0  # the first contact announces nothing
    state.redis = "down"
    webhooks.check()
    webhooks.check()
    state.redis = "up"
    webhooks.check()
    bodies = [json.loads(d.body) for d in webhooks.sender.outbox.take_due(T0)]
    assert [b["type"] for b in bodies] == ["state.redis_down", "state.redis_up"]
    assert bodies[0]["data"]["provider"] is None and bodies[0]["data"]["key"] is None


CLOSED_PORT_HOOK = "http://127.0.0.1:9/hook"  # nothing listens: a delivery fails at once, locally


def event_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("webhook event")]


async def wait_until(predicate, seconds: float = 10.0) -> bool:
    for _ in range(int(seconds / 0.01)):
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


async def test_the_timer_announces_a_transition_without_a_request_and_outlives_a_failed_check(monkeypatch):
    from hpn_router.addons import webhooks as module

    monkeypatch.setattr(module, "TICK_SECONDS", 0.01)
    webhooks, state = make(CLOSED_PORT_HOOK)
    pool = state.pool
    assert pool is not None
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO", format="{message}")
    try:
        webhooks.running()
        state.pool = object()  # a check that fails (a broken pool): logged, and the timer goes on
        assert await wait_until(lambda: any("webhook check failed" in line for line in lines))
        state.pool = pool
        pool.report(0, Outcome(Verdict.RATE_LIMITED, "429", retry_after=30), T0, MODEL)  # no request follows
        assert await wait_until(lambda: event_lines(lines))
        assert re.match(r"webhook event key.cooling msg_\w+ \(alpha\)", event_lines(lines)[0])
    finally:
        await webhooks.done()
        logger.remove(sink)
    assert webhooks._timer is None and webhooks.sender._task is None  # nothing left running


async def test_the_receivers_are_checked_against_the_ports_the_router_listens_on_once_running():
    ports: set[int] = set()
    webhooks, _ = make(CLOSED_PORT_HOOK, own_ports=frozenset())
    webhooks.own_ports = lambda: frozenset(ports)
    assert len(webhooks.sender.endpoints) == 1  # at load the listeners are not up yet
    ports.add(9)  # the router turns out to listen there
    webhooks.running()
    try:
        assert webhooks.sender.endpoints == []
    finally:
        await webhooks.done()


async def test_without_receivers_or_an_upstream_request_nothing_is_checked():
    webhooks, state = make()
    flow = tflow.tflow(resp=True)  # answered by the router itself: no upstream plan
    webhooks.response(flow)
    assert webhooks.models == set() and webhooks._pending is None
    state.pool = None
    webhooks.check()  # no pool (no keys yet): nothing to watch
    assert len(webhooks.sender.outbox) == 0


async def test_a_broken_flow_context_never_raises_out_of_the_response_hook():
    webhooks, _ = make()
    flow = upstream_flow()
    context(flow).tried_models = 5  # not a list: the hook fails inside
    webhooks.response(flow)
    assert webhooks._pending is None
