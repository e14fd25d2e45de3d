"""Anthropic Messages API `tools` and `tool_choice` -> the model's tools and choice (core/model/request.py).

- `tools` (`name`, `description`, `input_schema`); Anthropic's server tools (`web_search_...`,
  `bash_...`, typed tools) run on Anthropic's side and are refused by name.
- `tool_choice` `auto|any|tool|none` -> auto|required|required with that name|none;
  `disable_parallel_tool_use` -> parallel_tool_calls false.

Usage:
    tools = parse_tools(body.get("tools"))                                               # raises InvalidRequest
    choice, parallel = parse_tool_choice(body.get("tool_choice"), {t.name for t in tools})
"""

from __future__ import annotations

from ..chat_validate_tools import TOOL_NAME
from ..fieldcheck import UNSUPPORTED, fail
from ..model.request import Tool, ToolChoice


def parse_tools(tools: object) -> tuple[Tool, ...]:
    if tools is None:
        return ()
    if not isinstance(tools, list):
        raise fail("tools", "must be an array")
    out: list[Tool] = []
    for j, tool in enumerate(tools):
        p = f"tools[{j}]"
        if not isinstance(tool, dict):
            raise fail(p, "must be an object")
        kind = tool.get("type")
        if kind not in (None, "custom"):
            problem = (
                f"the server tool {kind!r} runs on Anthropic's servers and is not supported by this Gemini gateway; declare custom tools"
            )
            raise fail(f"{p}.type", problem, UNSUPPORTED)
        name, schema = tool.get("name"), tool.get("input_schema")
        if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
            raise fail(f"{p}.name", "must start with a letter or underscore and contain only A-Z a-z 0-9 _ . : - (max 64)")
        if not isinstance(schema, dict):
            raise fail(f"{p}.input_schema", "Field required: a JSON Schema object")
        if tool.get("description") is not None and not isinstance(tool["description"], str):
            raise fail(f"{p}.description", "must be a string")
        if any(t.name == name for t in out):
            raise fail(f"{p}.name", f"duplicate tool name {name!r}")
        strict = tool.get("strict")
        out.append(Tool(name, tool.get("description"), schema, strict if isinstance(strict, bool) else None))
    return tuple(out)


def parse_tool_choice(choice: object, names: set[str]) -> tuple[ToolChoice | None, bool | None]:
    if choice is None:
        return None, None
    if not isinstance(choice, dict):
        raise fail("tool_choice", "must be an object such as {'type': 'auto'}")
    disable = choice.get("disable_parallel_tool_use")
    if disable is not None and not isinstance(disable, bool):
        raise fail("tool_choice.disable_parallel_tool_use", "must be a boolean")
    parallel = None if disable is None else not disable
    kind = choice.get("type")
    if kind == "none":
        return ToolChoice("none"), parallel
    if kind in ("auto", "any") and not names:
        raise fail("tool_choice", "is only allowed when tools are specified")
    if kind == "auto":
        return ToolChoice("auto"), parallel
    if kind == "any":
        return ToolChoice("required"), parallel
    if kind == "tool":
        name = choice.get("name")
        if not isinstance(name, str) or name not in names:
            raise fail("tool_choice.name", f"{name!r} is not one of the declared tools")
        return ToolChoice("required", (name,)), parallel
    raise fail("tool_choice.type", "must be 'auto', 'any', 'tool' or 'none'")
