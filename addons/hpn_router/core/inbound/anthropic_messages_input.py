"""Anthropic Messages API `system` and `messages` -> the model's messages (core/model/request.py).

- `system`: a string or text blocks -> one system message first (`cache_control` is dropped:
  Gemini caches on its own).
- `messages[].content`: a string or blocks. `text`, `image` (base64 or URL) and `document`
  (base64 PDF or URL) become parts; an assistant's `tool_use` blocks its tool calls; a user's
  `tool_result` blocks become `tool` messages, before any text of the same turn (the order
  Anthropic requires). `thinking`/`redacted_thinking` blocks are not sent back: their signatures
  are Anthropic's or empty, and Gemini's own signatures travel in the tool-call ids.

The rest of the body is read by core/inbound/anthropic_messages_request.py.

Usage:
    messages = parse_system(body.get("system")) + parse_messages(body.get("messages"))   # raises InvalidRequest
"""

from __future__ import annotations

import base64
from typing import Any

from ..fieldcheck import UNSUPPORTED, fail
from ..model.request import MediaPart, Message, Part, TextPart, ToolCall, ToolResult
from ..toolids import unpack_call_id

ROLES = ("user", "assistant")
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def parse_system(system: object) -> tuple[Message, ...]:
    if system is None:
        return ()
    if isinstance(system, str):
        return (Message("system", (TextPart(system),)),) if system else ()
    if not isinstance(system, list):
        raise fail("system", "must be a string or an array of text blocks")
    texts = []
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
            raise fail(f"system[{i}]", "must be a text block: {'type': 'text', 'text': ...}")
        texts.append(block["text"])
    text = "\n\n".join(t for t in texts if t)
    return (Message("system", (TextPart(text),)),) if text else ()


def parse_messages(messages: object) -> tuple[Message, ...]:
    if not isinstance(messages, list) or not messages:
        raise fail("messages", "must be a non-empty array of messages")
    return _Conversation().read(messages)


class _Conversation:
    """Messages -> the model's messages. A result must answer a `tool_use` made before it."""

    def __init__(self) -> None:
        self.out: list[Message] = []
        self.calls: dict[str, str] = {}  # tool_use id -> name, of every call seen so far

    def read(self, messages: list[Any]) -> tuple[Message, ...]:
        for i, message in enumerate(messages):
            p = f"messages[{i}]"
            if not isinstance(message, dict):
                raise fail(p, "must be an object")
            role = message.get("role")
            if role not in ROLES:
                raise fail(f"{p}.role", "must be 'user' or 'assistant'")
            content = message.get("content")
            if isinstance(content, str):
                blocks: list[Any] = [{"type": "text", "text": content}]
            elif isinstance(content, list):
                blocks = content
            else:
                raise fail(f"{p}.content", "must be a string or an array of content blocks")
            if role == "assistant":
                self._assistant(blocks, f"{p}.content")
            else:
                self._user(blocks, f"{p}.content")
        return tuple(self.out)

    def _assistant(self, blocks: list[Any], p: str) -> None:
        parts: list[Part] = []
        calls: list[ToolCall] = []
        for k, block in enumerate(blocks):
            q, kind = f"{p}[{k}]", _kind(block, f"{p}[{k}]")
            if kind == "text":
                parts += _text(block, q)
            elif kind == "tool_use":
                calls.append(self._call(block, q))
            elif kind in ("thinking", "redacted_thinking"):
                continue  # see the module's docstring
            else:
                raise fail(f"{q}.type", f"unsupported content block type {kind!r} in an assistant turn; expected text or tool_use")
        self.out.append(Message("assistant", tuple(parts), tuple(calls)))

    def _call(self, block: dict[str, Any], q: str) -> ToolCall:
        call_id, name, arguments = block.get("id"), block.get("name"), block.get("input")
        if not isinstance(call_id, str) or not call_id:
            raise fail(f"{q}.id", "must be a non-empty string")
        if not isinstance(name, str) or not name:
            raise fail(f"{q}.name", "must be a non-empty string")
        if not isinstance(arguments, dict):
            raise fail(f"{q}.input", "must be an object")
        if call_id in self.calls:
            raise fail(f"{q}.id", "tool_use ids must be unique")
        self.calls[call_id] = name
        provider_id, signature = unpack_call_id(call_id)
        return ToolCall(name, arguments, id=call_id, provider_id=provider_id, signature=signature)

    def _user(self, blocks: list[Any], p: str) -> None:
        parts: list[Part] = []
        for k, block in enumerate(blocks):
            q, kind = f"{p}[{k}]", _kind(block, f"{p}[{k}]")
            if kind == "tool_result":
                self.out.append(Message("tool", (self._result(block, q),)))
            else:
                parts += _content_block(block, kind, q)
        if parts:
            self.out.append(Message("user", tuple(parts)))

    def _result(self, block: dict[str, Any], q: str) -> ToolResult:
        call_id = block.get("tool_use_id")
        if not isinstance(call_id, str) or call_id not in self.calls:
            raise fail(f"{q}.tool_use_id", f"{call_id!r} does not match a tool_use block earlier in messages")
        content = block.get("content")
        parts: tuple[Part, ...]
        if content is None:
            parts = ()
        elif isinstance(content, str):
            parts = (TextPart(content),) if content else ()
        elif isinstance(content, list):
            parts = tuple(
                part for j, b in enumerate(content) for part in _content_block(b, _kind(b, f"{q}.content[{j}]"), f"{q}.content[{j}]")
            )
        else:
            raise fail(f"{q}.content", "must be a string or an array of content blocks")
        return ToolResult(parts, call_id=call_id, name=self.calls[call_id], is_error=block.get("is_error") is True)


