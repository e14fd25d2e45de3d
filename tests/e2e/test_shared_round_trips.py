"""Issue 14, "the hot path stays fast", end to end: real mitmdump routers on one real
redis-server; Redis' MONITOR shows every command, and each request's round trips before its
upstream call are counted for every combination of the flash cache (on/off), a client rate
(`server.client_rpm` on/off) and a budget on the key's project (on/off), streamed and not: at
most 2, the client's rate riding on the cache's lookup or the quota gate. And the limits still
hold: a client over its rate is refused across two routers, a cached answer included, and
takes no lead."""

from __future__ import annotations

import hashlib
import re
import select
import subprocess
import time
from collections.abc import Iterator

import openai
import pytest
from hpn_router.edge.redisscripts import CLIENT_RPM_SCRIPT, LOOKUP_SCRIPT, QUOTA_SCRIPT
from procs import KEYS, Emulator, RedisServer, Router, start_emulator, start_redis, start_router

pytestmark = [
    pytest.mark.e2e,
    # MONITOR counts every command on the Redis: a second worker's own background writes (the
    # dashboard, pushes) would be counted as this request's.
    pytest.mark.single_process(reason="counts one process's Redis commands per request"),
]

TOKEN = "client-token-round-trips-0123456789"
BUDGETED, FREE = "gemini-2.5-flash", "gemini-flash-latest"  # a budget on the first model only
# The scripts a request may run before its upstream call; what runs after it (storing the
# cache's answer, pushing a cooldown) and the background sync are not counted.
BEFORE_UPSTREAM = {
    hashlib.sha1(s.encode()).hexdigest(): name
    for s, name in ((LOOKUP_SCRIPT, "cache"), (CLIENT_RPM_SCRIPT, "client"), (QUOTA_SCRIPT, "quota"))
}


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    keys = [{"key": k, "project": f"proj-{i}", "behaviour": "ok"} for i, k in enumerate(KEYS[:2], start=1)]
    emu = start_emulator({"keys": keys, "gemini3_models": [FREE]}, tmp_path_factory.mktemp("emulator"))
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    for script in (LOOKUP_SCRIPT, CLIENT_RPM_SCRIPT, QUOTA_SCRIPT):
        server.command("SCRIPT", "LOAD", script)  # no request meets NOSCRIPT (a second EVALSHA)
    yield server
    server.stop()


def router_config(*, cache: bool, client_rpm: int) -> dict:
    return {
        "server": {"client_tokens": [TOKEN], "client_rpm": client_rpm},
        "key_pool": {"max_wait_seconds": 0, "limits": [{"project": p, "model": BUDGETED, "rpm": 1000} for p in ("proj-1", "proj-2")]},
        "cache": {"enabled": cache},
    }


def start(emulator: Emulator, redis_server: RedisServer, tmp, config: dict) -> Router:
    env = {"HPN_REDIS_URL": redis_server.url, "HPN_STATE_FILE": str(tmp / "state.json"), "HPN_KEY_PROJECTS": "proj-1,proj-2"}
    router = start_router(tmp, keys=KEYS[:2], gemini_url=emulator.url, config=config, env=env)
    deadline = time.monotonic() + 20
    while "Redis reachable" not in router.log():
        assert time.monotonic() < deadline, "the router never reached Redis"
        time.sleep(0.1)
    return router


def ask(router: Router, model: str, *, stream: bool, question: str) -> int:
    client = openai.OpenAI(base_url=router.base_url, api_key=TOKEN, max_retries=0)
    try:
        if stream:
            for _ in client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}], stream=True):
                pass
        else:
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}])
        return 200
    except openai.APIStatusError as e:
        return e.status_code


