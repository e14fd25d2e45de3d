"""The attempt loop with a scripted transport and a fake clock: no sockets, no sleeps."""

from __future__ import annotations

import asyncio

from failovertools import (
    MODEL,
    OK,
    REQUEST,
    Clock,
    ScriptedTransport,
    invalid_key,
    make_pool,
    rate_limited,
    run,
    to_mistral,
    two_provider_pool,
)
from hpn_router.config import KeyConfig
from hpn_router.core.attempts import KeyPassedOver
from hpn_router.core.classify import classify_response
from hpn_router.core.errors import RateLimitedError
from hpn_router.core.failover import run_with_failover
from hpn_router.core.fallbacks import run_with_fallbacks
from hpn_router.core.keypool import KeyPool
from hpn_router.core.transport import AttemptResult, UpstreamRequest


async def test_429_fails_over_to_next_key_and_logs_rotation():
    transport = ScriptedTransport({"K1": [rate_limited()], "K2": [OK], "K3": [OK]})
    rotations: list = []
    result = await run(make_pool(), transport, Clock(), rotations=rotations)
    assert result.result is OK and result.key_name == "key_2"
    assert transport.calls == ["K1", "K2"]
    assert rotations == [("key_1", "key_2", 1, "429 Too Many Requests")]


async def test_cooled_key_is_skipped_until_retry_delay_passes():
    clock = Clock()
    pool = make_pool(2)
    transport = ScriptedTransport({"K1": [rate_limited("10s"), OK], "K2": [OK]})
    await run(pool, transport, clock)
    for _ in range(4):
        await run(pool, transport, clock)
    assert transport.calls == ["K1", "K2", "K2", "K2", "K2", "K2"]
    clock.now += 11
    await run(pool, transport, clock)
    await run(pool, transport, clock)
    assert sorted(transport.calls[-2:]) == ["K1", "K2"]


async def test_invalid_key_is_disabled_and_never_reused():
    pool = make_pool(2)
    transport = ScriptedTransport({"K1": [invalid_key()], "K2": [OK]})
    for _ in range(5):
        assert (await run(pool, transport, Clock())).result is OK
    assert transport.calls.count("K1") == 1


async def test_503_is_retried_elsewhere_without_penalty():
    pool = make_pool(2)
    transport = ScriptedTransport({"K1": [AttemptResult(status=503, body=b"{}"), OK], "K2": [OK]})
    result = await run(pool, transport, Clock())
    assert result.key_name == "key_2"
    assert pool.active_count() == 2


async def test_connection_errors_and_timeouts_are_retried():
    transport = ScriptedTransport({"K1": [AttemptResult(error="timeout")], "K2": [AttemptResult(error="connection error")], "K3": [OK]})
    result = await run(make_pool(), transport, Clock())
    assert result.result is OK and len(result.attempts) == 3


async def test_client_error_is_returned_without_retry():
    bad = AttemptResult(status=400, body=b'{"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad"}}')
    transport = ScriptedTransport({"K1": [bad], "K2": [OK]})
    result = await run(make_pool(2), transport, Clock())
    assert result.result is bad and transport.calls == ["K1"]


async def test_concurrent_requests_are_spread_and_none_lost():
    class SlowTransport(ScriptedTransport):
        async def send(self, request, key):
            await asyncio.sleep(0)
            return await super().send(request, key)

    transport = SlowTransport({"K1": [OK], "K2": [OK], "K3": [OK]})
    pool = make_pool()
    results = await asyncio.gather(*(run(pool, transport, Clock()) for _ in range(99)))
    assert all(r.result is OK for r in results)
    assert len(transport.calls) == 99
    assert {k: transport.calls.count(k) for k in ("K1", "K2", "K3")} == {"K1": 33, "K2": 33, "K3": 33}


