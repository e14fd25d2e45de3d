"""What one request's attempts came to: each attempt (for logs and mitmweb), the loop's result,
a key passed over, and the router's own error when no key could answer.

Kept apart from the loop (core/failover.py) so the model fallbacks above it
(core/fallbacks.py), the dashboard and the flow context can name these without the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.errors import NoUsableKeyError, QuotaExhaustedError, RateLimitedError, RouterError, UpstreamError
from hpn_router.core.keypool import KeyPool
from hpn_router.core.transport import AttemptResult, UpstreamRequest


@dataclass(frozen=True, slots=True)
class Attempt:
    """One upstream attempt, for logs and mitmweb. Holds the key's name, never its value."""

    number: int  # 1-based
    key_index: int
    key_name: str
    status: int | None
    outcome: Outcome
    started: float
    ended: float
    provider: str = "gemini"  # whose key it was: one request may try several (a fallback, the model lists)


@dataclass(slots=True)
class FailoverResult:
    result: AttemptResult | None  # the answer to give (translated by the caller)
    error: RouterError | None  # or the router's own error, when no answer is usable
    attempts: list[Attempt] = field(default_factory=list)
    key_name: str | None = None  # the key whose answer is returned
    final: bool = False  # the error is about the client (its rate), not the provider: no fallback


@dataclass(frozen=True, slots=True)
class KeyPassedOver:
    """A key did not answer (timeout, refused connection) often enough that its breaker is
    open: it is skipped until `skipped_seconds` from now."""

    key_name: str
    reason: str
    failures: int
    skipped_seconds: float


_NAMES = {"gemini": "Gemini", "mistral": "Mistral", "anthropic": "Anthropic"}  # for messages


def give_up(pool: KeyPool, request: UpstreamRequest, now: float, attempts: list[Attempt]) -> RouterError:
    """The error for a request no key could answer."""
    if not pool.has_active(now, request.model, request.provider):
        return exhausted(pool, request.model, request.provider, now)
    # Keys remain, but this request used up its attempts.
    final = attempts[-1] if attempts else None
    if final and final.outcome.verdict is Verdict.RATE_LIMITED:
        return RateLimitedError(f"Rate limited on {len(attempts)} attempts; retry shortly.", retry_after=final.outcome.retry_after or 1.0)
    status = final.status if final and final.status else 502
    if final and final.status is None and final.outcome.reason == "timeout":
        status = 504
    reason = final.outcome.reason if final else "no attempt made"
    return UpstreamError(
        f"{_NAMES.get(request.provider, request.provider)} did not answer successfully after {len(attempts)} attempts (last: {reason}).",
        status=status,
    )


def exhausted(pool: KeyPool, model: str, provider: str, now: float) -> RouterError:
    state = pool.exhaustion(now, model, provider)
    name = _NAMES.get(provider, provider)
    if state.all_disabled or state.earliest_recovery is None:
        return NoUsableKeyError(f"Every {name} key in the pool is disabled (invalid, forbidden or not permitted).")
    wait = state.earliest_recovery - now
    if state.daily_only:
        return QuotaExhaustedError(
            f"Every {name} key has used its daily quota for this model; quotas reset at midnight Pacific time.",
            retry_after=wait,
        )
    return RateLimitedError(f"Every {name} key is rate limited for {model}; the first recovers in {wait:.1f}s.", retry_after=wait)
