"""Metrics: the router's Prometheus series, fed per request, scraped at `GET /metrics`.

- `Metrics` (late in `response`, after Cost) counts each answered client request: its endpoint,
  model (bounded: core/metrics.ModelLabels) and status; each upstream attempt KeyRouting made
  (`FlowContext.attempt_log`: provider, key name, outcome, duration); the cache's decision; the serving
  provider's token counts; the saved USD; and the request's duration, time to first chunk (streams) and
  the router's own share of it (upstream time excluded). It reads the flow's context only,
  never a body. The webhook sender reports each delivery's outcome to `webhook_delivery`.
- `MetricsEndpoint` (early in `request`, after Access, which asks for the admin token when one
  is set) answers the scrape. The key states are read from the pool on the event loop; the text
  is rendered in a worker thread, so a large pool's scrape does not stall other requests.
  Under `server.workers` the scrape sums every worker's series (edge/metrics.py), whichever
  worker holds the connection.

`server.metrics: false` turns both off (Endpoints then answers /metrics with 404).

Usage:
    metrics = Metrics(state)
    addons = [..., access, health, MetricsEndpoint(metrics), ..., cost, metrics, ..., ContextMetadata(), ...]
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal

from loguru import logger
from mitmproxy import http

from hpn_router.addons import meta
from hpn_router.addons.answers import answer_exception, is_client_flow
from hpn_router.addons.flowcontext import FlowContext, context
from hpn_router.config import RouterConfig
from hpn_router.core.metrics import ModelLabels, outcome_label, router_overhead
from hpn_router.core.model.routing import Provider
from hpn_router.core.routes import Endpoint, match
from hpn_router.core.state import RouterState
from hpn_router.edge.metrics import CONTENT_TYPE, RouterMetrics, multiprocess_dir

_NOT_COUNTED = frozenset({Endpoint.HEALTH.value, Endpoint.METRICS.value, Endpoint.DASHBOARD.value})  # the router's own pages


class Metrics:
    def __init__(self, state: RouterState, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # the flows' own clock (request.timestamp_start is time.time)
        self.enabled = True
        # Under workers, a scrape sums every worker's series (edge/metrics.py).
        self.exporter = RouterMetrics(lambda: state.pool, clock=clock, redis_source=lambda: state.redis, shared_dir=multiprocess_dir())
        self.models = ModelLabels()

    def apply(self, config: RouterConfig) -> None:
        self.enabled = config.server.metrics
        # Names seen so far keep their labels across reloads: the bound holds for the process.
        self.models.known = frozenset([*config.models, *config.models.values(), config.gemini.default_model])

    def webhook_delivery(self, outcome: str) -> None:
        """One webhook delivery's outcome (the sender reports each: edge/webhooks.py)."""
        if self.enabled:
            self.exporter.webhook_deliveries(outcome).inc()

    def response(self, flow: http.HTTPFlow) -> None:
        try:
            if self.enabled and answered_client_request(flow):
                self._record(flow, context(flow))
        except Exception:  # never raise out of a hook: redaction runs after this addon
            logger.exception("metrics failed")

    def _record(self, flow: http.HTTPFlow, ctx: FlowContext) -> None:
        assert flow.response is not None
        m = self.exporter
        endpoint = ctx.route or match(flow.request.method, flow.request.path).endpoint.value
        m.requests(endpoint, self.models.label(ctx.model or ctx.gemini_model), str(flow.response.status_code)).inc()
        for attempt in ctx.attempt_log:  # each under its own provider: a fallback or the model lists try several
            m.attempts(attempt.provider, attempt.key_name, outcome_label(attempt.outcome)).inc()
            m.upstream_duration(attempt.provider).observe(max(attempt.ended - attempt.started, 0.0))
        provider = ctx.upstream.provider if ctx.upstream else Provider.GEMINI.value  # who served: the answer's tokens
        if ctx.cache is not None:
            m.cache(ctx.cache.status.lower()).inc()
        if ctx.usage is not None and ctx.attempt_log and flow.response.status_code == 200:
            model = self.models.label(ctx.upstream.model if ctx.upstream else ctx.gemini_model)
            m.tokens(provider, model, "input").inc(ctx.usage.input_tokens)
            m.tokens(provider, model, "output").inc(ctx.usage.output_tokens)
        if ctx.saved_usd:
            m.saved_usd.inc(float(Decimal(ctx.saved_usd)))
        started, now = flow.request.timestamp_start, self.clock()
        m.request_duration(endpoint).observe(max(now - started, 0.0))
        if ctx.first_chunk_at is not None:
            m.time_to_first_token(endpoint).observe(max(ctx.first_chunk_at - started, 0.0))
        # A relayed stream's response hook fires once the stream has ended: the router's share
        # ends when the answer's headers left, the rest is the upstream's pace.
        answered = flow.response.timestamp_start if ctx.relayed else now
        m.overhead.observe(router_overhead(started, answered, ((a.started, a.ended) for a in ctx.attempt_log)))


def answered_client_request(flow: http.HTTPFlow) -> bool:
    """A client's request the router answered: not its own pages, an admin call, an upstream
    attempt, a replay (mitmweb) or a flow it passed through. The dashboard counts the same."""
    ctx = context(flow)
    if flow.response is None or flow.is_replay or meta.is_attempt(flow) or ctx.passthrough:
        return False
    path = flow.request.path.split("?", 1)[0]
    if path.startswith("/admin") or flow.request.method == "CONNECT":
        return False
    return (ctx.route or match(flow.request.method, path).endpoint.value) not in _NOT_COUNTED


class MetricsEndpoint:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def request(self, flow: http.HTTPFlow) -> None:
        if not self.metrics.enabled or not is_client_flow(flow):
            return
        if match(flow.request.method, flow.request.path).endpoint is not Endpoint.METRICS:
            return
        try:
            exporter = self.metrics.exporter
            keys = exporter.key_states()  # on the loop: the pool is not thread-safe
            body = await asyncio.to_thread(exporter.render, keys)
        except Exception as e:  # never raise out of a hook
            answer_exception(flow, e, "render the metrics")
            return
        flow.response = http.Response.make(200, body, {"content-type": CONTENT_TYPE})
        context(flow).local = True
