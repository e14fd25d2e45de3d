"""Issue 6 end to end: quotas by project, proactive limits, waiting, state across restarts
and reloads, the admin API, client tokens and per-client limits, body limits."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request

import openai
import pytest
import yaml
from procs import KEYS, client_for, start_emulator, start_router

MSG = [{"role": "user", "content": "Hello there"}]
ADMIN = "admin-token-0123456789abcdef"
CLIENTS = ["client-token-aaaaaaaaaaaaaaaa", "client-token-bbbbbbbbbbbbbbbb"]


def call(method: str, url: str, token: str | None = None, body: bytes | None = None) -> tuple[int, dict, dict]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}"), {k.lower(): v for k, v in e.headers.items()}


def chat_body(text: str = "hi") -> bytes:
    return json.dumps({"model": "gpt-4", "messages": [{"role": "user", "content": text}]}).encode()


def test_a_429_cools_every_key_of_that_project(make_router, emulator):
    router = make_router(env={"HPN_KEY_PROJECTS": "A,A,B"}, config={"key_pool": {"max_wait_seconds": 0}})
    emulator.set_key(0, "rate_limit")
    client = client_for(router)
    for i in range(4):
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": f"p{i}"}])
    used = [(r["key_index"], r["status"]) for r in emulator.stats()["requests"]]
    assert used[0] == (0, 429)
    assert all(k == 2 for k, _ in used[1:]), used  # key 1 shares project A: skipped while A cools


def test_configured_limits_mean_no_429_ever_reaches_gemini(tmp_path):
    keys = [{"key": KEYS[0], "project": "A", "rpm": 3}, {"key": KEYS[1], "project": "B", "rpm": 3}]
    emu = start_emulator({"keys": keys}, tmp_path)
    limits = [{"project": "A", "rpm": 3}, {"project": "B", "rpm": 3}]
    router = start_router(
        tmp_path,
        keys=KEYS[:2],
        gemini_url=emu.url,
        env={"HPN_KEY_PROJECTS": "A,B"},
        config={"key_pool": {"limits": limits, "max_wait_seconds": 0}},
    )
    try:
        client = client_for(router)
        for i in range(6):
            client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": f"q{i}"}])
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(model="gpt-4", messages=MSG)
        assert 1 <= int(info.value.response.headers["retry-after"]) <= 60
        statuses = [r["status"] for r in emu.stats()["requests"]]
        assert statuses == [200] * 6  # the seventh never left the router
    finally:
        router.stop()
        emu.stop()


def test_a_request_waits_for_the_earliest_recovery(make_router, emulator):
    router = make_router(keys=KEYS[:1], config={"key_pool": {"max_wait_seconds": 5}})
    emulator.set_key(0, "ok", script=["rate_limit"])  # one 429 with RetryInfo 2s, then fine
    client = client_for(router, timeout=30)
    started = time.monotonic()
    # The only key answers 429 (retry in 2 s): the request waits for it, then it serves.
    answer = client.chat.completions.create(model="gpt-4", messages=MSG)
    assert "You said" in answer.choices[0].message.content
    assert time.monotonic() - started >= 1.0
    assert [r["status"] for r in emulator.stats()["requests"]] == [429, 200]
    emulator.set_key(0, "rate_limit")  # 429 every time, retry in 2 s: beyond a 1 s budget
    # A second router running beside the first needs a state file of its own.
    router2 = make_router(keys=KEYS[:1], config={"key_pool": {"max_wait_seconds": 1}}, env={"HPN_STATE_FILE": ""})
    with pytest.raises(openai.RateLimitError):
        client_for(router2).chat.completions.create(model="gpt-4", messages=MSG)


def test_state_survives_a_restart(make_router, emulator):
    router = make_router(config={"server": {"admin_token": ADMIN}})
    emulator.set_key(0, "invalid")
    client_for(router).chat.completions.create(model="gpt-4", messages=MSG)
    router.stop()
    emulator.reset()
    again = make_router(config={"server": {"admin_token": ADMIN}})
    status, body, _ = call("GET", f"{again.url}/admin/keys", ADMIN)
    assert status == 200
    first = body["keys"][0]
    assert (first["name"], first["state"], first["reason"]) == ("key_1", "disabled", "400 API key invalid or expired")
    for i in range(3):
        client_for(again).chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": f"r{i}"}])
    assert all(r["key_index"] != 0 for r in emulator.stats()["requests"])
    assert all(k not in (again.log_path.parent / ".hpn" / "state.json").read_text() for k in KEYS)


def test_admin_api_lists_and_re_enables_keys(make_router, emulator):
    router = make_router(config={"server": {"admin_token": ADMIN}})
    emulator.set_key(1, "forbidden")
    client = client_for(router)
    for i in range(3):
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": f"a{i}"}])
    assert call("GET", f"{router.url}/admin/keys")[0] == 401
    assert call("GET", f"{router.url}/admin/keys", "wrong-token-000000000000")[0] == 401
    status, body, _ = call("GET", f"{router.url}/admin/keys", ADMIN)
    rows = {row["name"]: row for row in body["keys"]}
    assert rows["key_2"]["state"] == "disabled" and "403" in rows["key_2"]["reason"]
    assert rows["key_1"]["state"] == "active" and rows["key_1"]["requests_today"] >= 1
    for _ in range(4):  # a connection each: as workers, whichever answers counts every worker's requests
        again = {row["name"]: row for row in call("GET", f"{router.url}/admin/keys", ADMIN)[1]["keys"]}
        assert again["key_1"]["requests_today"] >= 1 and again["key_2"]["state"] == "disabled"
    assert set(rows["key_1"]) == {"name", "project", "state", "reason", "until", "requests_today", "requests_last_minute"}
    emulator.set_key(1, "ok")
    status, row, _ = call("POST", f"{router.url}/admin/keys/key_2/enable", ADMIN, b"")
    assert status == 200 and row["state"] == "active"
    assert call("POST", f"{router.url}/admin/keys/nope/enable", ADMIN, b"")[0] == 404
    assert all(k not in json.dumps(body) for k in KEYS)


def test_reload_keeps_the_state_of_keys_that_stay(make_router, emulator, tmp_path):
    router = make_router(config={"server": {"admin_token": ADMIN}})
    emulator.set_key(0, "invalid")
    client_for(router).chat.completions.create(model="gpt-4", messages=MSG)
    config_file = next(tmp_path.glob("config-*.yaml"))
    config_file.write_text(yaml.safe_dump({"server": {"admin_token": ADMIN}, "models": {"my-alias": "gemini-2.5-pro"}}))
    router.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "Configuration reloaded" not in router.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "my-alias" in [m.id for m in client_for(router).models.list().data]
    rows = call("GET", f"{router.url}/admin/keys", ADMIN)[1]["keys"]
    assert rows[0]["state"] == "disabled"
    config_file.write_text("server: {port: not-a-port}\n")
    status, body, _ = call("POST", f"{router.url}/admin/reload", ADMIN, b"")
    assert status == 400 and "server.port" in body["error"]["message"]
    assert "You said" in client_for(router).chat.completions.create(model="gpt-4", messages=MSG).choices[0].message.content


def test_client_tokens_are_required_and_health_shows_anonymous_only_the_status(make_router, emulator):
    router = make_router(env={"HPN_CLIENT_TOKENS": ",".join(CLIENTS)})
    status, body, _ = call("POST", f"{router.base_url}/chat/completions", None, chat_body())
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    assert call("POST", f"{router.base_url}/chat/completions", "sk-wrong-token-00000000", chat_body())[0] == 401
    assert emulator.stats()["requests"] == []
    answer = openai.OpenAI(base_url=router.base_url, api_key=CLIENTS[1], max_retries=0).chat.completions.create(model="gpt-4", messages=MSG)
    assert "You said" in answer.choices[0].message.content
    anonymous = call("GET", f"{router.url}/health")[1]
    assert anonymous.pop("worker", None) in (None, 0, 1)  # as workers, which one answered (to tell them apart)
    assert anonymous == {"status": "healthy"}
    assert call("GET", f"{router.url}/health", CLIENTS[0])[1]["total_requests"] >= 1


def test_per_client_rate_limit_hits_only_that_client(make_router, emulator):
    router = make_router(env={"HPN_CLIENT_TOKENS": ",".join(CLIENTS)}, config={"server": {"client_rpm": 2}})
    url = f"{router.base_url}/chat/completions"
    assert [call("POST", url, CLIENTS[0], chat_body(f"c{i}"))[0] for i in range(2)] == [200, 200]
    status, body, headers = call("POST", url, CLIENTS[0], chat_body("c3"))
    assert status == 429 and body["error"]["code"] == "rate_limit_exceeded"
    assert int(headers["retry-after"]) >= 1
    assert call("POST", url, CLIENTS[1], chat_body("other"))[0] == 200
    assert len(emulator.stats()["requests"]) == 3


def test_body_and_nesting_limits(make_router, emulator):
    router = make_router(config={"server": {"max_body_bytes": 4096, "max_json_depth": 16}})
    url = f"{router.base_url}/chat/completions"
    big = chat_body("x" * 5000)
    with pytest.raises(urllib.error.HTTPError) as refused:  # mitmproxy answers it, before reading the body
        urllib.request.urlopen(urllib.request.Request(url, data=big, method="POST"), timeout=10)
    assert refused.value.code == 413
    deep = b'{"model": "gpt-4", "messages": [{"role": "user", "content": "hi", "x": ' + b"[" * 40 + b"]" * 40 + b"}]}"
    status, body, _ = call("POST", url, None, deep)
    assert status == 400 and "nests JSON deeper" in body["error"]["message"]
    assert emulator.stats()["requests"] == []
    assert call("POST", url, None, chat_body())[0] == 200


@pytest.mark.parametrize(
    "mode,config",
    [
        ("reverse:https://generativelanguage.googleapis.com@0.0.0.0:{port}", {}),  # no proxy listener: it may open
        ("regular@0.0.0.0:{port}", {"server": {"proxy_open": True}}),  # an open proxy, asked for knowingly
    ],
    ids=["reverse", "proxy_open"],
)
def test_warning_when_exposed_without_tokens(tmp_path, emulator, mode, config):
    port = __import__("procs").free_port()
    router = start_router(tmp_path, keys=KEYS[:1], gemini_url=emulator.url, config=config, extra_args=["--mode", mode.format(port=port)])
    try:
        assert "without client tokens" in router.log()
    finally:
        router.stop()


def _log_events(router, event: str) -> list[dict]:
    lines = []
    for line in router.log().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == event:
            lines.append(record)
    return lines


@pytest.mark.single_process(reason="counts one router's reload lines: as workers, each worker reloads and logs its own")
def test_each_reload_is_logged_with_its_trigger_outcome_and_changed_names(make_router, emulator, tmp_path):
    def pool(**keys: str) -> dict:
        return {"server": {"admin_token": ADMIN}, "key_pool": {"keys": [{"name": n, "key": k} for n, k in keys.items()]}}

    router = make_router(config=pool(key_a=KEYS[0], key_b=KEYS[1]), env={"HPN_API_KEYS": ""})
    config_file = next(tmp_path.glob("config-*.yaml"))
    changed = pool(key_b=KEYS[2], key_c=KEYS[3])
    config_file.write_text(yaml.safe_dump({**changed, "cache": {"ttl_seconds": 42}}))
    status, body, _ = call("POST", f"{router.url}/admin/reload", ADMIN, b"")
    assert status == 200 and body["reloaded"] is True
    [record] = _log_events(router, "config_reload")
    assert record["trigger"] == "admin_api" and record["by"].startswith("127.0.0.1") and record["outcome"] == "reloaded"
    assert (record["keys_added"], record["keys_removed"], record["keys_changed"]) == (["key_c"], ["key_a"], ["key_b"])
    assert record["settings_changed"] == ["cache.ttl_seconds"]

    config_file.write_text("server: {port: not-a-port}\n")
    router.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while len(_log_events(router, "config_reload")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    refused = _log_events(router, "config_reload")[1]
    assert refused["trigger"] == "sighup" and refused["outcome"] == "refused" and "server.port" in refused["error"]
    assert refused["level"] == "error"
    log = router.log()
    assert all(key not in log for key in KEYS) and ADMIN not in log
