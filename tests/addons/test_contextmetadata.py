"""ContextMetadata: when a flow ends, the plain entries mitmweb and saved flows (-w) show,
and the parsed bodies let go."""

from __future__ import annotations

import io

from flowtools import answer_from_upstream, chat_flow, completion
from hpn_router.addons import meta
from hpn_router.addons.contextmetadata import ContextMetadata
from hpn_router.addons.flowcontext import CacheDecision, Parsed, UpstreamPlan, context
from hpn_router.core.model.answer import Usage
from mitmproxy import http
from mitmproxy.io import FlowReader, FlowWriter

BODY = {"model": "gpt-4", "messages": [{"role": "user", "content": "Hello"}]}


def round_trip(flow: http.HTTPFlow) -> http.HTTPFlow:
    """What `-w` writes and mitmweb loads: tnetstring, plain types only."""
    buffer = io.BytesIO()
    FlowWriter(buffer).add(flow)
    buffer.seek(0)
    [loaded] = FlowReader(buffer).stream()
    return loaded


def test_a_finished_flow_shows_the_documented_entries_as_plain_values() -> None:
    flow = chat_flow(BODY, client="client_abc")
    ctx = context(flow)
    ctx.request = Parsed(flow.request.raw_content, BODY)
    ctx.model, ctx.gemini_model, ctx.key_name, ctx.attempts = "gpt-4", "gemini-2.5-flash", "key_2", 2
    ctx.upstream = UpstreamPlan("POST", "/v1beta/models/gemini-2.5-flash:generateContent", "", stream=False, model="gemini-2.5-flash")
    ctx.cache = CacheDecision("MISS", key="k", store=True, leader=True)
    answer_from_upstream(flow, completion())
    ctx.usage, ctx.saved_usd = Usage(input_tokens=10, output_tokens=20, reasoning_tokens=5, cached_tokens=4), "0.000035"
    ContextMetadata().response(flow)
    assert round_trip(flow).metadata == {
        meta.ROUTE: "chat",
        meta.CLIENT: "client_abc",
        meta.MODEL: "gpt-4",
        meta.GEMINI_MODEL: "gemini-2.5-flash",
        meta.KEY: "key_2",
        meta.ATTEMPTS: 2,
        meta.CACHE: "MISS",
        meta.USAGE: {  # as the client saw it: OpenAI's usage block
            "prompt_tokens": 10,
            "completion_tokens": 20,
            "total_tokens": 30,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 5},
        },
        meta.SAVED_USD: "0.000035",
    }
    assert ctx.request is None and ctx.answer is None  # the parsed bodies are dropped when the flow ends


def test_a_passthrough_flow_is_marked_and_an_unrouted_one_gets_nothing() -> None:
    forwarded = chat_flow(BODY)
    context(forwarded).route, context(forwarded).passthrough = None, True
    unrouted = chat_flow(BODY)
    context(unrouted).route = None
    for flow in (forwarded, unrouted):
        flow.error = None
        ContextMetadata().error(flow)
    assert round_trip(forwarded).metadata == {meta.PASSTHROUGH: True}
    assert round_trip(unrouted).metadata == {}


def test_an_embeddings_flow_shows_the_embeddings_usage_block() -> None:
    flow = chat_flow({"model": "text-embedding-3-small", "input": "x"})
    ctx = context(flow)
    ctx.route = "embeddings"
    answer_from_upstream(flow, {"object": "list", "data": []})
    ctx.usage = Usage(input_tokens=7)
    ContextMetadata().response(flow)
    assert round_trip(flow).metadata[meta.USAGE] == {"prompt_tokens": 7, "total_tokens": 7}
