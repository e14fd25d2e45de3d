"""The model's answer as the flash cache keeps it for the Responses and Messages APIs."""

from __future__ import annotations

import json

from hpn_router.core.cachedanswer import AnswerCollector, answer_events, answer_from_json, answer_to_json
from hpn_router.core.inbound.anthropic_messages_answer import MessageHead, MessagesEncoder, message_object
from hpn_router.core.inbound.openai_responses_answer import ResponseHead, response_object
from hpn_router.core.inbound.openai_responses_stream import ResponsesEncoder
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
    Usage,
    UsageReport,
)

USAGE = Usage(input_tokens=7, output_tokens=5, reasoning_tokens=2, cached_tokens=1)
CALL = ToolCall("call_1", "get_weather", '{"city": "Paris"}', signature="sig", signature_provider="gemini")
ANSWER = ChatAnswer(
    choices=(Choice(0, text="Hi there", reasoning="thinking", tool_calls=(CALL,), finish=Finish.TOOL_CALLS),),
    usage=USAGE,
    provider="gemini",
)


def test_an_answer_survives_its_json_form() -> None:
    stored = json.loads(json.dumps(answer_to_json(ANSWER)))
    assert answer_from_json(stored) == ANSWER
    bare = ChatAnswer(choices=(Choice(0, text=None, finish=Finish.LENGTH),))
    assert answer_from_json(json.loads(json.dumps(answer_to_json(bare)))) == bare


def test_the_replayed_events_collect_into_the_same_answer() -> None:
    collector = AnswerCollector()
    collector.feed(answer_events(ANSWER))
    assert collector.answer() == ChatAnswer(choices=ANSWER.choices, usage=USAGE)


def test_a_named_stop_sequence_survives_the_cache_both_ways() -> None:
    stopped = ChatAnswer(choices=(Choice(0, text="one ", finish=Finish.STOP, stop_sequence="two"),), usage=USAGE, provider="anthropic")
    assert answer_from_json(json.loads(json.dumps(answer_to_json(stopped)))) == stopped
    collector = AnswerCollector()
    collector.feed(answer_events(stopped))
    assert collector.answer() == ChatAnswer(choices=stopped.choices, usage=USAGE)
    older = answer_to_json(stopped)
    del older["choices"][0]["stop_sequence"]  # an entry written before the field existed
    assert answer_from_json(older).choices[0].stop_sequence is None


def test_the_collector_joins_deltas_and_keeps_choices_in_order() -> None:
    collector = AnswerCollector()
    collector.feed([ChoiceStart(1), TextDelta(1, "b"), ChoiceStart(0), TextDelta(0, "a"), ReasoningDelta(0, "r")])
    collector.feed([TextDelta(0, "a"), ChoiceEnd(0, Finish.STOP), ChoiceEnd(1, Finish.LENGTH), UsageReport(USAGE), StreamEnd()])
    answer = collector.answer()
    assert answer == ChatAnswer(
        choices=(Choice(0, text="aa", reasoning="r", finish=Finish.STOP), Choice(1, text="b", finish=Finish.LENGTH)), usage=USAGE
    )


def test_only_a_complete_answer_is_collected() -> None:
    cut = AnswerCollector()
    cut.feed([ChoiceStart(0), TextDelta(0, "Hi")])
    assert cut.answer() is None  # the stream never ended
    unfinished = AnswerCollector()
    unfinished.feed([ChoiceStart(0), TextDelta(0, "Hi"), StreamEnd()])
    assert unfinished.answer() is None  # a choice never ended
    failed = AnswerCollector()
    failed.feed([ChoiceStart(0), TextDelta(0, "Hi"), StreamError("boom")])
    failed.feed([ChoiceEnd(0, Finish.STOP), StreamEnd()])
    assert failed.answer() is None and failed.failed
    empty = AnswerCollector()
    empty.feed([StreamEnd()])
    assert empty.answer() is None


def test_an_answer_over_the_size_bound_is_not_kept() -> None:
    events = [ChoiceStart(0), TextDelta(0, "x" * 11), ChoiceEnd(0, Finish.STOP), StreamEnd()]
    small, big = AnswerCollector(max_chars=10), AnswerCollector(max_chars=11)
    small.feed(events)
    big.feed(events)
    assert small.answer() is None and big.answer() is not None


def test_a_tool_call_replays_as_each_apis_stream_ends_with_the_same_object_as_the_plain_answer() -> None:
    answer = ChatAnswer(choices=(Choice(0, text="Let me look", tool_calls=(CALL,), finish=Finish.TOOL_CALLS),), usage=USAGE)
    head = ResponseHead(response_id="resp_1", created=1, model="gpt-4", echo={}, custom_tools=frozenset(), expose_reasoning=False)
    encoder = ResponsesEncoder(head)
    frames = encoder.encode_all(answer_events(answer))
    assert frames[-1].startswith(b"event: response.completed")
    streamed, plain = encoder.response, response_object(answer, head)
    assert streamed is not None
    assert [i["type"] for i in streamed["output"]] == [i["type"] for i in plain["output"]] == ["message", "function_call"]
    assert streamed["usage"] == plain["usage"]
    message_head = MessageHead(message_id="msg_1", model="claude-x", expose_reasoning=False)
    events = b"".join(MessagesEncoder(message_head).encode_all(answer_events(answer))).decode()
    assert '"input_json_delta"' in events and '"stop_reason":"tool_use"' in events and events.rstrip().endswith('{"type":"message_stop"}')
    assert message_object(answer, message_head)["stop_reason"] == "tool_use"
