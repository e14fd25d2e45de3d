"""The model's stream events (core/model/answer.py) as OpenAI's ``chat.completion.chunk`` SSE events.

`ChunkEncoder` renders stream events one event in, a few bytes out
(docs/gemini-wire-format.md#openai-streaming). Per choice: a role chunk first, the reasoning and
text deltas, ONE chunk per tool call with an ``index`` that counts calls across the whole stream,
then ``delta: {}`` with the finish reason; then the usage chunk if the client asked for it, then
``[DONE]``. A broken stream ends with an OpenAI error event and no ``[DONE]``. Each piece is
rendered as the unstreamed completion renders it (core/inbound/openai_chat_answer.py).

Usage:
    encoder = ChunkEncoder(model="gpt-4o", completion_id=cid, created=now, include_usage=True)
    for event in events: send(encoder.encode(event))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..model.answer import (
    ChoiceEnd,
    ChoiceStart,
    ReasoningDelta,
    StreamEnd,
    StreamError,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    UsageReport,
)
from ..sse import sse_event
from .openai_chat_answer import finish_reason, logprobs_to_openai, tool_call_to_openai, usage_to_openai
from .streamencoder import StreamEncoder

DONE = b"data: [DONE]\n\n"


def encode_event(payload: dict[str, Any]) -> bytes:
    """One client SSE event (Chat Completions names none)."""
    return sse_event(payload)


class ChunkEncoder(StreamEncoder):
    """One OpenAI stream for one stream of the model's events; one id/created/model throughout.

    `text` keeps the answer text sent (the first `max_text` characters), `usage` the last usage
    reported, `started` whether any byte was produced."""

    def __init__(
        self,
        *,
        model: str,
        completion_id: str,
        created: int,
        include_usage: bool,
        expose_reasoning: bool = False,
        legacy_functions: bool = False,
        max_text: int = 20000,
    ) -> None:
        super().__init__(max_text=max_text)
        self._envelope_head = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model}
        self._include_usage = include_usage
        self._expose_reasoning = expose_reasoning
        self._legacy_functions = legacy_functions
        self._calls: dict[int, int] = {}  # tool calls sent per choice: the next call's index

    def encode(self, event: StreamEvent) -> list[bytes]:
        return _ENCODE[type(event)](self, event)

    def _text(self, event: TextDelta) -> list[bytes]:
        self._keep_text(event.text)
        return [self._delta(event.index, {"content": event.text}, logprobs=logprobs_to_openai(event.logprobs))]

    def _reasoning(self, event: ReasoningDelta) -> list[bytes]:
        return [self._delta(event.index, {"reasoning_content": event.text})] if self._expose_reasoning else []

    def _tool_call(self, event: ToolCallEvent) -> list[bytes]:
        return self._call(event.index, event.call)

    def _start(self, event: ChoiceStart) -> list[bytes]:
        self._calls[event.index] = 0
        return [self._delta(event.index, {"role": "assistant", "content": ""})]

    def _end(self, event: ChoiceEnd) -> list[bytes]:
        reason = finish_reason(event.finish, legacy_functions=self._legacy_functions)
        return [self._delta(event.index, {}, reason, logprobs=logprobs_to_openai(event.logprobs))]

    def _stream_end(self, event: StreamEnd) -> list[bytes]:
        out = [self._event({**self._envelope([]), "usage": usage_to_openai(self.usage)})] if self._include_usage else []
        return [*out, DONE]

    def _error(self, event: StreamError) -> list[bytes]:
        return [self._event({"error": {"message": event.message, "type": "server_error", "param": None, "code": event.code}})]

    def _call(self, index: int, call: ToolCall) -> list[bytes]:
        sent = self._calls.get(index, 0)
        self._calls[index] = sent + 1
        if not self._legacy_functions:
            return [self._delta(index, {"tool_calls": [{"index": sent, **tool_call_to_openai(call)}]})]
        if sent:
            return []  # the legacy shape holds one call: later ones have no place
        return [
            self._delta(index, {"function_call": {"name": call.name, "arguments": ""}}),
            self._delta(index, {"function_call": {"arguments": call.arguments}}),
        ]

    def _envelope(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {**self._envelope_head, "system_fingerprint": None, "choices": choices}

    def _delta(self, index: int, delta: dict[str, Any], finish: str | None = None, *, logprobs: dict[str, Any] | None = None) -> bytes:
        chunk = self._envelope([{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}])
        if self._include_usage:
            chunk["usage"] = None  # OpenAI: every chunk says null until the usage chunk
        return self._event(chunk)

    def _event(self, payload: dict[str, Any]) -> bytes:
        self.started = True
        return encode_event(payload)


# One lookup per event instead of a chain of isinstance checks: the stream path runs per event.
_ENCODE: dict[type, Callable[[ChunkEncoder, Any], list[bytes]]] = {
    TextDelta: ChunkEncoder._text,
    ReasoningDelta: ChunkEncoder._reasoning,
    ToolCallEvent: ChunkEncoder._tool_call,
    ChoiceStart: ChunkEncoder._start,
    ChoiceEnd: ChunkEncoder._end,
    UsageReport: ChunkEncoder._usage,
    StreamEnd: ChunkEncoder._stream_end,
    StreamError: ChunkEncoder._error,
}
