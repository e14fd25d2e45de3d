"""What the attempt loop sends and gets back, and what a provider's transport must offer.

Plain data and Protocols: a transport (today `edge.upstream.GeminiTransport`, over aiohttp)
lives in the I/O edge and is handed to KeyRouting, so the loop and the routing addon are
tested with a scripted transport and no sockets. An open stream is an opaque handle here:
the core only closes it; the relay (edge) reads it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    method: str
    path: str  # "/v1beta/models/gemini-x:generateContent"
    query: str  # "alt=sse" or ""
    body: bytes
    stream: bool
    model: str  # the provider's model, for quota scoping
    provider: str = "gemini"  # whose keys may send it


class UpstreamStream(Protocol):
    """An accepted stream whose body is not read yet (an aiohttp response for Gemini)."""

    def close(self) -> None: ...


@dataclass(slots=True)
class AttemptResult:
    status: int | None = None  # None: no answer (connection error or timeout)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str | None = None  # transport failure kind, never a third-party message
    stream: UpstreamStream | None = None  # an open 200 stream, body not read yet
    group: str | None = None  # the quota group the provider says the key is in (Anthropic's organization id)

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None


class Transport(Protocol):
    """Sends one attempt with one key. Never raises for a failed attempt: a connection error
    or a timeout is an AttemptResult with `status` None and `error` set."""

    async def send(self, request: UpstreamRequest, key: str) -> AttemptResult: ...

    async def close(self) -> None: ...


def join_named_json_answers(bodies: Mapping[str, bytes]) -> bytes:
    """JSON answers as one JSON object by name (the providers' model lists:
    `{"gemini": {...}, "mistral": {...}}`), without parsing them. Each body is a 200 answer
    the provider sent as JSON."""
    return b"{" + b",".join(json.dumps(name).encode() + b":" + body.strip() for name, body in bodies.items()) + b"}"


def join_json_answers(bodies: list[bytes]) -> bytes:
    """Several JSON answers as one JSON array, without parsing them (embedding batches: the
    translator reads the array). Each body is a 200 answer the provider sent as JSON."""
    return b"[" + b",".join(body.strip() for body in bodies) + b"]"
