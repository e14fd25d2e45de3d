"""What the reverse front's tests share (test_reversefront, test_frontconnection,
test_frontexchange; their fixtures `front`, `stream_relay` and `upstream` are in
tests/edge/conftest.py): a front behind a small stand-in master (the front only reads `options`
and calls `addons.handle_lifecycle`), and readers for the exact bytes the front sends."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hpn_router.edge.relay import StreamRelay
from hpn_router.edge.relayrequest import TOKEN_HEADER
from hpn_router.edge.reversefront import ReverseFront
from mitmproxy import addonmanager, http, options
from mitmproxy.addons import proxyserver

TARGET = "generativelanguage.googleapis.com"
MODE = f"reverse:https://{TARGET}@127.0.0.1:0"
EVENTS = [b'data: {"n": 1}\r\n\r\n', b'data: {"n": 2}\r\n\r\n', b'data: {"n": 3}\r\n\r\n']
WAIT = 20  # bounds every read, so a broken front fails a test instead of hanging it


class RecordingAddons:
    """`master.addons`: records each hook's name and calls the test's handler for it, if any."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.handlers: dict[str, Callable[[Any], Any]] = {}
        self.errors: list[str] = []
        self.disconnected = asyncio.Event()

    async def handle_lifecycle(self, hook: Any) -> None:
        self.names.append(hook.name)
        (data,) = hook.args()
        if hook.name == "error":
            self.errors.append(data.error.msg)
        if handler := self.handlers.get(hook.name):
            result = handler(data)
            if inspect.isawaitable(result):
                await result
        if hook.name == "client_disconnected":
            self.disconnected.set()

    async def wait_disconnected(self) -> None:
        await asyncio.wait_for(self.disconnected.wait(), WAIT)


@dataclass
class FakeMaster:
    options: options.Options
    addons: RecordingAddons = field(default_factory=RecordingAddons)


@dataclass
class Front:
    master: FakeMaster
    front: ReverseFront
    port: int

    @property
    def addons(self) -> RecordingAddons:
        return self.master.addons

    @property
    def options(self) -> options.Options:
        return self.master.options

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)


def full_options() -> options.Options:
    """Options with the proxy server's options too (listen_host, body_size_limit, ...), as the runner has them."""
    opts = options.Options()
    proxyserver.Proxyserver().load(addonmanager.Loader(FakeMaster(opts)))  # type: ignore[arg-type]
    return opts


def answer(f: http.HTTPFlow) -> None:
    f.response = http.Response.make(200, b"hello", {"content-type": "text/plain"})


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One response with a content-length body: (head, body)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head, await asyncio.wait_for(reader.readexactly(length), WAIT)


async def read_to_end(reader: asyncio.StreamReader) -> bytes:
    """Everything until the front closes the connection."""
    return await asyncio.wait_for(reader.read(-1), WAIT)


async def exchange(front: Front, request: bytes) -> bytes:
    """Sends `request` on a new connection, returns everything until the front closes it."""
    reader, writer = await front.connect()
    writer.write(request)
    await writer.drain()
    try:
        return await read_to_end(reader)
    finally:
        writer.close()


def status_line(reply: bytes) -> bytes:
    return reply.split(b"\r\n", 1)[0]


def dechunk(body: bytes) -> list[bytes]:
    """The chunks of a chunked body that ends with its last chunk; AssertionError on bad framing."""
    chunks = []
    while True:
        size_line, sep, body = body.partition(b"\r\n")
        assert sep, "chunk size line not terminated"
        size = int(size_line, 16)
        if size == 0:
            assert body == b"\r\n", f"after the last chunk: {body!r}"
            return chunks
        chunk, crlf, body = body[:size], body[size : size + 2], body[size + 2 :]
        assert len(chunk) == size and crlf == b"\r\n", "chunk not framed by its size"
        chunks.append(chunk)


def read_one(reply: bytes) -> tuple[bytes, bytes]:
    """The head and content-length body of the first response in `reply`, which holds nothing after it."""
    head, _, rest = reply.partition(b"\r\n\r\n")
    length = next(int(line.partition(b":")[2]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    assert len(rest) == length, f"bytes after the answer: {rest[length:]!r}"
    return head, rest


GET = b"GET /v1/models HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"
ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello"


def relay_to(f: http.HTTPFlow, relay: StreamRelay, token: str | None) -> None:
    """What KeyRouting does for a stream: the flow now targets the relay, with the stream's token."""
    f.request.scheme, f.request.host, f.request.port = "http", "127.0.0.1", relay.port
    if token is not None:
        f.request.headers[TOKEN_HEADER] = token
