"""Issue 2 end to end: a real mitmdump with the router, the official OpenAI SDK, the emulator."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from procs import BIN, KEYS, REPO, client_for

MSG = [{"role": "user", "content": "Hello there"}]


def served_keys(emulator) -> Counter:
    """How many generate requests each key index made (the emulator never echoes keys)."""
    return Counter(r["key_index"] for r in emulator.stats()["requests"] if "generateContent" in r["path"])


def test_happy_path(make_router, emulator):
    client = client_for(make_router())
    answer = client.chat.completions.create(model="gpt-4", messages=MSG)
    assert answer.object == "chat.completion"
    assert "You said: Hello there" in answer.choices[0].message.content
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == "gpt-4"
    assert answer.usage.prompt_tokens > 0 and answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_system_and_multi_turn(make_router):
    client = client_for(make_router())
    answer = client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=[
            {"role": "system", "content": "Be terse."},
            {"role": "user", "content": "First"},
            {"role": "assistant", "content": "Ok."},
            {"role": "user", "content": "Second question"},
        ],
        temperature=0.2,
        max_tokens=200,
        stop=["\n\n"],
        seed=7,
    )
    assert "Second question" in answer.choices[0].message.content


def test_429_fails_over_to_the_next_key(make_router, emulator):
    router = make_router()
    emulator.set_key(0, "rate_limit")
    client = client_for(router)
    answer = client.chat.completions.create(model="gpt-4", messages=MSG)
    assert "You said" in answer.choices[0].message.content
    statuses = [(r["key_index"], r["status"]) for r in emulator.stats()["requests"]]
    assert statuses == [(0, 429), (1, 200)]
    log = router.log()
    assert "Key rotation triggered" in log and "key_1" in log and "key_2" in log


def test_rotation_is_even_over_30_requests(make_router, emulator):
    client = client_for(make_router())
    for i in range(30):
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": f"n{i}"}])
    counts = served_keys(emulator)
    assert sorted(counts) == [0, 1, 2]
    assert all(9 <= c <= 11 for c in counts.values()), counts


NO_WAIT = {"key_pool": {"max_wait_seconds": 0}}


def test_every_key_rate_limited_gives_429_with_retry_after(make_router, emulator):
    router = make_router(config=NO_WAIT)
    for i in range(3):
        emulator.set_key(i, "rate_limit")
    client = client_for(router)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="gpt-4", messages=MSG)
    error = info.value
    assert error.code == "rate_limit_exceeded"
    assert int(error.response.headers["retry-after"]) >= 1
    assert int(error.response.headers["retry-after-ms"]) >= 1
    # The next request is answered at once, without touching Gemini.
    before = len(emulator.stats()["requests"])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4", messages=MSG)
    assert len(emulator.stats()["requests"]) == before


def test_daily_quota_everywhere_is_insufficient_quota(make_router, emulator):
    router = make_router(keys=KEYS[:2], config=NO_WAIT)
    emulator.set_key(0, "rate_limit_day")
    emulator.set_key(1, "rate_limit_day")
    with pytest.raises(openai.RateLimitError) as info:
        client_for(router).chat.completions.create(model="gpt-4", messages=MSG)
    assert info.value.code == "insufficient_quota"
    assert info.value.response.headers["x-should-retry"] == "false"


def test_invalid_key_is_disabled_and_never_reused(make_router, emulator):
    router = make_router()
    emulator.set_key(0, "invalid")
    client = client_for(router)
    for i in range(6):
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": f"q{i}"}])
    assert [r["status"] for r in emulator.stats()["requests"] if r["key_index"] == 0] == [400]
    health = json.loads(urllib.request.urlopen(f"{router.url}/health").read())
    assert health["active_keys"] == 2


def test_403_key_is_disabled_and_its_key_never_reaches_the_client(make_router, emulator):
    router = make_router(keys=KEYS[:2])
    emulator.set_key(0, "forbidden")
    answer = client_for(router).chat.completions.create(model="gpt-4", messages=MSG)
    assert "You said" in answer.choices[0].message.content
    emulator.set_key(1, "forbidden")
    with pytest.raises(openai.InternalServerError) as info:  # another question: not a cache hit
        client_for(router).chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "Again"}])
    assert info.value.status_code == 503
    body = info.value.response.text
    assert all(k not in body for k in KEYS)


def test_503_is_retried_on_another_key(make_router, emulator):
    router = make_router()
    emulator.set_key(0, "unavailable")
    answer = client_for(router).chat.completions.create(model="gpt-4", messages=MSG)
    assert "You said" in answer.choices[0].message.content
    assert [r["status"] for r in emulator.stats()["requests"]] == [503, 200]


def test_connection_drop_and_hang_are_retried(make_router, emulator):
    router = make_router(config={"server": {"read_timeout_seconds": 1}})
    emulator.set_key(0, "drop")
    emulator.set_key(1, "hang")
    answer = client_for(router).chat.completions.create(model="gpt-4", messages=MSG)
    assert "You said" in answer.choices[0].message.content
    assert served_keys(emulator)[2] == 1


def test_client_error_from_gemini_is_passed_on_in_openai_format(make_router, emulator):
    client = client_for(make_router())
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gemini-0-nonexistent", messages=MSG)
    assert info.value.code == "model_not_found"
    assert len(emulator.stats()["requests"]) == 1  # a 404 is not retried on other keys


@pytest.mark.parametrize(
    "body,fragment",
    [
        (b"{not json", "not valid JSON"),
        (b'{"model": "gpt-4"}', "messages"),
        (b'{"model": "gpt-4", "messages": []}', "messages"),
        (b'{"model": "gpt-4", "messages": [{"role": "robot", "content": "hi"}]}', "robot"),
        (b'{"model": "gpt-4", "messages": "hello"}', "messages"),
        (b'{"model": 5, "messages": [{"role": "user", "content": "hi"}]}', "model"),
        (b'{"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}', "temperature"),
        (b"[]", "object"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_problem_and_never_forwarded(make_router, emulator, body, fragment):
    router = make_router()
    request = urllib.request.Request(
        f"{router.base_url}/chat/completions", data=body, method="POST", headers={"content-type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 400
    error = json.loads(info.value.read())["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert fragment in error["message"] or fragment == error["param"]
    assert emulator.stats()["requests"] == []
    assert "You said" in client_for(router).chat.completions.create(model="gpt-4", messages=MSG).choices[0].message.content


def test_unknown_path_is_404_in_openai_format(make_router):
    router = make_router()
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{router.base_url}/audio/speech", timeout=5)
    assert info.value.code in (404, 405)
    assert "error" in json.loads(info.value.read())


def test_100_parallel_requests_all_answered_once(make_router, emulator):
    client = client_for(make_router(), timeout=60)

    def ask(i: int) -> str:
        return (
            client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": f"parallel {i}"}])
            .choices[0]
            .message.content
        )

    with ThreadPoolExecutor(max_workers=25) as pool:
        answers = list(pool.map(ask, range(100)))
    assert all(f"parallel {i}" in a for i, a in enumerate(answers))
    assert sum(served_keys(emulator).values()) == 100


def test_health_counts_client_requests_not_attempts(make_router, emulator):
    router = make_router()
    emulator.set_key(0, "rate_limit")
    client = client_for(router)
    client.chat.completions.create(model="gpt-4", messages=MSG)
    client.chat.completions.create(model="gpt-4", messages=MSG)
    health = json.loads(urllib.request.urlopen(f"{router.url}/health").read())
    workers = {}
    if router.workers > 1:
        # Workers add their totals up through Redis once a second (addons/sharedstate.py
        # REFRESH_SECONDS); /health may come from the worker that did not serve the requests.
        deadline = time.monotonic() + 10
        while health["total_requests"] < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            health = json.loads(urllib.request.urlopen(f"{router.url}/health").read())
        workers = {"worker": health["worker"], "redis": "up"}
    assert health == {
        "status": "healthy",
        "active_keys": 3,
        "unanswered_keys": 0,
        "total_requests": 2,
        "total_saved": health["total_saved"],
        "total_charged": "$0.00",  # Gemini's free tier
        **workers,
    }
    assert health["total_saved"].startswith("$")


def test_no_key_value_in_the_log(make_router, emulator):
    router = make_router()
    emulator.set_key(0, "forbidden")
    emulator.set_key(1, "rate_limit")
    client_for(router).chat.completions.create(model="gpt-4", messages=MSG)
    log = router.log()
    for key in KEYS:
        assert key not in log
        assert key[4:16] not in log


def test_invalid_config_stops_start_up_naming_the_field(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(
        "key_pool:\n  keys:\n    - {name: a, key: AIzaX1}\n    - {name: b, key: AIzaX2}\n"
        "    - {name: c, key: AIzaX3, enabled: yes please}\n"
    )
    result = subprocess.run(
        [
            str(BIN / "mitmdump"),
            "-s",
            str(REPO / "addons" / "router.py"),
            "--set",
            f"hpn_config={config}",
            "--mode",
            "reverse:http://127.0.0.1:9@127.0.0.1:0",
            "--set",
            f"confdir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert 'key_pool.keys[2].enabled: expected true/false, got "yes please"' in result.stdout + result.stderr


def test_no_keys_points_to_the_demo(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "hpn_router", "check"],
        capture_output=True,
        text=True,
        cwd=REPO / "addons",
        env={"PATH": "/usr/bin:/bin"},
        timeout=30,
    )
    assert result.returncode == 1
    assert "./run.sh --demo" in result.stderr


def test_a_client_that_disconnects_cancels_its_upstream_request(make_router, emulator):
    router = make_router(keys=KEYS[:1])
    emulator.set_key(0, "hang")
    client = client_for(router, timeout=1.0)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="gpt-4", messages=MSG)
    import time

    deadline = time.monotonic() + 5
    while "upstream request cancelled" not in router.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "upstream request cancelled" in router.log()
    emulator.set_key(0, "ok")
    assert "You said" in client_for(router).chat.completions.create(model="gpt-4", messages=MSG).choices[0].message.content
