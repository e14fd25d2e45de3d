"""A response body rendered once with holes for its per-request fields, filled per request.

A cache hit answers with the stored answer under a fresh id, timestamp and the model name this
client asked for; everything else is the same bytes for every hit. Serialising the whole answer
again per hit (json.dumps of every choice, every SSE chunk) was most of a hit's own CPU; filling
three holes is a join of a few byte strings.

The holes are found by rendering once with marker strings in place of the fields. Each marker
carries a per-process random part, so an answer's own text cannot contain one (a client cannot
guess it, and it never leaves the process: every marker is a hole, filled before a byte is sent).

Usage:
    template = BodyTemplate.render(lambda slot: json.dumps({"id": slot("id"), "n": slot("n")}).encode(), ("id", "n"))
    template.fill({"id": b'"chatcmpl-1"', "n": b"7"})   # b'{"id": "chatcmpl-1", "n": 7}'
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

_NONCE = secrets.token_hex(12)


def _marker(name: str) -> str:
    return f"hpn-slot-{_NONCE}-{name}"


@dataclass(frozen=True, slots=True)
class BodyTemplate:
    """`parts[0] + value(holes[0]) + parts[1] + ... + parts[-1]`."""

    parts: tuple[bytes, ...]
    holes: tuple[str, ...]

    @classmethod
    def render(cls, render: Callable[[Callable[[str], str]], bytes], names: Iterable[str]) -> BodyTemplate:
        """Call `render(slot)`, where `slot(name)` is the value to put where the field goes (a
        JSON string: its quotes are part of the hole, so any JSON value can fill it)."""
        by_marker = {_marker(name).encode(): name for name in names}
        pattern = re.compile(b'"(' + b"|".join(re.escape(marker) for marker in by_marker) + b')"')
        pieces = pattern.split(render(_marker))
        # re.split with one group: text, marker, text, marker, ..., text.
        holes = tuple(by_marker[marker] for marker in pieces[1::2])
        return cls(parts=tuple(pieces[0::2]), holes=holes)

    def fill(self, values: Mapping[str, bytes]) -> bytes:
        """The body with each hole replaced by its value's JSON bytes."""
        out = [self.parts[0]]
        for hole, part in zip(self.holes, self.parts[1:], strict=True):
            out.append(values[hole])
            out.append(part)
        return b"".join(out)