class SleepingClock(Clock):
    """A clock whose sleep advances time: waiting costs no real time."""

    def __init__(self) -> None:
        super().__init__()
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_a_request_waits_for_the_earliest_recovery_within_budget():
    from hpn_router.core.failover import WaitPolicy

    clock = SleepingClock()
    pool = make_pool(1)
    transport = ScriptedTransport({"K1": [rate_limited("3s"), OK]})
    first = await run(pool, transport, clock)
    assert isinstance(first.error, RateLimitedError)  # every key tried within this request: no wait
    result = await run_with_failover(
        REQUEST, pool=pool, transport=transport, retry_count=3, clock=clock, waits=WaitPolicy(max_wait_seconds=5, sleep=clock.sleep)
    )
    assert result.result is OK
    assert clock.slept == [3.0]


async def test_recovery_beyond_the_budget_answers_429_at_once():
    from hpn_router.core.failover import WaitPolicy

    clock = SleepingClock()
    pool = make_pool(1)
    transport = ScriptedTransport({"K1": [rate_limited("30s"), OK]})
    await run(pool, transport, clock)
    result = await run_with_failover(
        REQUEST, pool=pool, transport=transport, retry_count=3, clock=clock, waits=WaitPolicy(max_wait_seconds=5, sleep=clock.sleep)
    )
    assert isinstance(result.error, RateLimitedError)
    assert clock.slept == []


async def test_backoff_doubles_between_transient_failures():
    from hpn_router.core.failover import WaitPolicy

    clock = SleepingClock()
    fail = AttemptResult(status=503, body=b"{}")
    transport = ScriptedTransport({"K1": [fail], "K2": [fail], "K3": [OK]})
    result = await run_with_failover(
        REQUEST, pool=make_pool(), transport=transport, retry_count=3, clock=clock, waits=WaitPolicy(backoff_seconds=0.1, sleep=clock.sleep)
    )
    assert result.result is OK
    assert clock.slept == [0.1, 0.2]


async def test_waiting_requests_are_served_in_arrival_order():
    from hpn_router.core.failover import WaitPolicy

    order: list[int] = []

    class Recording(ScriptedTransport):
        async def send(self, request, key):
            order.append(int(request.body))
            return OK

    clock = Clock()
    pool = make_pool(1)
    pool.report(0, classify_response(429, rate_limited("1s").body), clock.now, MODEL)

    async def real_sleep(seconds: float) -> None:
        await asyncio.sleep(0.01)
        clock.now += seconds

    waits = WaitPolicy(max_wait_seconds=5, sleep=real_sleep)
    transport = Recording({"K1": [OK]})

    async def one(i: int):
        request = UpstreamRequest("POST", REQUEST.path, "", str(i).encode(), False, MODEL)
        return await run_with_failover(request, pool=pool, transport=transport, retry_count=0, clock=clock, waits=waits)

    tasks = []
    for i in range(5):
        tasks.append(asyncio.ensure_future(one(i)))
        await asyncio.sleep(0)
    results = await asyncio.gather(*tasks)
    assert all(r.result is OK for r in results)
    assert order == [0, 1, 2, 3, 4]


async def test_when_every_key_was_tried_a_new_round_starts_within_retry_count():
    transport = ScriptedTransport({"K1": [AttemptResult(status=503, body=b"{}"), OK]})
    result = await run(make_pool(1), transport, Clock(), retry_count=3)
    assert result.result is OK
    assert transport.calls == ["K1", "K1"]


async def test_a_key_that_timed_out_is_not_tried_by_the_next_requests():
    transport = ScriptedTransport({"K1": [AttemptResult(error="timeout")], "K2": [OK], "K3": [OK]})
    pool, clock = make_pool(), Clock()
    for _ in range(4):
        assert (await run(pool, transport, clock)).result is OK
        clock.now += 1
    assert transport.calls.count("K1") == 1
    clock.now += 5  # the breaker's first interval is over: the key gets another chance
    for _ in range(3):
        await run(pool, transport, clock)
    assert transport.calls.count("K1") == 2


