"""A Responses API body read into the ChatRequest model: golden pairs (Responses body -> the Gemini
body the chat translator makes of it) and the 400s for what the router cannot do (the tools' own:
test_openai_responses_tools.py; the input items': test_openai_responses_input.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hpn_router.core.errors import InvalidRequest
from hpn_router.core.inbound.openai_responses_request import parse_responses_request
from hpn_router.core.model.request import Message, OutputFormat, TextPart, ToolCall, ToolChoice, ToolResult
from hpn_router.core.providers.gemini.chat_request import TranslateOptions, chat_request_to_gemini
from inboundkit import parse_responses as parse
from inboundkit import responses_refused as refused

DATA = Path(__file__).resolve().parents[2] / "data" / "translate" / "responses"
GOLDEN = sorted(p.name.removesuffix(".responses.json") for p in DATA.glob("*.responses.json"))
WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}


def test_golden_set_is_complete() -> None:
    assert len(GOLDEN) >= 3
    for name in GOLDEN:
        assert (DATA / f"{name}.gemini.json").exists(), name


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_request(name: str) -> None:
    body = json.loads((DATA / f"{name}.responses.json").read_text(encoding="utf-8"))
    expected = json.loads((DATA / f"{name}.gemini.json").read_text(encoding="utf-8"))
    assert chat_request_to_gemini(parse_responses_request(body).chat, "gemini-2.5-flash", TranslateOptions()) == expected


def test_a_string_input_is_one_user_message_and_instructions_come_first() -> None:
    request = parse(instructions="Be brief.").chat
    assert request.messages == (Message("system", (TextPart("Be brief."),)), Message("user", (TextPart("hi"),)))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"max_output_tokens": 50, "temperature": 0.5, "top_p": 1}, {"max_output_tokens": 50, "temperature": 0.5, "top_p": 1}),
        ({"reasoning": {"effort": "max"}}, {"reasoning_effort": "xhigh"}),
        ({"reasoning": {"effort": "minimal"}}, {"reasoning_effort": "minimal"}),
        ({"stream": True}, {"stream": True}),
        ({"safety_identifier": "u1", "user": "u2"}, {"end_user": "u1"}),
        ({"text": {"format": {"type": "json_object"}}}, {"output_format": OutputFormat("json")}),
        ({"metadata": {"a": "b"}, "store": True, "include": [], "prompt_cache_key": "k"}, {"extra": {"prompt_cache_key": "k"}}),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "name": "get_weather"}},
            {"tool_choice": ToolChoice("required", ("get_weather",))},
        ),
        (
            {
                "tools": [WEATHER],
                "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "get_weather"}]},
            },
            {"tool_choice": ToolChoice("auto", ("get_weather",))},
        ),
    ],
)
def test_responses_fields_become_the_models(fields: dict, expected: dict) -> None:
    request = parse(**fields).chat
    assert {name: getattr(request, name) for name in expected} == expected


def test_the_echo_repeats_what_the_response_object_shows() -> None:
    request = parse(tools=[WEATHER], temperature=0.3, text={"format": {"type": "text"}, "verbosity": "low"}, metadata={"x": "1"})
    assert request.echo == {
        "tools": [WEATHER],
        "temperature": 0.3,
        "metadata": {"x": "1"},
        "text": {"format": {"type": "text"}, "verbosity": "low"},
    }


AGENTS = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Sub-agents",
    "tools": [
        {"type": "function", "name": "close_agent", "parameters": {"type": "object", "properties": {"id": {"type": "string"}}}},
        {"type": "custom", "name": "note"},
    ],
}


def test_a_namespace_becomes_its_tools_as_namespaced_functions_and_its_calls_come_back_to_them() -> None:
    request = parse(
        tools=[WEATHER, AGENTS],
        input=[
            {"type": "message", "role": "user", "content": "close it"},
            {"type": "function_call", "call_id": "c1", "name": "close_agent", "namespace": "multi_agent_v1", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "closed"},
        ],
    )
    assert [t.name for t in request.chat.tools] == ["get_weather", "multi_agent_v1.close_agent", "multi_agent_v1.note"]
    assert request.namespaced == {
        "multi_agent_v1.close_agent": ("multi_agent_v1", "close_agent"),
        "multi_agent_v1.note": ("multi_agent_v1", "note"),
    }
    assert request.custom_tools == frozenset({"multi_agent_v1.note"})
    assert request.chat.messages[1].tool_calls[0].name == "multi_agent_v1.close_agent"
    assert request.chat.messages[2].content[0].name == "multi_agent_v1.close_agent"  # type: ignore[union-attr]


def test_previous_response_id_is_answered_as_openai_answers_an_unknown_id() -> None:
    err = refused(previous_response_id="resp_1")
    assert (err.message, err.param, err.code) == (
        "Previous response with id 'resp_1' not found.",
        "previous_response_id",
        "previous_response_not_found",
    )


HISTORY = (
    Message("user", (TextPart("What is the weather in Paris?"),)),
    Message("assistant", (), (ToolCall("get_weather", {"city": "Paris"}, id="call_1"),)),
)


def test_a_previous_conversation_comes_before_the_input_and_after_the_instructions() -> None:
    request = parse_responses_request(
        {"model": "gpt-4o", "instructions": "Be brief", "previous_response_id": "resp_1", "input": "And tomorrow?"}, history=HISTORY
    )
    assert request.previous_response_id == "resp_1"
    assert request.conversation == (*HISTORY, Message("user", (TextPart("And tomorrow?"),)))
    assert request.chat.messages == (Message("system", (TextPart("Be brief"),)), *request.conversation)


def test_a_call_output_may_answer_a_call_of_the_previous_response() -> None:
    output = {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}
    body = {"model": "gpt-4o", "previous_response_id": "resp_1", "input": [output]}
    request = parse_responses_request(body, history=HISTORY)
    assert request.conversation[-1] == Message("tool", (ToolResult((TextPart("sunny"),), call_id="call_1", name="get_weather"),))
    with pytest.raises(InvalidRequest) as err:  # without the history the call is unknown
        parse_responses_request({**body, "previous_response_id": None})
    assert err.value.param == "input[0].call_id"


def test_history_is_only_used_with_a_previous_response_id() -> None:
    request = parse_responses_request({"model": "gpt-4o", "input": "hi"}, history=HISTORY)
    assert request.conversation == (Message("user", (TextPart("hi"),)),)


def test_previous_response_id_must_be_a_string() -> None:
    assert refused(previous_response_id=5).param == "previous_response_id"


def test_store_is_on_unless_the_request_says_false() -> None:
    assert parse().store and parse(store=True).store and not parse(store=False).store


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": ""}, "model"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools[0].name"),
        ({"tools": [WEATHER, WEATHER]}, "tools[1].name"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tools": [WEATHER], "tool_choice": {"type": "function", "name": "other"}}, "tool_choice.name"),
        ({"tools": [WEATHER], "tool_choice": {"type": "web_search_preview"}}, "tool_choice.type"),
        ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
        ({"text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({"reasoning": {"effort": "huge"}}, "reasoning.effort"),
        ({"temperature": 2.5}, "temperature"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"stream": "yes"}, "stream"),
        ({"instructions": 5}, "instructions"),
        ({"background": True}, "background"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"conversation": "conv_1"}, "conversation"),
    ],
)
def test_bad_input_is_a_400_naming_the_param(fields: dict, param: str) -> None:
    assert refused(**fields).param == param


def test_a_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        parse_responses_request([1])


def user_content(*parts: dict) -> list[dict]:
    return [{"role": "user", "content": list(parts)}]


CALL = {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"user": 5}, "user"),
        ({"reasoning": "high"}, "reasoning"),
        ({"text": {"format": {"type": "json_schema", "schema": {}}}}, "text.format.name"),
        ({"tools": {"type": "function"}}, "tools"),
        ({"tools": ["get_weather"]}, "tools[0]"),
        ({"tools": [{"type": "computer"}]}, "tools[0].type"),
        ({"tools": [{"type": "function", "name": "has space"}]}, "tools[0].name"),
        ({"tools": [{"type": "function", "name": "f", "description": 1}]}, "tools[0].description"),
        ({"tools": [{"type": "function", "name": "f", "parameters": "object"}]}, "tools[0].parameters"),
        ({"tools": [WEATHER], "tool_choice": 1}, "tool_choice"),
        ({"tools": [WEATHER], "tool_choice": {"type": "allowed_tools", "mode": "none", "tools": [WEATHER]}}, "tool_choice.mode"),
        ({"tools": [WEATHER], "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": []}}, "tool_choice.tools"),
        ({"tools": [WEATHER], "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": ["x"]}}, "tool_choice.tools[0].name"),
        ({"tools": [WEATHER], "tool_choice": {"type": "tool"}}, "tool_choice.type"),
    ],
)
def test_more_bad_input_is_a_400_naming_the_param(fields: dict, param: str) -> None:
    assert refused(**fields).param == param


def test_what_openai_runs_on_its_servers_is_refused_as_unsupported() -> None:
    assert refused(tools=[{"type": "computer"}]).code == "unsupported_value"
    assert refused(input=user_content({"type": "input_image", "image_url": "ftp://x/y.png"})).code == "unsupported_value"
    assert refused(input=user_content({"type": "input_file", "file_id": "file_1"})).code == "unsupported_value"


def test_allowed_tools_restrict_the_choice() -> None:
    choice = {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "get_weather"}]}
    assert parse(tools=[WEATHER], tool_choice=choice).chat.tool_choice == ToolChoice("auto", ("get_weather",))
