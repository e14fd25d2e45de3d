"""`server.workers: 2`: the lean runner supervises two router processes on the same port
(SO_REUSEPORT). Both answer, each says which it is, the router's behaviour holds on each (chat,
streaming, failover, the flash cache), a scrape of /metrics on either counts both, a killed
worker is restarted while the other keeps answering (its counts kept), and SIGTERM drains: a
stream in flight completes before the workers exit."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import procs
import pytest
from procs import KEYS, Emulator, RedisServer, Router, http_json, scenario, start_emulator, start_redis, start_runner
from prometheus_client.parser import text_string_to_metric_families

MSG = [{"role": "user", "content": "hi"}]
WAIT_SECONDS = 30  # a worker starts in 1-3 s alone, far slower on a loaded machine


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


def start_workers(tmp: Path, emulator: Emulator, redis: RedisServer, count: int = 2) -> Router:
    env = {"HPN_WORKERS": str(count), "HPN_REDIS_URL": redis.url, "HPN_STATE_FILE": str(tmp / "state.json")}
    router = start_runner(tmp, keys=KEYS[:3], gemini_url=emulator.url, env=env, ready_seconds=WAIT_SECONDS)
    assert workers_seen(router, count) == set(range(count))
    return router


@pytest.fixture(scope="module")
def workers(emulator: Emulator, redis: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    router = start_workers(tmp_path_factory.mktemp("workers"), emulator, redis)
    yield router
    router.stop()


def health_worker(router: Router) -> int | None:
    """Which worker answers /health on a new connection (None: none answered)."""
    try:
        return http_json("GET", f"{router.url}/health", timeout=5)["worker"]  # type: ignore[index]
    except OSError:
        return None


def workers_seen(router: Router, count: int) -> set[int]:
    """The workers answering new connections, asked until all `count` have answered (bounded)."""
    seen: set[int] = set()
    deadline = time.monotonic() + WAIT_SECONDS
    while len(seen) < count and time.monotonic() < deadline:
        worker = health_worker(router)
        if worker is None:
            time.sleep(0.1)
        else:
            seen.add(worker)
    return seen


def worker_pids(router: Router) -> list[int]:
    pid = router.proc.pid
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def pinned_clients(router: Router) -> dict[int, tuple[httpx.Client, openai.OpenAI]]:
    """One keep-alive connection per worker: an HTTP client whose connection /health says
    belongs to that worker, and the OpenAI SDK on it."""
    found: dict[int, tuple[httpx.Client, openai.OpenAI]] = {}
    for _ in range(100):
        http = httpx.Client(limits=httpx.Limits(max_connections=1), timeout=30)
        worker = http.get(f"{router.url}/health").json()["worker"]
        if worker in found:
            http.close()
            continue
        client = openai.OpenAI(base_url=router.base_url, api_key="sk-client-token-not-a-gemini-key", max_retries=0, http_client=http)
        found[worker] = (http, client)
        if len(found) == 2:
            return found
    raise AssertionError(f"new connections reached only workers {sorted(found)}")


def test_both_workers_answer_and_say_which_they_are(workers):
    assert workers_seen(workers, 2) == {0, 1}
    log = workers.log()
    assert "Worker 0 started" in log and "Worker 1 started" in log
    assert "worker 0: reverse proxy" in log and "worker 1: reverse proxy" in log  # mitmproxy's lines say their worker
    router_lines = [json.loads(line) for line in log.splitlines() if line.startswith("{") and '"worker"' in line]
    assert {line["worker"] for line in router_lines} >= {0, 1}


def test_chat_stream_failover_and_cache_work_on_each_worker(workers, emulator):
    emulator.reset()
    clients = pinned_clients(workers)
    try:
        for worker, (http, client) in sorted(clients.items()):
            text = f"hello worker {worker}"
            answer = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": text}])
            assert f"You said: {text}" in answer.choices[0].message.content
            again = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": text}])
            assert again.headers.get("x-hpn-cache") == "HIT"  # the same worker's flash cache
            assert http.get(f"{workers.url}/health").json()["worker"] == worker  # still the same connection
            chunks = list(client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True))
            assert "You said: hi" in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        emulator.reset()
        emulator.set_key(0, "rate_limit")  # key 0 answers 429 every time: each worker's rotation reaches it
        for worker, (_, client) in sorted(clients.items()):
            for i in range(3):
                answer = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"failover {worker} {i}"}])
                assert f"You said: failover {worker} {i}" in answer.choices[0].message.content
        statuses = [r["status"] for r in emulator.stats()["requests"]]
        assert 429 in statuses and statuses.count(200) == 6
    finally:
        for http, _ in clients.values():
            http.close()


def counted(http: httpx.Client, router: Router) -> dict[str, float]:
    """One scrape on this client's connection: chat requests answered and their durations
    observed, summed over the series' other labels."""
    families = text_string_to_metric_families(http.get(f"{router.url}/metrics").text)
    samples = [s for f in families for s in f.samples if s.labels.get("endpoint") == "chat"]
    names = ("hpn_requests_total", "hpn_request_duration_seconds_count")
    return {name: sum(s.value for s in samples if s.name == name) for name in names}


def scrapes_on_each_worker_and_new_connections(router: Router, clients: dict[int, tuple[httpx.Client, openai.OpenAI]]) -> list[dict]:
    fresh = [httpx.Client(timeout=30) for _ in range(4)]
    try:
        return [counted(http, router) for http in [*(http for http, _ in clients.values()), *fresh]]
    finally:
        for http in fresh:
            http.close()


