"""Fallback across models and providers, over the attempt loop with a scripted transport."""

from __future__ import annotations

from failovertools import (
    MISTRAL,
    MODEL,
    OK,
    REQUEST,
    Clock,
    ScriptedTransport,
    invalid_key,
    rate_limited,
    to_mistral,
    two_provider_pool,
)
from hpn_router.core.errors import InvalidRequestError, NoUsableKeyError, QuotaExhaustedError, RateLimitedError
from hpn_router.core.failover import run_with_failover
from hpn_router.core.fallbacks import Fallback, fallback_reason, run_with_fallbacks
from hpn_router.core.transport import AttemptResult


def mistral_429(seconds: str = "5") -> AttemptResult:
    return AttemptResult(status=429, headers={"retry-after": seconds}, body=b'{"message": "Requests rate limit exceeded"}')


async def fall_back(pool, transport, clock, fallbacks, *, can_serve=lambda provider: True, waits: list | None = None):
    """The loop over models; `log` gets its fallbacks and skips, `waits` (when given) each
    model's attempt and whether it could wait for a key's recovery."""
    log: list = []

    async def attempt(request, may_wait):
        if waits is not None:
            waits.append((request.model, may_wait))
        return await run_with_failover(request, pool=pool, transport=transport, retry_count=3, clock=clock)

    outcome = await run_with_fallbacks(
        REQUEST,
        fallbacks,
        attempt=attempt,
        can_serve=can_serve,
        on_fallback=lambda failed, to, why: log.append(("fallback", failed, to, why)),
        on_skip=lambda name, why: log.append(("skip", name, why)),
    )
    return outcome, log


async def test_every_gemini_key_cooling_moves_to_the_fallback_model():
    transport = ScriptedTransport({"G1": [rate_limited()], "G2": [rate_limited()], "M1": [OK]})
    waits: list = []
    outcome, log = await fall_back(two_provider_pool(), transport, Clock(), [to_mistral()], waits=waits)
    assert outcome.outcome.error is None and outcome.outcome.result.status == 200
    assert (outcome.served, outcome.request.provider, outcome.outcome.key_name) == (1, "mistral", "m1")
    assert transport.calls == ["G1", "G2", "M1"]
    assert log == [("fallback", MODEL, MISTRAL, "all gemini keys cooling")]
    assert [(r.provider, r.model) for r in outcome.tried] == [("gemini", MODEL), ("mistral", MISTRAL)]
    # Only the last model waits for a key's recovery: the first hands over to the fallback at once.
    assert waits == [(MODEL, False), (MISTRAL, True)]


async def test_a_fallback_is_planned_only_when_reached():
    planned: list = []
    transport = ScriptedTransport({"G1": [OK], "G2": [OK], "M1": [OK]})
    outcome, log = await fall_back(two_provider_pool(), transport, Clock(), [to_mistral(planned)])
    assert (outcome.served, planned, log) == (0, [], [])


async def test_a_client_error_never_falls_back():
    bad = AttemptResult(status=400, body=b'{"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad schema"}}')
    transport = ScriptedTransport({"G1": [bad], "G2": [bad], "M1": [OK]})
    outcome, log = await fall_back(two_provider_pool(), transport, Clock(), [to_mistral()])
    assert (outcome.served, outcome.outcome.result.status, log) == (0, 400, [])
    assert transport.calls == ["G1"]


async def test_5xx_on_every_try_falls_back():
    down = AttemptResult(status=503, body=b'{"error": {"code": 503, "status": "UNAVAILABLE", "message": "overloaded"}}')
    transport = ScriptedTransport({"G1": [down], "G2": [down], "M1": [OK]})
    outcome, log = await fall_back(two_provider_pool(), transport, Clock(), [to_mistral()])
    assert outcome.served == 1 and outcome.outcome.result.status == 200
    assert log == [("fallback", MODEL, MISTRAL, "gemini failed on every try (503)")]


async def test_a_provider_without_keys_is_skipped_and_named():
    transport = ScriptedTransport({"G1": [rate_limited("30s")], "G2": [rate_limited("30s")], "M1": [OK]})
    outcome, log = await fall_back(two_provider_pool(), transport, Clock(), [to_mistral()], can_serve=lambda p: p == "gemini")
    assert isinstance(outcome.outcome.error, RateLimitedError) and outcome.served == 0
    assert log == [("skip", MISTRAL, "the pool has no mistral keys")]
    assert "M1" not in transport.calls


async def test_a_fallback_that_cannot_take_the_request_is_skipped():
    def refuse():
        raise InvalidRequestError("audio content is not supported for Mistral models")

    transport = ScriptedTransport({"G1": [rate_limited()], "G2": [rate_limited()], "M1": [OK]})
    outcome, log = await fall_back(two_provider_pool(), transport, Clock(), [Fallback(MISTRAL, "mistral", refuse)])
    assert isinstance(outcome.outcome.error, RateLimitedError)
    assert log == [("skip", MISTRAL, "mistral cannot take this request: audio content is not supported for Mistral models")]


async def test_every_provider_exhausted_is_one_429_with_the_earliest_recovery():
    transport = ScriptedTransport({"G1": [rate_limited("30s")], "G2": [rate_limited("30s")], "M1": [mistral_429("5")]})
    outcome, log = await fall_back(two_provider_pool(), transport, Clock(), [to_mistral()])
    error = outcome.outcome.error
    assert isinstance(error, RateLimitedError) and error.status == 429
    assert error.retry_after == 5.0 and error.headers()["retry-after"] == "5"
    assert MODEL in error.message and MISTRAL in error.message
    assert transport.calls == ["G1", "G2", "M1"]


async def test_all_disabled_everywhere_keeps_the_first_models_error():
    transport = ScriptedTransport({"G1": [invalid_key()], "G2": [invalid_key()], "M1": [AttemptResult(status=401, body=b"{}")]})
    outcome, _ = await fall_back(two_provider_pool(), transport, Clock(), [to_mistral()])
    assert isinstance(outcome.outcome.error, NoUsableKeyError)
    assert "Gemini" in outcome.outcome.error.message


def test_fallback_reasons_name_the_provider():
    assert fallback_reason(QuotaExhaustedError("x", retry_after=5), "gemini") == "all gemini keys out of daily quota"
    assert fallback_reason(NoUsableKeyError("x"), "mistral") == "every mistral key disabled"
