"""CacheStore: what is stored (complete 200 answers, streams once they end) and what never is,
and followers released when their leader fails."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cacheflows import BODY, ask, make, status
from flowtools import answer_from_upstream, chat_flow
from hpn_router.addons.cachelookup import CacheLookup
from hpn_router.addons.cachestore import CacheStore
from hpn_router.addons.chat import StreamAdapter
from hpn_router.addons.flowcontext import context
from hpn_router.core.inbound.openai_chat_stream import ChunkEncoder
from hpn_router.core.providers.gemini.chat_answer import GeminiStreamDecoder
from mitmproxy import http


async def test_no_store_is_not_stored_but_may_hit() -> None:
    _, lookup, store = make()
    assert status(await ask(lookup, store, headers={"Cache-Control": "no-store"})) == "MISS"
    assert status(await ask(lookup, store)) == "MISS"
    assert status(await ask(lookup, store, headers={"Cache-Control": "no-store"})) == "HIT"


async def test_error_answers_are_not_stored() -> None:
    _, lookup, store = make()
    error = {"error": {"message": "rate limited", "type": "rate_limit_error", "param": None, "code": "rate_limit_exceeded"}}
    flow = chat_flow(BODY)
    await lookup.request(flow)
    answer_from_upstream(flow, error, status=429)
    await store.response(flow)
    assert status(flow) == "MISS"
    assert status(await ask(lookup, store)) == "MISS"


# --- streams -------------------------------------------------------------------------


def gemini_stream(text: str, *, error: bool = False) -> list[bytes]:
    usage = {"promptTokenCount": 4, "candidatesTokenCount": 3, "totalTokenCount": 7}
    events = [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}}], "usageMetadata": usage},
        {"candidates": [{"content": {"role": "model", "parts": []}, "finishReason": "STOP"}], "usageMetadata": usage},
    ]
    if error:
        events[1] = {"error": {"code": 503, "message": "overloaded"}}
    return [f"data: {json.dumps(e)}\r\n\r\n".encode() for e in events]


async def stream_through(
    lookup: CacheLookup, store: CacheStore, body: dict[str, Any], *, error: bool = False
) -> tuple[http.HTTPFlow, bytes]:
    """A streamed answer as mitmproxy delivers it: ChatTranslation's stream callable, each
    upstream chunk, the final b"" call, then the response hook."""
    flow = chat_flow(body)
    await lookup.request(flow)
    assert flow.response is None
    context(flow).relayed = True
    flow.response = http.Response.make(200, b"", {"content-type": "text/event-stream"})
    adapter = StreamAdapter(
        GeminiStreamDecoder(), ChunkEncoder(model=body["model"], completion_id="chatcmpl-s", created=1, include_usage=False)
    )
    flow.response.stream = adapter
    store.responseheaders(flow)
    assert status(flow) == "MISS" and flow.response.stream is not adapter
    sent = b""
    for chunk in [*gemini_stream("Streamed answer", error=error), b""]:
        sent += b"".join(flow.response.stream(chunk))
    assert flow.response.stream is adapter  # ChatTranslation finds its own adapter in `response`
    context(flow).usage = adapter.decoder.usage  # what ChatTranslation.response records
    await store.response(flow)
    return flow, sent


async def test_stream_is_stored_once_complete_and_hits_unstreamed() -> None:
    _, lookup, store = make()
    body = {**BODY, "stream": True}
    _, sent = await stream_through(lookup, store, body)
    assert sent.endswith(b"data: [DONE]\n\n")
    hit = await ask(lookup, store, BODY)
    assert status(hit) == "HIT"
    answer = json.loads(hit.response.content)
    assert answer["choices"][0]["message"]["content"] == "Streamed answer"
    assert answer["usage"]["prompt_tokens"] == 4  # kept in the flow context: the stream had no usage chunk


async def test_stream_with_in_band_error_is_not_stored() -> None:
    flash, lookup, store = make()
    _, sent = await stream_through(lookup, store, {**BODY, "stream": True}, error=True)
    assert b'"error"' in sent
    assert len(flash.entries) == 0


async def test_failed_leader_sends_followers_upstream() -> None:
    flash, lookup, store = make()
    leader = chat_flow(BODY)
    await lookup.request(leader)
    follower = chat_flow(BODY)
    waiting = asyncio.ensure_future(lookup.request(follower))
    await asyncio.sleep(0)
    await store.error(leader)
    await waiting
    assert follower.response is None  # it asks upstream itself
    assert context(follower).cache.leader is True  # and leads whoever comes next
    assert len(flash.inflight) == 1
