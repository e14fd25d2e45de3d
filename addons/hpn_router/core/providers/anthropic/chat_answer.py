"""Anthropic's Message, whole or streamed, as the router's ChatAnswer and stream events. Pure.

A Message holds content blocks (`text`, `thinking`, `redacted_thinking`, `tool_use`), a
`stop_reason` and a `usage`. The model's usage counts every prompt token, so input is Anthropic's
`input_tokens` + `cache_creation_input_tokens` + `cache_read_input_tokens` (its `input_tokens`
alone leaves the cached part out); the cache reads are the cached tokens.

A stream is `message_start`, then per block `content_block_start`, deltas and
`content_block_stop`, then `message_delta` (stop reason and cumulative usage) and `message_stop`;
`ping` anywhere, unknown event types ignored. Text and thinking go out as they arrive; a tool
call's JSON fragments are joined and the call sent whole at its block's stop. An `error` event
after the 200 (say `overloaded_error`) is a mid-stream error: one StreamError ends the stream.
Tool-use ids are Anthropic's (`toolu_...`). The turn's thinking blocks (text and signature, or
redacted data) ride on its first tool call as its signature (`thinking_signature`): the client's
id carries them back (core/toolids.py), and the request translator reopens the turn with them.

Usage:
    answer = anthropic_answer(json.loads(body))
    decoder = AnthropicStreamDecoder(); events = decoder.feed(chunk) + decoder.finish()
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from ...model.answer import (
    ChatAnswer,
    Choice,
    ChoiceEnd,
    ChoiceStart,
    Finish,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
)
from ..streaming import StreamDecoder, as_dict, as_int

PROVIDER = "anthropic"
_FINISH = {
    "end_turn": Finish.STOP,
    "stop_sequence": Finish.STOP,
    "pause_turn": Finish.STOP,
    "max_tokens": Finish.LENGTH,
    "model_context_window_exceeded": Finish.LENGTH,
    "tool_use": Finish.TOOL_CALLS,
    "refusal": Finish.CONTENT_FILTER,
}


def map_finish(reason: Any, has_tool_calls: bool) -> Finish:
    if has_tool_calls:
        return Finish.TOOL_CALLS
    if reason is None:
        return Finish.STOP
    return _FINISH.get(str(reason), Finish.OTHER)


def matched_stop(reason: Any, sequence: Any) -> str | None:
    """The stop sequence Anthropic says ended the turn (Gemini and Mistral never say which)."""
    return sequence if reason == "stop_sequence" and isinstance(sequence, str) else None


def usage_from_anthropic(usage: Any, previous: Usage | None = None) -> Usage | None:
    """Anthropic's usage as the model's; a stream's later reports may leave fields out, which
    keep their earlier values."""
    if not isinstance(usage, dict):
        return previous
    before = previous or Usage()
    parts = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    if any(name in usage for name in parts):
        cached = as_int(usage.get("cache_read_input_tokens"))
        input_tokens = sum(as_int(usage.get(name)) for name in parts)
    else:
        cached, input_tokens = before.cached_tokens, before.input_tokens
    output = as_int(usage.get("output_tokens"), before.output_tokens)
    return Usage(input_tokens=input_tokens, output_tokens=output, cached_tokens=cached)


def thinking_signature(blocks: list[dict[str, str]]) -> str | None:
    """A turn's thinking blocks as one signature value (compact JSON); None when there are none."""
    return json.dumps(blocks, separators=(",", ":"), ensure_ascii=False) if blocks else None


def _thinking_item(block: dict[str, Any]) -> dict[str, str] | None:
    if block.get("type") == "thinking" and isinstance(block.get("thinking"), str) and block.get("signature"):
        return {"thinking": block["thinking"], "signature": str(block["signature"])}
    if block.get("type") == "redacted_thinking" and isinstance(block.get("data"), str):
        return {"data": block["data"]}
    return None


def _sign_first_call(calls: list[ToolCall], blocks: list[dict[str, str]]) -> None:
    signature = thinking_signature(blocks)
    if calls and signature is not None:
        calls[0] = replace(calls[0], signature=signature, signature_provider=PROVIDER)


def anthropic_answer(message: dict[str, Any]) -> ChatAnswer:
    texts: list[str] = []
    thoughts: list[str] = []
    thinking: list[dict[str, str]] = []
    calls: list[ToolCall] = []
    for block in message.get("content") or []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            thoughts.append(block["thinking"])
        elif kind == "tool_use":
            call_id, name = str(block.get("id") or ""), str(block.get("name") or "")
            calls.append(ToolCall(id=call_id, name=name, arguments=_arguments(block.get("input"))))
        if (item := _thinking_item(block)) is not None:
            thinking.append(item)
    _sign_first_call(calls, thinking)
    text = "".join(texts)
    choice = Choice(
        index=0,
        text=text if text or not calls else None,
        reasoning="".join(thoughts) or None,
        tool_calls=tuple(calls),
        finish=map_finish(message.get("stop_reason"), bool(calls)),
        stop_sequence=matched_stop(message.get("stop_reason"), message.get("stop_sequence")),
    )
    return ChatAnswer(choices=(choice,), usage=usage_from_anthropic(message.get("usage")), provider=PROVIDER)


