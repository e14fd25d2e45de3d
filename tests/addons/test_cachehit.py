"""A flash-cache hit answered: fresh id and time, the client's model name, the kind of answer
the request asks for, and one rendering per entry shared by later hits."""

from __future__ import annotations

import json

from flowtools import chat_flow, router_config
from hpn_router.addons.cachehit import HEADER, HIT, answer_api_hit, answer_hit
from hpn_router.addons.chat import chat_request
from hpn_router.addons.flowcontext import CacheDecision, context
from hpn_router.core.model.answer import Usage
from hpn_router.core.responsecache import CachedAnswer
from mitmproxy import http

BODY = {"model": "gpt-4", "messages": [{"role": "user", "content": "Hello"}]}
COMPLETION = {
    "id": "chatcmpl-stored",
    "object": "chat.completion",
    "created": 1,
    "model": "stored-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}


def looked_up(body: dict) -> http.HTTPFlow:
    flow = chat_flow(body)
    context(flow).cache = CacheDecision("MISS", key="k")
    return flow


def test_a_chat_hit_has_a_fresh_id_and_the_clients_model_and_says_hit() -> None:
    hit = CachedAnswer(COMPLETION, None, 0.0)
    ids = set()
    for _ in range(2):
        flow = looked_up(BODY)
        answer_hit(flow, chat_request(flow), hit, coalesced=True)
        assert flow.response is not None and flow.response.headers[HEADER] == HIT
        body = json.loads(flow.response.content or b"")
        assert body["model"] == "gpt-4" and body["choices"] == COMPLETION["choices"] and body["id"] != "chatcmpl-stored"
        ids.add(body["id"])
        ctx = context(flow)
        assert ctx.local and ctx.usage == Usage(input_tokens=3, output_tokens=2)
        assert ctx.cache is not None and (ctx.cache.status, ctx.cache.coalesced) == (HIT, True)
    assert len(ids) == 2  # every hit is a new completion
    assert len([kind for kind in hit.renders if isinstance(kind, tuple)]) == 1  # rendered once for both


def test_a_streamed_chat_hit_is_sse_with_usage_only_when_asked() -> None:
    hit = CachedAnswer(COMPLETION, None, 0.0)
    flow = looked_up({**BODY, "stream": True, "stream_options": {"include_usage": True}})
    answer_hit(flow, chat_request(flow), hit, coalesced=False)
    assert flow.response is not None and flow.response.headers["content-type"] == "text/event-stream"
    events = [json.loads(e[6:]) for e in (flow.response.content or b"").split(b"\n\n") if e.startswith(b"data: {")]
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"]) == "Hi there"
    assert events[-1]["usage"]["total_tokens"] == 5
    plain = looked_up({**BODY, "stream": True})
    answer_hit(plain, chat_request(plain), hit, coalesced=False)
    plain_events = [
        json.loads(e[6:]) for e in (plain.response.content or b"" if plain.response else b"").split(b"\n\n") if e.startswith(b"data: {")
    ]
    assert plain_events and not any(e.get("usage") for e in plain_events)


def test_responses_and_messages_hits_share_one_parsed_answer_per_entry() -> None:
    seen = []

    class Api:
        def cached_request(self, flow: http.HTTPFlow):  # noqa: ANN202 - the protocol's shape
            return chat_request(flow)

        def answer_cached(self, flow, config, answer):  # noqa: ANN001, ANN202
            seen.append(answer)
            return b"{}", "application/json"

    stored = {"choices": [{"index": 0, "text": "hi", "reasoning": None, "tool_calls": [], "finish": "stop"}], "usage": None}
    hit = CachedAnswer(stored, None, 0.0)
    for _ in range(2):
        flow = looked_up(BODY)
        answer_api_hit(flow, Api(), router_config(), chat_request(flow), hit, coalesced=False)
        assert flow.response is not None and flow.response.headers[HEADER] == HIT and flow.response.content == b"{}"
    assert seen[0] is seen[1] and seen[0].choices[0].text == "hi"
