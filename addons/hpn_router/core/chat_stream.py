"""Sans-I/O translator: Gemini ``streamGenerateContent?alt=sse`` bytes → OpenAI chunk events.

Feed upstream bytes in any split; get OpenAI SSE events (``data: {...}\\n\\n``)
back (docs/gemini-wire-format.md#openai-streaming, docs/gemini-wire-format.md#streaming-translation; the traps by
number: docs/gemini-wire-format.md#traps). Per choice: a role chunk first, text deltas,
ONE chunk per functionCall (Gemini sends calls whole) with an ``index`` that
counts calls across the whole stream (trap 4), then ``delta: {}`` with the
mapped finish reason (``tool_calls`` if a call was sent, trap 5). Usage is
cumulative upstream, so the last ``usageMetadata`` wins (trap 3). An
in-band ``{"error": …}`` ends the stream with an OpenAI error event and no
``[DONE]``; nothing is produced after that. Each Gemini event's ``logprobsResult``
(the logprobs of that event's tokens) rides on the chunk carrying its text. With
``legacy_functions`` the first call goes out as ``delta.function_call`` (name, then
the arguments) and the choice finishes with ``function_call``.

Usage:
    t = StreamTranslator(model=m, completion_id=cid, created=now, include_usage=True,
                         options=TranslateOptions(), legacy_functions=False)
    for chunk in upstream: send(t.feed(chunk))
    send(t.finish())          # or send(t.fail("connection lost")) on a broken upstream
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .chat_response import legacy_function_call, logprobs_to_openai, map_finish_reason, split_parts, usage_to_openai
from .providers.gemini.chat_request import TranslateOptions
from .sse import SseParser

DONE = b"data: [DONE]\n\n"
BLOCKED_FINISH = "content_filter"


@dataclass
class _Choice:
    calls: int = 0  # tool calls sent so far: the next call's index
    finished: bool = False


def encode_event(payload: dict[str, Any]) -> bytes:
    """One client SSE event. U+2028/U+2029 are escaped: some line splitters break on them."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return b"data: " + text.encode("utf-8") + b"\n\n"


