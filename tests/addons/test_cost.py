"""CostEstimator: exact decimals, real usage vs the word estimate, cache hits, and what never counts."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from flowtools import answer_from_upstream, captured_logs, chat_flow, completion, router_config
from hpn_router.addons import meta
from hpn_router.addons.cost import CHARGED_HEADER, HEADER, CostEstimator, plain
from hpn_router.addons.flowcontext import CacheDecision, UpstreamPlan, context
from hpn_router.addons.health import Health
from hpn_router.core.model.answer import Usage
from hpn_router.core.model.embedding import EmbeddingRequest
from hpn_router.core.state import RouterState
from mitmproxy import http

BODY = {"model": "gpt-4", "messages": [{"role": "user", "content": "one two three four five six seven eight nine ten"}]}
PRICING = {"as_of": "2024-08-06", "models": {"gpt-4o": {"input_per_million": "2.50", "output_per_million": "10.00"}}}


def make(**pricing: object) -> tuple[RouterState, CostEstimator]:
    state = RouterState()
    estimator = CostEstimator(state)
    estimator.apply(router_config(pricing=pricing or PRICING))
    return state, estimator


def answered(body: dict = BODY, answer: dict | None = None) -> http.HTTPFlow:
    flow = chat_flow(body)
    answer_from_upstream(flow, answer or completion(model=body["model"]))
    return flow


def test_real_usage_priced_exactly_with_header_and_log() -> None:
    state, estimator = make()
    flow = answered()
    with captured_logs() as logs:
        estimator.response(flow)
    # 10 prompt tokens at $0.50/M + 20 completion tokens at $1.50/M
    expected = Decimal("0.000035")
    assert state.total_saved == expected
    assert flow.response.headers[HEADER] == "0.000035" == context(flow).saved_usd
    [line] = [r for r in logs if r.get("event") == "cost"]
    assert line["msg"] == "💸 CHA-CHING! You saved $0.000035 on this request. Total Saved: $0.000035"
    assert line["saved_usd"] == "0.000035" and line["estimated"] is False


def test_a_small_total_shows_its_significant_digits() -> None:
    state, estimator = make()
    state.total_saved = Decimal("0.001265")
    with captured_logs() as logs:
        estimator.response(answered())
    [line] = [r for r in logs if r.get("event") == "cost"]
    assert line["msg"] == "💸 CHA-CHING! You saved $0.000035 on this request. Total Saved: $0.0013"
    state.total_saved = Decimal("45.6699")
    with captured_logs() as logs:
        estimator.response(answered())
    [line] = [r for r in logs if r.get("event") == "cost"]
    assert line["msg"] == "💸 CHA-CHING! You saved $0.000035 on this request. Total Saved: $45.67"  # the seed's format


def test_per_model_price_by_the_requested_name() -> None:
    state, estimator = make()
    estimator.response(answered({**BODY, "model": "gpt-4o"}))
    assert state.total_saved == Decimal("0.000225")  # 10 x 2.50 + 20 x 10.00, per 1M


def test_thinking_tokens_are_output() -> None:
    state, estimator = make()
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 1200,
        "total_tokens": 2200,
        "completion_tokens_details": {"reasoning_tokens": 1000},
    }
    estimator.response(answered(answer=completion(usage=usage)))
    assert state.total_saved == Decimal("0.0023")  # 1000 x 0.5 + 1200 x 1.5, per 1M


def test_word_estimate_only_without_usage() -> None:
    state, estimator = make()
    zero = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    flow = answered(answer=completion("alpha beta gamma delta", usage=zero))
    with captured_logs() as logs:
        estimator.response(flow)
    # 10 words x 1.3 = 13 prompt tokens; 4 words x 1.3 = 5.2 -> 5 completion tokens
    assert state.total_saved == Decimal("13") * Decimal("0.5") / 10**6 + Decimal("5") * Decimal("1.5") / 10**6
    assert [r["estimated"] for r in logs if r.get("event") == "cost"] == [True]


def test_stream_uses_recorded_usage_or_answer_text() -> None:
    state, estimator = make()
    flow = chat_flow({**BODY, "stream": True})
    ctx = context(flow)
    ctx.relayed, ctx.model, ctx.usage, ctx.answer_text = True, "gpt-4", None, "a b c d e f g h i j"
    flow.response = http.Response.make(200, b"", {"content-type": "text/event-stream"})
    flow.response.content = None  # a streamed body is not kept
    estimator.response(flow)
    assert state.total_saved == Decimal("13") * Decimal("0.5") / 10**6 + Decimal("13") * Decimal("1.5") / 10**6


def test_cache_hit_counts_the_saved_answer() -> None:
    state, estimator = make()
    flow = chat_flow(BODY)
    flow.response = http.Response.make(200, json.dumps(completion()), {"content-type": "application/json"})
    ctx = context(flow)
    ctx.local, ctx.model, ctx.usage = True, "gpt-4", Usage(input_tokens=10, output_tokens=20)
    ctx.cache = CacheDecision("HIT", key="k", store=True)
    estimator.response(flow)
    assert state.total_saved == Decimal("0.000035")


@pytest.mark.parametrize("case", ["local_error", "upstream_error", "replay", "attempt", "health", "native"])
def test_what_never_counts(case: str) -> None:
    state, estimator = make()
    flow = answered()
    if case == "local_error":
        context(flow).local = True  # e.g. a 400 or 429 the router answered itself
    elif case == "upstream_error":
        flow.response.status_code = 503
    elif case == "replay":
        flow.is_replay = "request"
    elif case == "attempt":
        flow.metadata[meta.ATTEMPT_OF] = "client-flow"
    elif case == "health":
        context(flow).route = None
    else:
        context(flow).route = "native"
    estimator.response(flow)
    assert state.total_saved == 0 and HEADER not in flow.response.headers


def test_embeddings_count_inputs_only() -> None:
    state, estimator = make(models={"text-embedding-3-small": {"input_per_million": "0.02", "output_per_million": "0"}})
    flow = chat_flow({"model": "text-embedding-3-small", "input": ["x"]})
    context(flow).route = "embeddings"
    flow.response = http.Response.make(200, b'{"object": "list", "data": []}', {"content-type": "application/json"})
    context(flow).model, context(flow).usage = "text-embedding-3-small", Usage(input_tokens=500)
    estimator.response(flow)
    assert state.total_saved == Decimal("0.00001")


def test_embeddings_without_a_token_count_are_estimated_from_the_model_not_the_body() -> None:
    state, estimator = make(models={"text-embedding-3-small": {"input_per_million": "1", "output_per_million": "0"}})
    flow = chat_flow({"model": "text-embedding-3-small", "input": ["not what the model says"]})
    ctx = context(flow)
    ctx.route, ctx.model, ctx.usage = "embeddings", "text-embedding-3-small", Usage()
    ctx.embeddings = EmbeddingRequest(model="text-embedding-3-small", texts=tuple(["word"] * 10))
    flow.response = http.Response.make(200, b'{"object": "list", "data": []}', {"content-type": "application/json"})
    estimator.response(flow)
    assert state.total_saved == Decimal("0.000013")  # 10 words x 1.3 tokens at $1/M; the body's 5 words would be 6.5


def test_a_million_requests_sum_exactly() -> None:
    state, estimator = make()
    usage = {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1}  # $0.0000005 each
    flow = answered(answer=completion("", usage=usage))
    context(flow).usage = Usage(input_tokens=1)
    for _ in range(1000):
        estimator.response(flow)
    state.savings.add(Decimal("0.0000005") * 999_000)
    assert state.total_saved == Decimal("0.5")  # a float sum would drift
    assert Health(state).snapshot()["total_saved"] == "$0.50"


def test_restored_total_counts_on() -> None:
    state, estimator = make()
    state.total_saved = Decimal("45.67")
    estimator.response(answered())
    assert state.total_saved == Decimal("45.670035")


def test_never_raises() -> None:
    state, estimator = make()
    estimator.prices = None  # type: ignore[assignment]
    with captured_logs() as logs:
        estimator.response(answered())
    assert [r["msg"] for r in logs] == ["cost estimate failed"]
    assert state.total_saved == 0


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("0.000035"), "0.000035"),
        (Decimal("3.5E-5"), "0.000035"),
        (Decimal("0"), "0"),
        (Decimal("12.500"), "12.5"),
        (Decimal("7"), "7"),
    ],
)
def test_plain(amount: Decimal, text: str) -> None:
    assert plain(amount) == text


def served_by(provider: str, model: str, body: dict = BODY) -> http.HTTPFlow:
    flow = answered(body)
    context(flow).upstream = UpstreamPlan("POST", "/v1/chat/completions", "", stream=False, model=model, provider=provider)
    return flow


def test_a_paid_provider_charge_is_subtracted_from_the_saving() -> None:
    state, estimator = make()
    flow = served_by("mistral", "mistral-small-latest")
    with captured_logs() as logs:
        estimator.response(flow)
    # OpenAI: 10 x $0.50/M + 20 x $1.50/M = $0.000035; Mistral Small: 10 x $0.15/M + 20 x $0.60/M = $0.0000135
    assert flow.response.headers[CHARGED_HEADER] == "0.0000135" == context(flow).charged_usd
    assert flow.response.headers[HEADER] == "0.0000215"
    assert (state.total_saved, state.total_charged) == (Decimal("0.0000215"), Decimal("0.0000135"))
    [line] = [r for r in logs if r.get("event") == "cost"]
    figures = (line["provider"], line["openai_usd"], line["charged_usd"], line["saved_usd"])
    assert figures == ("mistral", "0.000035", "0.0000135", "0.0000215")


def test_gemini_free_tier_charges_nothing() -> None:
    state, estimator = make()
    flow = served_by("gemini", "gemini-2.5-flash")
    estimator.response(flow)
    assert flow.response.headers[CHARGED_HEADER] == "0" and state.total_saved == Decimal("0.000035")


def test_a_charge_above_openais_price_saves_nothing() -> None:
    state, estimator = make()
    flow = served_by("mistral", "magistral-medium-latest")  # $2/M in, $5/M out: 0.00002 + 0.0001
    estimator.response(flow)
    assert (flow.response.headers[HEADER], flow.response.headers[CHARGED_HEADER]) == ("0", "0.00012")
    assert (state.total_saved, state.total_charged) == (Decimal(0), Decimal("0.00012"))


def test_configured_charges_replace_a_providers_table() -> None:
    charged = {"mistral": {"as_of": "2026-11-01", "default": {"input_per_million": "1", "output_per_million": "1"}}}
    state, estimator = make(**PRICING, charged=charged)
    flow = served_by("mistral", "mistral-small-latest")  # not in the configured table: its default
    estimator.response(flow)
    assert flow.response.headers[CHARGED_HEADER] == "0.00003"


def test_a_cache_hit_is_charged_nothing() -> None:
    state, estimator = make()
    flow = chat_flow(BODY)
    flow.response = http.Response.make(200, json.dumps(completion()), {"content-type": "application/json"})
    ctx = context(flow)
    ctx.local, ctx.model, ctx.usage = True, "gpt-4", Usage(input_tokens=10, output_tokens=20)
    ctx.upstream = UpstreamPlan("POST", "/v1/chat/completions", "", stream=False, model="mistral-large-latest", provider="mistral")
    ctx.cache = CacheDecision("HIT", key="k", store=True)
    estimator.response(flow)
    assert (state.total_saved, state.total_charged) == (Decimal("0.000035"), Decimal(0))
