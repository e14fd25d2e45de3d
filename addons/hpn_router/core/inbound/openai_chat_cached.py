"""OpenAI chat streams for the flash cache, both ways: `StreamCollector` rebuilds the complete
``chat.completion`` from the SSE bytes a client was sent (what the cache stores), and
`completion_to_sse` turns a stored one back into a stream shaped like the router's own streams
(core/inbound/openai_chat_stream.py).

Usage:
    collector = StreamCollector(max_chars=64_000_000); collector.feed(chunk); collector.completion()
    events = completion_to_sse(completion, include_usage=True)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..sse import SseParser
from .openai_chat_stream import DONE, encode_event


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
