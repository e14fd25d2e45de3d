"""The attempt loop: one client request, up to 1 + retry_count upstream attempts.

Every kind of failure goes through the same loop: a 429 or a dead key, a 5xx, a refused
connection or a timeout. Each attempt picks the next ACTIVE key (never one already tried for
this request), reports its outcome to the pool, and stops at the first answer that is not
worth retrying elsewhere. A streaming attempt counts as answered once Gemini sent a 200
status line: after that the client is committed to that stream.

The transport, the clock and the sleep are passed in, so the loop is tested without sockets
or sleeps; what is worth logging (a rotation, a key passed over) is handed to callbacks, which
the routing addon logs.

What one request's attempts came to (Attempt, FailoverResult, the give-up error) lives in
core/attempts.py; the fallback to other models above this loop in core/fallbacks.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from hpn_router.core.attempts import Attempt, FailoverResult, KeyPassedOver, give_up
from hpn_router.core.classify import (
    BACKS_OFF,
    Outcome,
    Verdict,
    classify_anthropic_response,
    classify_mistral_response,
    classify_response,
    classify_transport_error,
)
from hpn_router.core.errors import RouterError
from hpn_router.core.keypool import KeyPool
from hpn_router.core.transport import AttemptResult, Transport, UpstreamRequest

RotationHook = Callable[[Attempt, str], None]  # (failed attempt, next key name)
# (key index, request, now) -> whether the key's shared budget admits this request; counts it
# when it does (routers sharing a Redis; the pool has adopted the shared counts either way).
# A RouterError: the client itself is refused (its own rate, checked in the same round trip):
# the request ends with it, on no key and no fallback.
QuotaGate = Callable[[int, UpstreamRequest, float], Awaitable["bool | RouterError"]]
PassedOverHook = Callable[[KeyPassedOver], None]


@dataclass(frozen=True, slots=True)
class WaitPolicy:
    """How long a request may wait for the earliest key recovery when none is active, and
    how long to back off before retrying after a transient failure."""

    max_wait_seconds: float = 0.0
    backoff_seconds: float = 0.0  # doubled per transient failure of this request
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # Requests that wait queue on one FIFO lock, so they are served in arrival order.
    gate: asyncio.Lock = field(default_factory=asyncio.Lock)


async def run_with_failover(
    request: UpstreamRequest,
    *,
    pool: KeyPool,
    transport: Transport,
    retry_count: int,
    clock: Callable[[], float] = time.time,
    on_rotate: RotationHook | None = None,
    on_passed_over: PassedOverHook | None = None,
    waits: WaitPolicy | None = None,
    quota_gate: QuotaGate | None = None,
) -> FailoverResult:
    waits = waits or WaitPolicy()
    spent = _Spent(waits.max_wait_seconds)
    while len(spent.attempts) <= retry_count:
        index = await _admitted_key(request, pool, clock, waits, quota_gate, spent)
        if isinstance(index, RouterError):  # the client itself was refused (its own rate): no key, no fallback
            return FailoverResult(None, index, spent.attempts, final=True)
        if index is None:
            break
        if spent.attempts and on_rotate:
            on_rotate(spent.attempts[-1], pool.name(index))
        if spent.transient_failures and waits.backoff_seconds:
            await waits.sleep(waits.backoff_seconds * 2 ** (spent.transient_failures - 1))
        result, attempt = await _attempt(request, pool, transport, index, clock, len(spent.attempts) + 1)
        spent.attempts.append(attempt)
        if attempt.outcome.verdict is Verdict.UNANSWERED and on_passed_over:
            _report_breaker(pool, index, attempt.ended, on_passed_over)
        if not attempt.outcome.retry_elsewhere:
            return FailoverResult(result, None, spent.attempts, attempt.key_name)
        result.close()
        spent.tried.add(index)
        spent.transient_failures += attempt.outcome.verdict in BACKS_OFF
    return FailoverResult(None, give_up(pool, request, clock(), spent.attempts), spent.attempts)


@dataclass(slots=True)
class _Spent:
    """What one request's loop has used up so far."""

    wait_budget: float  # seconds it may still wait for a key to recover
    tried: set[int] = field(default_factory=set)  # keys tried this round
    attempts: list[Attempt] = field(default_factory=list)
    transient_failures: int = 0  # each doubles the backoff before the next attempt
    refusals: int = 0  # keys the shared budget refused: bounded, each costs a round trip


