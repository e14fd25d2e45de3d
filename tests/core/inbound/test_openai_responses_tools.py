"""The tools of a Responses request as the model's tools: custom and namespace tools mapped,
hosted tools and undeclared choices refused with the field named."""

from __future__ import annotations

import pytest
from hpn_router.core.errors import InvalidRequest
from hpn_router.core.inbound.openai_responses_tools import CUSTOM_INPUT, parse_tool_choice, parse_tools
from hpn_router.core.model.request import ToolChoice

WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
AGENTS = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "tools": [{"type": "function", "name": "close_agent"}, {"type": "custom", "name": "note"}],
}


def refused(tools: object) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as err:
        parse_tools(tools)
    return err.value


def test_custom_tools_become_one_string_functions() -> None:
    tools, custom, _ = parse_tools([{"type": "custom", "name": "apply_patch", "description": "Patch"}])
    assert custom == {"apply_patch"}
    assert tools[0].name == "apply_patch" and tools[0].parameters["required"] == [CUSTOM_INPUT]  # type: ignore[index]


def test_a_custom_tools_grammar_is_spelled_out_in_its_description() -> None:
    grammar = {"type": "grammar", "syntax": "lark", "definition": "start: WORD"}
    tools, _, _ = parse_tools([{"type": "custom", "name": "cmd", "format": grammar}])
    assert tools[0].description == "The input must follow this lark grammar:\nstart: WORD"


def test_a_namespace_becomes_namespaced_functions() -> None:
    tools, custom, namespaced = parse_tools([WEATHER, AGENTS])
    assert [t.name for t in tools] == ["get_weather", "multi_agent_v1.close_agent", "multi_agent_v1.note"]
    assert custom == {"multi_agent_v1.note"}
    assert namespaced == {
        "multi_agent_v1.close_agent": ("multi_agent_v1", "close_agent"),
        "multi_agent_v1.note": ("multi_agent_v1", "note"),
    }


def test_a_namespace_holds_only_function_and_custom_tools_within_the_name_limit() -> None:
    assert refused([{**AGENTS, "tools": [{"type": "web_search"}]}]).param == "tools[0].tools[0].type"
    long = refused([{**AGENTS, "name": "n" * 60}])
    assert long.param == "tools[0].tools[0].name" and "64" in long.message
    assert refused([{**AGENTS, "tools": []}]).param == "tools[0].tools"
    assert refused([AGENTS, AGENTS]).param == "tools[1].name"  # duplicates


@pytest.mark.parametrize(
    "kind", ["web_search", "file_search", "computer_use_preview", "code_interpreter", "image_generation", "mcp", "local_shell"]
)
def test_hosted_tools_are_refused_by_name(kind: str) -> None:
    err = refused([WEATHER, {"type": kind}])
    assert err.param == "tools[1].type" and kind in err.message and err.code == "unsupported_value"


def test_chats_nested_tool_shape_is_answered_as_openai_answers_it() -> None:
    err = refused([{"type": "function", "function": {"name": "get_weather"}}])
    assert err.param == "tools[0].name" and "flat tools" in err.message


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, None),
        ("auto", ToolChoice("auto")),
        ({"type": "function", "name": "get_weather"}, ToolChoice("required", ("get_weather",))),
        (
            {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "get_weather"}]},
            ToolChoice("auto", ("get_weather",)),
        ),
    ],
)
def test_tool_choice(choice: object, expected: ToolChoice | None) -> None:
    assert parse_tool_choice(choice, {"get_weather"}) == expected


@pytest.mark.parametrize(
    ("choice", "names", "param"),
    [
        ("required", set(), "tool_choice"),
        ({"type": "function", "name": "other"}, {"get_weather"}, "tool_choice.name"),
        ({"type": "allowed_tools", "mode": "any", "tools": []}, {"get_weather"}, "tool_choice.mode"),
        ({"type": "web_search"}, {"get_weather"}, "tool_choice.type"),
    ],
)
def test_a_tool_choice_the_tools_cannot_meet_is_refused(choice: object, names: set[str], param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_tool_choice(choice, names)
    assert err.value.param == param
