"""Who may use the router, and how much: client tokens, per-client request rates, and the
shape limits that keep a hostile body from costing memory or a crash. Pure."""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import re
from collections import deque
from dataclasses import dataclass
from typing import Literal

from hpn_router.core.errors import RateLimitedError

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


# Outside strings, the bytes that matter to the shape: brackets and the quote opening a string.
_SHAPE = re.compile(rb'[\[\]{}"]')
_OPENERS = frozenset(b"[{")
_QUOTE = ord('"')
# A surrogate escape that is not half of a pair (high then low): JSON allows it, Python's
# json.loads accepts it, and the str it makes cannot be encoded to UTF-8 anywhere later.
_HIGH = rb"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW = rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_LONE_SURROGATE = re.compile(_HIGH + rb"(?!" + _LOW + rb")|(?<!" + _HIGH + rb")" + _LOW)


def json_excess(raw: bytes, *, max_depth: int, max_items: int) -> Literal["depth", "items"] | None:
    """Which shape limit a JSON body exceeds ("depth" or "items"), or None. Checked before
    json.loads, whose recursion on deep nesting raises RecursionError and whose object graph
    for millions of tiny values costs a gigabyte and seconds of the event loop.

    Items are containers, strings and the commas between values: about one per value. The
    scan stops at the first excess, so refusing costs time in proportion to `max_items`, not
    to the body; strings are skipped at memchr speed (a large base64 image costs little).
    Invalid JSON stops the scan early and is left to json.loads to refuse."""
    raw = _without_escaped_quotes(raw)
    items = depth = pos = 0
    search, find, count = _SHAPE.search, raw.find, raw.count
    while (match := search(raw, pos)) is not None:
        at = match.start()
        if at > pos:
            items += count(b",", pos, at)
        char = raw[at]
        if char == _QUOTE:
            end = find(b'"', at + 1)
            if end < 0:
                return None  # an unterminated string: not JSON
            pos = end + 1
            items += 1
        else:
            pos = at + 1
            if char in _OPENERS:
                depth += 1
                items += 1
                if depth > max_depth:
                    return "depth"
            else:
                depth -= 1
                if depth < 0:
                    return None  # a closer without an opener: not JSON
        if items > max_items:
            return "items"
    items += count(b",", pos)
    return "items" if items > max_items else None


def _without_escaped_quotes(raw: bytes) -> bytes:
    r"""The body with every `\\` and `\"` escape removed, so each remaining quote opens or
    closes a string. Removing `\\` first, left to right, pairs backslashes as JSON does."""
    if b"\\" not in raw:
        return raw
    return raw.replace(b"\\\\", b"").replace(b'\\"', b"")


def has_lone_surrogate(raw: bytes) -> bool:
    r"""Whether a JSON body escapes half of a UTF-16 surrogate pair alone (`"\ud800"`)."""
    if b"\\u" not in raw:
        return False
    # Each escaped backslash becomes two plain bytes: `\\ud800` in the JSON is the text `\ud800`,
    # and no two escapes become adjacent that were not.
    return _LONE_SURROGATE.search(raw.replace(b"\\\\", b"__")) is not None


def minute_bucket(now: float) -> tuple[int, float]:
    """The fixed minute `now` falls in (its number since the epoch) and how far into it, 0..1."""
    bucket = int(now // MINUTE)
    return bucket, now / MINUTE - bucket


def shared_estimate(current: int, previous: int, elapsed: float) -> int:
    """A sliding minute's count from two fixed ones (what Redis keeps across routers): this
    minute's requests plus the part of the previous minute's still inside the window, rounded
    up (a limit is never exceeded by a fraction of a request, at a minute's edge either)."""
    return current + math.ceil(previous * (1.0 - elapsed))


def shared_retry_after(rpm: int, current: int, previous: int, now: float) -> float:
    """Seconds until a client refused by the shared window may try again: until the previous
    minute's share has slid out far enough, or (this minute alone is full) the next minute."""
    bucket, elapsed = minute_bucket(now)
    to_next_minute = (bucket + 1) * MINUTE - now
    if current >= rpm or previous <= 0:
        return to_next_minute
    # the estimate drops below rpm once previous * (1 - f) <= rpm - current - 1
    frees_at = 1.0 - (rpm - current - 1) / previous
    return max(0.0, min(to_next_minute, (frees_at - elapsed) * MINUTE))


ClientCount = tuple[bool, int, int]  # a shared window's answer: admitted, this minute's count, the previous minute's


@dataclass(frozen=True, slots=True)
class ClientWindow:
    """One client request to check against `rpm` in the minute every router shares (Redis). It
    is checked by whichever Redis round trip the request makes first before its upstream call
    (the cache's lookup, the quota gate) or, when none does, alone (`edge/sharedstate.py`)."""

    client: str
    rpm: int
    now: float  # wall-clock seconds: every router agrees on the minutes

    @property
    def minute(self) -> int:
        return minute_bucket(self.now)[0]

    @property
    def weight(self) -> float:
        """How much of the previous minute's count is still inside the sliding window."""
        return 1.0 - minute_bucket(self.now)[1]

    def refusal(self, current: int, previous: int) -> RateLimitedError:
        """The 429 for a client the shared window refused (`current`, `previous`: its counts)."""
        return RateLimitedError(
            f"Client rate limit of {self.rpm} requests per minute reached.",
            retry_after=shared_retry_after(self.rpm, current, previous, self.now),
        )


def local_share(rpm: int, live_routers: int) -> int:
    """A client's limit on one router while the shared count is out of reach: the limit split
    between the routers last seen alive (at least one request a minute)."""
    return max(1, rpm // max(1, live_routers)) if rpm > 0 else 0


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
