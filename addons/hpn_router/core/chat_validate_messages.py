"""The message checks of an OpenAI Chat Completions request: each message by its role, its content
parts (text, images, audio, files) and an assistant's tool calls.

Inputs Gemini cannot take (``file_id`` uploads, non-function tool calls) are rejected as
unsupported; a tool call's arguments must be a JSON object (an empty string counts as none).
"""

from __future__ import annotations

import json
from typing import Any

from .fieldcheck import UNSUPPORTED, fail, parse_data_url

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
AUDIO_FORMATS = ("wav", "mp3")
URL_SCHEMES = ("http://", "https://")


def check_message(message: object, p: str) -> None:
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
