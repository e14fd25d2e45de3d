"""Mistral's answers, whole and streamed, as the router's ChatAnswer and stream events."""

from __future__ import annotations

import json

from hpn_router.core.model.answer import (
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
from hpn_router.core.providers.mistral.chat_answer import MistralStreamDecoder, mistral_answer
from mistral_emulator.answers import AnswerContext, chat_response, stream_chunks

USAGE = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}


def sse(*events: dict) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"


def test_a_text_answer_with_thinking_chunks_and_model_length() -> None:
    content = [{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]}, {"type": "text", "text": "Hi"}]
    resp = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "model_length"}],
        "usage": USAGE,
    }
    answer = mistral_answer(resp)
    choice = answer.choices[0]
    assert (choice.text, choice.reasoning, choice.finish) == ("Hi", "hmm", Finish.LENGTH)
    assert answer.usage == Usage(input_tokens=5, output_tokens=3) and answer.provider == "mistral"


def test_tool_calls_keep_mistrals_ids() -> None:
    calls = [{"id": "Ab3dE5gH9", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}]
    resp = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "", "tool_calls": calls}, "finish_reason": "tool_calls"}]}
    choice = mistral_answer(resp).choices[0]
    assert choice.tool_calls == (ToolCall(id="Ab3dE5gH9", name="f", arguments='{"a":1}'),)
    assert choice.finish is Finish.TOOL_CALLS and choice.text is None


def test_a_stream_in_any_split_gives_the_same_events() -> None:
    data = sse(
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}], "usage": USAGE},
    )
    want = [ChoiceStart(0), TextDelta(0, "Hel"), TextDelta(0, "lo"), ChoiceEnd(0, Finish.STOP), UsageReport(Usage(5, 3)), StreamEnd()]
    whole = MistralStreamDecoder()
    assert whole.feed(data) + whole.finish() == want
    split = MistralStreamDecoder()
    events = [e for i in range(len(data)) for e in split.feed(data[i : i + 1])] + split.finish()
    assert events == want and split.usage == Usage(5, 3)


def test_a_tool_call_in_pieces_is_joined_and_sent_when_its_choice_ends() -> None:
    data = sse(
        {
            "choices": [
                {"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "Ab3dE5gH9", "function": {"name": "f", "arguments": '{"a"'}}]}}
            ]
        },
        {
            "choices": [
                {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}, "finish_reason": "tool_calls"}
            ]
        },
    )
    decoder = MistralStreamDecoder()
    events = decoder.feed(data) + decoder.finish()
    assert events == [ChoiceStart(0), ToolCallEvent(0, ToolCall("Ab3dE5gH9", "f", '{"a":1}')), ChoiceEnd(0, Finish.TOOL_CALLS), StreamEnd()]


def test_thinking_deltas_and_an_error_finish() -> None:
    thinking = [{"type": "thinking", "thinking": [{"type": "text", "text": "hm"}]}]
    data = sse({"choices": [{"index": 0, "delta": {"content": thinking}, "finish_reason": "error"}]})
    decoder = MistralStreamDecoder()
    events = decoder.feed(data) + decoder.finish()
    assert events[:2] == [ChoiceStart(0), ReasoningDelta(0, "hm")] and isinstance(events[-1], StreamError)


def test_a_body_that_is_no_stream_and_a_malformed_event_end_with_one_error() -> None:
    plain = MistralStreamDecoder()
    assert plain.feed(b'{"object": "chat.completion"}') == [] and [type(e) for e in plain.finish()] == [StreamError]
    broken = MistralStreamDecoder()
    assert [type(e) for e in broken.feed(b"data: {nope\n\n")] == [StreamError] and broken.finish() == []


def test_the_emulators_answers_read_whole_and_streamed_alike() -> None:
    body = {"model": "mistral-small-latest", "messages": [{"role": "user", "content": "Say hi"}]}
    response = chat_response(body, AnswerContext(model="mistral-small-latest", seq=1, created=0))
    whole = mistral_answer(response)
    decoder = MistralStreamDecoder()
    events = decoder.feed(sse(*stream_chunks(response))) + decoder.finish()
    streamed = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert streamed == whole.choices[0].text and decoder.usage == whole.usage
