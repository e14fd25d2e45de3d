"""Anthropic Messages API request body (`POST /v1/messages`) -> ChatRequest (core/model/request.py).

What Claude Code and Anthropic's SDKs send, read into the model every other API becomes, so the
Gemini translator, cost and metrics serve it unchanged:

- `system`: a string or text blocks -> one system message first (`cache_control` is dropped:
  Gemini caches on its own).
- `messages[].content`: a string or blocks. `text`, `image` (base64 or URL) and `document`
  (base64 PDF or URL) become parts; an assistant's `tool_use` blocks its tool calls; a user's
  `tool_result` blocks become `tool` messages, before any text of the same turn (the order
  Anthropic requires). `thinking`/`redacted_thinking` blocks are not sent back: their signatures
  are Anthropic's or empty, and Gemini's own signatures travel in the tool-call ids.
- `tools` (`name`, `description`, `input_schema`); Anthropic's server tools (`web_search_...`,
  `bash_...`, typed tools) run on Anthropic's side and are refused by name.
- `tool_choice` `auto|any|tool|none` -> auto|required|required with that name|none;
  `disable_parallel_tool_use` -> parallel_tool_calls false.
- `stop_sequences`, `temperature`, `top_p`; `thinking` (`enabled` with `budget_tokens`,
  `adaptive`, `disabled`) and `output_config.effort` -> a reasoning effort; `metadata.user_id`
  -> the end user.
- `max_tokens` is required, as Anthropic requires it (not for count_tokens).

Bad input raises InvalidRequest naming the field; the router answers it with a 400 in
Anthropic's envelope (core/errors.py).

Usage:
    request = parse_messages_request(json.loads(raw))                    # a ChatRequest
    counted = parse_messages_request(json.loads(raw), count_only=True)   # count_tokens: no max_tokens
"""

from __future__ import annotations

import base64
from typing import Any

from ..chat_validate_tools import TOOL_NAME
from ..errors import InvalidRequest
from ..fieldcheck import UNSUPPORTED, fail, is_int, is_number
from ..model.request import ChatRequest, MediaPart, Message, Part, TextPart, Tool, ToolCall, ToolChoice, ToolResult
from ..toolids import unpack_call_id

ROLES = ("user", "assistant")
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
# Thinking budgets to the model's efforts: Anthropic's minimum budget is 1024 tokens.
BUDGET_EFFORTS = ((1024, "low"), (8192, "medium"), (24576, "high"))
OUTPUT_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "max": "xhigh"}
READ_FIELDS = frozenset(
    {
        "model", "messages", "system", "max_tokens", "tools", "tool_choice", "stop_sequences", "temperature", "top_p",
        "thinking", "output_config", "metadata", "stream",
    }
)  # fmt: skip
# Bookkeeping and Anthropic-side features that never change what Gemini answers: not kept, so
# they cannot split the cache.
BOOKKEEPING_FIELDS = frozenset({"service_tier", "container", "context_management", "mcp_servers", "inference_geo"})


def parse_messages_request(body: object, *, count_only: bool = False) -> ChatRequest:
    """Validate `body` (the parsed JSON) and read it; raise InvalidRequest naming the field.
    `count_only`: a count_tokens body, which has no `max_tokens` nor `stream`."""
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise fail("model", "Field required" if model is None else "must be a non-empty string")
    _check_scalars(body, count_only)
    tools = _tools(body.get("tools"))
    choice, parallel = _tool_choice(body.get("tool_choice"), {t.name for t in tools})
    metadata = _object(body, "metadata")
    user_id = metadata.get("user_id")
    if user_id is not None and not isinstance(user_id, str):
        raise fail("metadata.user_id", "must be a string")
    return ChatRequest(
        model=model,
        messages=_system(body.get("system")) + _messages(body.get("messages")),
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        max_output_tokens=None if count_only else body["max_tokens"],
        stop=tuple(body.get("stop_sequences") or ()),
        reasoning_effort=_effort(body),
        stream=not count_only and body.get("stream") is True,
        include_usage=True,  # Anthropic's streams always end with usage
        end_user=user_id or None,
        extra={k: v for k, v in body.items() if k not in READ_FIELDS and k not in BOOKKEEPING_FIELDS},
    )


