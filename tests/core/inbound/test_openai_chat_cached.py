"""openai_chat_cached: a stream the router sent rebuilds to the completion it would have sent
unstreamed, and a stored completion replays as a well-formed stream."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chatpath import StreamTranslator, gemini_to_chat_completion
from hpn_router.core.inbound.openai_chat_cached import StreamCollector, completion_to_sse
from hpn_router.core.inbound.openai_chat_stream import DONE

USAGE = {"promptTokenCount": 6, "candidatesTokenCount": 9, "thoughtsTokenCount": 4, "totalTokenCount": 19}
CALL_1 = {"functionCall": {"id": "c1", "name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "U0lHMQ=="}
CALL_2 = {"functionCall": {"id": "c2", "name": "get_time"}}
THOUGHT = {"text": "Thinking…", "thought": True}


def gemini_event(parts: list[dict], finish: str | None = None, index: int = 0) -> dict:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": index}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "usageMetadata": USAGE}


def gemini_sse(events: list[dict]) -> bytes:
    return b"".join(f"data: {json.dumps(e, ensure_ascii=False)}\r\n\r\n".encode() for e in events)


def translate_stream(
    events: list[dict], *, include_usage: bool, expose_reasoning: bool = False, legacy_functions: bool = False
) -> list[bytes]:
    t = StreamTranslator(
        model="gpt-4o",
        completion_id="chatcmpl-1",
        created=1700000000,
        include_usage=include_usage,
        expose_reasoning=expose_reasoning,
        legacy_functions=legacy_functions,
    )
    return t.feed(gemini_sse(events)) + t.finish()


def collect(chunks: list[bytes], **kwargs: Any) -> StreamCollector:
    collector = StreamCollector(**kwargs)
    for chunk in chunks:
        collector.feed(chunk)
    return collector


def logprobs(*tokens: str) -> dict:
    chosen = [{"token": t, "logProbability": -0.5} for t in tokens]
    return {"topCandidates": [{"candidates": [c, {"token": "?", "logProbability": -4.0}]} for c in chosen], "chosenCandidates": chosen}


def with_logprobs(event: dict, result: dict) -> dict:
    event["candidates"][0]["logprobsResult"] = result
    return event


# Each case: the Gemini stream, and the same answer as one Gemini response.
CASES = {
    "text": (
        [gemini_event([{"text": "The sky"}]), gemini_event([{"text": " is blue — 日本\u2028ok."}], "STOP")],
        {"candidates": [{"content": {"parts": [{"text": "The sky is blue — 日本\u2028ok."}]}, "finishReason": "STOP"}]},
    ),
    "tools": (
        [gemini_event([{"text": "Let me check."}]), gemini_event([CALL_1, CALL_2]), gemini_event([], "STOP")],
        {"candidates": [{"content": {"parts": [{"text": "Let me check."}, CALL_1, CALL_2]}, "finishReason": "STOP"}]},
    ),
    "tools_only": (
        [gemini_event([CALL_1]), gemini_event([], "STOP")],
        {"candidates": [{"content": {"parts": [CALL_1]}, "finishReason": "STOP"}]},
    ),
    "reasoning": (
        [gemini_event([THOUGHT]), gemini_event([{"text": "Blue."}], "STOP")],
        {"candidates": [{"content": {"parts": [THOUGHT, {"text": "Blue."}]}, "finishReason": "STOP"}]},
    ),
    "logprobs": (
        [
            with_logprobs(gemini_event([{"text": "The sky"}]), logprobs("The", " sky")),
            with_logprobs(gemini_event([{"text": " is blue."}], "STOP"), logprobs(" is", " blue", ".")),
        ],
        {
            "candidates": [
                {
                    "content": {"parts": [{"text": "The sky is blue."}]},
                    "finishReason": "STOP",
                    "logprobsResult": logprobs("The", " sky", " is", " blue", "."),
                }
            ]
        },
    ),
    "legacy_functions": (
        [gemini_event([CALL_1, CALL_2]), gemini_event([], "STOP")],
        {"candidates": [{"content": {"parts": [CALL_1, CALL_2]}, "finishReason": "STOP"}]},
    ),
    "two_choices": (
        [gemini_event([{"text": "A"}], "STOP"), gemini_event([{"text": "B"}], "MAX_TOKENS", index=1)],
        {
            "candidates": [
                {"content": {"parts": [{"text": "A"}]}, "finishReason": "STOP"},
                {"content": {"parts": [{"text": "B"}]}, "finishReason": "MAX_TOKENS", "index": 1},
            ]
        },
    ),
}


LEGACY = {"legacy_functions"}  # cases whose request used the legacy `functions` field


def unstreamed(response: dict, *, expose_reasoning: bool, legacy_functions: bool = False) -> dict:
    return gemini_to_chat_completion(
        {**response, "usageMetadata": USAGE},
        model="gpt-4o",
        completion_id="chatcmpl-1",
        created=1700000000,
        expose_reasoning=expose_reasoning,
        legacy_functions=legacy_functions,
    )


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("include_usage", [True, False])
def test_collected_stream_equals_the_unstreamed_answer(name: str, include_usage: bool) -> None:
    events, response = CASES[name]
    legacy = name in LEGACY
    chunks = translate_stream(events, include_usage=include_usage, expose_reasoning=True, legacy_functions=legacy)
    collected = collect(chunks).completion()
    expected = unstreamed(response, expose_reasoning=True, legacy_functions=legacy)
    if not include_usage:
        expected["usage"] = None  # the stream did not carry it (the cache adds it from metadata)
    assert collected == expected


def test_any_split_gives_the_same_answer() -> None:
    events, _ = CASES["tools"]
    data = b"".join(translate_stream(events, include_usage=True))
    whole = collect([data]).completion()
    for cut in range(1, len(data)):
        assert collect([data[:cut], data[cut:]]).completion() == whole
    assert collect([data[i : i + 1] for i in range(len(data))]).completion() == whole


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("include_usage", [True, False])
def test_replayed_stream_collects_back_to_the_completion(name: str, include_usage: bool) -> None:
    completion = unstreamed(CASES[name][1], expose_reasoning=True, legacy_functions=name in LEGACY)
    events = completion_to_sse(completion, include_usage=include_usage)
    assert events[-1] == DONE
    assert all(e.startswith(b"data: ") and e.endswith(b"\n\n") for e in events)
    back = collect(events).completion()
    assert back == ({**completion} if include_usage else {**completion, "usage": None})


def test_replayed_stream_shape() -> None:
    completion = unstreamed(CASES["tools"][1], expose_reasoning=False)
    events = [json.loads(e[6:]) for e in completion_to_sse(completion, include_usage=True)[:-1]]
    deltas = [e["choices"][0]["delta"] for e in events[:-1]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"content": "Let me check."}
    assert [d["tool_calls"][0]["index"] for d in deltas[2:4]] == [0, 1]
    assert deltas[2]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert deltas[4] == {} and events[4]["choices"][0]["finish_reason"] == "tool_calls"
    assert all(e["object"] == "chat.completion.chunk" and e["id"] == "chatcmpl-1" for e in events)
    assert all(e["usage"] is None for e in events[:-1])
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == 13


def test_replayed_legacy_function_call_streams_name_then_arguments() -> None:
    completion = unstreamed(CASES["legacy_functions"][1], expose_reasoning=False, legacy_functions=True)
    events = [json.loads(e[6:]) for e in completion_to_sse(completion, include_usage=False)[:-1]]
    assert [e["choices"][0]["delta"] for e in events] == [
        {"role": "assistant", "content": ""},
        {"function_call": {"name": "get_weather", "arguments": ""}},
        {"function_call": {"arguments": '{"city": "Paris"}'}},
        {},
    ]
    assert events[-1]["choices"][0]["finish_reason"] == "function_call"


def test_replayed_logprobs_ride_on_the_text_chunk() -> None:
    completion = unstreamed(CASES["logprobs"][1], expose_reasoning=False)
    events = [json.loads(e[6:]) for e in completion_to_sse(completion, include_usage=False)[:-1]]
    text = events[1]["choices"][0]
    assert text["delta"] == {"content": "The sky is blue."}
    assert text["logprobs"] == completion["choices"][0]["logprobs"]
    assert all(e["choices"][0]["logprobs"] is None for e in (events[0], events[2]))


def test_without_include_usage_no_usage_field() -> None:
    completion = unstreamed(CASES["text"][1], expose_reasoning=False)
    events = [json.loads(e[6:]) for e in completion_to_sse(completion, include_usage=False)[:-1]]
    assert all("usage" not in e for e in events)
    assert len(events) == 3  # role, text, finish


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param(translate_stream(CASES["text"][0], include_usage=False)[:-1], id="no_done"),
        pytest.param(
            [
                b'data: {"choices": [{"index": 0, "delta": {"content": "x"}}]}\n\n',
                b'data: {"error": {"message": "upstream broke"}}\n\n',
                DONE,
            ],
            id="in_band_error",
        ),
        pytest.param([b"data: {not json\n\n", DONE], id="malformed"),
        pytest.param([DONE], id="empty"),
    ],
)
def test_incomplete_streams_are_not_answers(chunks: list[bytes]) -> None:
    collector = collect(chunks)
    assert not collector.complete
    assert collector.completion() is None


def test_max_chars_gives_up() -> None:
    events = [gemini_event([{"text": "word " * 200}], "STOP")]
    chunks = translate_stream(events, include_usage=False)
    assert collect(chunks, max_chars=5000).complete
    assert collect(chunks, max_chars=500).completion() is None


def test_nothing_after_done_counts() -> None:
    chunks = translate_stream(CASES["text"][0], include_usage=False)
    collector = collect([*chunks, b'data: {"error": {"message": "late"}}\n\n'])
    assert collector.complete
