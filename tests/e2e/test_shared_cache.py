"""Issue 14, step 2, end to end: two routers (real mitmdump), one emulator and one real
redis-server share the flash cache, its in-flight requests and stored Responses: an answer
cached by A (streamed or not) is a hit on B, an identical request in flight on A is waited for
by B, a response stored by A is continued, read and deleted through B; a request costs at most
2 Redis round trips before its upstream call; Redis killed costs no request."""

from __future__ import annotations

import re
import select
import subprocess
import threading
import time
from collections.abc import Iterator

import openai
import pytest
from procs import KEYS, RedisServer, Router, client_for, http_json, scenario, start_emulator, start_router, wait_for

MODEL = "gemini-flash-latest"
LATENCY_MS = 700  # every upstream answer takes this long: a request in flight stays in flight

# Two routers sharing one Redis are the instances under test; as workers each would split further.
pytestmark = pytest.mark.single_process(reason="starts two routers on one Redis itself: they are the instances under test")


@pytest.fixture(scope="module")
def slow_emulator(tmp_path_factory: pytest.TempPathFactory):
    emu = start_emulator(scenario(latency_ms=LATENCY_MS), tmp_path_factory.mktemp("emulator"))
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def routers(slow_emulator, redis_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Router]]:
    started = []
    for name in ("a", "b"):
        tmp = tmp_path_factory.mktemp(f"router-{name}")
        env = {"HPN_REDIS_URL": redis_server.url, "HPN_STATE_FILE": str(tmp / "state.json")}
        started.append(start_router(tmp, keys=KEYS[:2], gemini_url=slow_emulator.url, env=env))
    yield started
    for router in started:
        router.stop()


@pytest.fixture
def pair(routers, slow_emulator, redis_server) -> list[Router]:
    if redis_server.proc.poll() is not None:
        redis_server.restart()
    for router in routers:
        wait_for(lambda r=router: health(r).get("redis") == "up", "redis up")
    slow_emulator.reset()
    return routers


def health(router) -> dict:
    return http_json("GET", f"{router.url}/health")  # type: ignore[return-value]


def unique(text: str) -> str:
    return f"{text} {time.monotonic_ns()}"


def chat(router, content: str, *, stream: bool = False) -> tuple[str, str]:
    """(answer text, X-HPN-Cache) of one chat request."""
    messages = [{"role": "user", "content": content}]
    client = client_for(router)
    if stream:
        with client.chat.completions.with_streaming_response.create(model=MODEL, messages=messages, stream=True) as raw:
            text = "".join(chunk.choices[0].delta.content or "" for chunk in raw.parse() if chunk.choices)
            return text, raw.headers["x-hpn-cache"]
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=messages)
    return raw.parse().choices[0].message.content or "", raw.headers["x-hpn-cache"]


def upstream_calls(emulator) -> int:
    return len(emulator.stats()["requests"])


def test_an_answer_cached_by_a_is_a_hit_on_b(pair, slow_emulator):
    a, b = pair
    question = unique("shared cache")
    first, status = chat(a, question)
    assert status == "MISS" and upstream_calls(slow_emulator) == 1
    again, status = chat(b, question)
    assert (again, status) == (first, "HIT")
    assert upstream_calls(slow_emulator) == 1  # B never asked upstream


def test_a_streamed_answer_cached_by_a_serves_b(pair, slow_emulator):
    a, b = pair
    question = unique("shared stream")
    streamed, status = chat(a, question, stream=True)
    assert status == "MISS" and streamed
    assert chat(b, question, stream=True) == (streamed, "HIT")
    assert chat(b, question) == (streamed, "HIT")
    assert upstream_calls(slow_emulator) == 1


