"""CostEstimator: what each answered request would have cost on OpenAI, and the running total.

Runs after the translation (and after CacheStore) in `response`. Counts each client request
answered with a 200, once: chat completions and Responses API answers (chat cache hits included, at the saved answer's
tokens) and embeddings. Prices come from the dated `pricing` table by the model name the
client asked for; token counts are Gemini's real ones (the flow context's `Usage`, thinking tokens already
in its output tokens), estimated as words x 1.3 only where Gemini gave none. Upstream
attempts are not flows, the router's own error answers cost nothing, and replays of a flow
(mitmweb) are not client traffic, so nothing is counted twice.

Each counted request logs `💸 CHA-CHING! ...`, gets `X-HPN-Saved-USD` (exact USD; a stream's
headers have left before its cost is known, so streams carry it only in the flow) and adds
to `RouterState.savings`, which `/health` reports as `total_saved`.

Usage:
    cost = CostEstimator(state)        # state.savings is the exact running total
    addons = [Settings(consumers=[..., cost]), ..., ChatTranslation(), KeyRouting(state), CacheStore(flash), cost, ...]
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from loguru import logger
from mitmproxy import http

from hpn_router.addons import meta
from hpn_router.addons.flowcontext import FlowContext, context
from hpn_router.config import PriceConfig, PricingConfig, RouterConfig
from hpn_router.core.model.request import ChatRequest, prompt_text
from hpn_router.core.pricing import (
    SEED_PRICE_TABLE,
    Price,
    PriceTable,
    format_usd,
    request_cost,
    text_of,
    usage_or_estimate,
)
from hpn_router.core.routes import Endpoint
from hpn_router.core.state import RouterState

HEADER = "X-HPN-Saved-USD"
CHAT, RESPONSES, MESSAGES, EMBEDDINGS = Endpoint.CHAT.value, Endpoint.RESPONSES.value, Endpoint.MESSAGES.value, Endpoint.EMBEDDINGS.value


def price_table(pricing: PricingConfig) -> PriceTable:
    def price(p: PriceConfig) -> Price:
        return Price(p.input_per_million, p.output_per_million)

    return PriceTable(
        as_of=pricing.as_of,
        default=price(pricing.default),
        per_model={name: price(p) for name, p in pricing.models.items()},
    )


def plain(amount: Decimal) -> str:
    """`0.000795`: exact, no exponent, no trailing zeros."""
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class CostEstimator:
    def __init__(self, state: RouterState) -> None:
        self.state = state
        self.prices = SEED_PRICE_TABLE

    def apply(self, config: RouterConfig) -> None:
        self.prices = price_table(config.pricing)

    def response(self, flow: http.HTTPFlow) -> None:
        try:
            if counts(flow):
                self._count(flow)
        except Exception:  # never raise out of a hook: redaction runs after this addon
            logger.exception("cost estimate failed")

    def _count(self, flow: http.HTTPFlow) -> None:
        assert flow.response is not None
        ctx = context(flow)
        model = ctx.model or ""
        usage = ctx.usage
        prompt_text = "" if usage and usage.input_tokens > 0 else _prompt_text(flow, ctx)
        answer_text = "" if usage and usage.output_tokens > 0 else _answer_text(flow, ctx)
        prompt, completion, estimated = usage_or_estimate(usage, prompt_text, answer_text)
        cost = request_cost(self.prices.price_for(model), prompt, completion)
        total = self.state.savings.add(cost)
        ctx.saved_usd = plain(cost)
        flow.response.headers[HEADER] = plain(cost)
        logger.bind(
            event="cost",
            model=model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            estimated=estimated,
            cache_hit=ctx.cache is not None and ctx.cache.status == "HIT",
            saved_usd=plain(cost),
            total_saved_usd=plain(total),
        ).info("💸 CHA-CHING! You saved {} on this request. Total Saved: {}", format_usd(cost), format_usd(total, places=2))


def counts(flow: http.HTTPFlow) -> bool:
    """A client's chat, responses, messages or embeddings request answered with a 200, by Gemini or the cache."""
    ctx = context(flow)
    if ctx.route not in (CHAT, RESPONSES, MESSAGES, EMBEDDINGS) or flow.response is None:
        return False
    if flow.is_replay or meta.is_attempt(flow) or flow.response.status_code != 200:
        return False
    hit = ctx.cache is not None and ctx.cache.status == "HIT"
    return hit or not ctx.local


def _prompt_text(flow: http.HTTPFlow, ctx: FlowContext) -> str:
    """The request's prose from its model, read once by its translator (addons/chat.chat_request,
    addons/embeddings); only a request without a model is read from its body."""
    if ctx.request is not None and isinstance(ctx.request.value, ChatRequest):
        return prompt_text(ctx.request.value)
    if ctx.embeddings is not None:
        return " ".join(ctx.embeddings.texts)
    return text_of(_json(flow.request.raw_content))


def _answer_text(flow: http.HTTPFlow, ctx: FlowContext) -> str:
    if ctx.route == EMBEDDINGS:
        return ""  # embeddings have no output tokens
    if ctx.answer_text is not None:
        return ctx.answer_text  # a stream: its body is gone
    raw = flow.response.raw_content if flow.response else None
    if ctx.answer is not None and ctx.answer.raw is raw:
        return ctx.answer.answer.text  # the answer ChatTranslation wrote (the body is unchanged since)
    answer = _json(raw)  # a cache hit's, or an edited body
    return text_of(answer.get("choices") if isinstance(answer, dict) else None)


def _json(raw: bytes | None) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None
