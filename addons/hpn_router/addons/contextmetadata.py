"""ContextMetadata: when a flow ends, what mitmweb should show about it goes into `flow.metadata`.

The addons share a typed `FlowContext` (flowcontext.py) that never enters the flow; this
addon writes the displayed part of it once, in `response` and `error`, as the plain
entries named in `meta.py` (route, client, model, Gemini model, key name, attempts, cache
status, usage, saved USD; `hpn.passthrough` on flows the router only forwarded), and drops
the parsed bodies. It runs after every addon that reads the context and just before
FlowRedaction, so Dumper, Save (`-w`) and mitmweb see the entries.

Usage:
    addons = [..., ShowClientRequest(client_view), ContextMetadata(), flow_redaction]
"""

from __future__ import annotations

from typing import Any

from loguru import logger
from mitmproxy import http

from hpn_router.addons import meta
from hpn_router.addons.flowcontext import FlowContext, context
from hpn_router.core.inbound.openai_chat_answer import usage_to_openai
from hpn_router.core.model.answer import Usage
from hpn_router.core.routes import Endpoint


class ContextMetadata:
    def response(self, flow: http.HTTPFlow) -> None:
        self._publish(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._publish(flow)

    def _publish(self, flow: http.HTTPFlow) -> None:
        try:
            ctx = context(flow)
            flow.metadata.update(displayed(ctx))
            ctx.release_bodies()
        except Exception:  # never raise out of a hook: redaction runs after this addon
            logger.exception("could not note the flow's metadata")


def displayed(ctx: FlowContext) -> dict[str, Any]:
    """The entries mitmweb shows for a flow: plain values, the ones known only."""
    if ctx.passthrough:
        return {meta.PASSTHROUGH: True}
    if ctx.route is None:
        return {}
    entries: dict[str, Any] = {
        meta.ROUTE: ctx.route,
        meta.CLIENT: ctx.client,
        meta.MODEL: ctx.model,
        meta.GEMINI_MODEL: ctx.gemini_model,
        meta.KEY: ctx.key_name or None,
        meta.ATTEMPTS: ctx.attempts or None,
        meta.FALLBACK_FROM: ctx.fallback_from,
        meta.CACHE: ctx.cache.status if ctx.cache else None,
        meta.USAGE: usage_entry(ctx.route, ctx.usage),
        meta.SAVED_USD: ctx.saved_usd,
        meta.CHARGED_USD: ctx.charged_usd,
    }
    return {name: value for name, value in entries.items() if value is not None}


def usage_entry(route: str, usage: Usage | None) -> dict[str, Any] | None:
    """The usage as the client saw it: OpenAI's chat usage block, or the embeddings one (which
    counts input tokens only)."""
    if usage is None:
        return None
    if route == Endpoint.EMBEDDINGS.value:
        return {"prompt_tokens": usage.input_tokens, "total_tokens": usage.total_tokens}
    return usage_to_openai(usage)
