"""FlowContext: the addons' typed per-flow state; parsed bodies are shared instead of parsed
again, and a context lives exactly as long as its flow."""

from __future__ import annotations

import gc
import json

from flowtools import answer_from_upstream, chat_flow, completion, router_config
from hpn_router.addons import flowcontext
from hpn_router.addons.cache import FlashCache
from hpn_router.addons.cachelookup import CacheLookup
from hpn_router.addons.cachestore import CacheStore
from hpn_router.addons.chat import ChatTranslation, chat_request
from hpn_router.addons.flowcontext import AnswerBody, Parsed, context
from hpn_router.core.model.answer import ChatAnswer
from hpn_router.core.model.embedding import EmbeddingRequest
from mitmproxy import http

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
    assert parsed is not None and parsed.value.model == "gpt-4"
    ChatTranslation().translate_request(flow, router_config())
    assert context(flow).request is parsed  # translate_request did not parse the body again
    plan = context(flow).upstream
    assert plan is not None and plan.path.endswith(":generateContent") and not plan.stream


def test_an_edited_body_is_parsed_anew() -> None:
    flow = chat_flow(BODY)
    assert chat_request(flow).model == "gpt-4"
    flow.request.content = json.dumps({**BODY, "model": "gpt-4o"}).encode()  # e.g. edited in mitmweb before a replay
    assert chat_request(flow).model == "gpt-4o"


def test_the_translated_completion_is_kept_with_the_bytes_it_became() -> None:
    flow = chat_flow(BODY)
    ChatTranslation().translate_request(flow, router_config())
    flow.response = http.Response.make(200, json.dumps(GEMINI_ANSWER), {"content-type": "application/json"})
    ChatTranslation().translate_response(flow, router_config())
    answer = context(flow).answer
    assert answer is not None and answer.raw is flow.response.raw_content  # readers can trust it without parsing
    assert answer.rendered == json.loads(flow.response.content)
    assert answer.answer.choices[0].text == answer.rendered["choices"][0]["message"]["content"]  # the model it was rendered from


async def test_cache_store_takes_the_completion_from_the_context_while_the_body_is_unchanged() -> None:
    flash, lookup, store = cache()
    flow = chat_flow(BODY)
    await lookup.request(flow)
    answer_from_upstream(flow, completion("in the body"))
    context(flow).answer = AnswerBody(flow.response.raw_content, ChatAnswer(()), completion("in the context"))
    await store.response(flow)
    key = context(flow).cache.key
    assert flash.entries.get(key).completion["choices"][0]["message"]["content"] == "in the context"

    flash, lookup, store = cache()
    flow = chat_flow(BODY)
    await lookup.request(flow)
    answer_from_upstream(flow, completion("in the body"))
    context(flow).answer = AnswerBody(b"bytes the body no longer holds", ChatAnswer(()), completion("stale"))
    await store.response(flow)
    assert flash.entries.get(context(flow).cache.key).completion["choices"][0]["message"]["content"] == "in the body"


def test_a_context_lives_as_long_as_its_flow() -> None:
    flow = chat_flow(BODY)
    assert context(flow) is context(flow) and context(chat_flow(BODY)) is not context(flow)
    assert context(flow.copy()).route is None  # a copy is a new flow: it starts empty
    gc.collect()
    held = len(flowcontext._contexts)
    del flow
    gc.collect()
    assert len(flowcontext._contexts) == held - 1


def test_the_end_of_a_flow_lets_go_of_its_parsed_bodies() -> None:
    ctx = flowcontext.FlowContext(
        request=Parsed(b"{}", {}), answer=Parsed(b"{}", {}), answer_text="text", embeddings=EmbeddingRequest("m", ("a" * 1000,))
    )
    ctx.release_bodies()
    assert (ctx.request, ctx.answer, ctx.answer_text, ctx.embeddings) == (None, None, None, None)
