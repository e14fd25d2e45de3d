"""OpenAI Chat Completions request body -> ChatRequest (core/model/request.py).

The body is checked first (core/chat_validate.py: every mistake is an InvalidRequest naming the
field, e.g. `messages[2].role`), then read once into the model. What only an OpenAI body
spells its own way is decided here and nowhere else: `max_completion_tokens` over
`max_tokens`, `n`, a lone `stop` string, legacy `functions`/`function_call`, `response_format`,
the tool-call ids the router minted (which carry the upstream's call id and thought signature,
core/toolids.py), data URLs, and which top-level fields are mere bookkeeping.

Usage:
    request = parse_chat_request(json.loads(raw))   # raises InvalidRequest
"""

from __future__ import annotations

import json
from typing import Any

from ..chat_validate import validate_chat_request
from ..fieldcheck import fail, parse_data_url
from ..model.request import (
    ChatRequest,
    MediaKind,
    MediaPart,
    Message,
    OutputFormat,
    Part,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
)
from ..toolids import unpack_call_id

# The fields the model reads; every other top-level field lands in ChatRequest.extra.
READ_FIELDS = frozenset(
    {
        "model", "messages", "tools", "functions", "tool_choice", "function_call", "parallel_tool_calls",
        "response_format", "temperature", "top_p", "n", "max_tokens", "max_completion_tokens", "stop", "seed",
        "presence_penalty", "frequency_penalty", "reasoning_effort", "logprobs", "top_logprobs", "stream",
        "stream_options", "user",
    }
)  # fmt: skip
# Bookkeeping on OpenAI's side that never changes the answer: not kept, so it cannot split the cache.
BOOKKEEPING_FIELDS = frozenset({"metadata", "store", "service_tier", "prompt_cache_retention"})
AUDIO_MIME = {"wav": "audio/wav", "mp3": "audio/mp3"}
OUTPUT_KINDS = {"text": "text", "json_object": "json", "json_schema": "json_schema"}


def parse_chat_request(body: object) -> ChatRequest:
    """Validate `body` (the parsed JSON) and read it into a ChatRequest; raise InvalidRequest."""
    valid = validate_chat_request(body)
    return ChatRequest(
        model=valid["model"],
        messages=_messages(valid["messages"]),
        tools=_tools(valid),
        tool_choice=_tool_choice(valid),
        parallel_tool_calls=valid.get("parallel_tool_calls"),
        output_format=_output_format(valid.get("response_format")),
        temperature=valid.get("temperature"),
        top_p=valid.get("top_p"),
        candidate_count=valid.get("n"),
        max_output_tokens=valid.get("max_completion_tokens") or valid.get("max_tokens"),
        stop=_stop(valid.get("stop")),
        seed=valid.get("seed"),
        presence_penalty=valid.get("presence_penalty"),
        frequency_penalty=valid.get("frequency_penalty"),
        reasoning_effort=valid.get("reasoning_effort"),
        logprobs=valid.get("logprobs") is True,
        top_logprobs=valid.get("top_logprobs"),
        stream=valid.get("stream") is True,
        include_usage=_include_usage(valid.get("stream_options")),
        legacy_functions=bool(valid.get("functions")) and not valid.get("tools"),
        end_user=valid["user"] if isinstance(valid.get("user"), str) else None,
        extra=_extra(valid),
    )


def _extra(body: dict[str, Any]) -> dict[str, Any]:
    extra = {k: v for k, v in body.items() if k not in READ_FIELDS and k not in BOOKKEEPING_FIELDS}
    if body.get("user") is not None and not isinstance(body["user"], str):
        extra["user"] = body["user"]  # not a name, but it still tells two end users apart
    return extra


def _include_usage(options: object) -> bool:
    return isinstance(options, dict) and options.get("include_usage") is True


def _stop(stop: object) -> tuple[str, ...]:
    if isinstance(stop, str):
        return (stop,)
    return tuple(stop) if isinstance(stop, list) else ()


def _output_format(fmt: dict[str, Any] | None) -> OutputFormat | None:
    if fmt is None:
        return None
    kind = OUTPUT_KINDS[fmt["type"]]
    if kind != "json_schema":
        return OutputFormat(kind)  # type: ignore[arg-type]
    spec = fmt["json_schema"]
    name, strict = spec.get("name"), spec.get("strict")
    return OutputFormat(
        "json_schema",
        schema=spec.get("schema"),
        name=name if isinstance(name, str) else None,
        strict=strict if isinstance(strict, bool) else None,
    )


def _tools(body: dict[str, Any]) -> tuple[Tool, ...]:
    functions = [t["function"] for t in body.get("tools") or []] + list(body.get("functions") or [])
    return tuple(_tool(f) for f in functions)


def _tool(function: dict[str, Any]) -> Tool:
    strict = function.get("strict")
    return Tool(
        name=function["name"],
        description=function.get("description"),
        parameters=function.get("parameters"),
        strict=strict if isinstance(strict, bool) else None,
    )


