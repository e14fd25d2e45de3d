"""CacheLookup: hits, misses, bypasses, streamed hits, coalescing, and the Responses and Messages
APIs' own entries."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from cacheflows import BODY, Clock, ask, make, status
from flowtools import answer_from_upstream, captured_logs, chat_flow, completion
from hpn_router.addons import meta
from hpn_router.addons.cache import FlashCache
from hpn_router.addons.cachelookup import CacheLookup
from hpn_router.addons.cachestore import CacheStore
from hpn_router.addons.flowcontext import CacheDecision, context
from hpn_router.core.model.answer import Usage
from mitmproxy import http


async def test_miss_then_hit_answers_locally() -> None:
    _, lookup, store = make()
    first = await ask(lookup, store)
    assert status(first) == "MISS"
    with captured_logs() as logs:
        second = await ask(lookup, store, answer=completion("must not be used"))
    assert status(second) == "HIT"
    assert context(second).local is True
    answer = json.loads(second.response.content)
    assert answer["choices"][0]["message"]["content"] == "Hello!"
    assert answer["id"].startswith("chatcmpl-") and answer["id"] != "chatcmpl-upstream"
    assert answer["usage"] == completion()["usage"]  # the stored block, as it was
    assert context(second).usage == Usage(input_tokens=10, output_tokens=20)
    assert logs == []  # a hit's one line is RequestLog's (tests/addons/test_requestlog.py)
    assert context(second).cache.coalesced is False


async def test_aliases_of_one_gemini_model_share_an_entry_with_their_own_name() -> None:
    _, lookup, store = make()
    await ask(lookup, store, {**BODY, "model": "gpt-4"})
    hit = await ask(lookup, store, {**BODY, "model": "gpt-4o"})  # both go to the default model
    assert status(hit) == "HIT"
    assert json.loads(hit.response.content)["model"] == "gpt-4o"
    other = await ask(lookup, store, {**BODY, "model": "fast"})  # mapped to another model
    assert status(other) == "MISS"


async def test_key_order_and_whitespace_hit() -> None:
    _, lookup, store = make()
    await ask(lookup, store, b'{"model":"gpt-4","messages":[{"role":"user","content":"Hello"}]}')
    hit = await ask(lookup, store, b'{ "messages" : [ {"content": "Hello", "role": "user"} ],\n "model": "gpt-4" }')
    assert status(hit) == "HIT"


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 0.5},
        {"messages": [{"role": "user", "content": "Hello!"}]},
        {"max_tokens": 5},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
    ],
)
async def test_anything_that_changes_the_answer_misses(change: dict[str, Any]) -> None:
    _, lookup, store = make()
    await ask(lookup, store)
    assert status(await ask(lookup, store, {**BODY, **change})) == "MISS"


async def test_clients_do_not_share_entries() -> None:
    _, lookup, store = make()
    await ask(lookup, store, client="client_1")
    assert status(await ask(lookup, store, client="client_2")) == "MISS"
    assert status(await ask(lookup, store, client="client_1")) == "HIT"


async def test_no_cache_skips_the_lookup_but_stores() -> None:
    _, lookup, store = make()
    await ask(lookup, store, answer=completion("old"))
    fresh = await ask(lookup, store, answer=completion("new"), headers={"cache-control": "no-cache"})
    assert status(fresh) == "BYPASS" and json.loads(fresh.response.content)["choices"][0]["message"]["content"] == "new"
    again = await ask(lookup, store)
    assert json.loads(again.response.content)["choices"][0]["message"]["content"] == "new"


async def test_pragma_no_cache_skips_the_lookup_but_stores() -> None:
    _, lookup, store = make()
    await ask(lookup, store, answer=completion("old"))
    fresh = await ask(lookup, store, answer=completion("new"), headers={"pragma": "no-cache"})
    assert status(fresh) == "BYPASS" and json.loads(fresh.response.content)["choices"][0]["message"]["content"] == "new"
    again = await ask(lookup, store)
    assert json.loads(again.response.content)["choices"][0]["message"]["content"] == "new"


async def test_end_users_of_one_client_do_not_share_entries() -> None:
    _, lookup, store = make()
    await ask(lookup, store, {**BODY, "user": "alice"}, client="client_1")
    assert status(await ask(lookup, store, {**BODY, "user": "bob"}, client="client_1")) == "MISS"
    assert status(await ask(lookup, store, {**BODY, "safety_identifier": "bob"}, client="client_1")) == "MISS"
    assert status(await ask(lookup, store, {**BODY, "user": "alice"}, client="client_1")) == "HIT"


async def test_sampled_requests_bypass_when_configured() -> None:
    _, lookup, store = make(cache_sampled=False)
    await ask(lookup, store)  # no temperature: sampled at the default 1.0
    assert status(await ask(lookup, store)) == "BYPASS"
    deterministic = {**BODY, "temperature": 0}
    await ask(lookup, store, deterministic)
    assert status(await ask(lookup, store, deterministic)) == "HIT"


async def test_sampled_requests_are_cached_by_default() -> None:
    _, lookup, store = make()
    sampled = {**BODY, "temperature": 0.9, "n": 2}
    await ask(lookup, store, sampled)
    assert status(await ask(lookup, store, sampled)) == "HIT"


async def test_invalid_request_is_left_to_the_translation() -> None:
    _, lookup, _ = make()
    for body in (b"{not json", {"model": "gpt-4", "messages": []}, {"messages": [{"role": "user", "content": "x"}]}):
        flow = chat_flow(body)
        await lookup.request(flow)
        assert flow.response is None and context(flow).cache is None


async def test_replays_and_attempt_flows_are_neither_looked_up_nor_stored() -> None:
    flash, lookup, store = make()
    await ask(lookup, store)
    replay = chat_flow(BODY)
    context(replay).cache = CacheDecision("HIT", key="stale", store=True)  # from the original
    replay.is_replay = "request"
    await lookup.request(replay)
    assert replay.response is None and context(replay).cache is None
    replay2 = chat_flow({**BODY, "messages": [{"role": "user", "content": "new"}]})
    await lookup.request(replay2)
    replay2.is_replay = "request"
    answer_from_upstream(replay2, completion())
    await store.response(replay2)
    assert len(flash.entries) == 1  # only the first answer
    attempt = chat_flow(BODY)
    attempt.metadata[meta.ATTEMPT_OF] = "client-flow-id"
    attempt.live = False
    await lookup.request(attempt)
    assert attempt.response is None


async def test_lookup_failure_never_raises() -> None:
    flash, lookup, _ = make()

    def broken(key: str) -> None:
        raise RuntimeError("cache broke")

    flash.entries.get = broken  # type: ignore[method-assign, union-attr]
    flow = chat_flow(BODY)
    with captured_logs() as logs:
        await lookup.request(flow)
    assert flow.response is None and context(flow).cache is None
    assert any(r["msg"] == "cache lookup failed" for r in logs)
    assert len(flash.inflight) == 0


# --- streamed hits -------------------------------------------------------------------


async def test_streaming_hit_is_a_proper_sse_stream() -> None:
    _, lookup, store = make()
    await ask(lookup, store)
    flow = await ask(lookup, store, {**BODY, "stream": True, "stream_options": {"include_usage": True}})
    assert status(flow) == "HIT"
    assert flow.response.headers["content-type"] == "text/event-stream"
    events = flow.response.content.split(b"\n\n")
    assert events[-2] == b"data: [DONE]" and events[-1] == b""
    chunks = [json.loads(e[6:]) for e in events[:-2]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "Hello!"
    assert chunks[-1]["usage"] == completion()["usage"]
    assert {c["id"] for c in chunks} == {chunks[0]["id"]} and chunks[0]["model"] == "gpt-4"


# --- coalescing ----------------------------------------------------------------------


async def test_identical_requests_in_flight_go_upstream_once() -> None:
    flash, lookup, store = make()
    leader = chat_flow(BODY)
    await lookup.request(leader)
    assert leader.response is None and context(leader).cache.leader is True
    followers = [chat_flow(BODY) for _ in range(9)]
    with captured_logs() as logs:
        waiting = [asyncio.ensure_future(lookup.request(f)) for f in followers]
        await asyncio.sleep(0.01)
        assert not any(w.done() for w in waiting)
        answer_from_upstream(leader, completion("shared"))
        await store.response(leader)
        await asyncio.gather(*waiting)
    assert [status(f) for f in followers] == ["HIT"] * 9
    assert {json.loads(f.response.content)["choices"][0]["message"]["content"] for f in followers} == {"shared"}
    assert len({json.loads(f.response.content)["id"] for f in followers}) == 9
    assert all(context(f).cache.coalesced for f in followers)  # RequestLog's line says so
    assert logs == []  # a hit's one line is RequestLog's
    assert len(flash.inflight) == 0


async def test_no_store_requests_follow_but_never_lead() -> None:
    flash, lookup, _ = make()
    flow = chat_flow(BODY, headers={"cache-control": "no-store"})
    await lookup.request(flow)
    assert context(flow).cache.leader is False and len(flash.inflight) == 0


async def test_a_stuck_leader_is_dropped_after_the_wait() -> None:
    clock = Clock()
    flash, lookup, _ = make(clock)
    leader = chat_flow(BODY)
    await lookup.request(leader)
    flash.wait_seconds = 0.01

    async def tick() -> None:
        await asyncio.sleep(0.005)
        clock.now += 1

    follower = chat_flow(BODY)
    await asyncio.gather(lookup.request(follower), tick())
    assert follower.response is None
    assert context(follower).cache.leader is True  # took over
    assert len(flash.inflight) == 1


# --- rendering once per entry -----------------------------------------------------------


async def test_an_entry_is_rendered_once_per_kind_of_answer_and_hits_fill_in_their_own_fields() -> None:
    flash, lookup, store = make()
    await ask(lookup, store)
    first, second = await ask(lookup, store), await ask(lookup, store, {**BODY, "model": "gpt-4o"})
    [entry_key] = {context(first).cache.key, context(second).cache.key}
    entry = flash.entries.get(entry_key)
    assert list(entry.renders) == [("chat", False, False), "usage"]  # the second hit reused both
    a, b = json.loads(first.response.content), json.loads(second.response.content)
    assert (a["model"], b["model"]) == ("gpt-4", "gpt-4o") and a["id"] != b["id"]
    assert {**a, "id": "", "model": ""} == {**b, "id": "", "model": "", "created": a["created"]}
    assert first.response.headers["content-length"] == str(len(first.response.content))


async def test_a_streamed_hit_escapes_line_separators_in_the_model_name_as_every_chunk_does() -> None:
    _, lookup, store = make()
    await ask(lookup, store)
    flow = await ask(lookup, store, {**BODY, "model": "gpt-4\u2028x", "stream": True})
    assert status(flow) == "HIT"
    assert "\u2028".encode() not in flow.response.content  # a line splitter would cut the event there
    chunks = [json.loads(e[6:]) for e in flow.response.content.split(b"\n\n")[:-2]]
    assert {c["model"] for c in chunks} == {"gpt-4\u2028x"}


# --- Responses and Messages -----------------------------------------------------------

GEMINI_HELLO = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "Bonjour"}]}, "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1, "totalTokenCount": 5},
}


class CachedChain:
    """The router's chain (routerchain.RouterChain) with the flash cache around the translation,
    as router.py orders it: Endpoints, CacheLookup, Translation, KeyRouting, CacheStore."""

    def __init__(self, *answers: Any) -> None:
        from routerchain import RouterChain, chain_config

        self.chain = RouterChain(*answers)
        self.flash = FlashCache()
        self.flash.apply(chain_config())
        apis = {"responses": self.chain.responses, "messages": self.chain.translation.by_route["messages"]}
        self.lookup, self.store = CacheLookup(self.flash, apis), CacheStore(self.flash)

    async def send(self, path: str, body: dict[str, Any]) -> http.HTTPFlow:
        from mitmproxy.test import taddons, tflow

        with taddons.context():  # KeyRouting reads ctx.master
            flow = tflow.tflow()
            flow.response = None
            flow.request.method, flow.request.path = "POST", path
            flow.request.headers.clear()
            flow.request.headers.update({"host": "localhost", "content-type": "application/json"})
            flow.request.content = json.dumps(body).encode()
            self.chain.endpoints.request(flow)
            await self.lookup.request(flow)
            if flow.response is None:
                self.chain.translation.request(flow)
                await self.chain.routing.request(flow)
                self.store.responseheaders(flow)
                self.chain.translation.response(flow)
            await self.store.response(flow)
        return flow


RESPONSES_BODY = {"model": "gemini-2.5-flash", "input": "Hello"}


MESSAGES_BODY = {"model": "gemini-2.5-flash", "max_tokens": 100, "messages": [{"role": "user", "content": "Hello"}]}


async def test_a_repeated_responses_request_is_a_fresh_response_from_the_cache() -> None:
    from routerchain import gemini_json, json_of

    cached = CachedChain(gemini_json(GEMINI_HELLO))
    first = await cached.send("/v1/responses", RESPONSES_BODY)
    second = await cached.send("/v1/responses", RESPONSES_BODY)
    assert (status(first), status(second)) == ("MISS", "HIT") and len(cached.chain.sent) == 1
    one, two = json_of(first), json_of(second)
    assert two["object"] == "response" and two["id"] != one["id"] and two["output"][0]["content"][0]["text"] == "Bonjour"
    assert cached.chain.responses.store.conversation(two["id"], "anonymous", 1_700_000_000.0)  # kept: it can be continued
    streamed = await cached.send("/v1/responses", {**RESPONSES_BODY, "stream": True})  # the same answer, as this request asks
    assert status(streamed) == "HIT" and streamed.response.headers["content-type"] == "text/event-stream"
    assert b"event: response.completed" in streamed.response.content and b"Bonjour" in streamed.response.content


async def test_a_repeated_messages_request_is_a_fresh_message_and_never_a_responses_answer() -> None:
    from routerchain import gemini_json, json_of

    cached = CachedChain(gemini_json(GEMINI_HELLO), gemini_json(GEMINI_HELLO))
    first = await cached.send("/v1/messages", MESSAGES_BODY)
    second = await cached.send("/v1/messages", MESSAGES_BODY)
    assert (status(first), status(second)) == ("MISS", "HIT") and len(cached.chain.sent) == 1
    assert json_of(second)["type"] == "message" and json_of(second)["id"] != json_of(first)["id"]
    assert json_of(second)["content"] == [{"type": "text", "text": "Bonjour"}]
    streamed = await cached.send("/v1/messages", {**MESSAGES_BODY, "stream": True})
    assert status(streamed) == "HIT" and b"event: message_stop" in streamed.response.content
    other_api = await cached.send("/v1/responses", RESPONSES_BODY)  # same question, other endpoint: its own entry
    assert status(other_api) == "MISS" and len(cached.chain.sent) == 2


async def test_an_invalid_responses_request_is_left_to_its_translator() -> None:
    from routerchain import json_of

    cached = CachedChain()
    flow = await cached.send("/v1/responses", {"model": "gemini-2.5-flash", "input": []})
    assert flow.response.status_code == 400 and json_of(flow)["error"]["param"] == "input" and status(flow) is None
