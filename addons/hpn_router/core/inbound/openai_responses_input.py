"""OpenAI Responses API input items -> the model's messages (core/model/request.py).

`input` is a string or a flat list of items: messages (their content parts: text, images,
files), `function_call` / `custom_tool_call` and their outputs. Consecutive calls are one
assistant turn, as a chat history spells it, and a call's output must answer a call made before
it (in the items or in the stored conversation they continue). A Response's own output items
read back the same way (`output_messages`), so a stored turn continues like a client's replay.
The rest of the body is read by core/inbound/openai_responses_request.py.

Usage:
    messages = parse_input(body["input"], custom_tools, history)   # raises InvalidRequest
    messages = output_messages(response["output"], history)
"""

from __future__ import annotations

import json
from typing import Any

from ..fieldcheck import UNSUPPORTED, fail, parse_data_url
from ..model.request import MediaPart, Message, Part, TextPart, ToolCall, ToolResult
from ..toolids import unpack_call_id
from .openai_responses_tools import CUSTOM_INPUT, NAMESPACE_SEPARATOR

ROLES = ("user", "assistant", "system", "developer")


def output_messages(output: list[Any], history: tuple[Message, ...] = ()) -> tuple[Message, ...]:
    """A Response's output items (as the router rendered them) as the model's messages after
    `history`: they are valid input items, so they read back like a client's replay of them."""
    return _Conversation(set(), history).read(output)


def parse_input(items: object, custom: set[str], history: tuple[Message, ...]) -> tuple[Message, ...]:
    if isinstance(items, str):
        return (*history, Message("user", (TextPart(items),)))
    if not isinstance(items, list) or not items:
        raise fail("input", "must be a string or a non-empty array of input items")
    return _Conversation(custom, history).read(items)


class _Conversation:
    """Input items -> messages. Consecutive `function_call` items (and the assistant message
    right before them) are one assistant turn, as a chat history spells it; a call's output
    must answer a call made before it, in the items or in the `history` they continue."""

    def __init__(self, custom: set[str], history: tuple[Message, ...] = ()) -> None:
        self.custom = custom
        self.messages: list[Message] = list(history)
        self.calls: dict[str, str] = {c.id: c.name for m in history for c in m.tool_calls if c.id}  # call_id -> name

    def read(self, items: list[Any]) -> tuple[Message, ...]:
        for i, item in enumerate(items):
            p = f"input[{i}]"
            if not isinstance(item, dict):
                raise fail(p, "must be an object")
            kind = item.get("type", "message")
            if kind == "message":
                self._message(item, p)
            elif kind in ("function_call", "custom_tool_call"):
                self._call(item, p, kind)
            elif kind in ("function_call_output", "custom_tool_call_output"):
                self._output(item, p)
            elif kind == "reasoning":
                continue  # Gemini's thoughts cannot be handed back as text; signatures ride in call ids
            elif kind == "item_reference":
                raise fail(
                    f"{p}.id", "item references need stored responses, which the router does not keep; send the item itself", UNSUPPORTED
                )
            else:
                raise fail(f"{p}.type", f"unsupported input item type {kind!r}", UNSUPPORTED)
        return tuple(self.messages)

    def _message(self, item: dict[str, Any], p: str) -> None:
        role = item.get("role")
        if role not in ROLES:
            raise fail(f"{p}.role", f"must be one of {', '.join(ROLES)}")
        parts = _parts(item.get("content"), f"{p}.content", role)
        self.messages.append(Message(role, parts))

    def _call(self, item: dict[str, Any], p: str, kind: str) -> None:
        call_id, name = item.get("call_id"), item.get("name")
        if not isinstance(call_id, str) or not call_id:
            raise fail(f"{p}.call_id", "must be a non-empty string")
        if not isinstance(name, str) or not name:
            raise fail(f"{p}.name", "must be a non-empty string")
        namespace = item.get("namespace")
        if namespace is not None and (not isinstance(namespace, str) or not namespace):
            raise fail(f"{p}.namespace", "must be a non-empty string")
        if namespace:  # a namespace's tool is the function the request declared for it
            name = f"{namespace}{NAMESPACE_SEPARATOR}{name}"
        arguments = {CUSTOM_INPUT: _string(item, "input", p)} if kind == "custom_tool_call" else _arguments(item, p)
        provider_id, signature = unpack_call_id(call_id)
        call = ToolCall(
            name=name,
            arguments=arguments,
            id=call_id,
            provider_id=provider_id,
            signature=signature,
        )
        self.calls[call_id] = name
        last = self.messages[-1] if self.messages else None
        if last is not None and last.role == "assistant":
            self.messages[-1] = Message("assistant", last.content, (*last.tool_calls, call), last.name)
        else:
            self.messages.append(Message("assistant", (), (call,)))

    def _output(self, item: dict[str, Any], p: str) -> None:
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or call_id not in self.calls:
            raise fail(f"{p}.call_id", f"{call_id!r} does not match a function_call earlier in input")
        output = item.get("output")
        if isinstance(output, str):
            content: tuple[Part, ...] = (TextPart(output),)
        elif isinstance(output, list):
            content = _parts(output, f"{p}.output", "user")
        else:
            raise fail(f"{p}.output", "must be a string or an array of content parts")
        self.messages.append(Message("tool", (ToolResult(content, call_id=call_id, name=self.calls[call_id]),)))


