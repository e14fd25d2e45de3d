"""An OpenAI chat body read into the ChatRequest model: OpenAI's spellings become the model's
neutral fields, once. (What makes a body invalid: tests/core/test_chat_validate.py.)"""

from __future__ import annotations

import pytest
from hpn_router.core.errors import InvalidRequest
from hpn_router.core.inbound.openai_chat_request import parse_chat_request
from hpn_router.core.model.request import (
    MediaPart,
    Message,
    OutputFormat,
    Signature,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
)
from hpn_router.core.toolids import encode_call_id


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def call(call_id: str, name: str = "get_weather", arguments: str = '{"city":"Paris"}') -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def parse(**fields: object):
    return parse_chat_request({"model": "gpt-4o", "messages": [user("hi")], **fields})


def translate(body: dict):
    return parse_chat_request(body)


def test_a_minimal_request() -> None:
    request = parse()
    assert request.model == "gpt-4o" and request.messages == (Message("user", (TextPart("hi"),)),)
    assert not request.stream and not request.include_usage and request.tools == () and request.extra == {}


def test_invalid_bodies_raise_what_the_validator_raises() -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_chat_request({"model": "m", "messages": [{"role": "robot"}]})
    assert err.value.param == "messages[0].role"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"max_tokens": 10}, {"max_output_tokens": 10}),
        ({"max_tokens": 10, "max_completion_tokens": 20}, {"max_output_tokens": 20}),
        ({"n": 2, "temperature": 0.5, "top_p": 1}, {"candidate_count": 2, "temperature": 0.5, "top_p": 1}),
        ({"stop": "END"}, {"stop": ("END",)}),
        ({"stop": ["a", "b"]}, {"stop": ("a", "b")}),
        ({"seed": 2**40, "presence_penalty": 1, "frequency_penalty": -1}, {"seed": 2**40, "presence_penalty": 1, "frequency_penalty": -1}),
        ({"logprobs": True, "top_logprobs": 3}, {"logprobs": True, "top_logprobs": 3}),
        ({"reasoning_effort": "low"}, {"reasoning_effort": "low"}),
        ({"stream": True, "stream_options": {"include_usage": True}}, {"stream": True, "include_usage": True}),
        ({"stream": True, "stream_options": None}, {"stream": True, "include_usage": False}),
        ({"user": "alice"}, {"end_user": "alice", "extra": {}}),
        ({"user": 7}, {"end_user": None, "extra": {"user": 7}}),
        ({"parallel_tool_calls": False}, {"parallel_tool_calls": False}),
        ({"response_format": {"type": "text"}}, {"output_format": OutputFormat("text")}),
        ({"response_format": {"type": "json_object"}}, {"output_format": OutputFormat("json")}),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "strict": True, "schema": {"type": "object"}}}},
            {"output_format": OutputFormat("json_schema", schema={"type": "object"}, name="x", strict=True)},
        ),
    ],
)
def test_openai_fields_become_neutral_ones(fields: dict, expected: dict) -> None:
    request = parse(**fields)
    assert {name: getattr(request, name) for name in expected} == expected


def test_unread_fields_are_kept_and_bookkeeping_is_dropped() -> None:
    request = parse(logit_bias={"50256": -100}, safety_identifier="u1", metadata={"a": "b"}, store=True, service_tier="auto")
    assert request.extra == {"logit_bias": {"50256": -100}, "safety_identifier": "u1"}


def test_tools_and_choices() -> None:
    tools = [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}, "strict": True}}]
    request = parse(tools=tools, tool_choice={"type": "function", "function": {"name": "f"}})
    assert request.tools == (Tool("f", "d", {"type": "object"}, True),)
    assert request.tool_choice == ToolChoice("required", ("f",)) and not request.legacy_functions
    allowed = {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [{"type": "function", "function": {"name": "f"}}]}}
    assert parse(tools=tools, tool_choice=allowed).tool_choice == ToolChoice("auto", ("f",))
    assert parse(tools=tools, tool_choice="required").tool_choice == ToolChoice("required")


def test_legacy_functions_set_the_flag_and_their_choice() -> None:
    request = parse(functions=[{"name": "f"}], function_call={"name": "f"})
    assert request.legacy_functions and request.tools == (Tool("f"),)
    assert request.tool_choice == ToolChoice("required", ("f",))
    assert parse(functions=[{"name": "f"}], function_call="auto").tool_choice == ToolChoice("auto")
    assert not parse(functions=[{"name": "f"}], tools=[{"type": "function", "function": {"name": "g"}}]).legacy_functions


