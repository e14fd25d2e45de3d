"""Who may use the router, and how much: client tokens, per-client request rates, and the
shape limits that keep a hostile body from costing memory or a crash. Pure."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections import deque

MINUTE = 60.0


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def basic_password(authorization: str | None) -> str | None:
    """The password of `Basic base64(user:password)`, whatever the user name, or None.
    The proxy listener takes a client token as the password (`http://hpn:TOKEN@host:8888`)."""
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # not base64, not ASCII, or not UTF-8 inside
        return None
    _, colon, password = decoded.partition(":")  # a user name has no colon; a password may
    return password if colon and password else None


def match_token(presented: str | None, tokens: tuple[str, ...]) -> int | None:
    """Index of the configured token that `presented` equals, or None. Compares against
    every token in constant time, so timing tells nothing about how much matched."""
    if presented is None:
        return None
    found = None
    for index, token in enumerate(tokens):
        if hmac.compare_digest(presented.encode(), token.encode()):
            found = index
    return found


_STRUCTURE = re.compile(rb'[\[\]{}"\\]')


def json_too_deep(raw: bytes, limit: int) -> bool:
    """True when arrays/objects nest deeper than `limit`. Checked before json.loads, whose
    recursion on a deeply nested body would raise RecursionError (or worse). Only the
    structural bytes are visited (a regex finds them), so a large base64 image costs little."""
    depth = 0
    in_string = escaped = False
    escape_at = -2
    for match in _STRUCTURE.finditer(raw):
        char = match.group()
        if escaped:
            escaped = False
            if match.start() == escape_at + 1:
                continue  # the escaped character itself
        if in_string:
            if char == b"\\":
                escaped, escape_at = True, match.start()
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif char in (b"]", b"}"):
            depth -= 1
    return False


class ClientRateLimiter:
    """A sliding one-minute window of requests per client."""

    def __init__(self, rpm: int) -> None:
        self.rpm = rpm
        self._windows: dict[str, deque[float]] = {}

    def admit(self, client: str, now: float) -> float | None:
        """None when admitted (and counted); else seconds until the client may retry."""
        if self.rpm <= 0:
            return None
        window = self._windows.setdefault(client, deque())
        while window and now - window[0] >= MINUTE:
            window.popleft()
        if len(window) >= self.rpm:
            return window[0] + MINUTE - now
        window.append(now)
        return None
