"""The tools of an OpenAI Responses request (`tools`, `tool_choice`) as the model's tools. Pure.

Responses tools are flat (`{type: "function", name, parameters}`). Codex's `custom` (freeform)
tools become functions with one string parameter, `input` (their calls go back as
`custom_tool_call` items: core/inbound/openai_responses_answer.py). A `namespace` tool (Codex's
sub-agent tools) is flattened: each tool in it becomes a function named `namespace.name`.
OpenAI's hosted tools run on OpenAI's servers and are refused with a 400 naming the field.

Usage:
    tools, custom, namespaced = parse_tools(body.get("tools"))   # raises InvalidRequest
    choice = parse_tool_choice(body.get("tool_choice"), {t.name for t in tools})
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..chat_validate_tools import TOOL_NAME
from ..fieldcheck import UNSUPPORTED, fail
from ..model.request import Tool, ToolChoice

# OpenAI's hosted tools: they run on OpenAI's servers, which a Gemini pool has no counterpart of.
HOSTED_TOOLS = frozenset(
    {
        "web_search", "web_search_preview", "web_search_preview_2025_03_11", "web_search_2025_08_26", "file_search",
        "computer_use", "computer_use_preview", "code_interpreter", "image_generation", "mcp", "local_shell", "shell",
        "apply_patch", "tool_search",
    }
)  # fmt: skip
CUSTOM_INPUT = "input"  # the one parameter a custom (freeform) tool becomes a function with
NAMESPACE_SEPARATOR = "."  # a namespace's tool is the function `namespace.name` (Gemini allows dots)


def parse_tools(tools: object) -> tuple[tuple[Tool, ...], set[str], dict[str, tuple[str, str]]]:
    """The declared tools, the names of the custom ones (mapped to one-string functions), and the
    functions a namespace's tools became (function name -> (namespace, tool name))."""
    if tools is None:
        return (), set(), {}
    if not isinstance(tools, list):
        raise fail("tools", "must be an array")
    out: list[Tool] = []
    custom: set[str] = set()
    namespaced: dict[str, tuple[str, str]] = {}
    for j, tool in enumerate(tools):
        p = f"tools[{j}]"
        if isinstance(tool, dict) and tool.get("type") == "namespace":
            for inner, is_custom, namespace, name in _namespace_tools(tool, p):
                out.append(inner)
                custom |= {inner.name} if is_custom else set()
                namespaced[inner.name] = (namespace, name)
                if [t.name for t in out].count(inner.name) > 1:
                    raise fail(f"{p}.name", f"duplicate tool name {inner.name!r}")
            continue
        if not isinstance(tool, dict):
            raise fail(p, "must be an object")
        kind = tool.get("type")
        if kind in HOSTED_TOOLS:
            problem = (
                f"the hosted tool {kind!r} runs on OpenAI's servers and is not supported by this Gemini gateway; declare function tools"
            )
            raise fail(f"{p}.type", problem, UNSUPPORTED)
        if kind == "function":
            out.append(_function_tool(tool, p))
        elif kind == "custom":
            out.append(_custom_tool(tool, p))
            custom.add(out[-1].name)
        else:
            raise fail(f"{p}.type", f"unsupported tool type {kind!r}; expected 'function' or 'custom'", UNSUPPORTED)
        if [t.name for t in out].count(out[-1].name) > 1:
            raise fail(f"{p}.name", f"duplicate tool name {out[-1].name!r}")
    return tuple(out), custom, namespaced