def test_minted_call_ids_give_back_the_gemini_id_and_signature() -> None:
    minted = encode_call_id("abc", "c2ln")
    messages = [
        user("go"),
        {"role": "assistant", "content": None, "tool_calls": [call(minted), call("toolu_9", "other", "")]},
        {"role": "tool", "tool_call_id": minted, "content": [{"type": "text", "text": "{}"}]},
        {"role": "tool", "tool_call_id": "toolu_9", "content": ""},
    ]
    request = parse_chat_request({"model": "m", "messages": messages})
    assert request.messages[1].tool_calls == (
        ToolCall("get_weather", {"city": "Paris"}, id=minted, provider_id="abc", signature=Signature("c2ln", "gemini")),
        ToolCall("other", {}, id="toolu_9"),
    )
    assert request.messages[2] == Message("tool", (ToolResult((TextPart("{}"),), call_id=minted),))
    assert request.messages[3] == Message("tool", (ToolResult((TextPart(""),), call_id="toolu_9"),))  # empty kept: it is the result


def test_legacy_function_call_and_result() -> None:
    messages = [
        user("go"),
        {"role": "assistant", "content": "", "function_call": {"name": "f", "arguments": '{"a": 1}'}},
        {"role": "function", "name": "f", "content": "42"},
    ]
    request = parse_chat_request({"model": "m", "messages": messages})
    assert request.messages[1] == Message("assistant", (), (ToolCall("f", {"a": 1}),))
    assert request.messages[2] == Message("tool", (ToolResult((TextPart("42"),), name="f"),))


def test_content_parts() -> None:
    content = [
        {"type": "text", "text": "look"},
        {"type": "text", "text": ""},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "data:image/webp;base64,QUJD"}},
        {"type": "input_audio", "input_audio": {"data": "QUJD", "format": "mp3"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,QUJD", "filename": "a.pdf"}},
        {"type": "file", "file": {"file_data": "QUJD", "filename": "notes.txt"}},
    ]
    request = parse_chat_request({"model": "m", "messages": [{"role": "user", "content": content, "name": "bob"}]})
    assert request.messages[0] == Message(
        "user",
        (
            TextPart("look"),
            MediaPart("image", url="https://example.com/a.png", detail="high"),
            MediaPart("image", mime_type="image/webp", data="QUJD"),
            MediaPart("audio", mime_type="audio/mp3", data="QUJD"),
            MediaPart("file", mime_type="application/pdf", data="QUJD", filename="a.pdf"),
            MediaPart("file", data="QUJD", filename="notes.txt"),
        ),
        name="bob",
    )


def test_system_text_and_refusals() -> None:
    messages = [
        {"role": "developer", "content": [{"type": "text", "text": "Be brief"}]},
        user("hi"),
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}, {"type": "text", "text": "ok"}]},
    ]
    request = parse_chat_request({"model": "m", "messages": messages})
    assert request.messages[0] == Message("developer", (TextPart("Be brief"),))
    assert request.messages[2] == Message("assistant", (TextPart("ok"),))


def test_unknown_tool_call_id_is_invalid() -> None:
    body = {
        "model": "m",
        "messages": [
            user("hi"),
            {"role": "assistant", "tool_calls": [call("call_1")]},
            {"role": "tool", "tool_call_id": "call_2", "content": "x"},
        ],
    }
    with pytest.raises(InvalidRequest) as err:
        translate(body)
    assert err.value.param == "messages[2].tool_call_id"
    assert "call_2" in err.value.message


def test_tool_result_without_any_call_is_invalid() -> None:
    body = {"model": "m", "messages": [user("hi"), {"role": "tool", "tool_call_id": "call_1", "content": "x"}]}
    with pytest.raises(InvalidRequest) as err:
        translate(body)
    assert err.value.param == "messages[1].tool_call_id"


def test_a_result_must_answer_the_latest_assistant_turn() -> None:
    body = {
        "model": "m",
        "messages": [
            user("hi"),
            {"role": "assistant", "tool_calls": [call("call_1")]},
            user("again"),
            {"role": "tool", "tool_call_id": "call_1", "content": "x"},
        ],
    }
    with pytest.raises(InvalidRequest) as err:
        translate(body)
    assert err.value.param == "messages[3].tool_call_id"