def test_an_identical_request_in_flight_on_a_is_waited_for_by_b(pair, slow_emulator, redis_server):
    a, b = pair
    question = unique("in flight")
    answers: dict[str, tuple[str, str]] = {}
    leader = threading.Thread(target=lambda: answers.__setitem__("a", chat(a, question)))
    leader.start()
    wait_for(lambda: "hpn:v1:lead:" in redis_server.command("--scan", "--pattern", "hpn:v1:lead:*"), "A to lead")
    answers["b"] = chat(b, question)  # A's answer is LATENCY_MS away: B waits for it
    leader.join(30)
    assert answers["a"][1] == "MISS" and answers["b"] == (answers["a"][0], "HIT")
    assert upstream_calls(slow_emulator) == 1
    assert any('"coalesced": true' in line for line in b.log().splitlines() if "CACHE HIT" in line)


def test_a_response_stored_by_a_is_continued_read_and_deleted_through_b(pair):
    a, b = pair
    first = client_for(a).responses.create(model=MODEL, input=unique("Remember the word 'teal'."))
    second = client_for(b).responses.create(model=MODEL, input="Which word?", previous_response_id=first.id)
    assert second.previous_response_id == first.id and second.status == "completed"
    assert client_for(b).responses.retrieve(first.id).id == first.id
    assert client_for(a).responses.retrieve(second.id).id == second.id
    client_for(b).responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        client_for(a).responses.retrieve(first.id)  # A's own copy is gone too
    with pytest.raises(openai.BadRequestError):
        client_for(a).responses.create(model=MODEL, input="again", previous_response_id=first.id)


def test_at_most_two_redis_round_trips_before_the_upstream_call(pair, redis_server):
    """Every Redis command a Responses continuation's path sends (MONITOR: exact, whatever the
    background sync does meanwhile): one GET for the stored response and one EVALSHA for the
    cache's lookup-and-lead before upstream; after it, one SET (the new response) and one
    EVALSHA (store the answer, release the lead)."""
    a, b = pair
    first = client_for(a).responses.create(model=MODEL, input=unique("warm up"))  # scripts loaded, store written
    commands = monitor(redis_server, lambda: client_for(b).responses.create(model=MODEL, input=unique("go"), previous_response_id=first.id))
    path = [c for c in commands if re.search(r'"hpn:v1:(cache|lead|response):', c) and "lua]" not in c]
    names = [re.search(r'\] "(\w+)"', c).group(1).upper() for c in path]
    print(f"\nRedis commands of one continued Responses request: {names}")
    assert names == ["GET", "EVALSHA", "SET", "EVALSHA"]


def monitor(redis_server: RedisServer, action) -> list[str]:
    """The commands Redis received while `action` ran (redis-cli MONITOR, ended by a marker)."""
    proc = subprocess.Popen(["redis-cli", "-p", str(redis_server.port), "monitor"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "OK"
        action()
        marker = f"end-{time.monotonic_ns()}"
        redis_server.command("echo", marker)
        lines: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(marker in line for line in lines[-1:]):
            if select.select([proc.stdout], [], [], 0.5)[0]:
                lines.append(proc.stdout.readline())
        assert marker in lines[-1]
        return lines
    finally:
        proc.terminate()
        proc.wait(5)


def test_redis_killed_both_routers_still_answer_from_their_own_cache(pair, slow_emulator, redis_server):
    a, b = pair
    redis_server.stop()
    question = unique("no redis")
    first, status = chat(a, question)
    assert status == "MISS"
    assert chat(b, question)[1] == "MISS"  # nothing shared now, nothing failed either
    assert chat(a, question) == (first, "HIT")  # A's own cache still answers
    wait_for(lambda: health(a)["redis"] == "down", "A to notice")
    stored = client_for(a).responses.create(model=MODEL, input=unique("kept locally"))
    assert client_for(a).responses.retrieve(stored.id).id == stored.id
    redis_server.restart()
    wait_for(lambda: health(a)["redis"] == health(b)["redis"] == "up", "both routers to reconnect")
    question = unique("back")
    chat(a, question)
    assert chat(b, question)[1] == "HIT"  # shared again
