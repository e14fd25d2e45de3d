"""FrontConnection: one client connection of the reverse front (edge/reversefront.py): its bytes
in and out, one request at a time (no pipelining, like mitmproxy), keep-alive, and the hand-over
of a connection the front does not speak (TLS, HTTP/2) to mitmproxy's own handler.

Each request is served by `frontexchange.exchange`. The connection's client_disconnected fires
when the socket closes, also while a hook of its request is still pending (KeyRouting cancels
the upstream call on it), as in mitmproxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

import h11
from h11._receivebuffer import ReceiveBuffer
from mitmproxy import connection
from mitmproxy.proxy import mode_servers, mode_specs, server_hooks
from mitmproxy.proxy.layers.http._http1 import make_body_reader, make_error_response

from hpn_router.edge.frontexchange import ClientGone, exchange

if TYPE_CHECKING:
    from hpn_router.edge.reversefront import ReverseFront

MAX_HEAD = 64 * 1024  # a request head past this gets 400 (mitmproxy has no such bound)
PAUSE_AT = 1024 * 1024  # stop reading from a client that sends this much ahead of us
LINGER_SECONDS = 1.0  # after refusing a request not read to its end, discard what follows this long
TLS_RECORD = b"\x16"  # a TLS handshake record starts with this byte
H2_START = b"PRI "  # HTTP/2's connection preface, "PRI * HTTP/2.0"

# client id -> its connection: the Timeouts addon closes late ones through it, as it closes
# mitmproxy's through the proxyserver's handlers.
OPEN_CONNECTIONS: dict[str, FrontConnection] = {}


class FrontConnection(asyncio.Protocol):
    def __init__(self, front: ReverseFront, mode: mode_specs.ReverseMode) -> None:
        self.front = front
        self.mode = mode
        self.buf = ReceiveBuffer()
        self.eof = False  # the client sent its FIN, or the connection is gone
        self.closed = False  # the connection is gone
        self.unread = False  # the last request was refused before it was read to its end
        self.handed_over = False  # to mitmproxy's handler (TLS, HTTP/2): no longer ours to close
        self._wake = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._paused = False
        self._discarding = False
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None
        self._gone: asyncio.Task[None] | None = None  # held: a task nobody holds may be collected

    # --- asyncio.Protocol ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        sock = transport.get_extra_info("sockname")
        self.client = connection.Client(
            peername=tuple(peer[:2]), sockname=tuple(sock[:2]), state=connection.ConnectionState.OPEN, proxy_mode=self.mode
        )
        tls = self.mode.scheme == "https"
        self.server = connection.Server(address=self.mode.address, tls=tls, sni=self.mode.address[0] if tls else None)
        self.task = asyncio.get_running_loop().create_task(self._run(), name="hpn reverse front connection")

    def data_received(self, data: bytes) -> None:
        if self._discarding:
            return
        self.buf += data
        if len(self.buf) > PAUSE_AT and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake.set()

    def eof_received(self) -> bool:
        # A client that sent its FIN wants no more from us (mitmproxy closes too).
        self.eof = True
        self._wake.set()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = self.eof = True
        self._wake.set()
        self._writable.set()
        # Now, not when the request in progress ends: as in mitmproxy, client_disconnected
        # fires while a hook may still be pending (KeyRouting cancels its upstream call on it).
        self._gone = asyncio.get_running_loop().create_task(self._disconnected(), name="hpn reverse front disconnect")

    async def _disconnected(self) -> None:
        self.client.timestamp_end = time.time()
        self.client.state = connection.ConnectionState.CLOSED
        OPEN_CONNECTIONS.pop(self.client.id, None)
        await self.front.client_event(server_hooks.ClientDisconnectedHook(self.client))

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # --- reading ---

    async def _more(self) -> None:
        """Wait for more bytes (or the end)."""
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        self._wake.clear()
        await self._wake.wait()

    async def _read_head(self) -> list[bytes] | None:
        while True:
            lines = self.buf.maybe_extract_lines()
            if lines is not None:
                return [bytes(line) for line in lines]
            if len(self.buf) > MAX_HEAD:
                self.unread = True
                self.send(make_error_response(400, f"Request head over {MAX_HEAD} bytes."))
                return None
            if self.eof:
                return None
            await self._more()

    async def read_body(self, expected: int | None, limit: int | None) -> bytes:
        """The whole body (h11's readers, as mitmproxy frames it); ClientGone, ValueError
        (framing) or OverflowError (over `limit`, mitmproxy's body_size_limit)."""
        reader = make_body_reader(expected)
        body = bytearray()
        while True:
            try:
                event = reader.read_eof() if self.eof and not self.buf else reader(self.buf)
            except h11.ProtocolError as e:
                if self.eof:
                    raise ClientGone from e
                raise ValueError(f"HTTP/1 protocol error: {e}") from e
            if event is None:
                if self.eof:
                    raise ClientGone
                await self._more()
            elif isinstance(event, h11.Data):
                body += event.data
                if limit is not None and len(body) > limit:
                    raise OverflowError
            else:  # EndOfMessage
                return bytes(body)

    # --- writing ---

    def send(self, data: bytes) -> None:
        if data and self.transport is not None and not self.closed:
            self.transport.write(data)

    async def drain(self) -> None:
        """Wait while the client reads slower than we write; ClientGone once it is gone."""
        if self.closed:
            raise ClientGone
        await self._writable.wait()
        if self.closed:
            raise ClientGone

    async def _linger(self) -> None:
        """After an answer to a request not read to its end (a 400 or 413 before its body): end our
        side, then discard what the client still sends for a moment. Closing with its bytes unread
        resets the connection, and the reset can destroy the answer before the client reads it."""
        if self.transport is None or self.closed:
            return
        self._discarding = True
        self.buf = ReceiveBuffer()
        if self._paused:
            self._paused = False
            self.transport.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LINGER_SECONDS):
                while not self.eof:
                    self._wake.clear()
                    await self._wake.wait()

    def close(self, reason: str = "") -> None:
        if self.transport is not None:
            self.transport.close()
        self.eof = True
        self._wake.set()

    # --- the connection ---

    async def _run(self) -> None:
        try:
            await self.front.client_event(server_hooks.ClientConnectedHook(self.client))
            if self.client.error:
                return
            OPEN_CONNECTIONS[self.client.id] = self
            if not await self._speaks_http1():
                await self._hand_over()
                return
            while (lines := await self._read_head()) is not None:
                if not await exchange(self, lines):
                    break
        except Exception:
            logging.exception("HPN reverse front: connection handler crashed")
        finally:
            OPEN_CONNECTIONS.pop(self.client.id, None)
            if self.unread:
                await self._linger()
            if not self.handed_over:
                self.close()  # connection_lost follows, and with it client_disconnected

    async def _speaks_http1(self) -> bool:
        """False when the client's first bytes are a TLS record (https to this port, with
        mitmproxy's CA) or HTTP/2's prior-knowledge preface: mitmproxy serves those."""
        while len(self.buf) < len(H2_START) and not self.eof:
            start = bytes(self.buf)
            if start and not start.startswith(TLS_RECORD) and not H2_START.startswith(start):
                break
            await self._more()
        start = bytes(self.buf)
        return not (start.startswith(TLS_RECORD) or start.startswith(H2_START))

    async def _hand_over(self) -> None:
        """The connection, with what it sent so far, to mitmproxy's own handler for this mode:
        the same layers (TLS with the CA, HTTP/2) as `--mode reverse:...` without the front.
        This connection's addons see it end here and mitmproxy's begin."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=MAX_HEAD, loop=loop)
        reader.feed_data(bytes(self.buf))
        if self.eof:
            reader.feed_eof()
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        if self._paused:
            self.transport.resume_reading()
        writer = asyncio.StreamWriter(self.transport, protocol, reader, loop)
        self.handed_over = True
        await self._disconnected()
        instance = mode_servers.ServerInstance.make(self.mode, self.front.proxyserver())
        await instance.handle_stream(reader, writer)
