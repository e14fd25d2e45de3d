"""Anthropic's Message and its SSE stream as the router's answer and events; streams are the
strict emulator's own event sequences (emulators/anthropic_emulator/answers.py), fed in every split."""

from __future__ import annotations

import json

import pytest
from anthropic_emulator.answers import stream_events
from hpn_router.core.model.answer import (
    ChoiceEnd,
    ChoiceStart,
    Finish,
    ReasoningDelta,
    StreamEnd,
    StreamError,
    TextDelta,
    ToolCallEvent,
    Usage,
    UsageReport,
)
from hpn_router.core.providers.anthropic.chat_answer import AnthropicStreamDecoder, anthropic_answer, map_finish
from hpn_router.core.providers.anthropic.chat_request import thinking_blocks_from_signature

USAGE = {"input_tokens": 10, "cache_creation_input_tokens": 5, "cache_read_input_tokens": 20, "output_tokens": 7}


def message(content: list, stop: str = "end_turn") -> dict:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": content,
            "stop_reason": stop, "stop_sequence": None, "usage": USAGE}  # fmt: skip


def sse(events: list[tuple[str, dict]]) -> bytes:
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


def decode(raw: bytes, step: int) -> list:
    decoder = AnthropicStreamDecoder()
    events = [e for i in range(0, len(raw), step) for e in decoder.feed(raw[i : i + step])]
    return events + decoder.finish()


def test_a_message_with_text_thinking_and_a_call() -> None:
    answer = anthropic_answer(
        message(
            [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            ],
            "tool_use",
        )
    )
    [choice] = answer.choices
    assert choice.text == "Let me look." and choice.reasoning == "hmm" and choice.finish is Finish.TOOL_CALLS
    assert [(c.id, c.name, json.loads(c.arguments)) for c in choice.tool_calls] == [("toolu_1", "get_weather", {"city": "Paris"})]
    # Every prompt token counts: input + cache writes + cache reads.
    assert answer.usage == Usage(input_tokens=35, output_tokens=7, cached_tokens=20) and answer.provider == "anthropic"


@pytest.mark.parametrize(
    ("reason", "finish"),
    [("end_turn", Finish.STOP), ("stop_sequence", Finish.STOP), ("max_tokens", Finish.LENGTH), ("refusal", Finish.CONTENT_FILTER),
     ("model_context_window_exceeded", Finish.LENGTH), ("something_new", Finish.OTHER)],
)  # fmt: skip
def test_stop_reasons(reason: str, finish: Finish) -> None:
    assert map_finish(reason, False) is finish


def test_the_stop_sequence_anthropic_names_is_kept_plain_and_streamed() -> None:
    plain = message([{"type": "text", "text": "one "}], "stop_sequence") | {"stop_sequence": "two"}
    assert anthropic_answer(plain).choices[0].stop_sequence == "two"
    assert anthropic_answer(message([{"type": "text", "text": "one"}])).choices[0].stop_sequence is None
    ends = [e for e in decode(sse(stream_events(plain)), 5) if isinstance(e, ChoiceEnd)]
    assert [(e.finish, e.stop_sequence) for e in ends] == [(Finish.STOP, "two")]


@pytest.mark.parametrize("step", [1, 7, 10_000])
def test_a_stream_in_any_split(step: int) -> None:
    content = [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "text", "text": "Hello there"},
        {"type": "tool_use", "id": "toolu_9", "name": "f", "input": {"a": [1, 2]}},
    ]
    events = decode(sse(stream_events(message(content, "tool_use"))), step)
    assert events[0] == ChoiceStart(0) and events[-1] == StreamEnd()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello there"
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)) == "hmm"
    [call] = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert (call.id, call.name, json.loads(call.arguments)) == ("toolu_9", "f", {"a": [1, 2]})
    assert ChoiceEnd(0, Finish.TOOL_CALLS) in events
    assert [e.usage for e in events if isinstance(e, UsageReport)] == [Usage(input_tokens=35, output_tokens=7, cached_tokens=20)]


def test_an_error_event_after_the_200_ends_the_stream_with_an_error() -> None:
    events = stream_events(message([{"type": "text", "text": "Hello there"}]))[:4]
    events.append(("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
    out = decode(sse(events), 10_000)
    assert out[-1] == StreamError("Overloaded", "overloaded") and not any(isinstance(e, StreamEnd) for e in out)


def test_a_stream_cut_before_message_stop_is_an_error_and_garbage_is_not_sse() -> None:
    cut = decode(sse(stream_events(message([{"type": "text", "text": "Hello"}]))[:5]), 10_000)
    assert isinstance(cut[-1], StreamError)
    assert isinstance(decode(b"<html>oops</html>", 10_000)[-1], StreamError)


THINKING = [
    {"type": "thinking", "thinking": "first", "signature": "sig-1"},
    {"type": "redacted_thinking", "data": "opaque"},
    {"type": "text", "text": "Calling."},
    {"type": "tool_use", "id": "toolu_a", "name": "f", "input": {}},
    {"type": "tool_use", "id": "toolu_b", "name": "g", "input": {}},
]


def test_the_turns_thinking_blocks_ride_on_its_first_call_only() -> None:
    [choice] = anthropic_answer(message(THINKING, "tool_use")).choices
    first, second = choice.tool_calls
    assert first.signature_provider == "anthropic" and second.signature is None
    assert json.loads(first.signature or "") == [{"thinking": "first", "signature": "sig-1"}, {"data": "opaque"}]
    assert thinking_blocks_from_signature(first.signature or "") == THINKING[:2]  # what the next request sends back


@pytest.mark.parametrize("step", [1, 9, 10_000])
def test_a_streamed_turn_carries_the_same_blocks_signature_deltas_included(step: int) -> None:
    whole = anthropic_answer(message(THINKING, "tool_use")).choices[0].tool_calls
    events = decode(sse(stream_events(message(THINKING, "tool_use"))), step)
    assert tuple(e.call for e in events if isinstance(e, ToolCallEvent)) == whole


def test_no_thinking_no_signature() -> None:
    [choice] = anthropic_answer(message([{"type": "tool_use", "id": "toolu_a", "name": "f", "input": {}}], "tool_use")).choices
    assert choice.tool_calls[0].signature is None
