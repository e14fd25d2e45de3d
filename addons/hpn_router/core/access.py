"""Who may use the router, and how much: client tokens, per-client request rates, and the
shape limits that keep a hostile body from costing memory or a crash. Pure."""

from __future__ import annotations

import hmac
from collections import deque

MINUTE = 60.0


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


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


def json_too_deep(raw: bytes, limit: int) -> bool:
    """True when arrays/objects nest deeper than `limit`. Checked before json.loads, whose
    recursion on a deeply nested body would raise RecursionError (or worse)."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
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
