"""RequestLog: one `event=request` log line per client request, when the request ends.

The line carries what finds and explains the request: its id (the `X-Request-Id` the client
got), the client's name (never its token), the model asked for, the provider and the model it
ran, the name of the key that served it (never its value), the upstream attempts, the status
the client got, the latency, the tokens, the cost (`charged_usd` by the provider, `saved_usd`
against OpenAI's price) and the cache result (`hit`, `miss`, `bypass`; none for endpoints the
cache does not serve). A cache hit's line starts `⚡ CACHE HIT` and says whether the answer was
an identical in-flight request's (`coalesced`). A stream's line is written when the stream has ended; a request that
ended without an answer (the client went away) gets one with its error instead of a status.

It runs after every addon that fills the flow's context (KeyRouting, the translators, the cache,
CostEstimator, RequestIds) and before FlowRedaction. Like every line, it passes the log's
Redactor (edge/logsetup.py) on its way out.

Usage:
    addons = [..., cost, RequestIds(), metrics, RequestLog(), ..., flow_redaction]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loguru import logger
from mitmproxy import http

from hpn_router.addons import meta
from hpn_router.addons.flowcontext import FlowContext, context
from hpn_router.addons.metrics import answered_client_request
from hpn_router.addons.requestids import request_id
from hpn_router.edge.logsetup import INFO, emits


class RequestLog:
    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # the flows' own clock (request.timestamp_start is time.time)

    def response(self, flow: http.HTTPFlow) -> None:
        try:
            if answered_client_request(flow):
                self._log(flow, error=None)
        except Exception:  # never raise out of a hook: redaction runs after this addon
            logger.exception("request log failed")

    def error(self, flow: http.HTTPFlow) -> None:
        try:
            if flow.response is None and context(flow).route is not None and not flow.is_replay and not meta.is_attempt(flow):
                self._log(flow, error=flow.error.msg if flow.error else "no answer")
        except Exception:
            logger.exception("request log failed")

    def _log(self, flow: http.HTTPFlow, error: str | None) -> None:
        if not emits(INFO):
            return
        fields = request_fields(flow, context(flow), latency_ms=round((self.clock() - flow.request.timestamp_start) * 1000, 1))
        if error is not None:
            fields["error"] = error
        summary = f"{flow.request.method} {flow.request.path.split('?', 1)[0]} -> {fields['status'] or 'no answer'}"
        cache = context(flow).cache
        if cache is not None and cache.status == "HIT":
            # A hit's only line (the cache writes none of its own): one line is a tenth of a hit's CPU.
            fields["coalesced"] = cache.coalesced
            summary = f"⚡ CACHE HIT {summary}"
        logger.bind(event="request", **fields).info(summary)


def request_fields(flow: http.HTTPFlow, ctx: FlowContext, *, latency_ms: float) -> dict[str, Any]:
    plan = ctx.upstream
    hit = ctx.cache is not None and ctx.cache.status == "HIT"
    usage = ctx.usage
    return {
        "request_id": request_id(flow),
        "client": ctx.client,
        "endpoint": ctx.route,
        "model": ctx.model,
        "provider": None if plan is None or hit else plan.provider,
        "provider_model": None if plan is None or hit else plan.model,
        "key": ctx.key_name or None,
        "attempts": ctx.attempts,
        "status": flow.response.status_code if flow.response is not None else None,
        "latency_ms": latency_ms,
        "stream": ctx.stream,
        "input_tokens": ctx.prompt_tokens if ctx.prompt_tokens is not None else (usage.input_tokens if usage else None),
        "output_tokens": ctx.completion_tokens if ctx.completion_tokens is not None else (usage.output_tokens if usage else None),
        "charged_usd": ctx.charged_usd,
        "saved_usd": ctx.saved_usd,
        "cache": ctx.cache.status.lower() if ctx.cache is not None else None,
    }
