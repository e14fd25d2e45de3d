"""Usage counting the way Gemini counts quotas: per Cloud project and model, in a sliding
minute (requests and input tokens) and per Pacific calendar day (requests).

Pure: every method takes the time. The key pool asks `headroom()` before it picks a key, so
a project whose budget is spent is skipped before Gemini has to refuse it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from hpn_router.core.classify import PACIFIC, next_pacific_midnight

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
    """Counts in one-second buckets, so memory stays bounded (at most 60 buckets a window)
    however many requests a minute brings."""

    requests: deque[list[float]] = field(default_factory=deque)  # [second, count]
    tokens: deque[list[float]] = field(default_factory=deque)  # [second, input tokens]
    day: str = ""
    day_requests: int = 0
    day_ends: float = float("-inf")  # the next Pacific midnight: no time-zone maths per request

    def prune(self, now: float) -> None:
        for window in (self.requests, self.tokens):
            while window and now - window[0][0] >= MINUTE:
                window.popleft()
        if now >= self.day_ends or now < self.day_ends - 25 * 3600:  # a new day (or a clock set back)
            today = pacific_day(now)
            if today != self.day:
                self.day, self.day_requests = today, 0
            self.day_ends = next_pacific_midnight(now)

    def record_request(self, now: float) -> None:
        self.prune(now)
        _add(self.requests, now, 1)
        self.day_requests += 1

    def record_tokens(self, now: float, tokens: int) -> None:
        self.prune(now)
        if tokens > 0:
            _add(self.tokens, now, tokens)

    def raise_to(self, now: float, minute_requests: int, day_requests: int, minute_tokens: int) -> None:
        """At least these counts (what every router sharing a Redis spent together): the
        difference is counted at `now`, so it slides out of the minute like a request would."""
        self.prune(now)
        if (extra := minute_requests - self.minute_requests()) > 0:
            _add(self.requests, now, extra)
        if (extra := minute_tokens - self.minute_tokens()) > 0:
            _add(self.tokens, now, extra)
        self.day_requests = max(self.day_requests, day_requests)

    def minute_requests(self) -> int:
        return int(sum(count for _, count in self.requests))

    def minute_tokens(self) -> int:
        return int(sum(count for _, count in self.tokens))

    def oldest_request(self) -> float:
        return self.requests[0][0]

    def oldest_tokens(self) -> float:
        return self.tokens[0][0]


def _add(window: deque[list[float]], now: float, amount: int) -> None:
    second = float(int(now))
    if window and window[-1][0] == second:
        window[-1][1] += amount
    else:
        window.append([second, amount])


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
        fractions.append(1 - usage.minute_requests() / limits.rpm)
    if limits.rpd:
        fractions.append(1 - usage.day_requests / limits.rpd)
    if limits.tpm:
        fractions.append(1 - usage.minute_tokens() / limits.tpm)
    return max(0.0, min(fractions))


def next_admission(usage: Usage, limits: Limits, now: float) -> float | None:
    """When a spent budget frees up again (for waiting requests and Retry-After)."""
    usage.prune(now)
    times = []
    if limits.rpm and usage.minute_requests() >= limits.rpm:
        times.append(usage.oldest_request() + MINUTE)
    if limits.tpm and usage.minute_tokens() >= limits.tpm and usage.tokens:
        times.append(usage.oldest_tokens() + MINUTE)
    if limits.rpd and usage.day_requests >= limits.rpd:
        return None  # only the Pacific midnight reset helps; the caller knows when that is
    return max(times) if times else now
