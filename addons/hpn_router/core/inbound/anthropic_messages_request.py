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

The messages and system are read by core/inbound/anthropic_messages_input.py, the tools and
tool_choice by core/inbound/anthropic_messages_tools.py. Bad input raises InvalidRequest naming
the field; the router answers it with a 400 in
Anthropic's envelope (core/errors.py).

Usage:
    request = parse_messages_request(json.loads(raw))                    # a ChatRequest
    counted = parse_messages_request(json.loads(raw), count_only=True)   # count_tokens: no max_tokens
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequest
from ..fieldcheck import fail, is_int, is_number
from ..model.request import ChatRequest
from .anthropic_messages_input import parse_messages, parse_system
from .anthropic_messages_tools import parse_tool_choice, parse_tools

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
    tools = parse_tools(body.get("tools"))
    choice, parallel = parse_tool_choice(body.get("tool_choice"), {t.name for t in tools})
    metadata = _object(body, "metadata")
    user_id = metadata.get("user_id")
    if user_id is not None and not isinstance(user_id, str):
        raise fail("metadata.user_id", "must be a string")
    return ChatRequest(
        model=model,
        messages=parse_system(body.get("system")) + parse_messages(body.get("messages")),
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
