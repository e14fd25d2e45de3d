"""Who may use the router, and how much: client tokens, per-client request rates, and the
shape limits that keep a hostile body from costing memory or a crash. Pure."""

from __future__ import annotations

import hmac
import re
from collections import deque

MINUTE = 60.0


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def match_token(presented: str | None, tokens: tuple[str, ...]) -> int | None:
    """Index of the configured token that `presented` equals, or None. Compares against
    every token in constant time, so timing tells nothing about how much matched. A header
    that is not UTF-8 arrives surrogate-escaped (mitmproxy's decoding): it matches no token."""
    if presented is None:
        return None
    raw = presented.encode("utf-8", "surrogateescape")
    found = None
    for index, token in enumerate(tokens):
        if hmac.compare_digest(raw, token.encode()):
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