async def _admitted_key(
    request: UpstreamRequest,
    pool: KeyPool,
    clock: Callable[[], float],
    waits: WaitPolicy,
    quota_gate: QuotaGate | None,
    spent: _Spent,
) -> int | RouterError | None:
    """The next key to send with: usable now (or after waiting for one to recover, within the
    budget) and admitted by the shared budget. A RouterError: the client itself was refused.
    None: no key can be had for this request."""
    while True:
        index = await _usable_key(request, pool, clock, waits, spent)
        if index is None:
            return None
        verdict = await quota_gate(index, request, clock()) if quota_gate is not None else True
        if isinstance(verdict, RouterError):
            return verdict
        if verdict:
            return index
        spent.refusals += 1
        if spent.refusals > len(pool.keys):
            return None
        spent.tried.add(index)  # spent on another router: the pool now knows, the next key is tried


async def _usable_key(request: UpstreamRequest, pool: KeyPool, clock: Callable[[], float], waits: WaitPolicy, spent: _Spent) -> int | None:
    """The next key not yet tried, waiting for the earliest recovery while none is usable and
    the wait budget allows."""
    while (index := _next_key(pool, request, clock(), spent.tried)) is None:
        waited = await _wait_for_recovery(pool, request, clock, waits, spent.wait_budget)
        if waited is None:
            return None
        spent.wait_budget -= waited
    return index


def _next_key(pool: KeyPool, request: UpstreamRequest, now: float, tried: set[int]) -> int | None:
    """The next key of the request's provider not yet tried; once every usable key was tried,
    a new round starts (a key whose 503 or short cooldown is over may serve now), still bounded
    by retry_count."""
    index = pool.pick(now, request.model, tried, request.provider)
    if index is None and tried:
        tried.clear()
        index = pool.pick(now, request.model, tried, request.provider)
    return index


async def _attempt(
    request: UpstreamRequest, pool: KeyPool, transport: Transport, index: int, clock: Callable[[], float], number: int
) -> tuple[AttemptResult, Attempt]:
    """Send once with key `index` and report the outcome to the pool."""
    started = clock()
    pool.record_send(index, started, request.model)
    # Input tokens count against tpm; the request size (~4 bytes a token) is known before
    # sending, Gemini's own count only afterwards.
    pool.record_tokens(index, started, request.model, len(request.body) // 4)
    result = await transport.send(request, pool.keys[index].key)
    ended = clock()
    outcome = _classify(result, request.provider, ended)
    if result.group:
        pool.learn_group(index, result.group)  # before the report: a 429 cools the whole group
    pool.report(index, outcome, ended, request.model)
    return result, Attempt(number, index, pool.name(index), result.status, outcome, started, ended, request.provider)


async def _wait_for_recovery(
    pool: KeyPool, request: UpstreamRequest, clock: Callable[[], float], waits: WaitPolicy, budget: float
) -> float | None:
    """Sleep until the earliest key recovers, if that is within the budget; the seconds
    waited, or None when waiting cannot help (every key disabled, or recovery too far off)."""
    now = clock()
    recovery = pool.exhaustion(now, request.model, request.provider).earliest_recovery
    if recovery is None or recovery - now > budget or budget <= 0:
        return None
    async with waits.gate:
        delay = max(0.0, recovery - clock())
        await waits.sleep(delay)
    return max(delay, 0.001)  # never a zero step, so the budget always shrinks


def _report_breaker(pool: KeyPool, index: int, now: float, on_passed_over: PassedOverHook) -> None:
    breaker = pool.breaker_of(index, now)
    if breaker is not None:
        on_passed_over(KeyPassedOver(pool.name(index), breaker.reason, breaker.failures, round(breaker.until - now, 1)))


def _classify(result: AttemptResult, provider: str, now: float) -> Outcome:
    if result.status is None:
        return classify_transport_error(result.error or "no answer")
    if provider == "mistral":
        return classify_mistral_response(result.status, result.body, result.headers)
    if provider == "anthropic":
        return classify_anthropic_response(result.status, result.body, result.headers, now)
    return classify_response(result.status, result.body)
