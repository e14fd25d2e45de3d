"""OpenAI ``messages`` → Gemini ``systemInstruction`` parts + ``contents``.

The mapping: docs/gemini-wire-format.md#messages-to-contents and docs/gemini-wire-format.md#content-parts.
Rules, in the order they bite (trap 9, docs/gemini-wire-format.md#traps):
- system/developer text goes to ``systemInstruction`` in order;
- consecutive same-role turns are merged; empty text is never sent, and a
  message that leaves no parts is dropped (Gemini 400s on empty ``parts``);
- all tool results answering one assistant turn become ONE ``user`` turn of
  ``functionResponse`` parts right after it, in call order; a missing result is
  filled with an error object so the counts match (Gemini 400 otherwise);
- thought signatures and Gemini call ids come back out of the tool-call id
  (``toolids``); where Gemini may require one (Gemini 3, or a model whose family
  is unknown) the first call of a model turn without one gets Google's dummy signature;
- the conversation must open with a user turn: a minimal one is added when
  there is none (system-only request) or the history starts with the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .chat_validate import fail, parse_data_url
from .toolids import DUMMY_THOUGHT_SIGNATURE, decode_call_id

# Whitespace, not "": Gemini rejects empty text parameters (docs/gemini-wire-format.md#messages-to-contents, rule 6).
MINIMAL_USER_TEXT = " "
MISSING_RESULT = {"error": "no result provided"}
AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mp3"}
# For http(s) URLs handed to Gemini as fileData (never downloaded here).
EXTENSION_MIME = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".heic": "image/heic", ".heif": "image/heif", ".pdf": "application/pdf",
    ".wav": "audio/wav", ".mp3": "audio/mp3", ".mp4": "video/mp4", ".txt": "text/plain",
}  # fmt: skip
DEFAULT_IMAGE_MIME = "image/jpeg"
DEFAULT_FILE_MIME = "application/pdf"  # OpenAI file inputs are PDFs

Part = dict[str, Any]


@dataclass
class _Call:
    """A call of the current model turn, waiting for its result."""

    openai_id: str | None  # None for legacy function_call / unmatched function results
    name: str
    gemini_id: str | None
    response: dict[str, Any] | None = None


def messages_to_contents(messages: list[dict[str, Any]], *, placeholder_signatures: bool) -> tuple[list[Part], list[dict[str, Any]]]:
    """``(systemInstruction parts, contents)`` for validated ``messages``."""
    builder = _Builder()
    for i, message in enumerate(messages):
        builder.add(message, f"messages[{i}]")
    builder.flush_results(at_end=True)
    contents = builder.contents
    if not contents or contents[0]["role"] != "user":
        contents.insert(0, {"role": "user", "parts": [{"text": MINIMAL_USER_TEXT}]})
    if placeholder_signatures:
        _add_dummy_signatures(contents)
    return builder.system, contents


class _Builder:
    def __init__(self) -> None:
        self.system: list[Part] = []
        self.contents: list[dict[str, Any]] = []
        self.pending: list[_Call] = []

    def add(self, message: dict[str, Any], p: str) -> None:
        role = message["role"]
        if role in ("system", "developer"):
            self.system += _text_parts(message.get("content"))
        elif role == "user":
            self.flush_results()
            self._append("user", _user_parts(message["content"], p))
        elif role == "assistant":
            self.flush_results()
            self._append("model", self._assistant_parts(message))
        elif role == "tool":
            self._tool_result(message, p)
        else:  # legacy "function": matched by name
            self._function_result(message)

    def _append(self, role: str, parts: list[Part]) -> None:
        if not parts:
            return
        if self.contents and self.contents[-1]["role"] == role:
            self.contents[-1]["parts"].extend(parts)
        else:
            self.contents.append({"role": role, "parts": parts})

    def _assistant_parts(self, message: dict[str, Any]) -> list[Part]:
        parts = _text_parts(message.get("content"))
        for call in message.get("tool_calls") or []:
            gemini_id, signature = decode_call_id(call["id"])
            self.pending.append(_Call(call["id"], call["function"]["name"], gemini_id))
            parts.append(_call_part(call["function"], gemini_id, signature))
        if message.get("function_call") is not None:
            legacy = message["function_call"]
            self.pending.append(_Call(None, legacy["name"], None))
            parts.append(_call_part(legacy, None, None))
        return parts

    def _tool_result(self, message: dict[str, Any], p: str) -> None:
        call_id = message["tool_call_id"]
        call = next((c for c in self.pending if c.openai_id == call_id), None)
        if call is None:
            problem = f"{call_id!r} does not match a tool call of the preceding assistant message"
            raise fail(f"{p}.tool_call_id", problem)
        call.response = _response_object(message.get("content"))

    def _function_result(self, message: dict[str, Any]) -> None:
        name = message["name"]
        call = next((c for c in self.pending if c.name == name and c.response is None), None)
        if call is None:
            call = _Call(None, name, None)
            self.pending.append(call)
        call.response = _response_object(message.get("content"))

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


def _call_part(function: dict[str, Any], gemini_id: str | None, signature: str | None) -> Part:
    arguments = function.get("arguments") or ""
    call: dict[str, Any] = {"name": function["name"], "args": json.loads(arguments) if arguments.strip() else {}}
    if gemini_id:
        call["id"] = gemini_id  # synthesized call_ ids are never sent upstream
    part: Part = {"functionCall": call}
    if signature:
        part["thoughtSignature"] = signature  # back onto its own part, never copied
    return part


def _add_dummy_signatures(contents: list[dict[str, Any]]) -> None:
    for content in contents:
        if content["role"] != "model":
            continue
        first = next((part for part in content["parts"] if "functionCall" in part), None)
        if first is not None and not first.get("thoughtSignature"):
            first["thoughtSignature"] = DUMMY_THOUGHT_SIGNATURE


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    return "".join(p["text"] for p in content or [] if p.get("type") == "text")  # type: ignore[attr-defined]


def _text_parts(content: object) -> list[Part]:
    if isinstance(content, list):
        return [{"text": p["text"]} for p in content if p.get("type") == "text" and p["text"]]
    return [{"text": content}] if isinstance(content, str) and content else []


def _response_object(content: object) -> dict[str, Any]:
    """functionResponse.response must be an object (docs/gemini-wire-format.md#generatecontent-request)."""
    text = _text_of(content)
    try:
        value = json.loads(text)
    except ValueError:
        return {"content": text}
    return value if isinstance(value, dict) else {"result": value}


def _user_parts(content: str | list[Any], p: str) -> list[Part]:  # validated: a string or a list
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[Part] = []
    for k, item in enumerate(content):
        part = _user_part(item, f"{p}.content[{k}]")
        if part is not None:
            parts.append(part)
    return parts


def _user_part(item: dict[str, Any], p: str) -> Part | None:
    kind = item["type"]
    if kind == "text":
        return {"text": item["text"]} if item["text"] else None
    if kind == "input_audio":
        audio = item["input_audio"]
        return {"inlineData": {"mimeType": AUDIO_MIME[audio["format"]], "data": audio["data"]}}
    if kind == "image_url":  # `detail` has no Gemini counterpart here: ignored
        image = item["image_url"]
        return _url_part(image["url"] if isinstance(image, dict) else image, f"{p}.image_url.url")
    file = item["file"]
    data = file["file_data"]
    if data.startswith("data:"):
        return _url_part(data, f"{p}.file.file_data")
    mime = _mime_from_name(str(file.get("filename") or ""), DEFAULT_FILE_MIME)
    return {"inlineData": {"mimeType": mime, "data": data}}


def _url_part(url: str, p: str) -> Part:
    parsed = parse_data_url(url)
    if parsed:
        return {"inlineData": {"mimeType": parsed[0], "data": parsed[1]}}
    if url.startswith(("http://", "https://")):
        # Gemini fetches public HTTPS URLs itself; the proxy never downloads (no SSRF).
        mime = _mime_from_name(urlsplit(url).path, DEFAULT_IMAGE_MIME)
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    raise fail(p, "must be an http(s) URL or a base64 data URL", "unsupported_value")


def _mime_from_name(name: str, default: str) -> str:
    dot = name.rfind(".")
    return EXTENSION_MIME.get(name[dot:].lower(), default) if dot >= 0 else default
