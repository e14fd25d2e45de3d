"""ChatRequest messages -> Gemini ``systemInstruction`` parts + ``contents``.

The mapping: docs/gemini-wire-format.md#messages-to-contents and docs/gemini-wire-format.md#content-parts.
Rules, in the order they bite (trap 9, docs/gemini-wire-format.md#traps):
- system/developer text goes to ``systemInstruction`` in order;
- consecutive same-role turns are merged; empty text is never sent, and a
  message that leaves no parts is dropped (Gemini 400s on empty ``parts``);
- all tool results answering one assistant turn become ONE ``user`` turn of
  ``functionResponse`` parts right after it, in call order; a missing result is
  filled with an error object so the counts match (Gemini 400 otherwise);
- a call's Gemini id and thought signature (when Gemini made it) go back onto its own
  part; where Gemini may require a signature (Gemini 3, or a model whose family
  is unknown) the first call of a model turn without one gets Google's dummy signature;
- the conversation must open with a user turn: a minimal one is added when
  there is none (system-only request) or the history starts with the model.
Reasoning parts are not sent: no inbound API hands any back yet.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ...model.request import MediaPart, Message, Part, TextPart, ToolCall, ToolResult
from ...toolids import DUMMY_THOUGHT_SIGNATURE

PROVIDER = "gemini"  # the origin of the signatures Gemini can verify
# Whitespace, not "": Gemini rejects empty text parameters (docs/gemini-wire-format.md#messages-to-contents, rule 6).
MINIMAL_USER_TEXT = " "
MISSING_RESULT = {"error": "no result provided"}
# For http(s) URLs handed to Gemini as fileData (never downloaded here), and inline data
# whose type only its file name tells.
EXTENSION_MIME = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".heic": "image/heic", ".heif": "image/heif", ".pdf": "application/pdf",
    ".wav": "audio/wav", ".mp3": "audio/mp3", ".mp4": "video/mp4", ".txt": "text/plain",
}  # fmt: skip
DEFAULT_IMAGE_MIME = "image/jpeg"
DEFAULT_FILE_MIME = "application/pdf"  # OpenAI file inputs are PDFs
DEFAULT_MIME = {"image": DEFAULT_IMAGE_MIME, "file": DEFAULT_FILE_MIME, "audio": "audio/wav"}

GeminiPart = dict[str, Any]


@dataclass
class _Call:
    """A call of the current model turn, waiting for its result."""

    client_id: str | None  # None for legacy function_call / unmatched function results
    name: str
    gemini_id: str | None
    response: dict[str, Any] | None = None


def messages_to_contents(messages: Sequence[Message], *, placeholder_signatures: bool) -> tuple[list[GeminiPart], list[dict[str, Any]]]:
    """``(systemInstruction parts, contents)`` for a request's messages."""
    builder = _Builder()
    for message in messages:
        builder.add(message)
    builder.flush_results(at_end=True)
    contents = builder.contents
    if not contents or contents[0]["role"] != "user":
        contents.insert(0, {"role": "user", "parts": [{"text": MINIMAL_USER_TEXT}]})
    if placeholder_signatures:
        _add_dummy_signatures(contents)
    return builder.system, contents


