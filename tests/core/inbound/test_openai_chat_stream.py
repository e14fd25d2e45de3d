"""A Gemini stream through the model to OpenAI chunk events (GeminiStreamDecoder, then ChunkEncoder), in any
split (traps by number: docs/gemini-wire-format.md#traps)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chatpath import StreamTranslator
from hpn_router.core.inbound.openai_chat_stream import DONE
from hpn_router.core.toolids import decode_call_id

USAGE_1 = {"promptTokenCount": 6, "candidatesTokenCount": 2, "totalTokenCount": 8}
USAGE_2 = {"promptTokenCount": 6, "candidatesTokenCount": 5, "thoughtsTokenCount": 4, "totalTokenCount": 15}
USAGE_3 = {"promptTokenCount": 6, "candidatesTokenCount": 9, "thoughtsTokenCount": 4, "cachedContentTokenCount": 2, "totalTokenCount": 19}


def event(*parts: dict, finish: str | None = None, usage: dict | None = None, index: int | None = None) -> dict:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if index is not None:
        candidate["index"] = index
    if finish:
        candidate["finishReason"] = finish
    out: dict[str, Any] = {"candidates": [candidate], "modelVersion": "gemini-2.5-flash", "responseId": "r1"}
    if usage:
        out["usageMetadata"] = usage
    return out


def sse(*events: dict, sep: str = "\r\n") -> bytes:
    return "".join(f"data: {json.dumps(e, ensure_ascii=False)}{sep}{sep}" for e in events).encode("utf-8")


# A realistic Gemini stream: CRLF framing, thoughts, multi-byte text and U+2028,
# parallel calls whole in one chunk, another call later, cumulative usage, a last
# chunk with finishReason and an empty text part. Calls carry Gemini ids so the
# output is deterministic.
REALISTIC = sse(
    event({"text": "Thinking about weather…", "thought": True}, usage=USAGE_1),
    event({"text": "The sky"}, usage=USAGE_1),
    event({"text": " is blue — 日本\u2028ok."}, usage=USAGE_2),
    event(
        {"functionCall": {"id": "c1", "name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "U0lHMQ=="},
        {"functionCall": {"id": "c2", "name": "get_weather", "args": {"city": "Rome"}}},
        usage=USAGE_2,
    ),
    event({"functionCall": {"id": "c3", "name": "get_time"}}, usage=USAGE_3),
    event({"text": ""}, finish="STOP", usage=USAGE_3),
)


def make(include_usage: bool = False, legacy_functions: bool = False, **options: bool) -> StreamTranslator:
    return StreamTranslator(
        model="gemini-2.5-flash",
        completion_id="chatcmpl-1",
        created=1700000000,
        include_usage=include_usage,
        legacy_functions=legacy_functions,
        **options,
    )


def run(chunks: list[bytes], **kwargs: Any) -> tuple[list[bytes], StreamTranslator]:
    t = make(**kwargs)
    out: list[bytes] = []
    for chunk in chunks:
        out += t.feed(chunk)
    out += t.finish()
    return out, t


def decode(events: list[bytes]) -> list[Any]:
    decoded = []
    for e in events:
        assert e.startswith(b"data: ") and e.endswith(b"\n\n") and e.count(b"\n\n") == 1
        body = e[len(b"data: ") : -2]
        decoded.append("[DONE]" if body == b"[DONE]" else json.loads(body))
    return decoded


def deltas(events: list[bytes]) -> list[dict]:
    return [c["choices"][0]["delta"] for c in decode(events) if isinstance(c, dict) and c.get("choices")]


def test_realistic_stream_shape() -> None:
    out, t = run([REALISTIC], include_usage=True)
    chunks = decode(out)
    assert chunks[-1] == "[DONE]" and out[-1] == DONE
    body = chunks[:-1]
    assert {(c["id"], c["created"], c["model"]) for c in body} == {("chatcmpl-1", 1700000000, "gemini-2.5-flash")}
    assert all(c["object"] == "chat.completion.chunk" and c["system_fingerprint"] is None for c in body)
    assert all("usage" in c for c in body)
    d = [c["choices"][0]["delta"] for c in body[:-1]]
    assert d[0] == {"role": "assistant", "content": ""}
    assert d[1] == {"content": "The sky"}
    assert d[2] == {"content": " is blue — 日本\u2028ok."}
    calls = [x["tool_calls"][0] for x in d[3:6]]
    assert [len(x["tool_calls"]) for x in d[3:6]] == [1, 1, 1]  # one chunk per call
    assert [c["index"] for c in calls] == [0, 1, 2]  # counted across the whole stream (trap 4)
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_weather", "get_time"]
    assert [c["function"]["arguments"] for c in calls] == ['{"city": "Paris"}', '{"city": "Rome"}', "{}"]
    assert all(c["type"] == "function" for c in calls)
    assert [decode_call_id(c["id"]) for c in calls] == [("c1", "U0lHMQ=="), ("c2", None), ("c3", None)]
    finish = body[-2]["choices"][0]
    assert finish["delta"] == {} and finish["finish_reason"] == "tool_calls"  # STOP with calls (trap 5)
    assert all(c["choices"][0]["finish_reason"] is None for c in body[:-2])
    usage_chunk = body[-1]
    assert usage_chunk["choices"] == []
    # cumulative usage: the last one wins, never a sum (trap 3)
    assert usage_chunk["usage"] == {
        "prompt_tokens": 6,
        "completion_tokens": 13,
        "total_tokens": 19,
        "prompt_tokens_details": {"cached_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 4},
    }
    assert t.openai_usage == usage_chunk["usage"]
    assert t.text == "The sky is blue — 日本\u2028ok."
    assert t.started


def test_line_separators_are_escaped_on_the_wire() -> None:
    out, _ = run([REALISTIC])
    raw = b"".join(out)
    assert "\u2028".encode() not in raw and b"\\u2028" in raw


def test_every_split_gives_identical_output() -> None:
    """Trap 1: CRLF framing and events split across reads, at every byte offset."""
    expected, _ = run([REALISTIC], include_usage=True)
    for k in range(len(REALISTIC) + 1):
        out, _ = run([REALISTIC[:k], REALISTIC[k:]], include_usage=True)
        assert out == expected, k
        assert b"" not in out


def test_byte_by_byte_feed() -> None:
    expected, _ = run([REALISTIC])
    t = make()
    out: list[bytes] = []
    for i in range(len(REALISTIC)):
        produced = t.feed(REALISTIC[i : i + 1])
        assert b"" not in produced
        out += produced
    assert out + t.finish() == expected


@pytest.mark.parametrize("sep", ["\n", "\r", "\r\n"])
def test_any_line_ending(sep: str) -> None:
    body = sse(event({"text": "Hi"}), event({"text": "!"}, finish="STOP"), sep=sep)
    out, _ = run([body])
    assert deltas(out) == [{"role": "assistant", "content": ""}, {"content": "Hi"}, {"content": "!"}, {}]
    assert decode(out)[-2]["choices"][0]["finish_reason"] == "stop"


def test_without_include_usage_chunks_have_no_usage_key() -> None:
    out, t = run([REALISTIC])
    chunks = decode(out)[:-1]
    assert all("usage" not in c for c in chunks)
    assert all(c["choices"] for c in chunks)  # no usage chunk
    assert t.openai_usage is not None  # still available to the router for cost


def test_thoughts_exposed_as_reasoning_content() -> None:
    out, t = run([REALISTIC], expose_reasoning=True)
    assert deltas(out)[1] == {"reasoning_content": "Thinking about weather…"}
    assert "Thinking" not in t.text


def test_text_only_stream_finishes_stop_and_max_tokens_length() -> None:
    out, _ = run([sse(event({"text": "a"}), event(finish="MAX_TOKENS"))])
    assert decode(out)[-2]["choices"][0]["finish_reason"] == "length"
    out, _ = run([sse(event({"text": "a"}, finish="STOP"))])
    assert decode(out)[-2]["choices"][0]["finish_reason"] == "stop"


def test_upstream_end_without_finish_reason_still_sends_stop() -> None:
    out, _ = run([sse(event({"text": "partial"}))])
    chunks = decode(out)
    assert chunks[-2]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert chunks[-1] == "[DONE]"


def test_end_without_finish_after_calls_sends_tool_calls() -> None:
    out, _ = run([sse(event({"functionCall": {"name": "f"}}))])
    assert decode(out)[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_synthesized_call_ids_are_stable_within_a_chunk() -> None:
    out, _ = run([sse(event({"functionCall": {"name": "f"}}, {"functionCall": {"name": "g"}}, finish="STOP"))])
    ids = [d["tool_calls"][0]["id"] for d in deltas(out) if "tool_calls" in d]
    assert len(set(ids)) == 2 and all(i.startswith("call_") for i in ids)


def test_empty_upstream_still_gives_a_well_formed_stream() -> None:
    out, t = run([b""], include_usage=True)
    chunks = decode(out)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[2]["choices"] == [] and chunks[2]["usage"]["total_tokens"] == 0
    assert chunks[3] == "[DONE]"
    assert t.openai_usage is None


def test_final_event_without_trailing_blank_line_is_not_lost() -> None:
    body = sse(event({"text": "a"})) + b'data: {"candidates":[{"content":{"parts":[{"text":"b"}]},"finishReason":"STOP"}]}'
    out, _ = run([body])
    assert [d.get("content") for d in deltas(out)] == ["", "a", "b", None]
    assert decode(out)[-2]["choices"][0]["finish_reason"] == "stop"


def test_blocked_prompt_chunk() -> None:
    out, _ = run([sse({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}})], include_usage=True)
    chunks = decode(out)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[1]["choices"][0]["finish_reason"] == "content_filter"
    assert chunks[2]["usage"]["prompt_tokens"] == 3
    assert chunks[3] == "[DONE]" and len(chunks) == 4


def test_mid_stream_error_event() -> None:
    t = make(include_usage=True)
    out = t.feed(sse(event({"text": "Hel"})))
    err = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    out += t.feed(sse(err, event({"text": "lo"})))
    chunks = decode(out)
    assert chunks[-1] == {"error": {"message": "The model is overloaded.", "type": "server_error", "param": None, "code": "upstream_error"}}
    assert all(c != "[DONE]" for c in chunks)
    assert not any(c.get("choices") and c["choices"][0]["finish_reason"] for c in chunks[:-1])  # no fake stop
    assert t.feed(sse(event({"text": "more"}))) == []
    assert t.finish() == []
    assert t.fail("again") == []


def test_fail_after_disconnect() -> None:
    t = make()
    assert len(t.feed(sse(event({"text": "a"})) + sse(event({"text": "lost"}))[:-3])) == 2  # role + "a"
    out = t.fail("upstream connection lost", code="upstream_disconnect")
    assert decode(out) == [
        {"error": {"message": "upstream connection lost", "type": "server_error", "param": None, "code": "upstream_disconnect"}}
    ]
    assert t.finish() == [] and t.feed(b"data: {}\r\n\r\n") == []


def test_fail_before_anything_was_sent() -> None:
    t = make()
    assert not t.started
    assert len(t.fail("boom")) == 1
    assert t.started


def test_malformed_upstream_event_fails_the_stream() -> None:
    out, _ = run([b"data: {not json\r\n\r\n"])
    assert decode(out)[-1]["error"]["type"] == "server_error"
    assert b"[DONE]" not in b"".join(out)


def test_multiple_candidates_have_their_own_role_chunks_and_call_indexes() -> None:
    body = sse(
        {
            "candidates": [
                {"content": {"parts": [{"text": "A"}]}},
                {"content": {"parts": [{"functionCall": {"id": "x", "name": "f"}}]}, "index": 1},
            ]
        },
        {
            "candidates": [
                {"content": {"parts": [{"functionCall": {"id": "y", "name": "g"}}]}, "index": 1, "finishReason": "STOP"},
                {"content": {"parts": [{"text": "B"}]}, "finishReason": "STOP"},
            ]
        },
    )
    chunks = decode(run([body])[0])[:-1]
    by_choice: dict[int, list[dict]] = {}
    for c in chunks:
        by_choice.setdefault(c["choices"][0]["index"], []).append(c["choices"][0])
    assert [x["delta"] for x in by_choice[0]] == [{"role": "assistant", "content": ""}, {"content": "A"}, {"content": "B"}, {}]
    assert by_choice[0][-1]["finish_reason"] == "stop"
    calls = [x["delta"]["tool_calls"][0] for x in by_choice[1] if "tool_calls" in x["delta"]]
    assert [c["index"] for c in calls] == [0, 1]
    assert by_choice[1][-1]["finish_reason"] == "tool_calls"


def test_nothing_after_a_choice_finished() -> None:
    out, _ = run([sse(event({"text": "a"}, finish="STOP"), event({"text": "late"}))])
    assert [d.get("content") for d in deltas(out)] == ["", "a", None]


def test_json_array_stream_without_alt_sse_is_an_error_not_an_empty_answer() -> None:
    """Trap 2: without ?alt=sse Gemini streams a JSON array an SSE parser never parses."""
    body = b'[{"candidates":[{"content":{"parts":[{"text":"Hi"}]}}]},\r\n{"candidates":[]}]'
    for chunks in ([body], [body[:10], body[10:]]):
        out, _ = run(chunks)
        assert [c["error"]["type"] for c in decode(out)] == ["server_error"]
        assert DONE not in out


def test_keepalive_only_stream_is_not_mistaken_for_garbage() -> None:
    out, _ = run([b": keep-alive\r\n\r\n", sse(event({"text": "a"}, finish="STOP"))])
    assert decode(out)[-1] == "[DONE]"


def steps(*tokens: str, top: int = 2) -> dict:
    """A Gemini logprobsResult for `tokens`, each with `top` alternatives (the chosen one first)."""
    chosen = [{"token": t, "logProbability": -0.1 * (i + 1)} for i, t in enumerate(tokens)]
    tops = [{"candidates": [c, {"token": c["token"] + "?", "logProbability": -3.0}][:top]} for c in chosen]
    return {"topCandidates": tops, "chosenCandidates": chosen} if top else {"chosenCandidates": chosen}


def with_logprobs(body: dict, result: dict) -> dict:
    body["candidates"][0]["logprobsResult"] = result
    return body


def test_each_chunk_carries_the_logprobs_of_its_own_tokens() -> None:
    body = sse(
        with_logprobs(event({"text": "The sky"}), steps("The", " sky")),
        with_logprobs(event({"text": " is blue."}), steps(" is", " blue", ".")),
        event(finish="STOP"),
    )
    chunks = [c["choices"][0] for c in decode(run([body])[0])[:-1]]
    texts = [(c["delta"].get("content"), c["logprobs"]) for c in chunks]
    assert texts[0] == ("", None) and texts[-1] == (None, None)
    assert [[t["token"] for t in lp["content"]] for _, lp in texts[1:3]] == [["The", " sky"], [" is", " blue", "."]]
    first = texts[1][1]["content"][0]
    assert first == {
        "token": "The",
        "logprob": -0.1,
        "bytes": [84, 104, 101],
        "top_logprobs": [
            {"token": "The", "logprob": -0.1, "bytes": [84, 104, 101]},
            {"token": "The?", "logprob": -3.0, "bytes": [84, 104, 101, 63]},
        ],
    }
    assert texts[1][1]["refusal"] is None


def test_logprobs_without_text_ride_on_the_finish_chunk() -> None:
    body = sse(event({"text": "Hi"}), with_logprobs(event(finish="STOP"), steps("Hi", top=0)))
    chunks = [c["choices"][0] for c in decode(run([body])[0])[:-1]]
    assert chunks[-1]["finish_reason"] == "stop"
    hi = {"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}
    assert chunks[-1]["logprobs"] == {"content": [hi], "refusal": None}


def test_legacy_functions_stream_a_function_call_delta() -> None:
    body = sse(
        event(
            {"functionCall": {"id": "c1", "name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"id": "c2", "name": "get_weather", "args": {"city": "Rome"}}},
        ),
        event({"functionCall": {"name": "get_time"}}, finish="STOP"),
    )
    out, _ = run([body], legacy_functions=True)
    assert deltas(out) == [
        {"role": "assistant", "content": ""},
        {"function_call": {"name": "get_weather", "arguments": ""}},
        {"function_call": {"arguments": '{"city": "Paris"}'}},
        {},
    ]
    assert decode(out)[-2]["choices"][0]["finish_reason"] == "function_call"


def test_legacy_functions_text_answer_stops() -> None:
    out, _ = run([sse(event({"text": "Sunny."}, finish="STOP"))], legacy_functions=True)
    assert decode(out)[-2]["choices"][0]["finish_reason"] == "stop"
