"""The model's stream as the Responses API's SSE events: the event order OpenAI sends, sequence
numbers, the terminal event with the whole output and usage, and failures."""

from __future__ import annotations

import json

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
    ToolCallEvent,
    Usage,
    UsageReport,
)

HEAD = ResponseHead("resp_1", 1700000000, "gpt-4o", echo={"temperature": 0.2, "tools": []})
USAGE = Usage(input_tokens=10, output_tokens=5, reasoning_tokens=2, cached_tokens=3)
CALL = ToolCall("fc_abc", "get_weather", '{"city":"Paris"}', signature="sig")


def events(encoder: ResponsesEncoder, stream: list) -> list[dict]:
    out = []
    for chunk in encoder.encode_all(stream):
        kind, data = chunk.decode().split("\n", 1)
        payload = json.loads(data.removeprefix("data: "))
        assert kind == f"event: {payload['type']}" and chunk.endswith(b"\n\n")
        out.append(payload)
    return out


def test_a_call_of_a_namespaced_tool_names_the_tool_and_its_namespace_streamed_or_not() -> None:
    call = ToolCall("call_n", "multi_agent_v1.close_agent", '{"id":"a1"}')
    head = ResponseHead("r", 1, "m", namespaced={"multi_agent_v1.close_agent": ("multi_agent_v1", "close_agent")})
    answer = ChatAnswer((Choice(0, tool_calls=(call, CALL), finish=Finish.TOOL_CALLS),))
    namespaced, plain = response_object(answer, head)["output"]
    assert (namespaced["name"], namespaced["namespace"]) == ("close_agent", "multi_agent_v1") and "namespace" not in plain
    streamed = events(ResponsesEncoder(head), [ChoiceStart(0), ToolCallEvent(0, call), ChoiceEnd(0, Finish.TOOL_CALLS), StreamEnd()])
    done = [e["item"] for e in streamed if e["type"] == "response.output_item.done"]
    assert [(i["name"], i["namespace"]) for i in done] == [("close_agent", "multi_agent_v1")]


def test_a_text_stream_in_openai_order() -> None:
    stream = [ChoiceStart(0), TextDelta(0, "Hel"), TextDelta(0, "lo"), ChoiceEnd(0, Finish.STOP), UsageReport(USAGE), StreamEnd()]
    out = events(ResponsesEncoder(HEAD), stream)
    assert [e["type"] for e in out] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    assert out[0]["response"]["status"] == "in_progress" and out[0]["response"]["output"] == []
    assert out[2]["item"]["content"] == [] and out[3]["part"]["text"] == ""
    assert out[6]["text"] == "Hello" and out[8]["item"]["content"][0]["text"] == "Hello"
    final = out[-1]["response"]
    assert final["status"] == "completed" and final["output"] == [out[8]["item"]] and final["usage"]["input_tokens"] == 10
    item_ids = {e.get("item_id") for e in out[3:8]}
    assert item_ids == {out[2]["item"]["id"]}


def test_text_then_calls_close_the_message_first() -> None:
    stream = [ChoiceStart(0), TextDelta(0, "Checking."), ToolCallEvent(0, CALL), ChoiceEnd(0, Finish.TOOL_CALLS), StreamEnd()]
    out = events(ResponsesEncoder(HEAD), stream)
    kinds = [e["type"] for e in out]
    assert kinds[kinds.index("response.output_item.done") + 1 :] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added, done = out[-5], out[-2]
    assert added["output_index"] == 1 and added["item"]["arguments"] == "" and added["item"]["status"] == "in_progress"
    assert done["item"]["arguments"] == '{"city":"Paris"}' and out[-3]["name"] == "get_weather"
    assert [i["type"] for i in out[-1]["response"]["output"]] == ["message", "function_call"]
    assert kinds.count("response.output_item.done") == 2  # one per item, never twice (litellm#37273)


def test_a_custom_tool_call_streams_its_input() -> None:
    encoder = ResponsesEncoder(ResponseHead("r", 1, "m", custom_tools=frozenset({"apply_patch"})))
    out = events(
        encoder,
        [ChoiceStart(0), ToolCallEvent(0, ToolCall("c", "apply_patch", '{"input":"diff"}')), ChoiceEnd(0, Finish.TOOL_CALLS), StreamEnd()],
    )
    assert [e["type"] for e in out][3:5] == ["response.custom_tool_call_input.delta", "response.custom_tool_call_input.done"]
    assert out[4]["input"] == "diff" and out[-2]["item"]["type"] == "custom_tool_call"


def test_exposed_reasoning_streams_as_a_summary_before_the_text() -> None:
    encoder = ResponsesEncoder(ResponseHead("r", 1, "m", expose_reasoning=True))
    out = events(encoder, [ChoiceStart(0), ReasoningDelta(0, "Hmm"), TextDelta(0, "Hi"), ChoiceEnd(0, Finish.STOP), StreamEnd()])
    assert [e["type"] for e in out][2:8] == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
    ]
    assert [i["type"] for i in out[-1]["response"]["output"]] == ["reasoning", "message"]
    hidden = events(ResponsesEncoder(HEAD), [ChoiceStart(0), ReasoningDelta(0, "Hmm"), TextDelta(0, "Hi"), StreamEnd()])
    assert not any("reasoning" in e["type"] for e in hidden)


def test_the_length_limit_ends_in_response_incomplete() -> None:
    out = events(ResponsesEncoder(HEAD), [ChoiceStart(0), TextDelta(0, "Hal"), ChoiceEnd(0, Finish.LENGTH), StreamEnd()])
    assert out[-1]["type"] == "response.incomplete" and out[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert out[-2]["item"]["status"] == "incomplete"


def test_a_broken_stream_ends_in_response_failed_and_nothing_follows() -> None:
    encoder = ResponsesEncoder(HEAD)
    out = events(encoder, [ChoiceStart(0), TextDelta(0, "Hal"), StreamError("connection lost")])
    assert out[-1]["type"] == "response.failed" and out[-1]["response"]["status"] == "failed"
    assert out[-1]["response"]["error"]["message"] == "connection lost"
    assert out[-2]["type"] == "response.output_item.done"  # the open item is closed first
    assert encoder.encode(StreamEnd()) == []


def test_a_stream_that_fails_at_once_still_opens_the_response() -> None:
    out = events(ResponsesEncoder(HEAD), [StreamError("boom")])
    assert [e["type"] for e in out] == ["response.created", "response.in_progress", "response.failed"]


def test_the_encoder_keeps_text_and_usage_for_cost() -> None:
    encoder = ResponsesEncoder(HEAD, max_text=4)
    encoder.encode_all([ChoiceStart(0), TextDelta(0, "Hello"), UsageReport(USAGE), StreamEnd()])
    assert encoder.text == "Hell" and encoder.usage == USAGE and encoder.started and encoder.response is not None