def _string(item: dict[str, Any], key: str, p: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise fail(f"{p}.{key}", "must be a string")
    return value


def _arguments(item: dict[str, Any], p: str) -> dict[str, Any]:
    arguments = _string(item, "arguments", p)
    if not arguments.strip():
        return {}
    try:
        parsed = json.loads(arguments)
    except ValueError as exc:
        raise fail(f"{p}.arguments", "is not valid JSON") from exc
    if not isinstance(parsed, dict):
        raise fail(f"{p}.arguments", "must encode a JSON object")
    return parsed


def _parts(content: object, p: str, role: str) -> tuple[Part, ...]:
    if isinstance(content, str):
        return (TextPart(content),) if content else ()
    if not isinstance(content, list):
        raise fail(p, "must be a string or an array of content parts")
    parts: list[Part] = []
    for k, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        q = f"{p}[{k}]"
        if kind in ("input_text", "output_text"):
            if not isinstance(part.get("text"), str):
                raise fail(f"{q}.text", "must be a string")
            if part["text"]:
                parts.append(TextPart(part["text"]))
        elif kind == "refusal":
            continue  # an assistant's refusal is not sent on (as for chat)
        elif kind == "input_image" and role != "assistant":
            parts.append(_image(part, q))
        elif kind == "input_file" and role != "assistant":
            parts.append(_file(part, q))
        else:
            raise fail(f"{q}.type", f"unsupported content part type {kind!r} here; expected input_text, input_image or input_file")
    return tuple(parts)


def _image(part: dict[str, Any], q: str) -> MediaPart:
    url = part.get("image_url")
    detail = part.get("detail") if isinstance(part.get("detail"), str) else None
    if url is None and part.get("file_id") is not None:
        raise fail(f"{q}.file_id", "uploaded file ids are not supported; send image_url as a URL or a base64 data URL", UNSUPPORTED)
    if not isinstance(url, str):
        raise fail(f"{q}.image_url", "must be an http(s) URL or a base64 data URL")
    parsed = parse_data_url(url)
    if parsed:
        return MediaPart("image", mime_type=parsed[0], data=parsed[1], detail=detail)
    if not url.startswith(("http://", "https://")):
        raise fail(f"{q}.image_url", "must be an http(s) URL or a base64 data URL", UNSUPPORTED)
    return MediaPart("image", url=url, detail=detail)


def _file(part: dict[str, Any], q: str) -> MediaPart:
    filename = part.get("filename") if isinstance(part.get("filename"), str) else None
    data, url = part.get("file_data"), part.get("file_url")
    if isinstance(data, str) and data:
        parsed = parse_data_url(data)
        if parsed:
            return MediaPart("file", mime_type=parsed[0], data=parsed[1], filename=filename)
        if data.startswith("data:"):
            raise fail(f"{q}.file_data", "data URL must be base64-encoded")
        return MediaPart("file", data=data, filename=filename)
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        return MediaPart("file", url=url, filename=filename)
    if part.get("file_id") is not None:
        raise fail(f"{q}.file_id", "uploaded file ids are not supported; send file_data as base64", UNSUPPORTED)
    raise fail(f"{q}.file_data", "must be a non-empty base64 string or data URL")
