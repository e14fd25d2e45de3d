"""What the stream relay (edge/relay.py) reads of a request: its head's token, framing and
line for the log, and its body, read and thrown away within a limit. mitmproxy forwards a
flow's request as the client sent it, so the relay must read the whole of it before answering,
but it never needs the body itself."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

TOKEN_HEADER = "x-hpn-relay-token"  # KeyRouting puts a parked stream's one-time token in it
_PIECE = 64 * 1024


@dataclass
class RelayRequest:
    """What the relay needs of a request head: the token, the body's framing, and the
    method and path (without the query) for the log."""

    line: str
    token: str | None
    length: int
    chunked: bool


def parse_head(head: bytes) -> RelayRequest:
    lines = head.split(b"\r\n")
    method, _, target = lines[0].decode("latin-1").partition(" ")
    path = target.partition(" ")[0].split("?", 1)[0][:200]
    token, length, chunked = None, 0, False
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip()
        if not colon:
            continue
        if name == TOKEN_HEADER.encode():
            token = value.decode("ascii", "replace")
        elif name == b"content-length":
            if not value.isdigit():
                raise ValueError("an invalid content-length")
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    return RelayRequest(f"{method[:16]} {path}", token, length, chunked)


async def discard_body(reader: asyncio.StreamReader, request: RelayRequest, limit: int) -> None:
    """Reads the request's body (content-length or chunked) and throws it away; ValueError
    when it is over `limit` bytes or malformed."""
    if not request.chunked:
        if request.length > limit:
            raise ValueError(f"a body over {limit} bytes")
        await _skip(reader, request.length)
        return
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";")[0].strip(), 16)  # ValueError on junk
        total += len(size_line) + size
        if size < 0 or total > limit:
            raise ValueError(f"a body over {limit} bytes" if size >= 0 else "a malformed chunk")
        if size == 0:
            break
        await _skip(reader, size + 2)
    while (trailer := await reader.readuntil(b"\r\n")) != b"\r\n":
        total += len(trailer)
        if total > limit:
            raise ValueError(f"a body over {limit} bytes")


async def _skip(reader: asyncio.StreamReader, count: int) -> None:
    while count > 0:
        piece = await reader.read(min(count, _PIECE))
        if not piece:
            raise asyncio.IncompleteReadError(b"", count)
        count -= len(piece)
