"""An Anthropic Messages body read into the ChatRequest model: golden pairs (Messages body -> the
Gemini body the chat translator makes of it) and the 400s naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hpn_router.core.errors import InvalidRequest
from hpn_router.core.inbound.anthropic_messages_request import parse_messages_request
from hpn_router.core.model.request import MediaPart, Message, Signature, TextPart, ToolChoice, ToolResult
from hpn_router.core.providers.gemini.chat_request import TranslateOptions, chat_request_to_gemini
from hpn_router.core.toolids import encode_call_id

DATA = Path(__file__).resolve().parents[2] / "data" / "translate" / "messages"
GOLDEN = sorted(p.name.removesuffix(".messages.json") for p in DATA.glob("*.messages.json"))
WEATHER = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
HI = [{"role": "user", "content": "hi"}]


def parse(**fields: object):
    return parse_messages_request({"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": HI, **fields})


def refused(**fields: object) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as err:
        parse(**fields)
    return err.value


def image(source: dict) -> dict:
    return {"role": "user", "content": [{"type": "image", "source": source}]}


def test_golden_set_is_complete() -> None:
    assert len(GOLDEN) >= 3
    for name in GOLDEN:
        assert (DATA / f"{name}.gemini.json").exists(), name


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_request(name: str) -> None:
    body = json.loads((DATA / f"{name}.messages.json").read_text(encoding="utf-8"))
    expected = json.loads((DATA / f"{name}.gemini.json").read_text(encoding="utf-8"))
    assert chat_request_to_gemini(parse_messages_request(body), "gemini-2.5-flash", TranslateOptions()) == expected


def test_a_string_system_comes_first_and_a_string_content_is_one_text() -> None:
    request = parse(system="Be brief.")
    assert request.messages == (Message("system", (TextPart("Be brief."),)), Message("user", (TextPart("hi"),)))
    assert request.max_output_tokens == 100 and request.include_usage and not request.stream


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"stop_sequences": ["END", "STOP"], "temperature": 0.5, "top_p": 1}, {"stop": ("END", "STOP"), "temperature": 0.5, "top_p": 1}),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 2000}, {"reasoning_effort": "low"}),
        ({"thinking": {"type": "enabled", "budget_tokens": 5000}, "max_tokens": 8000}, {"reasoning_effort": "medium"}),
        ({"thinking": {"type": "enabled", "budget_tokens": 20000}, "max_tokens": 32000}, {"reasoning_effort": "high"}),
        ({"thinking": {"type": "enabled", "budget_tokens": 50000}, "max_tokens": 64000}, {"reasoning_effort": "xhigh"}),
        ({"thinking": {"type": "adaptive"}}, {"reasoning_effort": None}),
        ({"thinking": {"type": "disabled"}}, {"reasoning_effort": "none"}),
        ({"output_config": {"effort": "max"}, "thinking": {"type": "adaptive"}}, {"reasoning_effort": "xhigh"}),
        ({"metadata": {"user_id": "u1"}}, {"end_user": "u1", "extra": {}}),
        ({"stream": True}, {"stream": True}),
        ({"top_k": 5, "service_tier": "auto"}, {"extra": {"top_k": 5}}),
        ({"tools": [WEATHER], "tool_choice": {"type": "any"}}, {"tool_choice": ToolChoice("required"), "parallel_tool_calls": None}),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}},
            {"tool_choice": ToolChoice("required", ("get_weather",)), "parallel_tool_calls": False},
        ),
        ({"tools": [WEATHER], "tool_choice": {"type": "none"}}, {"tool_choice": ToolChoice("none")}),
    ],
)
def test_messages_fields_become_the_models(fields: dict, expected: dict) -> None:
    request = parse(**fields)
    assert {name: getattr(request, name) for name in expected} == expected


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


def test_count_tokens_needs_no_max_tokens() -> None:
    request = parse_messages_request({"model": "claude-haiku-4-5", "messages": HI}, count_only=True)
    assert request.max_output_tokens is None and not request.stream


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"model": ""}, "model"),
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
        ({"temperature": 1.5}, "temperature"),
        ({"stop_sequences": "END"}, "stop_sequences"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
        ({"tools": [{"name": "f"}]}, "tools[0].input_schema"),
        ({"tools": [WEATHER, WEATHER]}, "tools[1].name"),
        ({"tools": [WEATHER], "tool_choice": {"type": "tool", "name": "other"}}, "tool_choice.name"),
        ({"tool_choice": {"type": "any"}}, "tool_choice"),
        ({"thinking": {"type": "enabled", "budget_tokens": 500}}, "thinking.budget_tokens"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2000}}, "thinking.budget_tokens"),  # not under max_tokens
        ({"thinking": {"type": "on"}}, "thinking.type"),
        ({"metadata": {"user_id": 7}}, "metadata.user_id"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(fields: dict, param: str) -> None:
    err = refused(**fields)
    assert err.status == 400 and err.param == param and err.message.startswith(param)


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        parse_messages_request([])


USE = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}


def user(*blocks: object) -> list[dict]:
    return [{"role": "user", "content": list(blocks)}]


def turns(*assistant_blocks: object) -> list[dict]:
    return [*HI, {"role": "assistant", "content": list(assistant_blocks)}]


def document(source: dict) -> dict:
    return {"type": "document", "source": source}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"stream": "yes"}, "stream"),
        ({"thinking": "on"}, "thinking"),
        ({"output_config": {"effort": "huge"}}, "output_config.effort"),
        ({"system": {"text": "x"}}, "system"),
        ({"tools": WEATHER}, "tools"),
        ({"tools": ["get_weather"]}, "tools[0]"),
        ({"tools": [{**WEATHER, "name": "get weather"}]}, "tools[0].name"),
        ({"tools": [{**WEATHER, "description": 1}]}, "tools[0].description"),
        ({"tools": [WEATHER], "tool_choice": "auto"}, "tool_choice"),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "auto", "disable_parallel_tool_use": "yes"}},
            "tool_choice.disable_parallel_tool_use",
        ),
        ({"tools": [WEATHER], "tool_choice": {"type": "required"}}, "tool_choice.type"),
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
def test_more_bad_input_is_a_400_naming_the_field(fields: dict, param: str) -> None:
    err = refused(**fields)
    assert err.status == 400 and err.param == param and err.message.startswith(param)


def test_a_server_tool_or_a_file_id_is_unsupported_not_just_wrong() -> None:
    assert refused(tools=[{"type": "bash_20250124", "name": "bash"}]).code == "unsupported_value"
    assert refused(messages=user(document({"type": "file", "file_id": "f"}))).code == "unsupported_value"


def test_a_tool_result_may_hold_blocks_and_be_an_error_and_thinking_is_not_sent_on() -> None:
    messages = [
        *turns({"type": "thinking", "thinking": "hmm", "signature": "s"}, {"type": "text", "text": "Checking."}, USE),
        *user({"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True, "content": [{"type": "text", "text": "timeout"}]}),
    ]
    request = parse(tools=[WEATHER], messages=messages)
    assistant, result = request.messages[1:]
    assert assistant.content == (TextPart("Checking."),) and assistant.tool_calls[0].name == "get_weather"
    assert result == Message("tool", (ToolResult((TextPart("timeout"),), call_id="toolu_1", name="get_weather", is_error=True),))


def test_disable_parallel_tool_use_turns_parallel_calls_off() -> None:
    request = parse(tools=[WEATHER], tool_choice={"type": "auto", "disable_parallel_tool_use": True})
    assert request.tool_choice == ToolChoice("auto") and request.parallel_tool_calls is False