class _Builder:
    def __init__(self) -> None:
        self.system: list[GeminiPart] = []
        self.contents: list[dict[str, Any]] = []
        self.pending: list[_Call] = []

    def add(self, message: Message) -> None:
        role = message.role
        if role in ("system", "developer"):
            self.system += _text_parts(message.content)
        elif role == "user":
            self.flush_results()
            self._append("user", _user_parts(message.content))
        elif role == "assistant":
            self.flush_results()
            self._append("model", self._assistant_parts(message))
        else:  # tool
            for part in message.content:
                if isinstance(part, ToolResult):
                    self._tool_result(part)

    def _append(self, role: str, parts: list[GeminiPart]) -> None:
        if not parts:
            return
        if self.contents and self.contents[-1]["role"] == role:
            self.contents[-1]["parts"].extend(parts)
        else:
            self.contents.append({"role": role, "parts": parts})

    def _assistant_parts(self, message: Message) -> list[GeminiPart]:
        parts = _text_parts(message.content)
        for call in message.tool_calls:
            self.pending.append(_Call(call.id, call.name, call.provider_id))
            parts.append(_call_part(call))
        return parts

    def _tool_result(self, result: ToolResult) -> None:
        if result.call_id is not None:
            # The inbound translator has checked that the id answers a call of this turn.
            call = next((c for c in self.pending if c.client_id == result.call_id), None)
        else:  # matched by name (legacy function results); a result nobody asked for gets a call
            call = next((c for c in self.pending if c.name == result.name and c.response is None), None)
            if call is None:
                call = _Call(None, result.name or "", None)
                self.pending.append(call)
        if call is not None:
            call.response = _response_object(result.content)

    def flush_results(self, *, at_end: bool = False) -> None:
        """Emit the pending results as one user turn (missing ones filled in).

        At the end of the history, calls nobody answered are left alone: the
        client sent a trailing call turn and Gemini gets it as is.
        """
        pending, self.pending = self.pending, []
        if not pending or (at_end and all(c.response is None for c in pending)):
            return
        parts = []
        for call in pending:
            response: dict[str, Any] = {"name": call.name, "response": call.response or dict(MISSING_RESULT)}
            if call.gemini_id:
                response["id"] = call.gemini_id  # newer models require the echo
            parts.append({"functionResponse": response})
        self._append("user", parts)


def _call_part(call: ToolCall) -> GeminiPart:
    function: dict[str, Any] = {"name": call.name, "args": call.arguments}
    if call.provider_id:
        function["id"] = call.provider_id  # synthesized call_ ids are never sent upstream
    part: GeminiPart = {"functionCall": function}
    if call.signature is not None and call.signature.origin == PROVIDER:
        part["thoughtSignature"] = call.signature.value  # back onto its own part, never copied
    return part


def _add_dummy_signatures(contents: list[dict[str, Any]]) -> None:
    for content in contents:
        if content["role"] != "model":
            continue
        first = next((part for part in content["parts"] if "functionCall" in part), None)
        if first is not None and not first.get("thoughtSignature"):
            first["thoughtSignature"] = DUMMY_THOUGHT_SIGNATURE


def _text_parts(content: Sequence[Part]) -> list[GeminiPart]:
    return [{"text": p.text} for p in content if isinstance(p, TextPart) and p.text]


def _response_object(content: Sequence[Part]) -> dict[str, Any]:
    """functionResponse.response must be an object (docs/gemini-wire-format.md#generatecontent-request)."""
    text = "".join(p.text for p in content if isinstance(p, TextPart))
    try:
        value = json.loads(text)
    except ValueError:
        return {"content": text}
    return value if isinstance(value, dict) else {"result": value}


def _user_parts(content: Sequence[Part]) -> list[GeminiPart]:
    parts: list[GeminiPart] = []
    for part in content:
        if isinstance(part, TextPart):
            if part.text:
                parts.append({"text": part.text})
        elif isinstance(part, MediaPart):
            parts.append(_media_part(part))  # an image's `detail` has no Gemini counterpart: not sent
    return parts


def _media_part(media: MediaPart) -> GeminiPart:
    if media.data is not None:
        mime = media.mime_type or _mime_from_name(media.filename or "", DEFAULT_MIME[media.kind])
        return {"inlineData": {"mimeType": mime, "data": media.data}}
    # Gemini fetches public HTTPS URLs itself; the proxy never downloads (no SSRF).
    url = media.url or ""
    mime = media.mime_type or _mime_from_name(urlsplit(url).path, DEFAULT_MIME[media.kind])
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _mime_from_name(name: str, default: str) -> str:
    dot = name.rfind(".")
    return EXTENSION_MIME.get(name[dot:].lower(), default) if dot >= 0 else default
