"""Validation of an OpenAI Chat Completions request before translation.

Every client mistake raises ``InvalidRequest`` whose message starts with the
field path (``messages[2].role: unknown role 'robot'; …``) and whose ``param``
is that path, so the 400 tells the caller exactly what to fix. Unknown
top-level keys are ignored (OpenAI SDKs put ``extra_body`` keys there); inputs
Gemini cannot take (``file_id``, ``custom`` tools) are rejected as unsupported.
``bool`` is never accepted where a number is expected (``n: true`` is a 400).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .errors import InvalidRequest

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
TOOL_CHOICE_MODES = ("none", "auto", "required")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
AUDIO_FORMATS = ("wav", "mp3")
URL_SCHEMES = ("http://", "https://")
# OpenAI documents up to 4 stop sequences; Gemini takes 5, so 5 is let through
# and only what Gemini would reject is a 400 here (docs/gemini-wire-format.md#request-mapping).
MAX_STOP = 5
# (low, high) inclusive; None = unbounded.
NUMBER_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "presence_penalty": (-2, 2),
    "frequency_penalty": (-2, 2),
}
INT_RANGES: dict[str, tuple[int | None, int | None]] = {
    "n": (1, 8),
    "max_tokens": (1, None),
    "max_completion_tokens": (1, None),
    "top_logprobs": (0, 20),
    "seed": (None, None),
}
BOOL_FIELDS = ("stream", "logprobs", "parallel_tool_calls")
# Gemini's function-name rule (docs/gemini-wire-format.md#function-declarations-and-the-schema-subset), stricter than OpenAI's.
TOOL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]{0,63}")
DATA_URL = re.compile(r"data:(?P<mime>[\w.+\-]+/[\w.+\-]+)(?:;[^,;]*)*?;base64,(?P<data>.*)", re.S)
UNSUPPORTED = "unsupported_value"


def fail(param: str, problem: str, code: str | None = None) -> InvalidRequest:
    return InvalidRequest(f"{param}: {problem}", param=param, code=code)


def parse_data_url(url: str) -> tuple[str, str] | None:
    """``(mime, base64 data)`` of a ``data:<mime>[;…];base64,<data>`` URL, else None."""
    match = DATA_URL.fullmatch(url)
    return (match["mime"], match["data"]) if match else None


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)  # type: ignore[arg-type]


def validate_chat_request(body: object) -> dict[str, Any]:
    """Check ``body`` and return it (as the same dict); raise InvalidRequest."""
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise fail("model", "must be a non-empty string")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise fail("messages", "must be a non-empty array of message objects")
    for i, message in enumerate(messages):
        _check_message(message, f"messages[{i}]")
    _check_scalars(body)
    _check_stop(body.get("stop"))
    _check_response_format(body.get("response_format"))
    names = _check_tools(body)
    _check_tool_choice(body.get("tool_choice"), names)
    _check_legacy_function_call(body.get("function_call"), names)
    return body


def _check_scalars(body: dict[str, Any]) -> None:
    for key, (low, high) in NUMBER_RANGES.items():
        value = body.get(key)
        if value is not None and not (is_number(value) and low <= value <= high):
            raise fail(key, f"must be a number between {low} and {high}")
    for key, (ilow, ihigh) in INT_RANGES.items():
        value = body.get(key)
        if value is None:
            continue
        if not is_int(value) or (ilow is not None and value < ilow) or (ihigh is not None and value > ihigh):
            raise fail(key, f"must be an integer{_bounds(ilow, ihigh)}")
    for key in BOOL_FIELDS:
        if body.get(key) is not None and not isinstance(body[key], bool):
            raise fail(key, "must be a boolean")
    options = body.get("stream_options")
    if options is not None:
        if not isinstance(options, dict):
            raise fail("stream_options", "must be an object")
        if options.get("include_usage") is not None and not isinstance(options["include_usage"], bool):
            raise fail("stream_options.include_usage", "must be a boolean")
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in REASONING_EFFORTS:
        raise fail("reasoning_effort", f"unknown value {effort!r}; expected one of {', '.join(REASONING_EFFORTS)}")
    if body.get("top_logprobs") and body.get("logprobs") is not True:
        raise fail("top_logprobs", "requires logprobs to be true")


def _bounds(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f" between {low} and {high}"
    return f" >= {low}" if low is not None else ""


def _check_stop(stop: object) -> None:
    if stop is None or isinstance(stop, str):
        return
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise fail("stop", "must be a string or an array of strings")
    if len(stop) > MAX_STOP:
        raise fail("stop", f"at most {MAX_STOP} stop sequences are supported")


def _check_response_format(fmt: object) -> None:
    if fmt is None:
        return
    if not isinstance(fmt, dict) or fmt.get("type") not in RESPONSE_FORMATS:
        raise fail("response_format.type", f"must be one of {', '.join(RESPONSE_FORMATS)}")
    if fmt["type"] == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict):
            raise fail("response_format.json_schema", "must be an object")
        if spec.get("schema") is not None and not isinstance(spec["schema"], dict):
            raise fail("response_format.json_schema.schema", "must be an object")


def _check_tools(body: dict[str, Any]) -> set[str]:
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


def _check_tool_choice(choice: object, names: set[str]) -> None:
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


def _check_legacy_function_call(choice: object, names: set[str]) -> None:
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


def _check_message(message: object, p: str) -> None:
    if not isinstance(message, dict):
        raise fail(p, "must be an object")
    role = message.get("role")
    if role not in ROLES:
        shown = "missing role" if role is None else f"unknown role {role!r}"
        raise fail(f"{p}.role", f"{shown}; expected one of {', '.join(ROLES)}")
    content = message.get("content")
    if role == "user":
        _check_user_content(content, p)
    elif role == "assistant":
        _check_assistant(message, p)
    elif role == "function":
        if not isinstance(message.get("name"), str) or not message["name"]:
            raise fail(f"{p}.name", "function messages need the function name")
        if content is not None:
            _check_text_content(content, f"{p}.content")
    else:
        if role == "tool" and (not isinstance(message.get("tool_call_id"), str) or not message["tool_call_id"]):
            raise fail(f"{p}.tool_call_id", "must be a non-empty string")
        _check_text_content(content, f"{p}.content")


def _check_text_content(content: object, p: str, extra_types: tuple[str, ...] = ()) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise fail(p, "must be a string or an array of text parts")
    for k, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in extra_types:
            continue
        if kind != "text" or not isinstance(part.get("text"), str):
            raise fail(f"{p}[{k}]", "must be a text part {'type': 'text', 'text': '...'}")


def _check_assistant(message: dict[str, Any], p: str) -> None:
    calls = message.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list):
            raise fail(f"{p}.tool_calls", "must be an array")
        for j, call in enumerate(calls):
            _check_tool_call(call, f"{p}.tool_calls[{j}]")
    legacy = message.get("function_call")
    if legacy is not None:
        _check_call_function(legacy, f"{p}.function_call")
    content = message.get("content")
    if content is None:
        if not calls and legacy is None:
            raise fail(f"{p}.content", "is required unless tool_calls is given")
        return
    _check_text_content(content, f"{p}.content", extra_types=("refusal",))


def _check_tool_call(call: object, p: str) -> None:
    if not isinstance(call, dict):
        raise fail(p, "must be an object")
    if not isinstance(call.get("id"), str) or not call["id"]:
        raise fail(f"{p}.id", "must be a non-empty string")
    if call.get("type", "function") != "function":
        raise fail(f"{p}.type", "must be 'function'", UNSUPPORTED)
    _check_call_function(call.get("function"), f"{p}.function")


def _check_call_function(function: object, p: str) -> None:
    if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
        raise fail(f"{p}.name", "must be a non-empty string")
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        raise fail(f"{p}.arguments", "must be a JSON string")
    if not arguments.strip():
        return  # "" is how some clients spell a zero-argument call
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError as exc:
        raise fail(f"{p}.arguments", f"is not valid JSON ({exc.msg} at position {exc.pos})") from exc
    except ValueError as exc:  # not a syntax error: an integer past Python's 4300-digit conversion limit
        raise fail(f"{p}.arguments", "is not valid JSON (a number too long to read)") from exc
    if not isinstance(parsed, dict):
        raise fail(f"{p}.arguments", "must encode a JSON object")


def _check_user_content(content: object, p: str) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise fail(f"{p}.content", "must be a string or an array of content parts")
    for k, part in enumerate(content):
        _check_user_part(part, f"{p}.content[{k}]")


def _check_user_part(part: Any, p: str) -> None:  # a dict when kind is set: the branches below read it
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        if not isinstance(part.get("text"), str):
            raise fail(f"{p}.text", "must be a string")
    elif kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str) or not (url.startswith(URL_SCHEMES) or parse_data_url(url)):
            raise fail(f"{p}.image_url.url", "must be an http(s) URL or a base64 data URL", UNSUPPORTED)
    elif kind == "input_audio":
        audio = part.get("input_audio")
        if not isinstance(audio, dict) or not isinstance(audio.get("data"), str) or not audio["data"]:
            raise fail(f"{p}.input_audio.data", "must be a non-empty base64 string")
        if audio.get("format") not in AUDIO_FORMATS:
            raise fail(f"{p}.input_audio.format", f"must be one of {', '.join(AUDIO_FORMATS)}")
    elif kind == "file":
        _check_file_part(part.get("file"), f"{p}.file")
    else:
        raise fail(f"{p}.type", f"unknown content part type {kind!r}; expected text, image_url, input_audio or file")


def _check_file_part(file: object, p: str) -> None:
    if not isinstance(file, dict):
        raise fail(p, "must be an object")
    if file.get("file_data") is None and file.get("file_id") is not None:
        problem = "uploaded file ids are not supported; send file_data as a base64 data URL"
        raise fail(f"{p}.file_id", problem, UNSUPPORTED)
    data = file.get("file_data")
    if not isinstance(data, str) or not data:
        raise fail(f"{p}.file_data", "must be a non-empty base64 string or data URL")
    if data.startswith("data:") and not parse_data_url(data):
        raise fail(f"{p}.file_data", "data URL must be base64-encoded")
