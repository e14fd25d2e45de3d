"""The router's answer (core/model/answer.py) as OpenAI's ``chat.completion``, streamed or not.

`openai_completion` renders a `ChatAnswer` as the completion JSON; `ChunkEncoder` renders stream
events as ``chat.completion.chunk`` SSE events, one event in, a few bytes out
(docs/gemini-wire-format.md#chat-response, docs/gemini-wire-format.md#openai-streaming). Per
choice: a role chunk first, the reasoning and text deltas, ONE chunk per tool call with an
``index`` that counts calls across the whole stream, then ``delta: {}`` with the finish reason;
then the usage chunk if the client asked for it, then ``[DONE]``. A broken stream ends with an
OpenAI error event and no ``[DONE]``. Only OpenAI's finish strings leave here. A request that used
the legacy ``functions`` field gets its call back in the legacy shape (``function_call``, finish
``function_call``; the shape holds one call, later ones have no place): old clients read only that.
Reasoning is shown only when the router exposes it (``reasoning_content``, as DeepSeek, vLLM and
litellm do). A tool call's id carries its thought signature: OpenAI clients keep only
``id/type/function``, so that is the one place it survives to the next request (core/toolids.py).

The flash cache stores complete completions: `StreamCollector` rebuilds one from the SSE bytes a
client was sent, `completion_to_sse` turns a stored one back into a stream shaped like the
router's own streams.

Usage:
    completion = openai_completion(answer, model="gpt-4o", completion_id=new_completion_id(), created=now)
    encoder = ChunkEncoder(model="gpt-4o", completion_id=cid, created=now, include_usage=True)
    for event in events: send(encoder.encode(event))
    collector = StreamCollector(max_chars=64_000_000); collector.feed(chunk); collector.completion()
    events = completion_to_sse(completion, include_usage=True)
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..model.answer import (
    ChatAnswer,
    Choice,
    ChoiceEnd,
    ChoiceStart,
    Finish,
    ReasoningDelta,
    StepLogprob,
    StreamEnd,
    StreamError,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
    UsageReport,
)
from ..sse import SseParser, sse_event
from ..toolids import pack_call_id
from .streamencoder import StreamEncoder

DONE = b"data: [DONE]\n\n"

FINISH_REASONS = {
    Finish.STOP: "stop",
    Finish.LENGTH: "length",
    Finish.TOOL_CALLS: "tool_calls",
    Finish.CONTENT_FILTER: "content_filter",
    Finish.TOOL_ERROR: "stop",  # OpenAI has no word for it; the answer is usually empty (litellm does the same)
    Finish.OTHER: "stop",
}


def finish_reason(finish: Finish, *, legacy_functions: bool = False) -> str:
    if finish is Finish.TOOL_CALLS and legacy_functions:
        return "function_call"
    return FINISH_REASONS[finish]


def new_completion_id() -> str:
    """A fresh `chatcmpl-...` id (each answer gets its own, cached ones included)."""
    return "chatcmpl-" + secrets.token_hex(12)


def usage_to_openai(usage: Usage | None) -> dict[str, Any]:
    """OpenAI's usage block; no usage reads as zeros."""
    usage = usage or Usage()
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


def usage_from_openai(usage: Any) -> Usage | None:
    """The model's usage from an OpenAI usage block (a stored answer's); None if it is none."""
    if not isinstance(usage, dict):
        return None
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=_count(usage.get("prompt_tokens")),
        output_tokens=_count(usage.get("completion_tokens")),
        reasoning_tokens=_count(completion_details.get("reasoning_tokens")),
        cached_tokens=_count(prompt_details.get("cached_tokens")),
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def logprobs_to_openai(steps: tuple[StepLogprob, ...] | None) -> dict[str, Any] | None:
    if steps is None:
        return None
    content = [{**_token(s.token, s.logprob), "top_logprobs": [_token(t.token, t.logprob) for t in s.top]} for s in steps]
    return {"content": content, "refusal": None}


