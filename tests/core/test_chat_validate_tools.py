"""The tools of a chat request (core/chat_validate_tools.py): declarations, ``tool_choice`` and the
legacy ``function_call``; each mistake a 400 naming its field."""

from __future__ import annotations

import pytest
from chatbodies import TOOL, assert_names_the_field, assert_passes_unchanged, with_

INVALID: list[tuple[str, object, str | None]] = [
    ("tools not list", with_(tools=TOOL), "tools"),
    ("tool custom type", with_(tools=[{"type": "custom", "custom": {"name": "x"}}]), "tools[0].type"),
    ("tool bad name", with_(tools=[{"type": "function", "function": {"name": "1abc"}}]), "tools[0].function.name"),
    ("tool name with space", with_(tools=[{"type": "function", "function": {"name": "get weather"}}]), "tools[0].function.name"),
    ("tool no function", with_(tools=[{"type": "function"}]), "tools[0].function"),
    (
        "tool params not object",
        with_(tools=[{"type": "function", "function": {"name": "f", "parameters": "x"}}]),
        "tools[0].function.parameters",
    ),
    ("duplicate tool", with_(tools=[TOOL, TOOL]), "tools[1].function.name"),
    ("tool_choice unknown", with_(tools=[TOOL], tool_choice="any"), "tool_choice"),
    ("tool_choice without tools", with_(tool_choice="required"), "tool_choice"),
    (
        "tool_choice unknown name",
        with_(tools=[TOOL], tool_choice={"type": "function", "function": {"name": "nope"}}),
        "tool_choice.function.name",
    ),
    ("tool_choice bad type", with_(tools=[TOOL], tool_choice={"type": "mcp"}), "tool_choice.type"),
    (
        "allowed_tools bad mode",
        with_(tools=[TOOL], tool_choice={"type": "allowed_tools", "allowed_tools": {"mode": "none", "tools": []}}),
        "tool_choice.allowed_tools.mode",
    ),
    ("function_call without functions", with_(function_call="auto"), "function_call"),
    ("function_call unknown name", with_(functions=[TOOL["function"]], function_call={"name": "x"}), "function_call"),
    ("function_call bad type", with_(functions=[TOOL["function"]], function_call=5), "function_call"),
    ("functions bad name", with_(functions=[{"name": "a b"}]), "functions[0].name"),
]


@pytest.mark.parametrize(("case", "body", "param"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_requests_name_the_field(case: str, body: object, param: str | None) -> None:
    assert_names_the_field(body, param)


VALID: list[tuple[str, dict]] = [
    ("tool_choice none without tools", with_(tool_choice="none")),
    ("tool_choice named", with_(tools=[TOOL], tool_choice={"type": "function", "function": {"name": "get_weather"}})),
    ("allowed_tools", with_(tools=[TOOL], tool_choice={"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [TOOL]}})),
    ("legacy functions", with_(functions=[{"name": "f", "parameters": {"type": "object"}}], function_call="auto")),
]


@pytest.mark.parametrize(("case", "body"), VALID, ids=[c[0] for c in VALID])
def test_valid_requests_pass_unchanged(case: str, body: dict) -> None:
    assert_passes_unchanged(body)
