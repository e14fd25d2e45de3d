"""The router's answer (core/model/answer.py) as an Anthropic Messages API `message`, streamed or not.

`message_object` renders a `ChatAnswer` as the Message JSON; `MessagesEncoder` renders stream
events as Anthropic's SSE events, with the exact block state machine Claude Code checks (it
rejects a delta for a block never opened, a thinking delta in a text block, a second
`message_start`):

    message_start (once: the message with empty content, and the usage known so far), ping
    per content block, in order, each with its own index from 0:
        content_block_start {index, content_block}
        content_block_delta {index, delta}...   text_delta | thinking_delta | input_json_delta
        content_block_stop {index}
    message_delta {delta: {stop_reason, stop_sequence}, usage: cumulative}
    message_stop

A tool call's arguments go out as one `input_json_delta` even though Gemini sends them whole
(without it Claude Code sees `input: {}`). The model's thinking is a `thinking` block only when
the router exposes reasoning. A failure after the first byte is an `event: error` with
Anthropic's error object, never a silent close. Only Choice 0 is read: Anthropic has no `n`.

Usage counts: Anthropic's `input_tokens` leaves out the cached ones (`cache_read_input_tokens`
holds them); `output_tokens` includes thinking, as the model's usage does.

Usage:
    body = message_object(answer, MessageHead(message_id=new_message_id(), model="claude-sonnet-4-5"))
    encoder = MessagesEncoder(MessageHead(...))
    for events in batches: send(b"".join(encoder.encode_all(events)))
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import anthropic_error_type
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
from .streamencoder import OneChoiceEncoder

STOP_REASONS = {
    Finish.STOP: "end_turn",
    Finish.LENGTH: "max_tokens",
    Finish.TOOL_CALLS: "tool_use",
    Finish.CONTENT_FILTER: "refusal",
    Finish.TOOL_ERROR: "end_turn",
    Finish.OTHER: "end_turn",
}


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


@dataclass(frozen=True, slots=True)
class MessageHead:
    """What a message repeats whatever its answer: its id, the model name the client asked for,
    and whether the model's thinking is shown."""

    message_id: str
    model: str
    expose_reasoning: bool = False


def usage_to_anthropic(usage: Usage | None) -> dict[str, Any]:
    usage = usage or Usage()
    return {
        "input_tokens": usage.input_tokens - usage.cached_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.output_tokens,
    }


def stop_reason(finish: Finish, called: bool, stop_sequence: str | None = None) -> str:
    """Anthropic's reason for `finish`; a turn that called tools stops for them, whatever Gemini
    said; a stop sequence is named only when the provider said which one matched (Anthropic does)."""
    if called:
        return "tool_use"
    return "stop_sequence" if finish is Finish.STOP and stop_sequence is not None else STOP_REASONS[finish]


def tool_use_block(call: ToolCall) -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id(call), "name": call.name, "input": _arguments(call)}


