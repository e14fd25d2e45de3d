"""The model's answer (ChatAnswer) as the flash cache keeps it for the Responses and Messages
APIs: stored as JSON, collected from a stream of the model's events, and replayed as those events.

The cache keeps the router's own answer, not the client's bytes: a hit is rendered again by the
API's own translator (a fresh Response or Message id, the model name this client asked for, the
events in that API's order), so a streamed answer serves a later non-streamed request and the
other way round. Which API an entry belongs to is part of its key (core/cachekey.py), so a
Responses answer never reaches a Messages client.

Usage:
    collector = AnswerCollector(max_chars=1_000_000)
    collector.feed(events)                   # each batch of StreamEvents the stream produced
    answer = collector.answer()              # None: cut, failed or too big to keep
    stored = answer_to_json(answer)          # what the cache entry holds
    answer_events(answer_from_json(stored))  # ChoiceStart, TextDelta, ..., UsageReport, StreamEnd
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .model.answer import (
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


def answer_to_json(answer: ChatAnswer) -> dict[str, Any]:
    """A JSON-ready form of `answer` (logprobs are not kept: neither API asks for them)."""
    return {
        "choices": [_choice_to_json(choice) for choice in answer.choices],
        "usage": None if answer.usage is None else _usage_to_json(answer.usage),
        "provider": answer.provider,
    }


def _choice_to_json(choice: Choice) -> dict[str, Any]:
    return {
        "index": choice.index,
        "text": choice.text,
        "reasoning": choice.reasoning,
        "tool_calls": [
            {"id": c.id, "name": c.name, "arguments": c.arguments, "signature": c.signature, "signature_provider": c.signature_provider}
            for c in choice.tool_calls
        ],
        "finish": choice.finish.value,
        "stop_sequence": choice.stop_sequence,
    }


def _usage_to_json(usage: Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "cached_tokens": usage.cached_tokens,
    }


def answer_from_json(data: dict[str, Any]) -> ChatAnswer:
    """The answer `answer_to_json` wrote."""
    choices = tuple(
        Choice(
            index=c["index"],
            text=c["text"],
            reasoning=c["reasoning"],
            tool_calls=tuple(ToolCall(**call) for call in c["tool_calls"]),
            finish=Finish(c["finish"]),
            stop_sequence=c.get("stop_sequence"),  # absent in entries written before it was kept
        )
        for c in data["choices"]
    )
    usage = data.get("usage")
    return ChatAnswer(choices=choices, usage=None if usage is None else Usage(**usage), provider=data.get("provider") or "")


def answer_events(answer: ChatAnswer) -> list[StreamEvent]:
    """The stream that produces `answer`: per choice its reasoning, text and tool calls, then the
    usage and the end, so a streaming client of any API gets the events its encoder expects."""
    events: list[StreamEvent] = []
    for choice in answer.choices:
        events.append(ChoiceStart(choice.index))
        if choice.reasoning:
            events.append(ReasoningDelta(choice.index, choice.reasoning))
        if choice.text is not None:
            events.append(TextDelta(choice.index, choice.text))
        events += [ToolCallEvent(choice.index, call) for call in choice.tool_calls]
        events.append(ChoiceEnd(choice.index, choice.finish, stop_sequence=choice.stop_sequence))
    if answer.usage is not None:
        events.append(UsageReport(answer.usage))
    events.append(StreamEnd())
    return events


@dataclass
class _Building:
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish: Finish | None = None
    stop_sequence: str | None = None
    has_text: bool = False


class AnswerCollector:
    """Builds the ChatAnswer a stream of the model's events amounts to. `answer()` is None unless
    the stream ended normally (StreamEnd, every choice ended) within `max_chars` of text,
    reasoning and tool arguments: only a complete answer may be replayed."""

    def __init__(self, *, max_chars: int | None = None) -> None:
        self.max_chars = max_chars
        self._choices: dict[int, _Building] = {}
        self._usage: Usage | None = None
        self._chars = 0
        self._ended = False
        self.failed = False

    def feed(self, events: list[StreamEvent]) -> None:
        for event in events:
            if self.failed or self._ended:
                return
            self._event(event)
        if self.max_chars is not None and self._chars > self.max_chars:
            self.failed = True

    def _event(self, event: StreamEvent) -> None:
        if isinstance(event, ChoiceStart):
            self._choices.setdefault(event.index, _Building())
        elif isinstance(event, TextDelta):
            building = self._choices.setdefault(event.index, _Building())
            building.text.append(event.text)
            building.has_text = True
            self._chars += len(event.text)
        elif isinstance(event, ReasoningDelta):
            self._choices.setdefault(event.index, _Building()).reasoning.append(event.text)
            self._chars += len(event.text)
        elif isinstance(event, ToolCallEvent):
            self._choices.setdefault(event.index, _Building()).tool_calls.append(event.call)
            self._chars += len(event.call.arguments)
        elif isinstance(event, ChoiceEnd):
            building = self._choices.setdefault(event.index, _Building())
            building.finish, building.stop_sequence = event.finish, event.stop_sequence
        elif isinstance(event, UsageReport):
            self._usage = event.usage
        elif isinstance(event, StreamEnd):
            self._ended = True
        elif isinstance(event, StreamError):
            self.failed = True

    def answer(self) -> ChatAnswer | None:
        if self.failed or not self._ended or not self._choices:
            return None
        if any(b.finish is None for b in self._choices.values()):
            return None
        choices = tuple(
            Choice(
                index=index,
                text="".join(b.text) if b.has_text else None,
                reasoning="".join(b.reasoning) or None,
                tool_calls=tuple(b.tool_calls),
                finish=b.finish or Finish.STOP,
                stop_sequence=b.stop_sequence,
            )
            for index, b in sorted(self._choices.items())
        )
        return ChatAnswer(choices=choices, usage=self._usage)
