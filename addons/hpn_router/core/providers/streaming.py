"""What every provider's stream decoder does alike: SSE in any split, one JSON object per event,
one `StreamError` that ends it, and the `UsageReport` + `StreamEnd` that close it. Pure.

A provider's decoder subclasses `StreamDecoder` and says only what its wire means: `_event` turns
one decoded event into stream events, `_at_end` says what a normal end of the upstream adds (close
open choices, or fail a cut-short answer), `usage` is the last usage seen. Bytes that never made an
SSE event (a JSON array, an HTML error page) fail the stream instead of answering nothing.

Usage:
    class MistralStreamDecoder(StreamDecoder):
        DONE = "[DONE]"
        def _event(self, event): ...
        def _at_end(self): ...
"""

from __future__ import annotations

import json
from typing import Any

from ..model.answer import StreamEnd, StreamError, StreamEvent, Usage, UsageReport
from ..sse import SseParser


class StreamDecoder:
    """One upstream SSE stream, fed in any split; after `finish` or `fail` it says nothing more."""

    DONE: str | None = None  # a provider's end-of-stream payload (not JSON), skipped when it comes

    def __init__(self) -> None:
        self._parser = SseParser()
        self._closed = False
        self._events = 0  # upstream SSE events parsed
        self._raw_seen = False  # any non-whitespace upstream byte

    @property
    def usage(self) -> Usage | None:
        """The last usage the upstream reported, or None."""
        return None

    def feed(self, data: bytes) -> list[StreamEvent]:
        if self._closed:
            return []
        self._raw_seen = self._raw_seen or bool(data.strip())
        return self._handle_all(self._parser.feed(data))

    def finish(self) -> list[StreamEvent]:
        """Upstream ended normally: what the provider adds at the end, then usage and `StreamEnd`."""
        if self._closed:
            return []
        out = self._handle_all(self._parser.flush())
        if self._closed:  # the last event was an upstream error
            return out
        if self._raw_seen and not self._events:
            return out + self.fail("upstream response was not a server-sent event stream")
        out += self._at_end()
        return out if self._closed else out + self._close()

    def fail(self, message: str, *, code: str = "upstream_error") -> list[StreamEvent]:
        """Upstream broke mid-stream: one `StreamError`, then nothing."""
        if self._closed:
            return []
        self._closed = True
        return [StreamError(message, code)]

    def _close(self) -> list[StreamEvent]:
        self._closed = True
        usage = self.usage
        out: list[StreamEvent] = [UsageReport(usage)] if usage is not None else []
        return [*out, StreamEnd()]

    def _handle_all(self, payloads: list[str]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for payload in payloads:
            self._events += 1
            if self.DONE is not None and payload.strip() == self.DONE:
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
        return self._event(event)

    def _event(self, event: dict[str, Any]) -> list[StreamEvent]:
        """One upstream event, decoded: the provider's wire logic."""
        raise NotImplementedError

    def _at_end(self) -> list[StreamEvent]:
        """What a normal end of the upstream adds before the usage and `StreamEnd` (may `fail`)."""
        return []


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else (providers' fields may be missing or odd)."""
    return value if isinstance(value, dict) else {}


def as_int(value: Any, default: int = 0) -> int:
    """A JSON integer (never a bool), or the default."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default
