"""The model's stream events (core/model/answer.py) as the OpenAI Responses API's SSE events.

`ResponsesEncoder` renders stream events in the order OpenAI sends them, each with a
`sequence_number` counting from 0:

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
`response.failed`, never in silence. The items are the unstreamed response's
(core/inbound/openai_responses_answer.py). Only Choice 0 is read: the Responses API has no `n`.

Usage:
    encoder = ResponsesEncoder(ResponseHead(response_id=new_response_id(), created=now, model="gpt-4o"))
    for event in events: send(b"".join(encoder.encode(event)))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..model.answer import (
    ChoiceEnd,
    ChoiceStart,
    ReasoningDelta,
    StreamEnd,
    StreamError,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    UsageReport,
)
from ..sse import sse_event
from .openai_responses_answer import (
    ResponseHead,
    call_item,
    envelope,
    finish_status,
    message_item,
    new_item_id,
    reasoning_item,
    usage_to_responses,
)
from .streamencoder import OneChoiceEncoder


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
            call_item(new_item_id("ctc" if custom else "fc"), event.call, self.head.custom_tools, self.head.namespaced),
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
            self._open = _Open(index, new_item_id("msg"), kind)
            item = {"id": self._open.item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            out.append(self._emit("response.output_item.added", output_index=index, item=item))
            out.append(self._emit("response.content_part.added", item_id=item["id"], output_index=index, content_index=0, part=part))
        else:
            self._open = _Open(index, new_item_id("rs"), kind)
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
