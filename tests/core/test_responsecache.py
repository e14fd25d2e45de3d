from __future__ import annotations

import asyncio

import pytest
from hpn_router.core.responsecache import CachedAnswer, InFlight, ResponseCache, answer_from_bytes, answer_to_bytes


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answer(text: str = "hi", created_at: float = 0.0) -> CachedAnswer:
    completion = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
    }
    return CachedAnswer(completion, {"prompt_tokens": 3, "completion_tokens": 1}, created_at)


def make(clock: FakeClock, **kwargs: float) -> ResponseCache:
    args = {"max_entries": 10, "max_bytes": 100_000, "ttl_seconds": 60.0, **kwargs}
    return ResponseCache(timer=clock, **args)  # type: ignore[arg-type]


def test_hit_and_miss() -> None:
    cache = make(FakeClock())
    assert cache.get("k") is None
    assert cache.put("k", answer("hello", created_at=5.0))
    assert cache.get("k") == answer("hello", created_at=5.0)
    assert cache.get("other") is None


def test_get_returns_an_independent_copy() -> None:
    cache = make(FakeClock())
    cache.put("k", answer())
    hit = cache.get("k")
    assert hit is not None
    hit.completion["id"] = "rewritten"
    assert cache.get("k") == answer()


def test_ttl_expiry() -> None:
    clock = FakeClock()
    cache = make(clock, ttl_seconds=60.0)
    cache.put("k", answer())
    clock.now += 59.9
    assert cache.get("k") is not None
    clock.now += 0.2
    assert cache.get("k") is None
    assert len(cache) == 0 and cache.bytes_used == 0


def test_max_entries_evicts_least_recently_used() -> None:
    clock = FakeClock()
    cache = make(clock, max_entries=3)
    for k in "abc":
        cache.put(k, answer(k))
    cache.get("a")  # a is now more recent than b
    cache.put("d", answer("d"))
    assert len(cache) == 3
    assert cache.get("b") is None
    assert all(cache.get(k) is not None for k in "acd")


def test_byte_bound() -> None:
    clock = FakeClock()
    cache = make(clock)
    size = (cache.put("probe", answer("x" * 100)), cache.bytes_used)[1]
    bounded = make(clock, max_bytes=size * 3)
    for i in range(10):
        assert bounded.put(str(i), answer("x" * 100))
        assert bounded.bytes_used <= size * 3
    assert len(bounded) == 3
    assert [bounded.get(str(i)) is not None for i in range(10)] == [False] * 7 + [True] * 3


def test_expired_entries_are_evicted_first() -> None:
    clock = FakeClock()
    cache = make(clock, max_entries=2, ttl_seconds=10.0)
    cache.put("old", answer())
    clock.now += 5
    cache.put("young", answer())
    clock.now += 6  # "old" expired
    cache.put("new", answer())
    assert cache.get("young") is not None and cache.get("new") is not None


def test_oversized_entry_refused() -> None:
    cache = make(FakeClock(), max_bytes=200)
    cache.put("small", answer())
    assert not cache.put("big", answer("x" * 500))
    assert cache.get("big") is None
    assert cache.get("small") is not None


def test_replacing_an_entry_updates_bytes() -> None:
    cache = make(FakeClock())
    cache.put("k", answer("x" * 1000))
    big = cache.bytes_used
    cache.put("k", answer("y"))
    assert len(cache) == 1 and cache.bytes_used < big


@pytest.mark.parametrize("bad", [{"max_entries": 0}, {"max_bytes": 0}, {"ttl_seconds": 0}])
def test_invalid_bounds(bad: dict) -> None:
    with pytest.raises(ValueError):
        make(FakeClock(), **bad)


async def test_coalescing_50_followers() -> None:
    inflight = InFlight()
    assert inflight.begin("k")
    followers = []
    for _ in range(50):
        assert not inflight.begin("k")
        followers.append(asyncio.ensure_future(inflight.wait("k", timeout=5)))
    await asyncio.sleep(0)
    inflight.finish("k", answer("shared"))
    results = await asyncio.gather(*followers)
    assert results == [answer("shared")] * 50
    assert len(inflight) == 0


async def test_leader_failure_releases_followers() -> None:
    inflight = InFlight()

    async def leader() -> None:
        assert inflight.begin("k")
        with inflight.leading("k"):
            await asyncio.sleep(0.01)
            raise RuntimeError("upstream broke")

    lead = asyncio.ensure_future(leader())
    await asyncio.sleep(0)
    assert not inflight.begin("k")
    followers = [asyncio.ensure_future(inflight.wait("k", timeout=5)) for _ in range(5)]
    with pytest.raises(RuntimeError):
        await lead
    assert await asyncio.gather(*followers) == [None] * 5
    assert len(inflight) == 0
    assert inflight.begin("k")  # the next request may lead again


async def test_cancelled_leader_releases_followers() -> None:
    inflight = InFlight()
    started = asyncio.Event()

    async def leader() -> None:
        inflight.begin("k")
        with inflight.leading("k"):
            started.set()
            await asyncio.sleep(10)

    lead = asyncio.ensure_future(leader())
    await started.wait()
    follower = asyncio.ensure_future(inflight.wait("k", timeout=5))
    lead.cancel()
    assert await follower is None
    assert len(inflight) == 0


async def test_follower_timeout_does_not_affect_others() -> None:
    inflight = InFlight()
    inflight.begin("k")
    impatient = await inflight.wait("k", timeout=0.01)
    patient = asyncio.ensure_future(inflight.wait("k", timeout=5))
    await asyncio.sleep(0)
    inflight.finish("k", answer())
    assert impatient is None
    assert await patient == answer()
    assert len(inflight) == 0


async def test_late_leading_exit_leaves_newer_leader_alone() -> None:
    inflight = InFlight()
    inflight.begin("k")
    with inflight.leading("k"):
        inflight.finish("k", answer("first"))
        assert inflight.begin("k")  # a new leader starts before the old exits
    follower = asyncio.ensure_future(inflight.wait("k", timeout=5))
    await asyncio.sleep(0)
    assert not follower.done()
    inflight.finish("k", answer("second"))
    assert await follower == answer("second")


async def test_wait_without_leader_and_double_finish() -> None:
    inflight = InFlight()
    assert await inflight.wait("nobody", timeout=1) is None
    inflight.begin("k")
    inflight.finish("k", None)
    inflight.finish("k", answer())
    inflight.finish("unknown", None)
    assert len(inflight) == 0


async def test_contains_says_whether_a_leader_is_upstream() -> None:
    inflight = InFlight()
    assert "k" not in inflight
    inflight.begin("k")
    assert "k" in inflight and "other" not in inflight
    inflight.finish("k", None)
    assert "k" not in inflight


def test_an_entry_passes_through_its_wire_form_and_a_foreign_value_is_no_entry():
    answer = CachedAnswer({"object": "chat.completion", "choices": []}, {"total_tokens": 3}, 5.0)
    assert answer_from_bytes(answer_to_bytes(answer), 5.0) == answer
    for foreign in (b"", b"garbage", b"[]", b'{"completion": [], "usage": null}', b'{"completion": {}, "usage": 3}'):
        assert answer_from_bytes(foreign, 0.0) is None
