"""Mistral's chat answer, whole or streamed, as the router's ChatAnswer and stream events. Pure.

Mistral's answer is OpenAI-shaped, with its own turns: `content` may be a list of chunks
(`text`, and `thinking` holding its own text chunks), `finish_reason` may be `model_length`
(a length stop) or `error`, and a streamed tool call may come in pieces (an `index`, the id and
name first, the arguments after), so calls are joined and sent whole when their choice ends.
Tool-call ids are Mistral's own 9-character ids, handed to the client as they are: they come
back in the next request in the shape Mistral demands.

Usage:
    answer = mistral_answer(json.loads(body))
    decoder = MistralStreamDecoder(); events = decoder.feed(chunk) + decoder.finish()
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hpn_router.core.model.answer import (
    ChatAnswer,
    Choice,
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
from hpn_router.core.sse import SseParser

PROVIDER = "mistral"
_FINISH = {"stop": Finish.STOP, "length": Finish.LENGTH, "model_length": Finish.LENGTH, "tool_calls": Finish.TOOL_CALLS}


def map_finish(reason: Any, has_tool_calls: bool) -> Finish:
    if has_tool_calls:
        return Finish.TOOL_CALLS
    if reason is None:
        return Finish.STOP
    return _FINISH.get(str(reason), Finish.OTHER)


def usage_from_mistral(usage: Any) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    return Usage(input_tokens=_int(usage.get("prompt_tokens")), output_tokens=_int(usage.get("completion_tokens")))


def split_content(content: Any) -> tuple[str, str]:
    """(text, thinking) of a `content` that is a string or a list of chunks."""
    if isinstance(content, str):
        return content, ""
    texts: list[str] = []
    thoughts: list[str] = []
    for chunk in content if isinstance(content, list) else []:
        if not isinstance(chunk, dict):
            continue
        if chunk.get("type") == "text" and isinstance(chunk.get("text"), str):
            texts.append(chunk["text"])
        elif chunk.get("type") == "thinking":
            inner, _ = split_content(chunk.get("thinking"))
            thoughts.append(inner)
    return "".join(texts), "".join(thoughts)


def mistral_answer(resp: dict[str, Any]) -> ChatAnswer:
    choices = [_choice(position, choice) for position, choice in enumerate(resp.get("choices") or []) if isinstance(choice, dict)]
    if not choices:
        choices = [Choice(index=0, text="")]
    return ChatAnswer(choices=tuple(choices), usage=usage_from_mistral(resp.get("usage")), provider=PROVIDER)


def _choice(position: int, choice: dict[str, Any]) -> Choice:
    message = _dict(choice.get("message"))
    text, thinking = split_content(message.get("content"))
    calls = tuple(_tool_call(call) for call in message.get("tool_calls") or [] if isinstance(call, dict))
    return Choice(
        index=_int(choice.get("index"), position),
        text=text if text or not calls else None,
        reasoning=thinking or None,
        tool_calls=calls,
        finish=map_finish(choice.get("finish_reason"), bool(calls)),
    )


def _tool_call(call: dict[str, Any]) -> ToolCall:
    function = _dict(call.get("function"))
    arguments = function.get("arguments")
    if not isinstance(arguments, str):  # Mistral sends a string; an object is joined as JSON
        arguments = json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)
    return ToolCall(id=str(call.get("id") or ""), name=str(function.get("name") or ""), arguments=arguments)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


@dataclass
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class _Choice:
    calls: dict[int, _PendingCall] = field(default_factory=dict)
    finished: bool = False


class MistralStreamDecoder:
    """One Mistral SSE stream (OpenAI-shaped chunks, then `data: [DONE]`), fed in any split.

    An in-band error, a malformed event, or a stream that is no SSE at all ends it with one
    `StreamError`. Usage comes on the last chunk; one `UsageReport` goes just before `StreamEnd`.
    """

    def __init__(self) -> None:
        self._parser = SseParser()
        self._choices: dict[int, _Choice] = {}
        self._closed = False
        self._events = 0
        self._raw_seen = False
        self._usage: Usage | None = None

    @property
    def usage(self) -> Usage | None:
        return self._usage

    def feed(self, data: bytes) -> list[StreamEvent]:
        if self._closed:
            return []
        self._raw_seen = self._raw_seen or bool(data.strip())
        return self._handle_all(self._parser.feed(data))

    def finish(self) -> list[StreamEvent]:
        if self._closed:
            return []
        out = self._handle_all(self._parser.flush())
        if self._closed:
            return out
        if self._raw_seen and not self._events:
            return out + self.fail("upstream response was not a server-sent event stream")
        if not self._choices:
            out += self._start(0)
        for index, state in sorted(self._choices.items()):
            if not state.finished:
                out += self._end(index, None)
        if self._usage is not None:
            out.append(UsageReport(self._usage))
        out.append(StreamEnd())
        self._closed = True
        return out

    def fail(self, message: str, *, code: str = "upstream_error") -> list[StreamEvent]:
        if self._closed:
            return []
        self._closed = True
        return [StreamError(message, code)]

    def _handle_all(self, payloads: list[str]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for payload in payloads:
            self._events += 1
            if payload.strip() == "[DONE]":
                continue
            out += self._handle(payload)
            if self._closed:
                break
        return out

    def _handle(self, payload: str) -> list[StreamEvent]:
        try:
            event = json.loads(payload)
        except ValueError:
            return self.fail("upstream sent a malformed stream event")
        if not isinstance(event, dict):
            return self.fail("upstream sent a malformed stream event")
        if event.get("object") == "error" or "error" in event:
            error = _dict(event.get("error")) or event
            return self.fail(str(error.get("message") or "upstream error"))
        if (usage := usage_from_mistral(event.get("usage"))) is not None:
            self._usage = usage
        out: list[StreamEvent] = []
        for choice in event.get("choices") or []:
            if isinstance(choice, dict):
                out += self._choice(choice)
        return out

    def _choice(self, choice: dict[str, Any]) -> list[StreamEvent]:
        index = _int(choice.get("index"))
        out = self._start(index)
        state = self._choices[index]
        if state.finished:
            return out
        delta = _dict(choice.get("delta"))
        text, thinking = split_content(delta.get("content"))
        if thinking:
            out.append(ReasoningDelta(index, thinking))
        if text:
            out.append(TextDelta(index, text))
        for position, call in enumerate(delta.get("tool_calls") or []):
            if isinstance(call, dict):
                self._collect(state, position, call)
        if choice.get("finish_reason"):
            out += self._end(index, choice["finish_reason"])
        return out

    @staticmethod
    def _collect(state: _Choice, position: int, call: dict[str, Any]) -> None:
        """A piece of a call: its `index` (or its place in the delta) says which call it extends."""
        pending = state.calls.setdefault(_int(call.get("index"), position), _PendingCall())
        function = _dict(call.get("function"))
        pending.id = pending.id or str(call.get("id") or "")
        pending.name = pending.name or str(function.get("name") or "")
        arguments = function.get("arguments")
        if arguments is not None:
            pending.arguments.append(arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False))

    def _start(self, index: int) -> list[StreamEvent]:
        if index in self._choices:
            return []
        self._choices[index] = _Choice()
        return [ChoiceStart(index)]

    def _end(self, index: int, reason: Any) -> list[StreamEvent]:
        state = self._choices[index]
        state.finished = True
        calls = [state.calls[i] for i in sorted(state.calls)]
        out: list[StreamEvent] = [
            ToolCallEvent(index, ToolCall(id=c.id, name=c.name, arguments="".join(c.arguments) or "{}")) for c in calls
        ]
        if reason == "error":
            return out + self.fail("Mistral ended the answer with an error")
        return [*out, ChoiceEnd(index, map_finish(reason, bool(calls)))]
