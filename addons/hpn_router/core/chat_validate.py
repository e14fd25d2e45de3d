"""Validation of an OpenAI Chat Completions request before translation.

Every client mistake raises ``InvalidRequest`` whose message starts with the
field path (``messages[2].role: unknown role 'robot'; …``) and whose ``param``
is that path, so the 400 tells the caller exactly what to fix. Unknown
top-level keys are ignored (OpenAI SDKs put ``extra_body`` keys there); inputs
Gemini cannot take (``file_id``, ``custom`` tools) are rejected as unsupported.
``bool`` is never accepted where a number is expected (``n: true`` is a 400).

This module holds the entry point and the sampling parameters (numbers, flags,
``stop``, ``response_format``); the messages are checked in chat_validate_messages.py,
the tools in chat_validate_tools.py, the shared pieces are fieldcheck.py's.
"""

from __future__ import annotations

from typing import Any

from .chat_validate_messages import check_message
from .chat_validate_tools import check_legacy_function_call, check_tool_choice, check_tools
from .errors import InvalidRequest
from .fieldcheck import fail, is_int, is_number

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
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
        check_message(message, f"messages[{i}]")
    _check_scalars(body)
    _check_stop(body.get("stop"))
    _check_response_format(body.get("response_format"))
    names = check_tools(body)
    check_tool_choice(body.get("tool_choice"), names)
    check_legacy_function_call(body.get("function_call"), names)
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