def _check_scalars(body: dict[str, Any], count_only: bool) -> None:
    limit = body.get("max_tokens")
    if not count_only and limit is None:
        raise fail("max_tokens", "Field required")
    if limit is not None and not count_only and not (is_int(limit) and limit >= 1):
        raise fail("max_tokens", "must be an integer >= 1")
    for key, (low, high) in {"temperature": (0, 1), "top_p": (0, 1)}.items():
        value = body.get(key)
        if value is not None and not (is_number(value) and low <= value <= high):
            raise fail(key, f"must be a number between {low} and {high}")
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise fail("stream", "must be a boolean")
    stops = body.get("stop_sequences")
    if stops is not None and not (isinstance(stops, list) and all(isinstance(s, str) and s for s in stops)):
        raise fail("stop_sequences", "must be an array of non-empty strings")


def _object(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail(key, "must be an object")
    return value


def _effort(body: dict[str, Any]) -> str | None:
    """`output_config.effort` wins (Claude's effort setting); else the thinking budget's effort."""
    effort = _object(body, "output_config").get("effort")
    if effort is not None:
        if effort not in OUTPUT_EFFORTS:
            raise fail("output_config.effort", f"must be one of {', '.join(OUTPUT_EFFORTS)}")
        return OUTPUT_EFFORTS[effort]
    thinking = _object(body, "thinking")
    kind = thinking.get("type")
    if not thinking:
        return None
    if kind == "disabled":
        return "none"
    if kind == "adaptive":
        return None  # the model decides: Gemini's dynamic thinking
    if kind != "enabled":
        raise fail("thinking.type", "must be 'enabled', 'adaptive' or 'disabled'")
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1024:
        raise fail("thinking.budget_tokens", "must be an integer >= 1024")
    limit = body.get("max_tokens")
    if isinstance(limit, int) and budget >= limit:
        raise fail("thinking.budget_tokens", "must be less than max_tokens")
    return next((effort for ceiling, effort in BUDGET_EFFORTS if budget <= ceiling), "xhigh")


def _system(system: object) -> tuple[Message, ...]:
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


def _tools(tools: object) -> tuple[Tool, ...]:
    if tools is None:
        return ()
    if not isinstance(tools, list):
        raise fail("tools", "must be an array")
    out: list[Tool] = []
    for j, tool in enumerate(tools):
        p = f"tools[{j}]"
        if not isinstance(tool, dict):
            raise fail(p, "must be an object")
        kind = tool.get("type")
        if kind not in (None, "custom"):
            problem = (
                f"the server tool {kind!r} runs on Anthropic's servers and is not supported by this Gemini gateway; declare custom tools"
            )
            raise fail(f"{p}.type", problem, UNSUPPORTED)
        name, schema = tool.get("name"), tool.get("input_schema")
        if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
            raise fail(f"{p}.name", "must start with a letter or underscore and contain only A-Z a-z 0-9 _ . : - (max 64)")
        if not isinstance(schema, dict):
            raise fail(f"{p}.input_schema", "Field required: a JSON Schema object")
        if tool.get("description") is not None and not isinstance(tool["description"], str):
            raise fail(f"{p}.description", "must be a string")
        if any(t.name == name for t in out):
            raise fail(f"{p}.name", f"duplicate tool name {name!r}")
        strict = tool.get("strict")
        out.append(Tool(name, tool.get("description"), schema, strict if isinstance(strict, bool) else None))
    return tuple(out)


def _tool_choice(choice: object, names: set[str]) -> tuple[ToolChoice | None, bool | None]:
    if choice is None:
        return None, None
    if not isinstance(choice, dict):
        raise fail("tool_choice", "must be an object such as {'type': 'auto'}")
    disable = choice.get("disable_parallel_tool_use")
    if disable is not None and not isinstance(disable, bool):
        raise fail("tool_choice.disable_parallel_tool_use", "must be a boolean")
    parallel = None if disable is None else not disable
    kind = choice.get("type")
    if kind == "none":
        return ToolChoice("none"), parallel
    if kind in ("auto", "any") and not names:
        raise fail("tool_choice", "is only allowed when tools are specified")
    if kind == "auto":
        return ToolChoice("auto"), parallel
    if kind == "any":
        return ToolChoice("required"), parallel
    if kind == "tool":
        name = choice.get("name")
        if not isinstance(name, str) or name not in names:
            raise fail("tool_choice.name", f"{name!r} is not one of the declared tools")
        return ToolChoice("required", (name,)), parallel
    raise fail("tool_choice.type", "must be 'auto', 'any', 'tool' or 'none'")


def _messages(messages: object) -> tuple[Message, ...]:
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
