"""Who may see the dashboard, decided without I/O: login sessions (random ids, bounded, each for
SESSION_SECONDS), how Redis keeps one (a digest, never the cookie), and the throttle on wrong
tokens at the login form.

Usage:
    sessions = Sessions()
    sid = sessions.open(now)                              # the cookie's value; sessions.valid(sid, now)
    member = session_member(admin_token, sid)             # what Redis keeps for every router
    throttle = LoginThrottle()                            # throttle.retry_after(now); throttle.failed(now)
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict, deque

from hpn_router.core.sharedstate import PREFIX

MAX_SESSIONS = 32  # a new login beyond this ends the oldest session
SESSION_SECONDS = 12 * 3600
MAX_FAILED_LOGINS = 10  # wrong tokens per LOGIN_WINDOW_SECONDS, from anyone; then the form waits
LOGIN_WINDOW_SECONDS = 60.0
SESSIONS_ZSET = PREFIX + "dash:sessions"  # in Redis: session_member -> expiry (seconds)


def session_member(admin_token: str, session: str) -> str:
    """A session as Redis keeps it: a digest of the session id and the admin token, so Redis
    holds no cookie a reader could present, and a new admin token ends every session at once
    (its digests differ)."""
    return hashlib.sha256(f"{admin_token}\0{session}".encode()).hexdigest()


class Sessions:
    """Dashboard login sessions: random ids (the cookie's value; never derived from the admin
    token), each valid for SESSION_SECONDS. At most MAX_SESSIONS: a new one ends the oldest."""

    def __init__(self, capacity: int = MAX_SESSIONS, lifetime: float = SESSION_SECONDS) -> None:
        self.capacity = capacity
        self.lifetime = lifetime
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def open(self, now: float) -> str:
        session = secrets.token_urlsafe(32)
        self._expiry[session] = now + self.lifetime
        while len(self._expiry) > self.capacity:
            self._expiry.popitem(last=False)
        return session

    def valid(self, session: str | None, now: float) -> bool:
        if not session:
            return False
        # Constant time over the candidates: a timing difference must not tell how much of a
        # guessed id is right.
        found = None
        for known, expiry in self._expiry.items():
            if secrets.compare_digest(known.encode(), session.encode()):
                found = (known, expiry)
        if found is None:
            return False
        if found[1] <= now:
            del self._expiry[found[0]]
            return False
        return True

    def close(self, session: str | None) -> None:
        if session:
            self._expiry.pop(session, None)

    def clear(self) -> None:
        """The admin token changed: every session it opened ends."""
        self._expiry.clear()


class LoginThrottle:
    """At most `limit` wrong tokens at the login form per `window` seconds, from all callers
    together (bounded memory, whatever the number of addresses): guessing stays hopeless even
    for a short token. The bearer header and open sessions are not throttled, so an attacker
    who fills the window does not lock the operator out."""

    def __init__(self, limit: int = MAX_FAILED_LOGINS, window: float = LOGIN_WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._failures: deque[float] = deque(maxlen=limit)

    def retry_after(self, now: float) -> float | None:
        """Seconds until the form takes a token again, or None when it does now."""
        if len(self._failures) < self.limit:
            return None
        wait = self._failures[0] + self.window - now
        return wait if wait > 0 else None

    def failed(self, now: float) -> None:
        self._failures.append(now)
