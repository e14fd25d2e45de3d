"""The router's answer (core/model/answer.py) as an OpenAI Responses API `response`, streamed or not.

`response_object` renders a `ChatAnswer` as the Response JSON; `ResponsesEncoder` renders stream
events as the Responses SSE events, in the order OpenAI sends them, each with a `sequence_number`
counting from 0:

    response.created, response.in_progress
    per output item: response.output_item.added, then
        a message:    content_part.added, output_text.delta..., output_text.done, content_part.done
        a call:       function_call_arguments.delta, function_call_arguments.done
                      (a custom tool's: custom_tool_call_input.delta, custom_tool_call_input.done)
        reasoning:    reasoning_summary_part.added, reasoning_summary_text.delta..., ..._text.done, ..._part.done
    response.output_item.done
    response.completed | response.incomplete (the output token limit, a content filter) | response.failed

The last event carries the whole response, its `output` and integer `usage` included: the Agents
SDK and Codex take the items from there. There is no `[DONE]`. A broken stream ends in
`response.failed`, never in silence. Items get fresh ids (`msg_`, `fc_`, `ctc_`, `rs_`); a call's
`call_id` carries its thought signature, as a chat tool call's id does (core/toolids.py). Calls of
the request's custom (freeform) tools go back as `custom_tool_call` items with their `input`
string. Only Choice 0 is read: the Responses API has no `n`.

Usage:
    body = response_object(answer, ResponseHead(response_id=new_response_id(), created=now, model="gpt-4o"))
    encoder = ResponsesEncoder(ResponseHead(...))
    for event in events: send(b"".join(encoder.encode(event)))
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..model.answer import (
    ChatAnswer,
    ChoiceEnd,
    ChoiceStart,
    Finish,
    ReasoningDelta,
    StreamEnd,
    StreamError,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
    UsageReport,
)
from ..sse import sse_event
from .openai_chat_answer import call_id
from .openai_responses_tools import CUSTOM_INPUT
from .streamencoder import OneChoiceEncoder

INCOMPLETE_REASONS = {Finish.LENGTH: "max_output_tokens", Finish.CONTENT_FILTER: "content_filter"}


def new_response_id() -> str:
    return "resp_" + secrets.token_hex(24)


def _item_id(prefix: str) -> str:
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
            output.append(reasoning_item(_item_id("rs"), choice.reasoning))
        if choice.text:
            output.append(message_item(_item_id("msg"), choice.text, "incomplete" if incomplete else "completed"))
        output += [
            call_item(_item_id("fc" if c.name not in head.custom_tools else "ctc"), c, head.custom_tools, head.namespaced)
            for c in choice.tool_calls
        ]
    body = envelope(head, status, output, usage_to_responses(answer.usage))
    body["incomplete_details"] = incomplete
    return body


def encode_event(payload: dict[str, Any]) -> bytes:
    """One SSE event as OpenAI sends it: an `event:` line naming the type, then the data."""
    return sse_event(payload, name=str(payload["type"]))


@dataclass
class _Open:
    """The output item being streamed: its index, id, kind and text so far."""

    index: int
    item_id: str
    kind: str  # "message" | "reasoning"
    text: list[str] = field(default_factory=list)


class ResponsesEncoder(OneChoiceEncoder):
    """One Responses stream for one stream of the model's events.

    `text` keeps the answer text sent (the first `max_text` characters), `usage` the last usage
    reported, `response` the final Response object once the stream has ended (None before),
    `started` whether any byte was produced."""

    def __init__(self, head: ResponseHead, *, max_text: int = 20000) -> None:
        super().__init__(max_text=max_text)
        self.head = head
        self._sequence = 0
        self._output: list[dict[str, Any]] = []
        self._open: _Open | None = None
        self.response: dict[str, Any] | None = None

    def encode(self, event: StreamEvent) -> list[bytes]:
        if self.response is not None:
            return []  # the terminal event has gone out: nothing may follow it
        head = [] if self.started else self._begin()
        return head + _ENCODE[type(event)](self, event)

    def _begin(self) -> list[bytes]:
        self.started = True
        opening = envelope(self.head, "in_progress", [], None)
        return [self._emit("response.created", response=opening), self._emit("response.in_progress", response=opening)]

    def _emit(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return encode_event(payload)

    # The model's events.

    def _text(self, event: TextDelta) -> list[bytes]:
        if event.index or not event.text:
            return []
        self._keep_text(event.text)
        out = self._open_item("message")
        assert self._open is not None
        self._open.text.append(event.text)
        item = self._open
        return out + [
            self._emit(
                "response.output_text.delta", item_id=item.item_id, output_index=item.index, content_index=0, delta=event.text, logprobs=[]
            )
        ]

    def _reasoning(self, event: ReasoningDelta) -> list[bytes]:
        if event.index or not event.text or not self.head.expose_reasoning:
            return []
        out = self._open_item("reasoning")
        assert self._open is not None
        self._open.text.append(event.text)
        item = self._open
        return out + [
            self._emit(
                "response.reasoning_summary_text.delta", item_id=item.item_id, output_index=item.index, summary_index=0, delta=event.text
            )
        ]

    def _tool_call(self, event: ToolCallEvent) -> list[bytes]:
        if event.index:
            return []
        out = self._close()
        custom = event.call.name in self.head.custom_tools
        index, item = (
            len(self._output),
            call_item(_item_id("ctc" if custom else "fc"), event.call, self.head.custom_tools, self.head.namespaced),
        )
        self._output.append(item)
        key = "input" if custom else "arguments"
        out.append(self._emit("response.output_item.added", output_index=index, item={**item, key: "", "status": "in_progress"}))
        kind = "response.custom_tool_call_input" if custom else "response.function_call_arguments"
        out.append(self._emit(f"{kind}.delta", item_id=item["id"], output_index=index, delta=item[key]))
        done = {"item_id": item["id"], "output_index": index, key: item[key]}
        out.append(self._emit(f"{kind}.done", **(done if custom else {**done, "name": item["name"]})))
        out.append(self._emit("response.output_item.done", output_index=index, item=item))
        return out

    def _stream_end(self, event: StreamEnd) -> list[bytes]:
        status, incomplete = finish_status(self._finish)
        out = self._close(incomplete=incomplete is not None)
        self.response = envelope(self.head, status, self._output, usage_to_responses(self.usage))
        self.response["incomplete_details"] = incomplete
        return out + [self._emit(f"response.{status}", response=self.response)]

    def _error(self, event: StreamError) -> list[bytes]:
        out = self._close(incomplete=True)
        self.response = envelope(self.head, "failed", self._output, usage_to_responses(self.usage))
        self.response["error"] = {"code": "server_error", "message": event.message}
        return out + [self._emit("response.failed", response=self.response)]

    # Items.

    def _open_item(self, kind: str) -> list[bytes]:
        """Open an item of `kind` unless one is open already (closing another kind first)."""
        if self._open is not None and self._open.kind == kind:
            return []
        out = self._close()
        index = len(self._output)
        self._output.append({})  # its place; filled when it closes
        if kind == "message":
            self._open = _Open(index, _item_id("msg"), kind)
            item = {"id": self._open.item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            out.append(self._emit("response.output_item.added", output_index=index, item=item))
            out.append(self._emit("response.content_part.added", item_id=item["id"], output_index=index, content_index=0, part=part))
        else:
            self._open = _Open(index, _item_id("rs"), kind)
            item = {"id": self._open.item_id, "type": "reasoning", "summary": []}
            part = {"type": "summary_text", "text": ""}
            out.append(self._emit("response.output_item.added", output_index=index, item=item))
            out.append(
                self._emit("response.reasoning_summary_part.added", item_id=item["id"], output_index=index, summary_index=0, part=part)
            )
        return out

    def _close(self, *, incomplete: bool = False) -> list[bytes]:
        item, self._open = self._open, None
        if item is None:
            return []
        text, where = "".join(item.text), {"item_id": item.item_id, "output_index": item.index}
        if item.kind == "message":
            done = message_item(item.item_id, text, "incomplete" if incomplete else "completed")
            part = done["content"][0]
            out = [
                self._emit("response.output_text.done", **where, content_index=0, text=text, logprobs=[]),
                self._emit("response.content_part.done", **where, content_index=0, part=part),
            ]
        else:
            done = reasoning_item(item.item_id, text)
            out = [
                self._emit("response.reasoning_summary_text.done", **where, summary_index=0, text=text),
                self._emit("response.reasoning_summary_part.done", **where, summary_index=0, part=done["summary"][0]),
            ]
        self._output[item.index] = done
        return out + [self._emit("response.output_item.done", output_index=item.index, item=done)]


# One lookup per event instead of a chain of isinstance checks: the stream path runs per event.
_ENCODE: dict[type, Callable[[ResponsesEncoder, Any], list[bytes]]] = {
    ChoiceStart: ResponsesEncoder._choice_start,
    TextDelta: ResponsesEncoder._text,
    ReasoningDelta: ResponsesEncoder._reasoning,
    ToolCallEvent: ResponsesEncoder._tool_call,
    ChoiceEnd: ResponsesEncoder._choice_end,
    UsageReport: ResponsesEncoder._usage,
    StreamEnd: ResponsesEncoder._stream_end,
    StreamError: ResponsesEncoder._error,
}