def _kind(block: object, q: str) -> str:
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise fail(f"{q}.type", "Field required: every content block is an object with a type")
    kind: str = block["type"]
    return kind


def _text(block: dict[str, Any], q: str) -> list[Part]:
    if not isinstance(block.get("text"), str):
        raise fail(f"{q}.text", "must be a string")
    return [TextPart(block["text"])] if block["text"] else []  # Claude Code may send empty ones: dropped, not refused


def _content_block(block: dict[str, Any], kind: str, q: str) -> list[Part]:
    """A user turn's (or a tool result's) text, image or document block."""
    if kind == "text":
        return _text(block, q)
    if kind in ("image", "document"):
        return [_media(block, kind, q)]
    if kind == "tool_use":
        raise fail(f"{q}.type", "tool_use blocks belong in assistant turns")
    raise fail(f"{q}.type", f"unsupported content block type {kind!r}; expected text, image, document or tool_result", UNSUPPORTED)


def _media(block: dict[str, Any], kind: str, q: str) -> MediaPart:
    source = block.get("source")
    if not isinstance(source, dict):
        raise fail(f"{q}.source", "Field required: an object with type base64 or url")
    media = "image" if kind == "image" else "file"
    if source.get("type") == "base64":
        mime, data = source.get("media_type"), source.get("data")
        if kind == "image" and mime not in IMAGE_TYPES:
            raise fail(f"{q}.source.media_type", f"must be one of {', '.join(IMAGE_TYPES)}")
        if not isinstance(mime, str) or not mime:
            raise fail(f"{q}.source.media_type", "must be a MIME type such as application/pdf")
        if not isinstance(data, str) or not data:
            raise fail(f"{q}.source.data", "must be a non-empty base64 string")
        return MediaPart(media, mime_type=mime, data=data)  # type: ignore[arg-type]
    if source.get("type") == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise fail(f"{q}.source.url", "must be an http(s) URL")
        return MediaPart(media, url=url)  # type: ignore[arg-type]
    if source.get("type") == "text" and kind == "document" and isinstance(source.get("data"), str):
        return MediaPart("file", mime_type="text/plain", data=_b64(source["data"]))
    raise fail(f"{q}.source.type", "must be 'base64' or 'url' (uploaded file ids are not supported)", UNSUPPORTED)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")
