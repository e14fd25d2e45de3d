"""An Anthropic Messages body's `system` and `messages` read into the model's messages: tool
calls and results, media blocks, and the 400s naming the block's field (the rest of the body:
test_anthropic_messages_request.py)."""

from __future__ import annotations

import pytest
from hpn_router.core.model.request import MediaPart, Message, Signature, TextPart, ToolResult
from hpn_router.core.toolids import encode_call_id
from inboundkit import messages_refused as refused
from inboundkit import parse_messages as parse

WEATHER = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
HI = [{"role": "user", "content": "hi"}]


USE = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}


def user(*blocks: object) -> list[dict]:
    return [{"role": "user", "content": list(blocks)}]


def turns(*assistant_blocks: object) -> list[dict]:
    return [*HI, {"role": "assistant", "content": list(assistant_blocks)}]


def document(source: dict) -> dict:
    return {"type": "document", "source": source}


def test_a_tool_use_id_the_router_minted_carries_its_signature_back() -> None:
    minted = encode_call_id("call_x", "c2ln")
    history = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": minted, "name": "get_weather", "input": {"city": "Oslo"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": minted, "content": "7C", "is_error": True}]},
    ]
    request = parse(messages=history, tools=[WEATHER])
    call = request.messages[1].tool_calls[0]
    assert call.id == minted and call.signature == Signature("c2ln", "gemini") and dict(call.arguments) == {"city": "Oslo"}
    assert request.messages[2] == Message("tool", (ToolResult((TextPart("7C"),), call_id=minted, name="get_weather", is_error=True),))


def test_tool_results_come_before_the_text_of_their_turn() -> None:
    call, result = {"type": "tool_use", "name": "f", "input": {}}, {"type": "tool_result"}
    history = [
        {"role": "assistant", "content": [{**call, "id": "a"}, {**call, "id": "b"}]},
        {
            "role": "user",
            "content": [{"type": "text", "text": "both done"}, {**result, "tool_use_id": "a"}, {**result, "tool_use_id": "b"}],
        },
    ]
    roles = [m.role for m in parse(messages=history).messages]
    assert roles == ["assistant", "tool", "tool", "user"]


def test_images_and_documents_become_media() -> None:
    blocks = [
        {"type": "image", "source": {"type": "base64", "media_type": "image/webp", "data": "AAAA"}},
        {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hi"}},
    ]
    parts = parse(messages=[{"role": "user", "content": blocks}]).messages[0].content
    assert parts == (
        MediaPart("image", mime_type="image/webp", data="AAAA"),
        MediaPart("file", url="https://example.com/a.pdf"),
        MediaPart("file", mime_type="text/plain", data="aGk="),
    )


def test_a_tool_result_may_hold_blocks_and_be_an_error_and_thinking_is_not_sent_on() -> None:
    messages = [
        *turns({"type": "thinking", "thinking": "hmm", "signature": "s"}, {"type": "text", "text": "Checking."}, USE),
        *user({"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True, "content": [{"type": "text", "text": "timeout"}]}),
    ]
    request = parse(tools=[WEATHER], messages=messages)
    assistant, result = request.messages[1:]
    assert assistant.content == (TextPart("Checking."),) and assistant.tool_calls[0].name == "get_weather"
    assert result == Message("tool", (ToolResult((TextPart("timeout"),), call_id="toolu_1", name="get_weather", is_error=True),))


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "video"}]}]}, "messages[0].content[0].type"),
        (
            {"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "nope"}]}]},
            "messages[0].content[0].tool_use_id",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "x"}}]}
                ]
            },
            "messages[0].content[0].source.media_type",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}]},
            "messages[0].content[0].source.type",
        ),
        ({"system": [{"type": "image"}]}, "system[0]"),
        ({"system": {"text": "x"}}, "system"),
        ({"messages": ["hi"]}, "messages[0]"),
        ({"messages": turns({"type": "image"})}, "messages[1].content[0].type"),
        ({"messages": turns({**USE, "id": ""})}, "messages[1].content[0].id"),
        ({"messages": turns({**USE, "name": None})}, "messages[1].content[0].name"),
        ({"messages": turns({**USE, "input": "{}"})}, "messages[1].content[0].input"),
        ({"messages": turns(USE, USE)}, "messages[1].content[1].id"),
        (
            {"messages": [*turns(USE), *user({"type": "tool_result", "tool_use_id": "toolu_1", "content": 5})]},
            "messages[2].content[0].content",
        ),
        ({"messages": user("hi")}, "messages[0].content[0].type"),
        ({"messages": user({"type": "text", "text": None})}, "messages[0].content[0].text"),
        ({"messages": user(USE)}, "messages[0].content[0].type"),
        ({"messages": user({"type": "image"})}, "messages[0].content[0].source"),
        ({"messages": user(document({"type": "base64", "data": "JVBE"}))}, "messages[0].content[0].source.media_type"),
        ({"messages": user(document({"type": "base64", "media_type": "application/pdf"}))}, "messages[0].content[0].source.data"),
        ({"messages": user(document({"type": "url", "url": "file:///etc/passwd"}))}, "messages[0].content[0].source.url"),
    ],
)
def test_bad_messages_are_a_400_naming_the_field(fields: dict, param: str) -> None:
    err = refused(**fields)
    assert err.status == 400 and err.param == param and err.message.startswith(param)