def trips_per_request(redis_server: RedisServer, requests: list) -> list[list[str]]:
    """The scripts each request ran before its upstream call, in order (MONITOR, one ECHO marker
    after each request: exact, whatever else the routers' background sync sends meanwhile)."""
    proc = subprocess.Popen(["redis-cli", "-p", str(redis_server.port), "monitor"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "OK"
        markers = []
        for request in requests:
            request()
            markers.append(f"marker-{time.monotonic_ns()}")
            redis_server.command("ECHO", markers[-1])
        lines: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (lines and markers[-1] in lines[-1]):
            if select.select([proc.stdout], [], [], 0.5)[0]:
                lines.append(proc.stdout.readline())
        assert lines and markers[-1] in lines[-1]
    finally:
        proc.terminate()
        proc.wait(5)
    trips: list[list[str]] = [[] for _ in requests]
    index = 0
    for line in lines:
        if index < len(markers) and markers[index] in line:
            index += 1
            continue
        found = re.search(r'\] "evalsha" "([0-9a-f]{40})"', line, re.IGNORECASE)
        if found and "lua]" not in line and found.group(1) in BEFORE_UPSTREAM and index < len(requests):
            trips[index].append(BEFORE_UPSTREAM[found.group(1)])
    return trips


# (cache, client_rpm) -> per (budget, stream) the trips a new question makes, then the trips a
# repeated one makes (a hit in this router's own cache: no upstream call at all).
EXPECTED = {
    (False, False): {False: [], True: ["quota"]},
    (False, True): {False: ["client"], True: ["quota"]},  # the client alone, or in the quota's script
    (True, False): {False: ["cache"], True: ["cache", "quota"]},
    (True, True): {False: ["cache"], True: ["cache", "quota"]},  # the client rides on the lookup
}


@pytest.mark.parametrize(("cache", "client_rpm"), list(EXPECTED), ids=lambda v: "on" if v else "off")
def test_at_most_two_round_trips_before_the_upstream_call_in_every_combination(emulator, redis_server, tmp_path, cache, client_rpm):
    router = start(emulator, redis_server, tmp_path, router_config(cache=cache, client_rpm=1000 if client_rpm else 0))
    try:
        combos = [(budget, stream) for budget in (False, True) for stream in (False, True)]
        questions = {combo: f"round trips {combo} {time.monotonic_ns()}" for combo in combos}
        statuses: list[int] = []
        requests = [
            lambda b=budget, s=stream, q=questions[(budget, stream)]: statuses.append(
                ask(router, BUDGETED if b else FREE, stream=s, question=q)
            )
            for budget, stream in combos
        ]
        emulator.reset()
        trips = trips_per_request(redis_server, requests)
        assert statuses == [200] * len(combos)
        assert len(emulator.stats()["requests"]) == len(combos)  # each went upstream
        for (budget, stream), made in zip(combos, trips, strict=True):
            print(f"cache {cache}, client_rpm {client_rpm}, budget {budget}, stream {stream}: {len(made)} {made}")
            assert made == EXPECTED[(cache, client_rpm)][budget], (budget, stream)
            assert len(made) <= 2
        if cache:  # the same questions again: this router's own entries, no upstream call
            again = [
                lambda b=budget, s=stream, q=questions[(budget, stream)]: ask(router, BUDGETED if b else FREE, stream=s, question=q)
                for budget, stream in combos
            ]
            hits = trips_per_request(redis_server, again)
            assert len(emulator.stats()["requests"]) == len(combos)
            print(f"cache hits, client_rpm {client_rpm}: {hits}")
            assert hits == [["client"] if client_rpm else []] * len(combos)
    finally:
        router.stop()


def test_a_client_over_its_rate_is_refused_across_two_routers_even_for_a_cached_answer(emulator, redis_server, tmp_path_factory):
    redis_server.command("FLUSHALL")  # the budget counters below are this test's alone (scripts stay loaded)
    config = router_config(cache=True, client_rpm=3)
    a = start(emulator, redis_server, tmp_path_factory.mktemp("a"), config)
    try:
        b = start(emulator, redis_server, tmp_path_factory.mktemp("b"), config)
        try:
            emulator.reset()
            question = f"cached {time.monotonic_ns()}"
            # A asks upstream, B hits A's entry in Redis, A hits its own: 3 requests, the limit.
            assert [ask(a, BUDGETED, stream=False, question=question), ask(b, BUDGETED, stream=True, question=question)] == [200, 200]
            assert ask(a, BUDGETED, stream=False, question=question) == 200
            assert ask(b, BUDGETED, stream=False, question=question) == 429  # cached on B too, refused all the same
            assert ask(a, BUDGETED, stream=True, question=question) == 429
            fresh = f"fresh {time.monotonic_ns()}"
            assert ask(b, BUDGETED, stream=False, question=fresh) == 429
            assert len(emulator.stats()["requests"]) == 1  # the refused ones went nowhere
            assert redis_server.command("--scan", "--pattern", "hpn:v1:lead:*").strip() == ""  # and led nothing
            quota = [k for k in redis_server.command("--scan", "--pattern", "hpn:v1:q:*:r:*").split() if k]
            assert sum(int(redis_server.command("GET", k).strip() or 0) for k in quota) == 1  # one budget request counted
        finally:
            b.stop()
    finally:
        a.stop()