def _tool_choice(body: dict[str, Any]) -> ToolChoice | None:
    choice = body.get("tool_choice")
    if choice is None and body.get("function_call") is not None:
        legacy = body["function_call"]  # "none" | "auto" | {"name": ...}
        return ToolChoice(legacy) if isinstance(legacy, str) else ToolChoice("required", (legacy["name"],))  # type: ignore[arg-type]
    if choice is None:
        return None
    if isinstance(choice, str):
        return ToolChoice(choice)  # type: ignore[arg-type]
    if choice["type"] == "allowed_tools":
        allowed = choice["allowed_tools"]
        return ToolChoice(allowed["mode"], tuple(t["function"]["name"] for t in allowed["tools"]))
    return ToolChoice("required", (choice["function"]["name"],))


def _messages(messages: list[dict[str, Any]]) -> tuple[Message, ...]:
    """The messages, in order. A tool result must answer a call of the assistant turn before
    it (no user or assistant turn between): that is an OpenAI history's own consistency rule."""
    out: list[Message] = []
    open_calls: set[str] = set()
    for i, message in enumerate(messages):
        role = message["role"]
        if role == "tool":
            call_id = message["tool_call_id"]
            if call_id not in open_calls:
                problem = f"{call_id!r} does not match a tool call of the preceding assistant message"
                raise fail(f"messages[{i}].tool_call_id", problem)
            out.append(Message("tool", (ToolResult(_texts(message.get("content"), keep_empty=True), call_id=call_id),)))
        elif role == "function":  # legacy: the result of a function_call, matched by name
            result = ToolResult(_texts(message.get("content"), keep_empty=True), name=message["name"])
            out.append(Message("tool", (result,)))
        elif role == "assistant":
            calls = _calls(message)
            open_calls = {c.id for c in calls if c.id is not None}
            out.append(Message("assistant", _texts(message.get("content")), calls, _name(message)))
        elif role == "user":
            open_calls = set()
            out.append(Message("user", _user_parts(message["content"]), name=_name(message)))
        else:
            out.append(Message(role, _texts(message.get("content")), name=_name(message)))
    return tuple(out)


def _name(message: dict[str, Any]) -> str | None:
    name = message.get("name")
    return name if isinstance(name, str) else None


def _texts(content: object, *, keep_empty: bool = False) -> tuple[Part, ...]:
    """Text content: a string or text parts (an assistant's refusal parts are not sent on)."""
    if isinstance(content, str):
        return (TextPart(content),) if content or keep_empty else ()
    if not isinstance(content, list):
        return ()
    return tuple(TextPart(p["text"]) for p in content if p.get("type") == "text" and (p["text"] or keep_empty))


def _calls(message: dict[str, Any]) -> tuple[ToolCall, ...]:
    calls = []
    for call in message.get("tool_calls") or []:
        provider_id, signature = unpack_call_id(call["id"])
        calls.append(
            ToolCall(
                name=call["function"]["name"],
                arguments=_arguments(call["function"]),
                id=call["id"],
                provider_id=provider_id,
                signature=signature,
            )
        )
    legacy = message.get("function_call")
    if legacy is not None:
        calls.append(ToolCall(name=legacy["name"], arguments=_arguments(legacy)))
    return tuple(calls)


def _arguments(function: dict[str, Any]) -> dict[str, Any]:
    arguments = function.get("arguments") or ""
    return json.loads(arguments) if arguments.strip() else {}  # validated: a JSON object or ""


def _user_parts(content: str | list[Any]) -> tuple[Part, ...]:
    if isinstance(content, str):
        return (TextPart(content),) if content else ()
    parts: list[Part] = []
    for item in content:
        kind = item["type"]
        if kind == "text":
            if item["text"]:
                parts.append(TextPart(item["text"]))
        elif kind == "input_audio":
            audio = item["input_audio"]
            parts.append(MediaPart("audio", mime_type=AUDIO_MIME[audio["format"]], data=audio["data"]))
        elif kind == "image_url":
            image = item["image_url"]
            detail = image.get("detail") if isinstance(image, dict) else None
            url = image["url"] if isinstance(image, dict) else image
            parts.append(_media("image", url, detail=detail if isinstance(detail, str) else None))
        else:  # file: a data URL, or bare base64 named by its filename
            file = item["file"]
            filename = file.get("filename") if isinstance(file.get("filename"), str) else None
            data = file["file_data"]
            if data.startswith("data:"):
                parts.append(_media("file", data, filename=filename))
            else:
                parts.append(MediaPart("file", data=data, filename=filename))
    return tuple(parts)


def _media(kind: MediaKind, url: str, *, detail: str | None = None, filename: str | None = None) -> MediaPart:
    """A data URL becomes inline data; an http(s) URL stays a URL (validated: one of the two)."""
    parsed = parse_data_url(url)
    if parsed:
        return MediaPart(kind, mime_type=parsed[0], data=parsed[1], filename=filename, detail=detail)
    return MediaPart(kind, url=url, filename=filename, detail=detail)