def _token(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def call_id(call: ToolCall) -> str:
    """The id the client sees: the call's own, with its signature folded in (core/toolids.py)."""
    return pack_call_id(call.id, call.signature, call.signature_provider)


def tool_call_to_openai(call: ToolCall) -> dict[str, Any]:
    return {"id": call_id(call), "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def openai_completion(
    answer: ChatAnswer,
    *,
    model: str,
    completion_id: str,
    created: int,
    expose_reasoning: bool = False,
    legacy_functions: bool = False,
) -> dict[str, Any]:
    """The ``chat.completion`` a client receives for `answer` (``model``: the name the client asked for)."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [_choice(c, expose_reasoning, legacy_functions) for c in answer.choices],
        "usage": usage_to_openai(answer.usage),
    }


def _choice(choice: Choice, expose_reasoning: bool, legacy_functions: bool) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": choice.text, "refusal": None}
    if expose_reasoning and choice.reasoning is not None:
        message["reasoning_content"] = choice.reasoning
    if choice.tool_calls and legacy_functions:
        first = choice.tool_calls[0]
        message["function_call"] = {"name": first.name, "arguments": first.arguments}  # the legacy shape has no id
    elif choice.tool_calls:
        message["tool_calls"] = [tool_call_to_openai(c) for c in choice.tool_calls]
    return {
        "index": choice.index,
        "message": message,
        "logprobs": logprobs_to_openai(choice.logprobs),
        "finish_reason": finish_reason(choice.finish, legacy_functions=legacy_functions),
    }


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


def completion_to_sse(completion: dict[str, Any], *, include_usage: bool) -> list[bytes]:
    """The SSE events a streaming client receives for a stored `completion`. A choice's
    `logprobs` ride on its text chunk (on the finish chunk when there is no text)."""
    envelope = {
        "id": completion.get("id"),
        "object": "chat.completion.chunk",
        "created": completion.get("created"),
        "model": completion.get("model"),
        "system_fingerprint": completion.get("system_fingerprint"),
    }

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None, logprobs: dict[str, Any] | None = None) -> bytes:
        payload: dict[str, Any] = {
            **envelope,
            "choices": [{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}],
        }
        if include_usage:
            payload["usage"] = None  # OpenAI: null on every chunk until the usage chunk
        return encode_event(payload)

    events: list[bytes] = []
    for choice in completion.get("choices") or []:
        index = int(choice.get("index", 0))
        message = choice.get("message") or {}
        events.append(chunk(index, {"role": "assistant", "content": ""}))
        if message.get("reasoning_content"):
            events.append(chunk(index, {"reasoning_content": message["reasoning_content"]}))
        logprobs = choice.get("logprobs")
        if message.get("content"):
            events.append(chunk(index, {"content": message["content"]}, logprobs=logprobs))
            logprobs = None
        for n, call in enumerate(message.get("tool_calls") or []):
            events.append(chunk(index, {"tool_calls": [{"index": n, **call}]}))
        legacy = message.get("function_call")
        if legacy:
            events.append(chunk(index, {"function_call": {"name": legacy.get("name"), "arguments": ""}}))
            events.append(chunk(index, {"function_call": {"arguments": legacy.get("arguments") or ""}}))
        events.append(chunk(index, {}, choice.get("finish_reason") or "stop", logprobs=logprobs))
    if include_usage:
        events.append(encode_event({**envelope, "choices": [], "usage": completion.get("usage")}))
    events.append(DONE)
    return events


@dataclass
class _Call:
    id: str | None = None
    type: str = "function"
    name: str = ""
    arguments: str = ""


@dataclass
class _CollectedChoice:
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)
    function_call: _Call | None = None  # legacy `functions` requests: one call, no id
    logprobs: list[dict[str, Any]] | None = None  # None: no chunk carried logprobs
    finish_reason: str | None = None


class StreamCollector:
    """Feeds on a client-bound OpenAI stream, in any split, and rebuilds the answer.

    `complete` is True only for a stream that ended with `[DONE]` without an error
    event before it; anything else (an in-band error, a cut stream, an unparsable
    chunk, more than `max_chars` of text) is not an answer worth storing.
    """

    def __init__(self, *, max_chars: int | None = None) -> None:
        self._parser = SseParser()
        self._max_chars = max_chars
        self._chars = 0
        self._envelope: dict[str, Any] = {}
        self._choices: dict[int, _CollectedChoice] = {}
        self._usage: dict[str, Any] | None = None
        self._done = False
        self.failed = False

    @property
    def complete(self) -> bool:
        return self._done and not self.failed and bool(self._choices)

    def feed(self, data: bytes) -> None:
        if self.failed or self._done:
            return
        for payload in self._parser.feed(data):
            self._payload(payload)

    def _payload(self, payload: str) -> None:
        if self.failed or self._done:
            return
        if payload.strip() == "[DONE]":
            self._done = True
            return
        self._chars += len(payload)
        try:
            chunk = json.loads(payload)
        except ValueError:
            chunk = None
        if not isinstance(chunk, dict) or "error" in chunk or (self._max_chars and self._chars > self._max_chars):
            self.failed = True
            return
        for name in ("id", "created", "model", "system_fingerprint"):
            self._envelope.setdefault(name, chunk.get(name))
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            self._choice(choice)

    def _choice(self, choice: dict[str, Any]) -> None:
        state = self._choices.setdefault(int(choice.get("index", 0)), _CollectedChoice())
        delta = choice.get("delta") or {}
        if isinstance(delta.get("content"), str):
            state.content.append(delta["content"])
        if isinstance(delta.get("reasoning_content"), str):
            state.reasoning.append(delta["reasoning_content"])
        for call in delta.get("tool_calls") or []:
            self._call(state, call)
        if isinstance(delta.get("function_call"), dict):
            state.function_call = state.function_call or _Call(id=None)
            _extend(state.function_call, delta["function_call"])
        if isinstance(choice.get("logprobs"), dict):
            state.logprobs = (state.logprobs or []) + list(choice["logprobs"].get("content") or [])
        if choice.get("finish_reason"):
            state.finish_reason = choice["finish_reason"]

    @staticmethod
    def _call(state: _CollectedChoice, delta: dict[str, Any]) -> None:
        call = state.calls.setdefault(int(delta.get("index", len(state.calls))), _Call())
        call.id = delta.get("id") or call.id
        call.type = delta.get("type") or call.type
        _extend(call, delta.get("function") or {})

    def completion(self) -> dict[str, Any] | None:
        """The complete `chat.completion`, or None if the stream is not `complete`."""
        if not self.complete:
            return None
        return {
            "id": self._envelope.get("id"),
            "object": "chat.completion",
            "created": self._envelope.get("created"),
            "model": self._envelope.get("model"),
            "system_fingerprint": self._envelope.get("system_fingerprint"),
            "choices": [_completed_choice(i, c) for i, c in sorted(self._choices.items())],
            "usage": self._usage,
        }


def _extend(call: _Call, function: dict[str, Any]) -> None:
    call.name += function.get("name") or ""
    call.arguments += function.get("arguments") or ""


def _completed_choice(index: int, choice: _CollectedChoice) -> dict[str, Any]:
    # Same shape as openai_completion: no text at all is `content: null`.
    message: dict[str, Any] = {"role": "assistant", "content": "".join(choice.content) or None, "refusal": None}
    if choice.reasoning:
        message["reasoning_content"] = "".join(choice.reasoning)
    if choice.calls:
        message["tool_calls"] = [
            {"id": c.id, "type": c.type, "function": {"name": c.name, "arguments": c.arguments}} for _, c in sorted(choice.calls.items())
        ]
    if choice.function_call:
        message["function_call"] = {"name": choice.function_call.name, "arguments": choice.function_call.arguments}
    logprobs = None if choice.logprobs is None else {"content": choice.logprobs, "refusal": None}
    return {"index": index, "message": message, "logprobs": logprobs, "finish_reason": choice.finish_reason or "stop"}