def _arguments(call: ToolCall) -> dict[str, Any]:
    try:
        value = json.loads(call.arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def envelope(
    head: MessageHead, content: list[dict[str, Any]], reason: str | None, usage: dict[str, Any], stop_sequence: str | None = None
) -> dict[str, Any]:
    return {
        "id": head.message_id,
        "type": "message",
        "role": "assistant",
        "model": head.model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": stop_sequence if reason == "stop_sequence" else None,
        "usage": usage,
    }


def message_object(answer: ChatAnswer, head: MessageHead) -> dict[str, Any]:
    """The Message a client receives for `answer`."""
    choice = answer.choices[0] if answer.choices else None
    content: list[dict[str, Any]] = []
    if choice is None:  # no choice at all: the prompt was blocked
        return envelope(head, content, "refusal", usage_to_anthropic(answer.usage))
    if head.expose_reasoning and choice.reasoning:
        content.append({"type": "thinking", "thinking": choice.reasoning, "signature": ""})
    if choice.text:
        content.append({"type": "text", "text": choice.text})
    content += [tool_use_block(call) for call in choice.tool_calls]
    reason = stop_reason(choice.finish, bool(choice.tool_calls), choice.stop_sequence)
    return envelope(head, content, reason, usage_to_anthropic(answer.usage), choice.stop_sequence)


def encode_event(payload: dict[str, Any]) -> bytes:
    """One SSE event as Anthropic sends it: an `event:` line naming the type, then the data."""
    return sse_event(payload, name=str(payload["type"]))


class MessagesEncoder(OneChoiceEncoder):
    """One Messages stream for one stream of the model's events.

    `text` keeps the answer text sent (the first `max_text` characters), `usage` the last usage
    reported, `done` whether the stream has ended (message_stop or error sent), `started`
    whether any byte was produced."""

    def __init__(self, head: MessageHead, *, max_text: int = 20000) -> None:
        super().__init__(max_text=max_text)
        self.head = head
        self._blocks = 0  # blocks opened so far: the next one's index
        self._open: str | None = None  # the kind of the open block: "text" | "thinking"
        self._called = False
        self.done = False

    def encode_all(self, events: list[StreamEvent]) -> list[bytes]:
        if not self.started and events:
            # message_start carries the input tokens: take them from this batch when it reports them.
            self.usage = next((e.usage for e in events if isinstance(e, UsageReport)), self.usage)
        return super().encode_all(events)

    def encode(self, event: StreamEvent) -> list[bytes]:
        if self.done:
            return []  # message_stop or error has gone out: nothing may follow it
        head = [] if self.started or isinstance(event, StreamError) else self._begin()
        return head + _ENCODE[type(event)](self, event)

    def _begin(self) -> list[bytes]:
        self.started = True
        usage = usage_to_anthropic(self.usage) | {"output_tokens": 0}
        message = envelope(self.head, [], None, usage)
        return [encode_event({"type": "message_start", "message": message}), encode_event({"type": "ping"})]

    # The model's events.

    def _text(self, event: TextDelta) -> list[bytes]:
        if event.index or not event.text:
            return []
        self._keep_text(event.text)
        return self._open_block("text", {"type": "text", "text": ""}) + [self._delta({"type": "text_delta", "text": event.text})]

    def _reasoning(self, event: ReasoningDelta) -> list[bytes]:
        if event.index or not event.text or not self.head.expose_reasoning:
            return []
        opened = self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        return opened + [self._delta({"type": "thinking_delta", "thinking": event.text})]

    def _tool_call(self, event: ToolCallEvent) -> list[bytes]:
        if event.index:
            return []
        self._called = True
        block = tool_use_block(event.call)
        out = self._open_block("tool_use", {**block, "input": {}})
        out.append(self._delta({"type": "input_json_delta", "partial_json": json.dumps(block["input"], ensure_ascii=False)}))
        return out + self._close()

    def _stream_end(self, event: StreamEnd) -> list[bytes]:
        out = self._close()
        self.done = True
        reason = stop_reason(self._finish, self._called, self._stop_sequence)
        delta = {"stop_reason": reason, "stop_sequence": self._stop_sequence if reason == "stop_sequence" else None}
        out.append(encode_event({"type": "message_delta", "delta": delta, "usage": usage_to_anthropic(self.usage)}))
        return out + [encode_event({"type": "message_stop"})]

    def _error(self, event: StreamError) -> list[bytes]:
        self.done = True
        self.started = True
        error = {"type": anthropic_error_type(500), "message": event.message}
        return [encode_event({"type": "error", "error": error})]

    # Blocks.

    def _open_block(self, kind: str, block: dict[str, Any]) -> list[bytes]:
        """Open a block of `kind` unless one is open already (closing another kind first)."""
        if self._open == kind and kind != "tool_use":
            return []
        out = self._close()
        self._open = kind
        return out + [encode_event({"type": "content_block_start", "index": self._blocks, "content_block": block})]

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return encode_event({"type": "content_block_delta", "index": self._blocks, "delta": delta})

    def _close(self) -> list[bytes]:
        if self._open is None:
            return []
        self._open = None
        index, self._blocks = self._blocks, self._blocks + 1
        return [encode_event({"type": "content_block_stop", "index": index})]


# One lookup per event instead of a chain of isinstance checks: the stream path runs per event.
_ENCODE: dict[type, Callable[[MessagesEncoder, Any], list[bytes]]] = {
    ChoiceStart: MessagesEncoder._choice_start,
    TextDelta: MessagesEncoder._text,
    ReasoningDelta: MessagesEncoder._reasoning,
    ToolCallEvent: MessagesEncoder._tool_call,
    ChoiceEnd: MessagesEncoder._choice_end,
    UsageReport: MessagesEncoder._usage,
    StreamEnd: MessagesEncoder._stream_end,
    StreamError: MessagesEncoder._error,
}