def test_a_scrape_on_either_worker_counts_the_requests_both_answered(workers, emulator):
    emulator.reset()
    clients = pinned_clients(workers)
    try:
        before = scrapes_on_each_worker_and_new_connections(workers, clients)
        assert all(scrape == before[0] for scrape in before)
        for worker, (_, client) in sorted(clients.items()):  # 3 on each worker
            for i in range(3):
                answer = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"counted {worker} {i}"}])
                assert answer.choices[0].message.content
        for i in range(4):  # and over new connections, wherever the kernel sends them
            with httpx.Client(timeout=30) as http:
                fresh = openai.OpenAI(base_url=workers.base_url, api_key="sk-client-token-not-a-gemini-key", http_client=http)
                assert fresh.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"counted new {i}"}]).choices
        after = scrapes_on_each_worker_and_new_connections(workers, clients)
        for scrape in after:  # the same whole-router count whichever worker answered
            assert {name: value - before[0][name] for name, value in scrape.items()} == {
                "hpn_requests_total": 10,
                "hpn_request_duration_seconds_count": 10,
            }
    finally:
        for http, _ in clients.values():
            http.close()


def test_a_killed_worker_is_restarted_and_requests_keep_being_answered(workers, emulator):
    emulator.reset()
    with httpx.Client(timeout=30) as http:
        counted_before = counted(http, workers)["hpn_requests_total"]
    before = worker_pids(workers)
    assert len(before) == 2
    os.kill(before[0], signal.SIGKILL)
    client = openai.OpenAI(base_url=workers.base_url, api_key="sk-client-token-not-a-gemini-key", max_retries=0)
    for i in range(10):  # a new connection each: the kernel sends them to the worker left
        fresh = client.with_options(http_client=httpx.Client(timeout=30))
        answer = fresh.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"still here {i}"}])
        assert f"You said: still here {i}" in answer.choices[0].message.content
    deadline = time.monotonic() + WAIT_SECONDS
    while "restarting it" not in workers.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"(pid {before[0]}) exited with code -9; restarting it" in workers.log()
    assert workers_seen(workers, 2) == {0, 1}  # the restarted worker answers again
    after = worker_pids(workers)
    assert before[1] in after and before[0] not in after and len(after) == 2
    clients = pinned_clients(workers)
    try:  # what the killed worker had counted is still in every scrape: a counter never goes back
        assert [counted(http, workers)["hpn_requests_total"] for http, _ in clients.values()] == [counted_before + 10] * 2
    finally:
        for http, _ in clients.values():
            http.close()


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_a_stop_drains_a_stream_in_flight_then_every_worker_exits(redis, tmp_path, how):
    """SIGTERM goes to the supervisor alone (systemd, Docker); Ctrl-C reaches every process of
    the terminal's group: each worker gets SIGINT, then SIGTERM from its supervisor."""
    slow = start_emulator(scenario(stream_delay_ms=300), tmp_path)
    router = start_workers(tmp_path, slow, redis)
    try:
        client = openai.OpenAI(base_url=router.base_url, api_key="sk-client-token-not-a-gemini-key", max_retries=0)
        words = [{"role": "user", "content": "one two three four five"}]
        stream = client.chat.completions.create(model="gpt-4o", messages=words, stream=True)
        chunks = iter(stream)
        first = next(chunks)  # the stream is in flight on one worker
        if how == "Ctrl-C":
            for pid in worker_pids(router):
                os.kill(pid, signal.SIGINT)
        router.proc.send_signal(signal.SIGINT if how == "Ctrl-C" else signal.SIGTERM)
        rest = list(chunks)
        text = "".join(c.choices[0].delta.content or "" for c in [first, *rest] if c.choices)
        assert "You said: one two three four five" in text
        assert rest[-1].choices == [] or rest[-1].choices[0].finish_reason == "stop"
        assert router.proc.wait(WAIT_SECONDS + 10) == 0
        log = router.log()
        assert f"Stopping 2 workers ({'SIGINT' if how == 'Ctrl-C' else 'SIGTERM'})" in log and "All workers stopped" in log
        assert "restarting it" not in log and "did not drain" not in log
    finally:
        router.stop()
        slow.stop()


def test_two_workers_without_redis_are_refused_at_start_naming_both_fields(emulator, tmp_path):
    with pytest.raises(RuntimeError) as failed:
        start_runner(tmp_path, keys=KEYS[:1], gemini_url=emulator.url, env={"HPN_WORKERS": "2"})
    assert "server.workers: 2 workers need state.redis_url (HPN_REDIS_URL)" in str(failed.value)
    assert "Worker 0 started" not in str(failed.value)


def test_the_test_switch_starts_a_router_as_two_workers_with_a_redis_of_its_own(emulator, tmp_path, monkeypatch):
    """HPN_TEST_WORKERS=2 (tests/procs.py): start_router's mitmdump becomes 2 workers of the lean
    runner on a redis-server of its own, stopped with the router; a single_process test keeps one."""
    monkeypatch.setattr(procs, "TEST_WORKERS", 2)
    monkeypatch.setattr(procs, "single_process_reason", None)
    router = procs.start_router(tmp_path, keys=KEYS[:2], gemini_url=emulator.url)
    try:
        assert router.workers == 2 and router.redis is not None
        assert workers_seen(router, 2) == {0, 1}  # both answered before start_router returned
        assert "Sharing pool state through Redis" in router.log()
    finally:
        router.stop()
    assert router.redis.proc.poll() is not None
    assert not procs._as_workers("mitmweb", None)  # mitmweb is one process by design
    assert not procs._as_workers("runner", {"HPN_WORKERS": "3"})  # a test that starts workers itself
    monkeypatch.setattr(procs, "single_process_reason", "state file")
    assert not procs._as_workers("mitmdump", None)