async def test_a_key_passed_over_is_reported_to_the_caller_by_name_for_logging():
    transport = ScriptedTransport({"K1": [AttemptResult(error="timeout")], "K2": [rate_limited()], "K3": [OK]})
    passed_over: list[KeyPassedOver] = []
    result = await run_with_failover(
        REQUEST, pool=make_pool(), transport=transport, retry_count=3, clock=Clock(), on_passed_over=passed_over.append
    )
    assert result.result is OK
    assert passed_over == [KeyPassedOver("key_1", "timeout", 1, 5.0)]  # the 429 is a cooldown, not a key that did not answer


def limited_pool() -> KeyPool:
    """Two keys of two projects, each with a budget of 2 requests a minute."""
    from hpn_router.core.quota import Limits

    keys = [KeyConfig("key_1", "K1", project="p1"), KeyConfig("key_2", "K2", project="p2")]
    return KeyPool(keys, cooldown_seconds=60, limits={("p1", "*"): Limits(rpm=2), ("p2", "*"): Limits(rpm=2)})


async def test_a_key_whose_shared_budget_is_spent_is_passed_over_before_any_attempt():
    pool, clock = limited_pool(), Clock()
    asked: list[int] = []

    async def gate(index: int, request: UpstreamRequest, now: float) -> bool:
        asked.append(index)
        if index == 0:  # the other routers spent p1's budget
            pool.adopt_usage(index, request.model, now, 2, 2, 0)
            return False
        return True

    transport = ScriptedTransport({"K1": [OK], "K2": [OK]})
    result = await run_with_failover(REQUEST, pool=pool, transport=transport, retry_count=3, clock=clock, quota_gate=gate)
    assert result.result is OK and transport.calls == ["K2"] and result.attempts[0].key_name == "key_2"
    assert asked == [0, 1]
    assert pool.pick(clock(), MODEL) == 1  # the pool now knows p1 is spent


async def test_every_budget_spent_elsewhere_is_a_429_without_an_upstream_call():
    pool, clock = limited_pool(), Clock()

    async def gate(index: int, request: UpstreamRequest, now: float) -> bool:
        pool.adopt_usage(index, request.model, now, 2, 2, 0)
        return False

    transport = ScriptedTransport({"K1": [OK], "K2": [OK]})
    result = await run_with_failover(REQUEST, pool=pool, transport=transport, retry_count=3, clock=clock, quota_gate=gate)
    assert transport.calls == [] and isinstance(result.error, RateLimitedError)
    assert result.error.retry_after == 60.0  # the minute's requests slide out then


async def test_a_gate_that_refuses_without_telling_the_pool_is_bounded():
    pool, clock = limited_pool(), Clock()
    asked: list[int] = []

    async def gate(index: int, request: UpstreamRequest, now: float) -> bool:
        asked.append(index)
        return False

    result = await run_with_failover(REQUEST, pool=pool, transport=ScriptedTransport({}), retry_count=3, clock=clock, quota_gate=gate)
    assert result.result is None and len(asked) == len(pool.keys) + 1


async def test_a_gate_that_refuses_the_client_ends_the_request_on_no_key_and_no_fallback():
    """The gate also carries the client's own rate (one Redis round trip): refused, the client's
    429 is the answer, nothing goes upstream and no fallback model is tried."""
    pool, clock = two_provider_pool(), Clock()
    refusal = RateLimitedError("Client rate limit of 1 requests per minute reached.", retry_after=30.0)
    asked: list[int] = []

    async def gate(index: int, request: UpstreamRequest, now: float) -> bool | RateLimitedError:
        asked.append(index)
        return refusal

    transport = ScriptedTransport({"G1": [OK], "G2": [OK], "M1": [OK]})

    async def attempt(request, may_wait):
        return await run_with_failover(request, pool=pool, transport=transport, retry_count=3, clock=clock, quota_gate=gate)

    outcome = await run_with_fallbacks(REQUEST, [to_mistral()], attempt=attempt, can_serve=lambda provider: True)
    assert outcome.outcome.error is refusal and outcome.outcome.final
    assert (transport.calls, asked, outcome.served) == ([], [0], 0)
