"""The model's answer as a Responses API `response`: its items, status and usage (its SSE events:
test_openai_responses_stream.py)."""

from __future__ import annotations

from hpn_router.core.inbound.openai_responses_answer import ResponseHead, response_object
from hpn_router.core.model.answer import (
    ChatAnswer,
    Choice,
    Finish,
    ToolCall,
    Usage,
)

HEAD = ResponseHead("resp_1", 1700000000, "gpt-4o", echo={"temperature": 0.2, "tools": []})
USAGE = Usage(input_tokens=10, output_tokens=5, reasoning_tokens=2, cached_tokens=3)
CALL = ToolCall("fc_abc", "get_weather", '{"city":"Paris"}', signature="sig")


def test_a_text_answer() -> None:
    answer = ChatAnswer((Choice(0, text="Hi"),), usage=USAGE)
    body = response_object(answer, HEAD)
    assert body["id"] == "resp_1" and body["object"] == "response" and body["status"] == "completed" and body["model"] == "gpt-4o"
    assert body["temperature"] == 0.2 and body["incomplete_details"] is None and body["store"] is False
    [message] = body["output"]
    assert message["type"] == "message" and message["id"].startswith("msg_") and message["status"] == "completed"
    assert message["content"] == [{"type": "output_text", "text": "Hi", "annotations": [], "logprobs": []}]
    assert body["usage"] == {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 3},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 2},
        "total_tokens": 15,
    }


def test_calls_are_items_and_custom_tools_get_their_input_back() -> None:
    patch = ToolCall("call_x", "apply_patch", '{"input":"*** Begin Patch"}')
    body = response_object(
        ChatAnswer((Choice(0, tool_calls=(CALL, patch), finish=Finish.TOOL_CALLS),)),
        ResponseHead("r", 1, "m", custom_tools=frozenset({"apply_patch"})),
    )
    call, custom = body["output"]
    assert call["type"] == "function_call" and call["name"] == "get_weather" and call["arguments"] == '{"city":"Paris"}'
    assert call["call_id"].startswith("fc_abc__thought__") and call["status"] == "completed"  # the signature rides in the id
    assert custom["type"] == "custom_tool_call" and custom["input"] == "*** Begin Patch" and custom["call_id"] == "call_x"
    assert body["status"] == "completed" and body["usage"]["total_tokens"] == 0  # no usage reads as zeros


def test_length_and_content_filter_are_incomplete_with_the_reason() -> None:
    body = response_object(ChatAnswer((Choice(0, text="Hal", finish=Finish.LENGTH),)), HEAD)
    assert body["status"] == "incomplete" and body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["output"][0]["status"] == "incomplete"
    blocked = response_object(ChatAnswer(()), HEAD)
    assert blocked["status"] == "incomplete" and blocked["incomplete_details"] == {"reason": "content_filter"} and blocked["output"] == []


def test_reasoning_is_an_item_only_when_exposed() -> None:
    answer = ChatAnswer((Choice(0, text="Hi", reasoning="Thinking"),))
    assert [i["type"] for i in response_object(answer, HEAD)["output"]] == ["message"]
    shown = response_object(answer, ResponseHead("r", 1, "m", expose_reasoning=True))["output"]
    assert [i["type"] for i in shown] == ["reasoning", "message"] and shown[0]["summary"] == [{"type": "summary_text", "text": "Thinking"}]
