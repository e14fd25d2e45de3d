"""RequestLog: one `event=request` line per client request, with every field that explains it,
in JSON and text, never a key value."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from flowtools import answer_from_upstream, captured_logs, chat_flow, completion, router_config
from hpn_router.addons import meta
from hpn_router.addons.cost import CostEstimator
from hpn_router.addons.flowcontext import CacheDecision, UpstreamPlan, context
from hpn_router.addons.requestlog import RequestLog
from hpn_router.core.redact import Redactor
from hpn_router.core.state import RouterState
from hpn_router.edge.logsetup import configure_logging, unconfigure_logging
from mitmproxy import flow as mflow
from mitmproxy import http

KEY = "mistralKeyValue0123456789abcdef"
BODY = {"model": "gpt-4", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    unconfigure_logging()


def served(*, status: int = 200) -> http.HTTPFlow:
    flow = chat_flow(BODY, headers={"x-request-id": "trace-7"}, client="client_ab12")
    answer_from_upstream(flow, completion(), status=status)
    ctx = context(flow)
    ctx.upstream = UpstreamPlan("POST", "/v1/chat/completions", "", stream=False, model="mistral-small-latest", provider="mistral")
    ctx.key_name, ctx.attempts = "mistral_1", 2
    ctx.cache = CacheDecision("MISS", key="k", store=True)
    return flow


def priced(flow: http.HTTPFlow) -> http.HTTPFlow:
    estimator = CostEstimator(RouterState())
    estimator.apply(router_config())
    estimator.response(flow)
    return flow


def request_lines(logs: list[dict]) -> list[dict]:
    return [r for r in logs if r.get("event") == "request"]


def test_one_line_with_every_field() -> None:
    flow = priced(served())
    with captured_logs() as logs:
        RequestLog(clock=lambda: flow.request.timestamp_start + 0.25).response(flow)
    [line] = request_lines(logs)
    assert line["msg"] == "POST /v1/chat/completions -> 200"
    assert {k: line[k] for k in ("request_id", "client", "endpoint", "model", "provider", "provider_model", "key", "attempts")} == {
        "request_id": "trace-7",
        "client": "client_ab12",
        "endpoint": "chat",
        "model": "gpt-4",
        "provider": "mistral",
        "provider_model": "mistral-small-latest",
        "key": "mistral_1",
        "attempts": 2,
    }
    assert (line["status"], line["latency_ms"], line["cache"]) == (200, 250.0, "miss")
    # completion(): 10 prompt and 20 completion tokens; Mistral Small charges $0.15/$0.60 per 1M.
    assert (line["input_tokens"], line["output_tokens"], line["charged_usd"], line["saved_usd"]) == (10, 20, "0.0000135", "0.0000215")


def test_a_cache_hit_names_no_provider() -> None:
    flow = served()
    ctx = context(flow)
    ctx.cache, ctx.key_name, ctx.attempts = CacheDecision("HIT", key="k"), None, 0
    with captured_logs() as logs:
        RequestLog().response(priced(flow))
    [line] = request_lines(logs)
    assert (line["cache"], line["provider"], line["key"], line["charged_usd"]) == ("hit", None, None, "0")
    assert line["msg"] == "⚡ CACHE HIT POST /v1/chat/completions -> 200" and line["coalesced"] is False


def test_a_coalesced_hit_says_so_and_other_answers_carry_no_coalesced_field() -> None:
    hit, miss = served(), served()
    context(hit).cache = CacheDecision("HIT", key="k", coalesced=True)
    context(miss).cache = CacheDecision("MISS", key="k")
    with captured_logs() as logs:
        RequestLog().response(priced(hit))
        RequestLog().response(priced(miss))
    first, second = request_lines(logs)
    assert first["coalesced"] is True
    assert "coalesced" not in second and second["msg"] == "POST /v1/chat/completions -> 200"


@pytest.mark.parametrize("case", ["health", "attempt", "replay"])
def test_what_is_not_a_client_request_logs_nothing(case: str) -> None:
    flow = served()
    if case == "health":
        flow.request.method, flow.request.path = "GET", "/health"
        context(flow).route = None
    elif case == "attempt":
        flow.metadata[meta.ATTEMPT_OF] = "client-flow-id"
    else:
        flow.is_replay = "request"
    with captured_logs() as logs:
        RequestLog().response(flow)
    assert request_lines(logs) == []


def test_an_abandoned_request_logs_its_error() -> None:
    flow = chat_flow(BODY)
    flow.error = mflow.Error("Client disconnected.")
    with captured_logs() as logs:
        RequestLog().error(flow)
    [line] = request_lines(logs)
    assert line["status"] is None and line["error"] == "Client disconnected." and line["request_id"].startswith("req_")


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_the_line_in_both_formats_never_shows_a_key_value(fmt: str) -> None:
    sink = io.StringIO()
    configure_logging(level="info", fmt=fmt, redactor=Redactor({"mistral_1": KEY}), sink=sink)
    flow = priced(served())
    context(flow).model = f"gpt-4 {KEY}"  # a key pasted where a model name goes still never shows
    RequestLog().response(flow)
    [text] = [line for line in sink.getvalue().splitlines() if "request_id" in line]
    assert KEY not in text and KEY[:12] not in text and "mistral_1" in text
    if fmt == "json":
        record = json.loads(text)
        assert record["event"] == "request" and record["request_id"] == "trace-7" and record["cache"] == "miss"
    else:
        assert "event=request" in text and "request_id=trace-7" in text and "charged_usd=0.0000135" in text
