"""Metrics hooks: what one answered flow adds to the series (from its context, never a body),
which flows count, and the scrape at GET /metrics behind Access."""

from __future__ import annotations

from hpn_router.addons import meta
from hpn_router.addons.access import Access
from hpn_router.addons.endpoints import Endpoints
from hpn_router.addons.flowcontext import CacheDecision, UpstreamPlan, context
from hpn_router.addons.metrics import Metrics, MetricsEndpoint
from hpn_router.config import parse_config
from hpn_router.core.attempts import Attempt
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool
from hpn_router.core.model.answer import Usage
from hpn_router.core.state import RouterState
from mitmproxy import http
from mitmproxy.test import taddons, tflow
from prometheus_client.parser import text_string_to_metric_families

ADMIN = "metrics-admin-token-0123456789"
KEY_VALUE = "AIzaSyMetricsKeyAaaaaaaaaaaaaaaaaaaaaaa"
T0 = 1_700_000_000.0


def config(**server: object):
    keys = [{"name": "alpha", "key": KEY_VALUE, "project": "proj"}]
    return parse_config({"server": server, "key_pool": {"keys": keys, "state_file": ""}, "models": {"gpt-4o": "gemini-2.5-flash"}}, {})


def router(**server: object) -> tuple[Metrics, MetricsEndpoint, Access, Endpoints]:
    cfg = config(**server)
    state = RouterState(pool=KeyPool(cfg.key_pool.keys, cooldown_seconds=60))
    metrics, access, endpoints = Metrics(state, clock=lambda: T0 + 2.0), Access(), Endpoints()
    for addon in (metrics, access, endpoints):
        addon.apply(cfg)
    return metrics, MetricsEndpoint(metrics), access, endpoints


def samples(metrics: Metrics) -> dict[tuple[str, tuple], float]:
    text = metrics.exporter.render(metrics.exporter.key_states()).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}


def answered_chat(status: int = 200) -> http.HTTPFlow:
    """A chat flow as the late addons see it: two attempts (a 429, then an answer)."""
    flow = tflow.tflow(resp=True)
    flow.request.path, flow.request.timestamp_start = "/v1/chat/completions", T0
    flow.response.status_code = status
    ctx = context(flow)
    ctx.route, ctx.model = "chat", "gpt-4o"
    ctx.upstream = UpstreamPlan("POST", "/v1beta/models/gemini-2.5-flash:generateContent", "", False, "gemini-2.5-flash")
    ctx.attempt_log = [
        Attempt(1, 0, "alpha", 429, Outcome(Verdict.RATE_LIMITED, "429"), T0 + 0.1, T0 + 0.3),
        Attempt(2, 1, "beta", 200, Outcome(Verdict.OK, "ok"), T0 + 0.4, T0 + 1.4),
    ]
    ctx.cache = CacheDecision("MISS")
    ctx.usage = Usage(input_tokens=11, output_tokens=5)
    ctx.saved_usd = "0.25"
    return flow


def test_one_answered_chat_fills_every_per_request_series() -> None:
    metrics, *_ = router()
    metrics.response(answered_chat())
    got = samples(metrics)
    assert got[("hpn_requests_total", (("endpoint", "chat"), ("model", "gpt-4o"), ("status", "200")))] == 1
    assert got[("hpn_upstream_attempts_total", (("key", "alpha"), ("outcome", "rate_limited"), ("provider", "gemini")))] == 1
    assert got[("hpn_upstream_attempts_total", (("key", "beta"), ("outcome", "ok"), ("provider", "gemini")))] == 1
    assert got[("hpn_cache_requests_total", (("result", "miss"),))] == 1
    assert got[("hpn_tokens_total", (("direction", "input"), ("model", "gemini-2.5-flash"), ("provider", "gemini")))] == 11
    assert got[("hpn_tokens_total", (("direction", "output"), ("model", "gemini-2.5-flash"), ("provider", "gemini")))] == 5
    assert got[("hpn_saved_usd_total", ())] == 0.25
    assert got[("hpn_request_duration_seconds_sum", (("endpoint", "chat"),))] == 2.0
    assert got[("hpn_upstream_duration_seconds_count", (("provider", "gemini"),))] == 2
    assert abs(got[("hpn_router_overhead_seconds_sum", ())] - 0.8) < 1e-6  # 2.0 s less 0.2 + 1.0 upstream
    assert got.get(("hpn_time_to_first_token_seconds_count", (("endpoint", "chat"),)), 0) == 0  # not a stream