def _namespace_tools(tool: dict[str, Any], p: str) -> list[tuple[Tool, bool, str, str]]:
    """A namespace's function and custom tools as functions named `namespace.name`: (the tool,
    whether it is a custom one, the namespace, the tool's own name)."""
    namespace = _tool_name(tool, p)
    inner = tool.get("tools")
    if not isinstance(inner, list) or not inner:
        raise fail(f"{p}.tools", "must be a non-empty array of function or custom tools")
    out: list[tuple[Tool, bool, str, str]] = []
    for k, item in enumerate(inner):
        q = f"{p}.tools[{k}]"
        kind = item.get("type") if isinstance(item, dict) else None
        if kind not in ("function", "custom"):
            raise fail(f"{q}.type", f"unsupported tool type {kind!r} in a namespace; expected 'function' or 'custom'", UNSUPPORTED)
        assert isinstance(item, dict)
        parsed = _function_tool(item, q) if kind == "function" else _custom_tool(item, q)
        name = f"{namespace}{NAMESPACE_SEPARATOR}{parsed.name}"
        if not TOOL_NAME.fullmatch(name):
            raise fail(f"{q}.name", f"{name!r} (namespace and name) must be at most 64 characters")
        out.append((replace(parsed, name=name), kind == "custom", namespace, parsed.name))
    return out


def _tool_name(tool: dict[str, Any], p: str) -> str:
    name = tool.get("name")
    if name is None and isinstance(tool.get("function"), dict):
        # Chat's nesting sent to the Responses API: OpenAI answers exactly this.
        raise fail(f"{p}.name", "missing; the Responses API takes flat tools: {'type': 'function', 'name': ..., 'parameters': ...}")
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        raise fail(f"{p}.name", "must start with a letter or underscore and contain only A-Z a-z 0-9 _ . : - (max 64)")
    if tool.get("description") is not None and not isinstance(tool["description"], str):
        raise fail(f"{p}.description", "must be a string")
    return name


def _function_tool(tool: dict[str, Any], p: str) -> Tool:
    name = _tool_name(tool, p)
    parameters, strict = tool.get("parameters"), tool.get("strict")
    if parameters is not None and not isinstance(parameters, dict):
        raise fail(f"{p}.parameters", "must be a JSON Schema object")
    return Tool(name, tool.get("description"), parameters, strict if isinstance(strict, bool) else None)


def _custom_tool(tool: dict[str, Any], p: str) -> Tool:
    """A freeform tool takes one string: a function with a single `input` parameter. A grammar
    the model must follow is spelled out in the description (Gemini cannot enforce it)."""
    name = _tool_name(tool, p)
    description = tool.get("description") or ""
    fmt = tool.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "grammar" and isinstance(fmt.get("definition"), str):
        syntax = fmt.get("syntax") or "grammar"
        description += f"\n\nThe input must follow this {syntax} grammar:\n{fmt['definition']}"
    parameters = {
        "type": "object",
        "properties": {CUSTOM_INPUT: {"type": "string", "description": "The tool's freeform input."}},
        "required": [CUSTOM_INPUT],
    }
    return Tool(name, description.strip() or None, parameters)


def parse_tool_choice(choice: object, names: set[str]) -> ToolChoice | None:
    if choice is None:
        return None
    if choice in ("none", "auto", "required"):
        if choice != "none" and not names:
            raise fail("tool_choice", "is only allowed when tools are specified")
        return ToolChoice(choice)
    if not isinstance(choice, dict):
        raise fail("tool_choice", "must be 'none', 'auto', 'required' or an object")
    kind = choice.get("type")
    if kind in ("function", "custom"):
        return ToolChoice("required", (_declared(choice.get("name"), "tool_choice.name", names),))
    if kind == "allowed_tools":
        mode, tools = choice.get("mode"), choice.get("tools")
        if mode not in ("auto", "required"):
            raise fail("tool_choice.mode", "must be 'auto' or 'required'")
        if not isinstance(tools, list) or not tools:
            raise fail("tool_choice.tools", "must be a non-empty array")
        chosen = [
            _declared(t.get("name") if isinstance(t, dict) else None, f"tool_choice.tools[{j}].name", names) for j, t in enumerate(tools)
        ]
        return ToolChoice(mode, tuple(chosen))
    if kind in HOSTED_TOOLS:
        raise fail("tool_choice.type", f"the hosted tool {kind!r} is not supported by this Gemini gateway", UNSUPPORTED)
    raise fail("tool_choice.type", "must be 'function', 'custom' or 'allowed_tools'")


def _declared(name: object, p: str, names: set[str]) -> str:
    if not isinstance(name, str) or name not in names:
        raise fail(p, f"{name!r} is not one of the declared tools")
    return name
