"""Usage counting the way Gemini counts quotas: per Cloud project and model, in a sliding
minute (requests and input tokens) and per Pacific calendar day (requests).

Pure: every method takes the time. The key pool asks `headroom()` before it picks a key, so
a project whose budget is spent is skipped before Gemini has to refuse it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from hpn_router.core.classify import PACIFIC

MINUTE = 60.0


@dataclass(frozen=True, slots=True)
class Limits:
    """A budget for one project and model; None means unknown / unlimited."""

    rpm: int | None = None
    rpd: int | None = None
    tpm: int | None = None

    def merged(self, learned: Limits) -> Limits:
        """Configured limits win; learned ones fill the gaps."""
        return Limits(self.rpm or learned.rpm, self.rpd or learned.rpd, self.tpm or learned.tpm)


def pacific_day(now: float) -> str:
    """The quota day `now` falls in: per-day quotas reset at midnight America/Los_Angeles."""
    return datetime.fromtimestamp(now, PACIFIC).date().isoformat()


@dataclass
class Usage:
    requests: deque[float] = field(default_factory=deque)  # send times in the last minute
    tokens: deque[tuple[float, int]] = field(default_factory=deque)  # (time, input tokens)
    day: str = ""
    day_requests: int = 0

    def prune(self, now: float) -> None:
        while self.requests and now - self.requests[0] >= MINUTE:
            self.requests.popleft()
        while self.tokens and now - self.tokens[0][0] >= MINUTE:
            self.tokens.popleft()
        today = pacific_day(now)
        if today != self.day:
            self.day, self.day_requests = today, 0

    def record_request(self, now: float) -> None:
        self.prune(now)
        self.requests.append(now)
        self.day_requests += 1

    def record_tokens(self, now: float, tokens: int) -> None:
        self.prune(now)
        if tokens > 0:
            self.tokens.append((now, tokens))

    def minute_tokens(self) -> int:
        return sum(t for _, t in self.tokens)


def headroom(usage: Usage | None, limits: Limits, now: float) -> float | None:
    """The smallest remaining fraction of any configured budget (0 = spent), or None when no
    limit is known. A request is admitted while headroom is > 0."""
    if limits == Limits():
        return None
    if usage is None:
        return 1.0
    usage.prune(now)
    fractions = []
    if limits.rpm:
        fractions.append(1 - len(usage.requests) / limits.rpm)
    if limits.rpd:
        fractions.append(1 - usage.day_requests / limits.rpd)
    if limits.tpm:
        fractions.append(1 - usage.minute_tokens() / limits.tpm)
    return max(0.0, min(fractions))


def next_admission(usage: Usage, limits: Limits, now: float) -> float | None:
    """When a spent budget frees up again (for waiting requests and Retry-After)."""
    usage.prune(now)
    times = []
    if limits.rpm and len(usage.requests) >= limits.rpm:
        times.append(usage.requests[0] + MINUTE)
    if limits.tpm and usage.minute_tokens() >= limits.tpm and usage.tokens:
        times.append(usage.tokens[0][0] + MINUTE)
    if limits.rpd and usage.day_requests >= limits.rpd:
        return None  # only the Pacific midnight reset helps; the caller knows when that is
    return max(times) if times else now
