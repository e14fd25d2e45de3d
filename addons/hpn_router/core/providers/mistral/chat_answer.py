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
    return Usage(input_tokens=as_int(usage.get("prompt_tokens")), output_tokens=as_int(usage.get("completion_tokens")))


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
    message = as_dict(choice.get("message"))
    text, thinking = split_content(message.get("content"))
    calls = tuple(_tool_call(call) for call in message.get("tool_calls") or [] if isinstance(call, dict))
    return Choice(
        index=as_int(choice.get("index"), position),
        text=text if text or not calls else None,
        reasoning=thinking or None,
        tool_calls=calls,
        finish=map_finish(choice.get("finish_reason"), bool(calls)),
    )


def _tool_call(call: dict[str, Any]) -> ToolCall:
    function = as_dict(call.get("function"))
    arguments = function.get("arguments")
    if not isinstance(arguments, str):  # Mistral sends a string; an object is joined as JSON
        arguments = json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)
    return ToolCall(id=str(call.get("id") or ""), name=str(function.get("name") or ""), arguments=arguments)


@dataclass
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class _Choice:
    calls: dict[int, _PendingCall] = field(default_factory=dict)
    finished: bool = False


class MistralStreamDecoder(StreamDecoder):
    """One Mistral SSE stream (OpenAI-shaped chunks, then `data: [DONE]`), fed in any split.

    An in-band error, a malformed event, or a stream that is no SSE at all ends it with one
    `StreamError`. Usage comes on the last chunk; one `UsageReport` goes just before `StreamEnd`.
    """

    DONE = "[DONE]"

    def __init__(self) -> None:
        super().__init__()
        self._choices: dict[int, _Choice] = {}
        self._usage: Usage | None = None

    @property
    def usage(self) -> Usage | None:
        return self._usage

    def _at_end(self) -> list[StreamEvent]:
        out: list[StreamEvent] = [] if self._choices else self._start(0)
        for index, state in sorted(self._choices.items()):
            if not state.finished:
                out += self._end(index, None)
        return out

    def _event(self, event: dict[str, Any]) -> list[StreamEvent]:
        if event.get("object") == "error" or "error" in event:
            error = as_dict(event.get("error")) or event
            return self.fail(str(error.get("message") or "upstream error"))
        if (usage := usage_from_mistral(event.get("usage"))) is not None:
            self._usage = usage
        out: list[StreamEvent] = []
        for choice in event.get("choices") or []:
            if isinstance(choice, dict):
                out += self._choice(choice)
        return out

    def _choice(self, choice: dict[str, Any]) -> list[StreamEvent]:
        index = as_int(choice.get("index"))
        out = self._start(index)
        state = self._choices[index]
        if state.finished:
            return out
        delta = as_dict(choice.get("delta"))
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
        pending = state.calls.setdefault(as_int(call.get("index"), position), _PendingCall())
        function = as_dict(call.get("function"))
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
