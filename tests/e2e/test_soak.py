"""Soak: 20,000 requests through the router (loopback, bounded), the emulator injecting 429s
and 503s at random; every request answered correctly, resident memory flat after warm-up.

HPN_SOAK_REQUESTS overrides the count (the figure in the README is from the default run).
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import aiohttp
from procs import KEYS, Router, start_emulator, start_router

REQUESTS = int(os.environ.get("HPN_SOAK_REQUESTS", "20000"))
CONCURRENCY = 16
WARM_UP = min(2000, REQUESTS // 5)


def faulty_scenario(seed: int = 7, per_key: int = 12000) -> dict:
    """Each key plays a seeded script: ~4% 429 (short RetryInfo), ~4% 503, else ok."""
    rng = random.Random(seed)
    keys = []
    for i, key in enumerate(KEYS):
        script = [rng.choices(["ok", "rate_limit", "unavailable"], [92, 4, 4])[0] for _ in range(per_key)]
        # A high rpm: the quota the scripted 429s report (and the router learns) is never reached.
        keys.append({"key": key, "project": f"soak-{i}", "behaviour": "ok", "script": script, "retry_delay": "0.05s", "rpm": 1000000})
    return {"keys": keys}


def rss_kib(router: Router) -> int:
    """The resident memory of the router's processes (its workers' together, with workers)."""
    return sum(_rss_kib(pid) for pid in router.pids())


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def drive(url: str, count: int, on_progress) -> list[str]:
    problems: list[str] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                body = {"model": "gpt-4", "messages": [{"role": "user", "content": f"soak {i}"}]}
                async with session.post(url, json=body) as response:
                    data = await response.json()
                if response.status != 200 or f"soak {i}" not in data["choices"][0]["message"]["content"]:
                    problems.append(f"{i}: {response.status} {str(data)[:200]}")
                on_progress(i)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return problems


def test_soak_every_request_answered_memory_flat(tmp_path):
    emulator = start_emulator(faulty_scenario(), tmp_path)
    router = start_router(
        tmp_path,
        keys=KEYS,
        gemini_url=emulator.url,
        config={"key_pool": {"retry_count": 5, "retry_backoff_ms": 0}, "logging": {"level": "warn"}, "cache": {"enabled": False}},
    )
    samples: dict[str, int] = {}

    def on_progress(i: int) -> None:
        if i == WARM_UP:
            samples["warm"] = rss_kib(router)
        if i % (REQUESTS // 10) == 0:
            samples[f"at_{i}"] = rss_kib(router)

    try:
        problems = asyncio.run(drive(f"{router.base_url}/chat/completions", REQUESTS, on_progress))
        samples["end"] = rss_kib(router)
        stats = emulator.stats()
        statuses = [r["status"] for r in stats["requests"]]
    finally:
        router.stop()
        emulator.stop()
    assert problems == []
    assert statuses.count(429) > 0 and statuses.count(503) > 0  # the faults really happened
    assert statuses.count(200) == REQUESTS  # each request reached Gemini successfully exactly once
    growth = samples["end"] / samples["warm"]
    print("soak RSS samples:", {k: v for k, v in samples.items() if k.startswith("at_")})
    print(
        f"soak: {REQUESTS} requests, {statuses.count(429)} x 429, {statuses.count(503)} x 503, "
        f"RSS {samples['warm']} -> {samples['end']} KiB ({growth:.3f}x)"
    )
    assert growth <= 1.10