def test_each_attempt_counts_under_its_own_provider_after_a_fallback() -> None:
    metrics, *_ = router()
    flow = answered_chat()
    ctx = context(flow)
    ctx.upstream = UpstreamPlan("POST", "/v1/messages", "", False, "claude-haiku-4-5", provider="anthropic")  # the fallback served
    ctx.attempt_log = [
        Attempt(1, 0, "alpha", 429, Outcome(Verdict.RATE_LIMITED, "429"), T0 + 0.1, T0 + 0.3, "gemini"),
        Attempt(1, 2, "anthropic_1", 200, Outcome(Verdict.OK, "ok"), T0 + 0.4, T0 + 1.4, "anthropic"),
    ]
    metrics.response(flow)
    got = samples(metrics)
    assert got[("hpn_upstream_attempts_total", (("key", "alpha"), ("outcome", "rate_limited"), ("provider", "gemini")))] == 1
    assert got[("hpn_upstream_attempts_total", (("key", "anthropic_1"), ("outcome", "ok"), ("provider", "anthropic")))] == 1
    assert ("hpn_upstream_attempts_total", (("key", "alpha"), ("outcome", "rate_limited"), ("provider", "anthropic"))) not in got
    assert got[("hpn_upstream_duration_seconds_count", (("provider", "gemini"),))] == 1
    assert got[("hpn_upstream_duration_seconds_count", (("provider", "anthropic"),))] == 1
    assert got[("hpn_tokens_total", (("direction", "input"), ("model", "claude-haiku-4-5"), ("provider", "anthropic")))] == 11


def test_a_stream_records_its_first_chunk() -> None:
    metrics, *_ = router()
    flow = answered_chat()
    ctx = context(flow)
    ctx.relayed, ctx.first_chunk_at = True, T0 + 1.5
    flow.response.timestamp_start = T0 + 1.45  # the relay's headers: the router's share ends there
    metrics.response(flow)
    got = samples(metrics)
    assert got[("hpn_time_to_first_token_seconds_sum", (("endpoint", "chat"),))] == 1.5
    assert abs(got[("hpn_router_overhead_seconds_sum", ())] - 0.25) < 1e-6


def test_own_pages_admin_calls_attempts_and_replays_are_not_counted() -> None:
    metrics, *_ = router()
    for path in ("/health", "/metrics", "/admin/keys"):
        flow = tflow.tflow(resp=True)
        flow.request.path = path
        metrics.response(flow)
    attempt, replay = answered_chat(), answered_chat()
    attempt.metadata[meta.ATTEMPT_OF] = "x"
    replay.is_replay = "request"
    metrics.response(attempt)
    metrics.response(replay)
    assert not [k for k in samples(metrics) if k[0] == "hpn_requests_total"]


def test_a_rejected_request_counts_under_its_path() -> None:
    metrics, *_ = router()
    flow = tflow.tflow(resp=True)
    flow.request.method, flow.request.path = "POST", "/v1/chat/completions"
    flow.response.status_code = 401  # Access answered before Endpoints named the route
    metrics.response(flow)
    assert samples(metrics)[("hpn_requests_total", (("endpoint", "chat"), ("model", "none"), ("status", "401")))] == 1


def test_a_broken_context_is_logged_never_raised() -> None:
    metrics, *_ = router()
    flow = answered_chat()
    context(flow).saved_usd = "not a number"
    metrics.response(flow)  # no exception


async def scrape(token: str | None = None, **server: object) -> http.HTTPFlow:
    metrics, endpoint, access, endpoints = router(**server)
    metrics.response(answered_chat())
    flow = tflow.tflow()
    flow.request.method, flow.request.path, flow.request.content = "GET", "/metrics", b""
    if token:
        flow.request.headers["authorization"] = f"Bearer {token}"
    with taddons.context():
        access.request(flow)
        await endpoint.request(flow)
        endpoints.request(flow)
    return flow


async def test_the_scrape_is_open_without_an_admin_token() -> None:
    flow = await scrape()
    assert flow.response.status_code == 200
    assert flow.response.headers["content-type"].startswith("text/plain; version=")
    text = flow.response.get_text()
    assert 'hpn_key_state{key="alpha",project="proj",provider="gemini",state="active"} 1.0' in text
    assert KEY_VALUE not in text and KEY_VALUE[8:20] not in text


async def test_with_an_admin_token_the_scrape_needs_it() -> None:
    assert (await scrape(admin_token=ADMIN)).response.status_code == 401
    assert (await scrape("wrong-token-0123456789abcdef", admin_token=ADMIN)).response.status_code == 401
    assert b"error" in (await scrape(admin_token=ADMIN)).response.content  # OpenAI's envelope
    assert (await scrape(ADMIN, admin_token=ADMIN)).response.status_code == 200


async def test_metrics_off_is_a_404() -> None:
    flow = await scrape(metrics=False)
    assert flow.response.status_code == 404


def test_webhook_deliveries_count_by_outcome_unless_metrics_are_off() -> None:
    metrics, *_ = router()
    for outcome in ("failed", "delivered", "delivered"):
        metrics.webhook_delivery(outcome)
    found = samples(metrics)
    assert found[("hpn_webhook_deliveries_total", (("outcome", "delivered"),))] == 2
    assert found[("hpn_webhook_deliveries_total", (("outcome", "failed"),))] == 1
    off, *_ = router(metrics=False)
    off.webhook_delivery("delivered")
    assert not [name for name, _ in samples(off) if name == "hpn_webhook_deliveries_total"]
