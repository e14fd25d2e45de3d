"""The router's answer (core/model/answer.py) as an OpenAI Responses API `response` (not streamed).

`response_object` renders a `ChatAnswer` as the Response JSON; its pieces (the envelope, the
output items, the status and usage) serve the stream encoder (core/inbound/openai_responses_stream.py)
too. Items get fresh ids (`msg_`, `fc_`, `ctc_`, `rs_`); a call's `call_id` carries its thought
signature, as a chat tool call's id does (core/toolids.py). Calls of the request's custom
(freeform) tools go back as `custom_tool_call` items with their `input` string. Only Choice 0 is
read: the Responses API has no `n`.

Usage:
    body = response_object(answer, ResponseHead(response_id=new_response_id(), created=now, model="gpt-4o"))
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..model.answer import (
    ChatAnswer,
    Finish,
    ToolCall,
    Usage,
)
from .openai_chat_answer import call_id
from .openai_responses_tools import CUSTOM_INPUT

INCOMPLETE_REASONS = {Finish.LENGTH: "max_output_tokens", Finish.CONTENT_FILTER: "content_filter"}


def new_response_id() -> str:
    return "resp_" + secrets.token_hex(24)


def new_item_id(prefix: str) -> str:
    return f"{prefix}_" + secrets.token_hex(24)


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """What a response repeats whatever its answer: its id and time, the model name the client
    asked for, the request fields OpenAI echoes (`echo`), which tools are custom ones, and
    whether the model's reasoning is shown."""

    response_id: str
    created: int
    model: str
    echo: Mapping[str, Any] = field(default_factory=dict)
    custom_tools: frozenset[str] = frozenset()
    expose_reasoning: bool = False
    namespaced: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # function -> (namespace, tool name)


def usage_to_responses(usage: Usage | None) -> dict[str, Any]:
    usage = usage or Usage()
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def envelope(head: ResponseHead, status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None) -> dict[str, Any]:
    """The Response object around `output` (fields OpenAI's SDK types require, then the echoes)."""
    echo = head.echo
    return {
        "id": head.response_id,
        "object": "response",
        "created_at": head.created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": echo.get("instructions"),
        "max_output_tokens": echo.get("max_output_tokens"),
        "metadata": echo.get("metadata") or {},
        "model": head.model,
        "output": output,
        "parallel_tool_calls": echo.get("parallel_tool_calls", True),
        "previous_response_id": echo.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None, **(echo.get("reasoning") or {})},
        "store": echo.get("store", False),  # True only when the router keeps it (core/inbound/openai_responses_store.py)
        "temperature": echo.get("temperature", 1.0),
        "text": {"format": {"type": "text"}, **(echo.get("text") or {})},
        "tool_choice": echo.get("tool_choice", "auto"),
        "tools": echo.get("tools") or [],
        "top_p": echo.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage,
        "user": None,
    }


def finish_status(finish: Finish) -> tuple[str, dict[str, str] | None]:
    """(status, incomplete_details) of a response whose answer ended with `finish`."""
    reason = INCOMPLETE_REASONS.get(finish)
    return ("incomplete", {"reason": reason}) if reason else ("completed", None)


def message_item(item_id: str, text: str, status: str) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": [part]}


def reasoning_item(item_id: str, text: str) -> dict[str, Any]:
    return {"id": item_id, "type": "reasoning", "summary": [{"type": "summary_text", "text": text}]}


def call_item(item_id: str, call: ToolCall, custom_tools: frozenset[str], namespaced: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """A call as its item; a call of a namespace's tool names the tool and its namespace apart."""
    namespace, name = namespaced.get(call.name, (None, call.name))
    item = _call_item(item_id, call, custom_tools)
    if namespace is not None:
        item["name"], item["namespace"] = name, namespace
    return item


def _call_item(item_id: str, call: ToolCall, custom_tools: frozenset[str]) -> dict[str, Any]:
    if call.name in custom_tools:
        return {
            "id": item_id,
            "type": "custom_tool_call",
            "status": "completed",
            "call_id": call_id(call),
            "name": call.name,
            "input": custom_input(call),
        }
    return {
        "id": item_id,
        "type": "function_call",
        "status": "completed",
        "call_id": call_id(call),
        "name": call.name,
        "arguments": call.arguments,
    }


def custom_input(call: ToolCall) -> str:
    """A custom tool's input: the string its one `input` parameter got (the arguments as sent otherwise)."""
    try:
        value = json.loads(call.arguments or "{}").get(CUSTOM_INPUT)
    except (ValueError, AttributeError):
        value = None
    return value if isinstance(value, str) else call.arguments


def response_object(answer: ChatAnswer, head: ResponseHead) -> dict[str, Any]:
    """The Response a client receives for `answer`."""
    choice = answer.choices[0] if answer.choices else None
    finish = choice.finish if choice else Finish.CONTENT_FILTER  # no choice at all: the prompt was blocked
    status, incomplete = finish_status(finish)
    output: list[dict[str, Any]] = []
    if choice is not None:
        if head.expose_reasoning and choice.reasoning:
            output.append(reasoning_item(new_item_id("rs"), choice.reasoning))
        if choice.text:
            output.append(message_item(new_item_id("msg"), choice.text, "incomplete" if incomplete else "completed"))
        output += [
            call_item(new_item_id("fc" if c.name not in head.custom_tools else "ctc"), c, head.custom_tools, head.namespaced)
            for c in choice.tool_calls
        ]
    body = envelope(head, status, output, usage_to_responses(answer.usage))
    body["incomplete_details"] = incomplete
    return body
