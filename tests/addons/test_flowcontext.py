"""FlowContext: the addons' typed per-flow state, parsed bodies shared instead of parsed again,
and the plain entries mitmweb and saved flows (-w) get when the flow ends."""

from __future__ import annotations

import gc
import io
import json

from flowtools import answer_from_upstream, chat_flow, completion, router_config
from hpn_router import flowcontext, meta
from hpn_router.addons.cache import CacheLookup, CacheStore, FlashCache
from hpn_router.addons.chat import ChatTranslation, chat_request
from hpn_router.addons.contextmetadata import ContextMetadata
from hpn_router.flowcontext import CacheDecision, Parsed, UpstreamPlan, context
from mitmproxy import http
from mitmproxy.io import FlowReader, FlowWriter

BODY = {"model": "gpt-4", "messages": [{"role": "user", "content": "Hello"}]}
GEMINI_ANSWER = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi there"}]}, "finishReason": "STOP"}],
    "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5},
}


def cache() -> tuple[FlashCache, CacheLookup, CacheStore]:
    flash = FlashCache()
    flash.apply(router_config())
    return flash, CacheLookup(flash), CacheStore(flash)


async def test_cache_lookup_and_translation_share_one_parse_of_the_chat_request() -> None:
    _, lookup, _ = cache()
    flow = chat_flow(BODY)
    await lookup.request(flow)
    parsed = context(flow).request
    assert parsed is not None and parsed.value["model"] == "gpt-4"
    ChatTranslation().translate_request(flow, router_config())
    assert context(flow).request is parsed  # translate_request did not parse the body again
    plan = context(flow).upstream
    assert plan is not None and plan.path.endswith(":generateContent") and not plan.stream


def test_an_edited_body_is_parsed_anew() -> None:
    flow = chat_flow(BODY)
    assert chat_request(flow)["model"] == "gpt-4"
    flow.request.content = json.dumps({**BODY, "model": "gpt-4o"}).encode()  # e.g. edited in mitmweb before a replay
    assert chat_request(flow)["model"] == "gpt-4o"


def test_the_translated_completion_is_kept_with_the_bytes_it_became() -> None:
    flow = chat_flow(BODY)
    ChatTranslation().translate_request(flow, router_config())
    flow.response = http.Response.make(200, json.dumps(GEMINI_ANSWER), {"content-type": "application/json"})
    ChatTranslation().translate_response(flow, router_config())
    answer = context(flow).answer
    assert answer is not None and answer.raw is flow.response.raw_content  # readers can trust it without parsing
    assert answer.value == json.loads(flow.response.content)


async def test_cache_store_takes_the_completion_from_the_context_while_the_body_is_unchanged() -> None:
    flash, lookup, store = cache()
    flow = chat_flow(BODY)
    await lookup.request(flow)
    answer_from_upstream(flow, completion("in the body"))
    context(flow).answer = Parsed(flow.response.raw_content, completion("in the context"))
    store.response(flow)
    key = context(flow).cache.key
    assert flash.entries.get(key).completion["choices"][0]["message"]["content"] == "in the context"

    flash, lookup, store = cache()
    flow = chat_flow(BODY)
    await lookup.request(flow)
    answer_from_upstream(flow, completion("in the body"))
    context(flow).answer = Parsed(b"bytes the body no longer holds", completion("stale"))
    store.response(flow)
    assert flash.entries.get(context(flow).cache.key).completion["choices"][0]["message"]["content"] == "in the body"


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
    ctx.usage, ctx.saved_usd = completion()["usage"], "0.000035"
    answer_from_upstream(flow, completion())
    ContextMetadata().response(flow)
    assert round_trip(flow).metadata == {
        meta.ROUTE: "chat",
        meta.CLIENT: "client_abc",
        meta.MODEL: "gpt-4",
        meta.GEMINI_MODEL: "gemini-2.5-flash",
        meta.KEY: "key_2",
        meta.ATTEMPTS: 2,
        meta.CACHE: "MISS",
        meta.USAGE: completion()["usage"],
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


def test_a_context_lives_as_long_as_its_flow() -> None:
    flow = chat_flow(BODY)
    assert context(flow) is context(flow) and context(chat_flow(BODY)) is not context(flow)
    assert context(flow.copy()).route is None  # a copy is a new flow: it starts empty
    gc.collect()
    held = len(flowcontext._contexts)
    del flow
    gc.collect()
    assert len(flowcontext._contexts) == held - 1
