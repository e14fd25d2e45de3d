"""The tool checks of an OpenAI Chat Completions request: ``tools`` (and the legacy ``functions``),
``tool_choice`` and the legacy ``function_call``.

The declared names are collected once and the choices must name one of them. Only function
tools are taken (Gemini has no ``custom`` tools); a name must pass Gemini's rule, stricter than
OpenAI's, so the 400 comes from here rather than upstream.
"""

from __future__ import annotations

import re
from typing import Any

from .fieldcheck import UNSUPPORTED, fail

TOOL_CHOICE_MODES = ("none", "auto", "required")
# Gemini's function-name rule (docs/gemini-wire-format.md#function-declarations-and-the-schema-subset), stricter than OpenAI's.
TOOL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]{0,63}")


def check_tools(body: dict[str, Any]) -> set[str]:
    """Validate ``tools`` (and legacy ``functions``); return the declared names."""
    names: set[str] = set()
    for key in ("tools", "functions"):
        tools = body.get(key)
        if tools is None:
            continue
        if not isinstance(tools, list):
            raise fail(key, "must be an array")
        for j, tool in enumerate(tools):
            p = f"{key}[{j}]"
            if key == "tools":
                if not isinstance(tool, dict):
                    raise fail(p, "must be an object")
                if tool.get("type") != "function":
                    raise fail(f"{p}.type", f"unsupported tool type {tool.get('type')!r}; only 'function'", UNSUPPORTED)
                tool, p = tool.get("function"), f"{p}.function"
            name = _check_function(tool, p)
            if name in names:
                raise fail(f"{p}.name", f"duplicate function name {name!r}")
            names.add(name)
    return names


def _check_function(function: object, p: str) -> str:
    if not isinstance(function, dict):
        raise fail(p, "must be an object")
    name = function.get("name")
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        raise fail(f"{p}.name", "must start with a letter or underscore and contain only A-Z a-z 0-9 _ . : - (max 64)")
    if function.get("description") is not None and not isinstance(function["description"], str):
        raise fail(f"{p}.description", "must be a string")
    if function.get("parameters") is not None and not isinstance(function["parameters"], dict):
        raise fail(f"{p}.parameters", "must be a JSON Schema object")
    return name


def check_tool_choice(choice: object, names: set[str]) -> None:
    if choice is None or choice == "none":
        return
    if not names:
        raise fail("tool_choice", "is only allowed when tools are specified")
    if isinstance(choice, str):
        if choice not in TOOL_CHOICE_MODES:
            raise fail("tool_choice", f"must be one of {', '.join(TOOL_CHOICE_MODES)} or an object")
        return
    if not isinstance(choice, dict):
        raise fail("tool_choice", "must be a string or an object")
    if choice.get("type") == "function":
        _check_choice_name(choice, "tool_choice", names)
    elif choice.get("type") == "allowed_tools":
        allowed = choice.get("allowed_tools")
        if not isinstance(allowed, dict) or allowed.get("mode") not in ("auto", "required"):
            raise fail("tool_choice.allowed_tools.mode", "must be 'auto' or 'required'")
        tools = allowed.get("tools")
        if not isinstance(tools, list) or not tools:
            raise fail("tool_choice.allowed_tools.tools", "must be a non-empty array")
        for j, tool in enumerate(tools):
            _check_choice_name(tool, f"tool_choice.allowed_tools.tools[{j}]", names)
    else:
        raise fail("tool_choice.type", "must be 'function' or 'allowed_tools'")


def check_legacy_function_call(choice: object, names: set[str]) -> None:
    """Legacy top-level ``function_call``: "none" | "auto" | {"name": ...}."""
    if choice is None or choice == "none":
        return
    if not names:
        raise fail("function_call", "is only allowed when functions are specified")
    if choice == "auto":
        return
    name = choice.get("name") if isinstance(choice, dict) else None
    if name not in names:
        raise fail("function_call", "must be 'none', 'auto' or {'name': <a declared function>}")


def _check_choice_name(choice: object, p: str, names: set[str]) -> None:
    function = choice.get("function") if isinstance(choice, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if name not in names:
        raise fail(f"{p}.function.name", f"{name!r} is not one of the declared tools")
