"""Test-only egress guard: no connection of the router process may leave the loopback range.

Usage (tests/procs.py loads it into every router it starts, before router.py):
    mitmdump -s tests/guard_addon.py -s addons/router.py ...

Two nets, each printing EGRESS-BLOCKED (the e2e conftest fails the test on that marker):
- `server_connect`: every connection mitmproxy opens (forwarded requests, tunnels, relay);
  refused unless its address is a loopback IP (127.0.0.0/8, ::1) or "localhost".
- `socket.socket.connect`: every other connection of the process, such as the router's own
  aiohttp attempts, which mitmproxy's hooks never see.
"""

from __future__ import annotations

import ipaddress
import socket
import sys

MARKER = "EGRESS-BLOCKED"


def is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0]).is_loopback
    except ValueError:
        return False


def _report(what: str) -> None:
    print(f"{MARKER}: {what}", file=sys.stderr, flush=True)


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _allowed(sock: socket.socket, address: object) -> bool:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return True  # Unix sockets, socketpairs
    return isinstance(address, tuple) and is_loopback(address[0])


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _allowed(self, address):
        _report(f"socket connect to {address!r}")
        raise ConnectionRefusedError(f"{MARKER}: {address!r} is outside the loopback range")
    return _connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _allowed(self, address):
        _report(f"socket connect_ex to {address!r}")
        return 111  # ECONNREFUSED
    return _connect_ex(self, address)  # type: ignore[arg-type]


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


class EgressGuard:
    def server_connect(self, data) -> None:  # type: ignore[no-untyped-def]
        address = data.server.address
        if address and not is_loopback(address[0]):
            _report(f"mitmproxy server connection to {address[0]}:{address[1]}")
            data.server.error = f"{MARKER}: {address[0]} is outside the loopback range"


addons = [EgressGuard()]