def _arguments(value: Any) -> str:
    return json.dumps(value if isinstance(value, dict) else {}, ensure_ascii=False)


@dataclass
class _Block:
    kind: str
    id: str = ""
    name: str = ""
    json: list[str] = field(default_factory=list)  # a tool call's argument fragments; a thinking block's text
    signature: str = ""  # a thinking block's signature, or a redacted block's data


class AnthropicStreamDecoder(StreamDecoder):
    """One Anthropic SSE stream, fed in any split. One choice (index 0): Anthropic has no `n`."""

    def __init__(self) -> None:
        super().__init__()
        self._blocks: dict[int, _Block] = {}
        self._calls = 0
        self._thinking: list[dict[str, str]] = []  # the closed thinking blocks, for the first tool call
        self._started = False
        self._ended = False
        self._usage: Usage | None = None
        self._stop_reason: Any = None
        self._stop_sequence: Any = None

    @property
    def usage(self) -> Usage | None:
        return self._usage

    def _at_end(self) -> list[StreamEvent]:
        if not self._ended:
            # The connection closed before `message_stop`: the answer is cut short.
            return self.fail("Anthropic's stream ended before the message was complete")
        return []

    def _event(self, event: dict[str, Any]) -> list[StreamEvent]:
        kind = event.get("type")
        if kind == "error":
            error = as_dict(event.get("error"))
            code = "overloaded" if error.get("type") == "overloaded_error" else "upstream_error"
            return self.fail(str(error.get("message") or "Anthropic reported an error"), code=code)
        handler = _HANDLERS.get(str(kind))
        return handler(self, event) if handler else []  # ping and unknown events: nothing to say

    def _message_start(self, event: dict[str, Any]) -> list[StreamEvent]:
        self._usage = usage_from_anthropic(as_dict(event.get("message")).get("usage"), self._usage)
        return self._start()

    def _start(self) -> list[StreamEvent]:
        if self._started:
            return []
        self._started = True
        return [ChoiceStart(0)]

    def _block_start(self, event: dict[str, Any]) -> list[StreamEvent]:
        block = as_dict(event.get("content_block"))
        index = as_int(event.get("index"))
        self._blocks[index] = _Block(str(block.get("type") or ""), str(block.get("id") or ""), str(block.get("name") or ""))
        if block.get("type") == "redacted_thinking":
            self._blocks[index].signature = str(block.get("data") or "")
        out = self._start()
        if block.get("type") == "text" and block.get("text"):
            out.append(TextDelta(0, str(block["text"])))
        return out

    def _block_delta(self, event: dict[str, Any]) -> list[StreamEvent]:
        delta = as_dict(event.get("delta"))
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [TextDelta(0, str(delta["text"]))]
        block = self._blocks.get(as_int(event.get("index")))
        if kind == "thinking_delta" and delta.get("thinking"):
            if block is not None:
                block.json.append(str(delta["thinking"]))
            return [ReasoningDelta(0, str(delta["thinking"]))]
        if kind == "signature_delta" and block is not None:
            block.signature += str(delta.get("signature") or "")
        if kind == "input_json_delta":
            if block is not None and isinstance(delta.get("partial_json"), str):
                block.json.append(delta["partial_json"])
        return []

    def _block_stop(self, event: dict[str, Any]) -> list[StreamEvent]:
        block = self._blocks.pop(as_int(event.get("index")), None)
        if block is not None and block.kind in ("thinking", "redacted_thinking"):
            item = {"type": block.kind, "thinking": "".join(block.json), "signature": block.signature, "data": block.signature}
            self._thinking += [thought] if (thought := _thinking_item(item)) is not None else []
        if block is None or block.kind != "tool_use":
            return []
        self._calls += 1
        arguments = "".join(block.json).strip() or "{}"
        calls = [ToolCall(id=block.id, name=block.name, arguments=arguments)]
        if self._calls == 1:
            _sign_first_call(calls, self._thinking)
        return [ToolCallEvent(0, calls[0])]

    def _message_delta(self, event: dict[str, Any]) -> list[StreamEvent]:
        self._usage = usage_from_anthropic(event.get("usage"), self._usage)
        delta = as_dict(event.get("delta"))
        self._stop_reason = delta.get("stop_reason") or self._stop_reason
        self._stop_sequence = delta.get("stop_sequence") or self._stop_sequence
        return []

    def _message_stop(self, event: dict[str, Any]) -> list[StreamEvent]:
        self._ended = True
        finish = map_finish(self._stop_reason, self._calls > 0)
        out = self._start() + [ChoiceEnd(0, finish, stop_sequence=matched_stop(self._stop_reason, self._stop_sequence))]
        return out + self._close()


_HANDLERS = {
    "message_start": AnthropicStreamDecoder._message_start,
    "content_block_start": AnthropicStreamDecoder._block_start,
    "content_block_delta": AnthropicStreamDecoder._block_delta,
    "content_block_stop": AnthropicStreamDecoder._block_stop,
    "message_delta": AnthropicStreamDecoder._message_delta,
    "message_stop": AnthropicStreamDecoder._message_stop,
}
