"""The model's answer as Anthropic's Message and its SSE events: the block state machine Claude
Code checks (message_start once, each block opened before its deltas and closed after, tool
input as input_json_delta), usage in message_start and cumulative in message_delta, stop
reasons, and an `error` event for a failure after the first byte."""

from __future__ import annotations

import json

from hpn_router.core.inbound.anthropic_messages_answer import MessageHead, MessagesEncoder, message_object
from hpn_router.core.model.answer import (
    ChatAnswer,
    Choice,
    ChoiceEnd,
    ChoiceStart,
    Finish,
    ReasoningDelta,
    StreamEnd,
    StreamError,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
    UsageReport,
)

HEAD = MessageHead(message_id="msg_1", model="claude-sonnet-4-5")
USAGE = Usage(input_tokens=10, output_tokens=5, cached_tokens=4)
CALL = ToolCall(id="call_1", name="get_weather", arguments='{"city":"Paris"}')


def events_of(chunks: list[bytes]) -> list[dict]:
    """Each SSE event's data, checking its `event:` line names the same type."""
    out = []
    for chunk in chunks:
        for block in chunk.decode().strip().split("\n\n"):
            name, data = block.split("\n")
            payload = json.loads(data.removeprefix("data: "))
            assert name == "event: " + payload["type"]
            out.append(payload)
    return out


def test_a_message_has_its_blocks_stop_reason_and_usage() -> None:
    answer = ChatAnswer((Choice(0, text="Hi", reasoning="hmm", tool_calls=(CALL,), finish=Finish.STOP),), USAGE)
    body = message_object(answer, MessageHead("msg_1", "claude-x", expose_reasoning=True))
    assert body == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": ""},
            {"type": "text", "text": "Hi"},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 6, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 4, "output_tokens": 5},
    }


def test_stop_reasons_and_hidden_reasoning() -> None:
    for finish, reason in [(Finish.STOP, "end_turn"), (Finish.LENGTH, "max_tokens"), (Finish.CONTENT_FILTER, "refusal")]:
        body = message_object(ChatAnswer((Choice(0, text="x", reasoning="r", finish=finish),)), HEAD)
        assert body["stop_reason"] == reason and [b["type"] for b in body["content"]] == ["text"]
    assert message_object(ChatAnswer(()), HEAD)["stop_reason"] == "refusal"  # the prompt was blocked


def test_a_stream_opens_each_block_before_its_deltas_and_closes_it_after() -> None:
    encoder = MessagesEncoder(MessageHead("msg_1", "claude-x", expose_reasoning=True))
    chunks = encoder.encode_all([ChoiceStart(0), ReasoningDelta(0, "think"), TextDelta(0, "Hel"), UsageReport(Usage(10, 1))])
    chunks += encoder.encode_all([TextDelta(0, "lo"), ToolCallEvent(0, CALL), ChoiceEnd(0, Finish.TOOL_CALLS)])
    chunks += encoder.encode_all([UsageReport(USAGE), StreamEnd()])
    events = events_of(chunks)
    assert [(e["type"], e.get("index")) for e in events] == [
        ("message_start", None),
        ("ping", None),
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2),
        ("content_block_delta", 2),
        ("content_block_stop", 2),
        ("message_delta", None),
        ("message_stop", None),
    ]
    start = events[0]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["usage"]["input_tokens"] == 10  # from the first batch
    assert [events[i]["content_block"]["type"] for i in (2, 5, 9)] == ["thinking", "text", "tool_use"]
    assert events[3]["delta"] == {"type": "thinking_delta", "thinking": "think"}
    assert [events[i]["delta"] for i in (6, 7)] == [{"type": "text_delta", "text": "Hel"}, {"type": "text_delta", "text": "lo"}]
    assert events[9]["content_block"]["input"] == {}  # the input arrives as JSON text, even though Gemini sent it whole
    assert events[10]["delta"] == {"type": "input_json_delta", "partial_json": '{"city": "Paris"}'}
    assert events[12]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert events[12]["usage"] == {"input_tokens": 6, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 4, "output_tokens": 5}
    assert encoder.text == "Hello" and encoder.usage == USAGE and encoder.done
    assert encoder.encode(TextDelta(0, "late")) == []  # nothing after message_stop


def test_reasoning_is_not_streamed_unless_exposed() -> None:
    encoder = MessagesEncoder(HEAD)
    events = events_of(encoder.encode_all([ReasoningDelta(0, "secret"), TextDelta(0, "Hi"), ChoiceEnd(0, Finish.LENGTH), StreamEnd()]))
    assert "secret" not in json.dumps(events)
    assert [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"] == ["text"]
    assert events[-2]["delta"]["stop_reason"] == "max_tokens"


def test_a_failure_after_the_first_byte_is_an_error_event() -> None:
    encoder = MessagesEncoder(HEAD)
    events = events_of(encoder.encode_all([TextDelta(0, "Hi"), StreamError("Gemini's stream broke")]))
    assert events[-1] == {"type": "error", "error": {"type": "api_error", "message": "Gemini's stream broke"}}
    assert [e["type"] for e in events].count("message_start") == 1
    assert encoder.encode_all([StreamEnd()]) == []


def test_an_empty_stream_still_starts_and_ends_the_message() -> None:
    events = events_of(MessagesEncoder(HEAD).encode_all([ChoiceEnd(0, Finish.STOP), StreamEnd()]))
    assert [e["type"] for e in events] == ["message_start", "ping", "message_delta", "message_stop"]


def test_a_named_stop_sequence_is_its_stop_reason_plain_and_streamed() -> None:
    stopped = ChatAnswer((Choice(0, text="one ", finish=Finish.STOP, stop_sequence="two"),), USAGE)
    body = message_object(stopped, HEAD)
    assert (body["stop_reason"], body["stop_sequence"]) == ("stop_sequence", "two")
    stream = [TextDelta(0, "one "), ChoiceEnd(0, Finish.STOP, stop_sequence="two"), StreamEnd()]
    events = events_of(MessagesEncoder(HEAD).encode_all(stream))
    assert events[-2]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "two"}


def test_a_stop_sequence_never_outranks_tool_use_or_the_length_limit() -> None:
    called = ChatAnswer((Choice(0, tool_calls=(CALL,), finish=Finish.STOP, stop_sequence="two"),), USAGE)
    assert (message_object(called, HEAD)["stop_reason"], message_object(called, HEAD)["stop_sequence"]) == ("tool_use", None)
    cut = ChatAnswer((Choice(0, text="one", finish=Finish.LENGTH, stop_sequence="two"),), USAGE)
    assert (message_object(cut, HEAD)["stop_reason"], message_object(cut, HEAD)["stop_sequence"]) == ("max_tokens", None)