class StreamTranslator:
    """One OpenAI stream for one upstream Gemini stream; one id/created/model throughout."""

    def __init__(
        self,
        *,
        model: str,
        completion_id: str,
        created: int,
        include_usage: bool,
        options: TranslateOptions,
        legacy_functions: bool = False,
    ) -> None:
        self._model = model
        self._legacy_functions = legacy_functions
        self._id = completion_id
        self._created = created
        self._include_usage = include_usage
        self._options = options
        self._parser = SseParser()
        self._choices: dict[int, _Choice] = {}
        self._closed = False
        self._events = 0  # upstream SSE events parsed
        self._raw_seen = False  # any non-whitespace upstream byte
        self.usage: dict[str, Any] | None = None
        self.text = ""
        self.started = False

    @property
    def openai_usage(self) -> dict[str, Any] | None:
        return usage_to_openai(self.usage) if self.usage is not None else None

    def feed(self, data: bytes) -> list[bytes]:
        if self._closed:
            return []
        self._raw_seen = self._raw_seen or bool(data.strip())
        return self._handle_all(self._parser.feed(data))

    def finish(self) -> list[bytes]:
        """Upstream ended normally: close open choices, usage chunk, ``[DONE]``."""
        if self._closed:
            return []
        out = self._handle_all(self._parser.flush())
        if self._closed:  # the last event was an upstream error
            return out
        if self._raw_seen and not self._events:
            # Bytes but no `data:` event: a JSON-array stream (URL without
            # ?alt=sse, trap 2 in docs/gemini-wire-format.md#traps) or garbage. Say so instead of an empty answer.
            return self.fail("upstream response was not a server-sent event stream")
        if not self._choices:
            out += self._start(0)  # empty upstream: still a well-formed (empty) answer
        for index, choice in sorted(self._choices.items()):
            if not choice.finished:
                # Gemini ended without finishReason: still close the choice.
                out += self._finish_choice(index, None)
        if self._include_usage:
            usage = self.openai_usage or usage_to_openai(None)
            out.append(self._event({**self._envelope([]), "usage": usage}))
        out.append(DONE)
        self._closed = True
        return out

    def fail(self, message: str, *, code: str = "upstream_error") -> list[bytes]:
        """Upstream broke mid-stream: one error event (the SDK raises APIError), no ``[DONE]``."""
        if self._closed:
            return []
        self._closed = True
        error = {"message": message, "type": "server_error", "param": None, "code": code}
        return [self._event({"error": error})]

    def _handle_all(self, payloads: list[str]) -> list[bytes]:
        out: list[bytes] = []
        for payload in payloads:
            self._events += 1
            out += self._handle(payload)
            if self._closed:
                break
        return out

    def _handle(self, payload: str) -> list[bytes]:
        try:
            event = json.loads(payload)
        except ValueError:
            return self.fail("upstream sent a malformed stream event")
        if not isinstance(event, dict):
            return self.fail("upstream sent a malformed stream event")
        if "error" in event:
            error = event["error"] if isinstance(event["error"], dict) else {}
            return self.fail(str(error.get("message") or "upstream error"))
        if isinstance(event.get("usageMetadata"), dict):
            self.usage = event["usageMetadata"]
        out: list[bytes] = []
        candidates = event.get("candidates") or []
        for candidate in candidates:
            out += self._candidate(candidate)
        blocked = (event.get("promptFeedback") or {}).get("blockReason")
        if not candidates and blocked and not (0 in self._choices and self._choices[0].finished):
            out += self._start(0)
            out += self._finish_choice(0, None, blocked=True)
        return out

    def _candidate(self, candidate: dict[str, Any]) -> list[bytes]:
        index = int(candidate.get("index", 0))
        out = self._start(index)
        choice = self._choices[index]
        if choice.finished:
            return out  # nothing belongs to a choice after its finish chunk
        texts, thoughts, calls = split_parts((candidate.get("content") or {}).get("parts") or [])
        logprobs = logprobs_to_openai(candidate.get("logprobsResult"))
        if self._options.expose_reasoning:
            out += [self._delta(index, {"reasoning_content": t}) for t in thoughts if t]
        for text in (t for t in texts if t):
            self.text += text
            out.append(self._delta(index, {"content": text}, logprobs=logprobs))
            logprobs = None  # the event's tokens go out once, on its first text chunk
        out += self._calls(index, choice, calls)
        if candidate.get("finishReason"):
            out += self._finish_choice(index, candidate["finishReason"], logprobs=logprobs)
        elif logprobs and logprobs["content"]:
            out.append(self._delta(index, {"content": ""}, logprobs=logprobs))  # tokens without text: still reported
        return out

    def _calls(self, index: int, choice: _Choice, calls: list[dict[str, Any]]) -> list[bytes]:
        if not self._legacy_functions:
            sent = [self._delta(index, {"tool_calls": [{"index": choice.calls + n, **call}]}) for n, call in enumerate(calls)]
            choice.calls += len(calls)
            return sent
        if choice.calls or not calls:
            return []  # the legacy shape holds one call: later ones have no place
        choice.calls = 1
        legacy = legacy_function_call(calls[0])
        return [
            self._delta(index, {"function_call": {"name": legacy["name"], "arguments": ""}}),
            self._delta(index, {"function_call": {"arguments": legacy["arguments"]}}),
        ]

    def _start(self, index: int) -> list[bytes]:
        if index in self._choices:
            return []
        self._choices[index] = _Choice()
        return [self._delta(index, {"role": "assistant", "content": ""})]

    def _finish_choice(
        self, index: int, reason: str | None, *, blocked: bool = False, logprobs: dict[str, Any] | None = None
    ) -> list[bytes]:
        choice = self._choices[index]
        choice.finished = True
        finish = BLOCKED_FINISH if blocked else map_finish_reason(reason, choice.calls > 0, legacy_functions=self._legacy_functions)
        return [self._delta(index, {}, finish, logprobs=logprobs)]

    def _envelope(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "system_fingerprint": None,
            "choices": choices,
        }

    def _delta(self, index: int, delta: dict[str, Any], finish: str | None = None, *, logprobs: dict[str, Any] | None = None) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        chunk = self._envelope([choice])
        if self._include_usage:
            chunk["usage"] = None  # OpenAI: every chunk says null until the usage chunk
        return self._event(chunk)

    def _event(self, payload: dict[str, Any]) -> bytes:
        self.started = True
        return encode_event(payload)
