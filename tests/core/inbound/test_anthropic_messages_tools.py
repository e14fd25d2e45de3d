"""An Anthropic Messages body's `tools` and `tool_choice` read into the model's tools and
choice, and the 400s naming the field (the rest of the body: test_anthropic_messages_request.py)."""

from __future__ import annotations

import pytest
from hpn_router.core.model.request import ToolChoice
from inboundkit import messages_refused as refused
from inboundkit import parse_messages as parse

WEATHER = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
HI = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"tools": [WEATHER], "tool_choice": {"type": "any"}}, {"tool_choice": ToolChoice("required"), "parallel_tool_calls": None}),
        (
            {"tools": [WEATHER], "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}},
            {"tool_choice": ToolChoice("required", ("get_weather",)), "parallel_tool_calls": False},
        ),
        ({"tools": [WEATHER], "tool_choice": {"type": "none"}}, {"tool_choice": ToolChoice("none")}),
    ],
)
def test_tools_and_tool_choice_become_the_models(fields: dict, expected: dict) -> None:
    request = parse(**fields)
    assert {name: getattr(request, name) for name in expected} == expected


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
        ({"tools": [{"name": "f"}]}, "tools[0].input_schema"),
        ({"tools": [WEATHER, WEATHER]}, "tools[1].name"),
        ({"tools": [WEATHER], "tool_choice": {"type": "tool", "name": "other"}}, "tool_choice.name"),
        ({"tool_choice": {"type": "any"}}, "tool_choice"),
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
    ],
)
def test_bad_tools_are_a_400_naming_the_field(fields: dict, param: str) -> None:
    err = refused(**fields)
    assert err.status == 400 and err.param == param and err.message.startswith(param)


def test_disable_parallel_tool_use_turns_parallel_calls_off() -> None:
    request = parse(tools=[WEATHER], tool_choice={"type": "auto", "disable_parallel_tool_use": True})
    assert request.tool_choice == ToolChoice("auto") and request.parallel_tool_calls is False
