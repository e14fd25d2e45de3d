"""What the client APIs' stream encoders share (Chat Completions, Responses, Messages). Pure.

Each encoder turns the model's stream events into its API's SSE bytes; all of them keep the
answer text sent (the first `max_text` characters, for the log and the cache), the last usage
reported, and whether any byte went out (`started`: after that, an error can no longer be a
status code). `OneChoiceEncoder` is for the APIs without `n` (Responses, Messages): they read
choice 0 only and answer with its finish at the end.

Usage:
    class MessagesEncoder(OneChoiceEncoder):
        def encode(self, event): ...      # one event -> the bytes to send
    encoder.encode_all(events)            # a batch of events -> the bytes to send
"""

from __future__ import annotations

from ..model.answer import ChoiceEnd, ChoiceStart, Finish, StreamEvent, Usage, UsageReport


class StreamEncoder:
    def __init__(self, *, max_text: int = 20000) -> None:
        self._max_text = max_text
        self.usage: Usage | None = None
        self.text = ""
        self.started = False

    def encode(self, event: StreamEvent) -> list[bytes]:
        raise NotImplementedError

    def encode_all(self, events: list[StreamEvent]) -> list[bytes]:
        out: list[bytes] = []
        for event in events:
            out += self.encode(event)
        return out

    def _keep_text(self, text: str) -> None:
        if text and len(self.text) < self._max_text:
            self.text += text[: self._max_text - len(self.text)]

    def _usage(self, event: UsageReport) -> list[bytes]:
        self.usage = event.usage
        return []


class OneChoiceEncoder(StreamEncoder):
    def __init__(self, *, max_text: int = 20000) -> None:
        super().__init__(max_text=max_text)
        self._finish = Finish.STOP  # choice 0's, once it ends
        self._stop_sequence: str | None = None  # the stop sequence that ended choice 0, when known

    def _choice_start(self, event: ChoiceStart) -> list[bytes]:
        return []

    def _choice_end(self, event: ChoiceEnd) -> list[bytes]:
        if event.index == 0:
            self._finish = event.finish
            self._stop_sequence = event.stop_sequence
        return []
