"""Responses API input items read into the model's messages: calls and their outputs as one
assistant turn, content parts (text, images, files), the router's own output items read back,
and the 400s naming the item's field (the rest of the body: test_openai_responses_request.py)."""

from __future__ import annotations

import pytest
from hpn_router.core.inbound.openai_responses_input import output_messages
from hpn_router.core.model.request import MediaPart, Message, Signature, TextPart, ToolResult
from hpn_router.core.toolids import encode_call_id
from inboundkit import parse_responses as parse
from inboundkit import responses_refused as refused

WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
CALL = {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"}


def user_content(*parts: dict) -> list[dict]:
    return [{"role": "user", "content": list(parts)}]


def test_a_call_id_the_router_minted_carries_its_signature_back() -> None:
    call_id = encode_call_id("fc_1", "c2ln")
    items = [
        {"role": "user", "content": "weather?"},
        {"type": "function_call", "call_id": call_id, "name": "get_weather", "arguments": ""},
        {"type": "function_call_output", "call_id": call_id, "output": "sunny"},
    ]
    messages = parse(input=items, tools=[WEATHER]).chat.messages
    call = messages[1].tool_calls[0]
    assert call.arguments == {} and call.provider_id == "fc_1" and call.signature == Signature("c2ln", "gemini")
    assert messages[2] == Message("tool", (ToolResult((TextPart("sunny"),), call_id=call_id, name="get_weather"),))


def test_output_items_read_back_as_the_assistant_turn_after_the_history() -> None:
    output = [
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me look", "annotations": []}]},
        {"type": "function_call", "id": "fc_1", "call_id": "call_2", "name": "get_weather", "arguments": '{"city": "Rome"}'},
        {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_3", "name": "apply_patch", "input": "diff"},
    ]
    history = (Message("user", (TextPart("Rome?"),)),)
    messages = output_messages(output, history)
    assert messages[0] == history[0] and len(messages) == 2
    turn = messages[1]
    assert turn.role == "assistant" and turn.content == (TextPart("Let me look"),)
    assert [(c.name, c.id, dict(c.arguments)) for c in turn.tool_calls] == [
        ("get_weather", "call_2", {"city": "Rome"}),
        ("apply_patch", "call_3", {"input": "diff"}),
    ]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"input": []}, "input"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"input": [{"type": "function_call_output", "call_id": "nope", "output": "x"}]}, "input[0].call_id"),
        ({"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1]"}]}, "input[0].arguments"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].id"),
        ({"input": [{"type": "web_search_call"}]}, "input[0].type"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]}, "input[0].content[0].file_id"),
        ({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input[0].content[0].type"),
        ({"input": ["hi"]}, "input[0]"),
        ({"input": [{**CALL, "call_id": ""}]}, "input[0].call_id"),
        ({"input": [{**CALL, "name": None}]}, "input[0].name"),
        ({"input": [{**CALL, "namespace": ""}]}, "input[0].namespace"),
        ({"input": [{**CALL, "arguments": "{not json"}]}, "input[0].arguments"),
        ({"input": [{**CALL, "arguments": {"city": "Oslo"}}]}, "input[0].arguments"),
        ({"input": [{"type": "custom_tool_call", "call_id": "c", "name": "patch", "input": 1}]}, "input[0].input"),
        ({"input": [CALL, {"type": "function_call_output", "call_id": "call_1", "output": 1}]}, "input[1].output"),
        ({"input": [{"role": "user", "content": 1}]}, "input[0].content"),
        ({"input": user_content({"type": "input_text", "text": None})}, "input[0].content[0].text"),
        (
            {"input": [{"role": "assistant", "content": [{"type": "input_image", "image_url": "https://x/y.png"}]}]},
            "input[0].content[0].type",  # an assistant sends no images
        ),
        ({"input": user_content({"type": "input_image"})}, "input[0].content[0].image_url"),
        ({"input": user_content({"type": "input_image", "image_url": "ftp://x/y.png"})}, "input[0].content[0].image_url"),
        ({"input": user_content({"type": "input_file", "file_data": "data:application/pdf,plain"})}, "input[0].content[0].file_data"),
        ({"input": user_content({"type": "input_file", "file_id": "file_1"})}, "input[0].content[0].file_id"),
        ({"input": user_content({"type": "input_file", "file_url": "file:///etc/passwd"})}, "input[0].content[0].file_data"),
    ],
)
def test_bad_input_items_are_a_400_naming_the_param(fields: dict, param: str) -> None:
    assert refused(**fields).param == param


def test_images_and_files_come_inline_or_by_url() -> None:
    content = user_content(
        {"type": "input_image", "image_url": "data:image/png;base64,iVBO", "detail": "low"},
        {"type": "input_image", "image_url": "https://example.com/cat.png"},
        {"type": "input_file", "file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"},
        {"type": "input_file", "file_data": "JVBE", "filename": "b.pdf"},
        {"type": "input_file", "file_url": "https://example.com/c.pdf"},
        {"type": "input_text", "text": ""},  # empty text adds nothing
    )
    [message] = parse(input=content).chat.messages
    assert message.content == (
        MediaPart("image", mime_type="image/png", data="iVBO", detail="low"),
        MediaPart("image", url="https://example.com/cat.png"),
        MediaPart("file", mime_type="application/pdf", data="JVBE", filename="a.pdf"),
        MediaPart("file", data="JVBE", filename="b.pdf"),
        MediaPart("file", url="https://example.com/c.pdf"),
    )


def test_a_refusal_is_not_sent_on_and_a_call_output_may_be_content_parts() -> None:
    items = [
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}, {"type": "output_text", "text": "Let me check."}]},
        {**CALL, "arguments": " "},  # blank arguments: no arguments
        {"type": "function_call_output", "call_id": "call_1", "output": [{"type": "input_text", "text": "12 C"}]},
    ]
    assistant, tool = parse(tools=[WEATHER], input=items).chat.messages
    assert assistant.content == (TextPart("Let me check."),)
    assert assistant.tool_calls[0].name == "get_weather" and assistant.tool_calls[0].arguments == {}
    assert tool == Message("tool", (ToolResult((TextPart("12 C"),), call_id="call_1", name="get_weather"),))
