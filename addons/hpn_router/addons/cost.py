"""CostEstimator: what each answered request would have cost on OpenAI, what its provider
charged, what it saved (the difference, never below zero), and the running totals.

Runs after the translation (and after CacheStore) in `response`. Counts each client request
answered with a 200, once: chat completions and Responses API answers (chat cache hits included, at the saved answer's
tokens) and embeddings. Prices come from the dated `pricing` table by the model name the
client asked for; token counts are Gemini's real ones (the flow context's `Usage`, thinking tokens already
in its output tokens), estimated as words x 1.3 only where Gemini gave none. Upstream
attempts are not flows, the router's own error answers cost nothing, and replays of a flow
(mitmweb) are not client traffic, so nothing is counted twice.

The provider's charge prices the same tokens at the serving provider's dated list price for
the model it ran (core/pricing.py PROVIDER_PRICES, or `pricing.charged`); a cache hit reached
no provider and is charged nothing.

Each counted request logs `💸 CHA-CHING! ...`, gets `X-HPN-Saved-USD` and `X-HPN-Charged-USD`
(exact USD; a stream's headers have left before its cost is known, so streams carry them only
in the flow) and adds to `RouterState.savings` and `.charges`, which `/health` reports as
`total_saved` and `total_charged`.

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
from hpn_router.config import ChargedPriceConfig, PriceConfig, PricingConfig, RouterConfig
from hpn_router.core.model.request import ChatRequest, prompt_text
from hpn_router.core.pricing import (
    PROVIDER_PRICES,
    SEED_PRICE_TABLE,
    Price,
    PriceTable,
    format_usd,
    provider_price,
    request_cost,
    saving,
    text_of,
    usage_or_estimate,
)
from hpn_router.core.routes import Endpoint
from hpn_router.core.state import RouterState
from hpn_router.edge.logsetup import INFO, emits

HEADER = "X-HPN-Saved-USD"
CHARGED_HEADER = "X-HPN-Charged-USD"
CHAT, RESPONSES, MESSAGES, EMBEDDINGS = Endpoint.CHAT.value, Endpoint.RESPONSES.value, Endpoint.MESSAGES.value, Endpoint.EMBEDDINGS.value


def _price(p: PriceConfig) -> Price:
    return Price(p.input_per_million, p.output_per_million)


def price_table(pricing: PricingConfig) -> PriceTable:
    return PriceTable(as_of=pricing.as_of, default=_price(pricing.default), per_model={n: _price(p) for n, p in pricing.models.items()})


def charged_tables(pricing: PricingConfig) -> dict[str, PriceTable]:
    """The router's dated provider prices, each provider's replaced by its `pricing.charged` table."""
    return {**PROVIDER_PRICES, **{provider: _charged_table(t) for provider, t in pricing.charged.items()}}


def _charged_table(table: ChargedPriceConfig) -> PriceTable:
    return PriceTable(as_of=table.as_of, default=_price(table.default), per_model={n: _price(p) for n, p in table.models.items()})


def plain(amount: Decimal) -> str:
    """`0.000795`: exact, no exponent, no trailing zeros."""
    text = f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class CostEstimator:
    def __init__(self, state: RouterState) -> None:
        self.state = state
        self.prices = SEED_PRICE_TABLE
        self.charged: dict[str, PriceTable] = dict(PROVIDER_PRICES)

    def apply(self, config: RouterConfig) -> None:
        self.prices = price_table(config.pricing)
        self.charged = charged_tables(config.pricing)

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
        hit = ctx.cache is not None and ctx.cache.status == "HIT"
        openai = request_cost(self.prices.price_for(model), prompt, completion)
        served = None if hit or ctx.upstream is None else ctx.upstream
        charged = request_cost(provider_price(self.charged, served.provider, served.model), prompt, completion) if served else Decimal(0)
        saved = saving(openai, charged)
        total = self.state.savings.add(saved)
        total_charged = self.state.charges.add(charged)
        ctx.saved_usd, ctx.charged_usd = plain(saved), plain(charged)
        ctx.prompt_tokens, ctx.completion_tokens = prompt, completion
        flow.response.headers[HEADER] = plain(saved)
        flow.response.headers[CHARGED_HEADER] = plain(charged)
        if not emits(INFO):
            return
        logger.bind(
            event="cost",
            model=model,
            provider=served.provider if served else None,
            prompt_tokens=prompt,
            completion_tokens=completion,
            estimated=estimated,
            cache_hit=hit,
            openai_usd=plain(openai),
            charged_usd=plain(charged),
            saved_usd=plain(saved),
            total_saved_usd=plain(total),
            total_charged_usd=plain(total_charged),
        ).info("💸 CHA-CHING! You saved {} on this request. Total Saved: {}", format_usd(saved), format_usd(total, places=2))


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
