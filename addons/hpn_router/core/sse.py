"""Sans-I/O parser for the Gemini ``?alt=sse`` stream (docs/gemini-wire-format.md#gemini-streaming),
and the one writer of the events the router sends its clients (`sse_event`).

Feed raw bytes as they arrive, in any split; get back the complete ``data:``
payloads. Gemini frames events with CRLF, so LF, CR and CRLF are all accepted
(trap 1, docs/gemini-wire-format.md#traps), including a CR at the end of one read whose LF arrives in the next.
Only those three terminate lines: U+2028/U+2029 inside JSON text are content
(``str.splitlines`` would break them). UTF-8 is decoded incrementally, so a
multi-byte character split across reads survives.

Usage:
    parser = SseParser()
    for payload in parser.feed(chunk): ...
    for payload in parser.flush(): ...   # at EOF
    sse_event({"type": "ping"}, name="ping")  # b'event: ping\ndata: {"type":"ping"}\n\n'
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any

_LINE_END = re.compile(r"\r\n|\r|\n")


class SseParser:
    """Incremental ``text/event-stream`` parser returning ``data`` payloads."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._data: list[str] = []

    def feed(self, data: bytes) -> list[str]:
        """Consume bytes; return payloads of events completed by them."""
        self._buffer += self._decoder.decode(data)
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """At EOF: finish a last line and dispatch an event left without a blank line.

        The SSE spec drops such an event; a proxy should not lose the final
        Gemini chunk (it carries finishReason and usage) over a missing CRLF.
        """
        self._buffer += self._decoder.decode(b"", final=True)
        payloads = self._drain(final=True)
        if self._buffer:
            payloads += self._line(self._buffer)
            self._buffer = ""
        payloads += self._dispatch()
        return payloads

    def _drain(self, *, final: bool) -> list[str]:
        payloads: list[str] = []
        pos = 0
        buf = self._buffer
        while True:
            match = _LINE_END.search(buf, pos)
            if match is None:
                break
            # A lone CR at the very end may be the first half of CRLF: wait.
            if match.group() == "\r" and match.end() == len(buf) and not final:
                break
            payloads += self._line(buf[pos : match.start()])
            pos = match.end()
        self._buffer = buf[pos:]
        return payloads

    def _line(self, line: str) -> list[str]:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return []  # comment / keep-alive
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        # event:, id:, retry: carry nothing Gemini uses.
        return []

    def _dispatch(self) -> list[str]:
        if not self._data:
            return []
        payload = "\n".join(self._data)
        self._data = []
        return [payload]


def sse_event(payload: dict[str, Any], *, name: str | None = None) -> bytes:
    """One SSE event, compact JSON in one `data:` line, after an `event:` line when `name` is
    given (Responses and Messages name their events; Chat Completions does not).
    U+2028/U+2029 are escaped: some line splitters break on them."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    data = b"data: " + text.encode("utf-8") + b"\n\n"
    return data if name is None else b"event: " + name.encode() + b"\n" + data
