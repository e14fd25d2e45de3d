"""Fallback across models and providers: `run_with_fallbacks` moves a request from one model
to the next configured one (`fallbacks:`) when the first model's provider could not answer at
all (every key cooling, parked or disabled, or a 5xx/overload on every try): the attempt loop
(core/failover.py) gave up with the router's own error, so nothing has reached the client yet.
An answer, a 4xx of the client's own making included, is final: it never falls back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from hpn_router.core.attempts import FailoverResult
from hpn_router.core.errors import (
    InvalidRequestError,
    NoUsableKeyError,
    QuotaExhaustedError,
    RateLimitedError,
    RouterError,
    UpstreamError,
)
from hpn_router.core.transport import UpstreamRequest


@dataclass(frozen=True, slots=True)
class Fallback:
    """A model to try when the ones before it could not answer: its name as configured (for
    logs), its provider, and how to build its upstream request. Built only when reached (most
    requests never need it); `plan` raises InvalidRequestError when the provider cannot take
    this request (audio for a text-only model), and the fallback is skipped."""

    name: str
    provider: str
    plan: Callable[[], UpstreamRequest]


@dataclass(slots=True)
class FallbackOutcome:
    outcome: FailoverResult  # the answer or the router's error the client gets
    request: UpstreamRequest  # what was sent for it (the last model tried)
    served: int = 0  # 0: the first model; i: fallbacks[i - 1]
    tried: list[UpstreamRequest] = field(default_factory=list)  # every model the pool was asked for, in order


FallbackHook = Callable[[str, str, str], None]  # (model that failed, next model, why)
SkipHook = Callable[[str, str], None]  # (fallback model, why it is skipped)
# (request, may wait for a key to recover): only the last model of the chain waits, the
# others hand over to the next model at once.
Attempter = Callable[[UpstreamRequest, bool], Awaitable[FailoverResult]]


async def run_with_fallbacks(
    first: UpstreamRequest,
    fallbacks: Sequence[Fallback],
    *,
    attempt: Attempter,
    can_serve: Callable[[str], bool],
    on_fallback: FallbackHook | None = None,
    on_skip: SkipHook | None = None,
) -> FallbackOutcome:
    """`attempt` (run_with_failover with the provider's pool and transport) for `first`, then
    for each fallback in order while the previous one ended in the router's own error. A
    fallback whose provider the router cannot serve (`can_serve`: no keys, no transport), or
    that cannot take the request, is skipped. When every model failed, one error for all."""
    result = FallbackOutcome(await attempt(first, not fallbacks), first, tried=[first])
    errors = [(first.model, result.outcome.error)]
    failed_name = first.model
    for index, fallback in enumerate(fallbacks, 1):
        error = result.outcome.error
        if error is None or result.outcome.final:
            return result
        if not can_serve(fallback.provider):
            _skip(on_skip, fallback.name, f"the pool has no {fallback.provider} keys")
            continue
        try:
            request = fallback.plan()
        except InvalidRequestError as e:
            _skip(on_skip, fallback.name, f"{fallback.provider} cannot take this request: {e.message}")
            continue
        if on_fallback:
            on_fallback(failed_name, fallback.name, fallback_reason(error, result.request.provider))
        result = FallbackOutcome(await attempt(request, index == len(fallbacks)), request, index, result.tried + [request])
        errors.append((fallback.name, result.outcome.error))
        failed_name = fallback.name
    if result.outcome.error is not None and len(errors) > 1:
        result.outcome.error = _all_failed([(name, e) for name, e in errors if e is not None])
    return result


def _skip(on_skip: SkipHook | None, name: str, why: str) -> None:
    if on_skip:
        on_skip(name, why)


def fallback_reason(error: RouterError, provider: str) -> str:
    """Why a model's provider could not answer, in a few words for the rotation log."""
    if isinstance(error, RateLimitedError):
        return f"all {provider} keys cooling"
    if isinstance(error, QuotaExhaustedError):
        return f"all {provider} keys out of daily quota"
    if isinstance(error, NoUsableKeyError):
        return f"every {provider} key disabled"
    if isinstance(error, UpstreamError):
        return f"{provider} failed on every try ({error.status})"
    return error.message


def _all_failed(errors: list[tuple[str, RouterError]]) -> RouterError:
    """One error for a request no model could answer: a 429 with the earliest recovery when
    some model will recover (the client retries then), else the first model's error."""
    waits = [e.retry_after for _, e in errors if e.retry_after is not None]
    if not waits:
        return errors[0][1]
    names = ", ".join(name for name, _ in errors)
    wait = min(waits)
    if all(isinstance(e, QuotaExhaustedError) for _, e in errors):
        return QuotaExhaustedError(f"Every model tried ({names}) has used its daily quota.", retry_after=wait)
    return RateLimitedError(
        f"Every model tried ({names}) is rate limited or unavailable; the first recovers in {wait:.1f}s.", retry_after=wait
    )
