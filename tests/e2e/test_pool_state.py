"""Issue 9 item 3 and the circuit breaker of item 5, end to end: pool state follows the key
value across restarts (never its name or position), a state file of any shape never stops
the router, two routers never share one state file, and a key that hangs is passed over."""

from __future__ import annotations

import json
import signal
import time
import urllib.request

import pytest
import yaml
from procs import KEYS, client_for, http_json, start_router

ADMIN = "admin-token-0123456789abcdef"
WITH_ADMIN = {"server": {"admin_token": ADMIN}}


def admin_keys(router) -> dict[str, dict]:
    request = urllib.request.Request(f"{router.url}/admin/keys", headers={"authorization": f"Bearer {ADMIN}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return {row["name"]: row for row in json.loads(response.read())["keys"]}


def ask(router, n: int) -> None:
    client = client_for(router)
    for i in range(n):
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": f"state {i}"}])


def used_key_indexes(emulator) -> set[int]:
    return {r["key_index"] for r in emulator.stats()["requests"]}


def test_state_follows_the_key_value_not_its_name_or_position(make_router, emulator, tmp_path):
    a, b, c = KEYS[0], KEYS[1], KEYS[2]  # emulator key indexes 0, 1, 2
    router = make_router(keys=[a, b], config=WITH_ADMIN)
    emulator.set_key(0, "invalid")
    ask(router, 1)
    assert admin_keys(router)["key_1"]["state"] == "disabled"
    router.stop()
    saved = (tmp_path / ".hpn" / "state.json").read_text()
    assert all(k[i : i + 12] not in saved for k in KEYS for i in range(len(k) - 11))
    assert "key_1" not in saved

    emulator.reset()  # A is fine again at Gemini; the router must still remember it is not
    swapped = make_router(keys=[b, a], config=WITH_ADMIN)  # A comes back as key_2
    rows = admin_keys(swapped)
    assert (rows["key_2"]["state"], rows["key_2"]["reason"]) == ("disabled", "400 API key invalid or expired")
    assert rows["key_1"]["state"] == "active"
    ask(swapped, 3)
    assert used_key_indexes(emulator) == {1}
    swapped.stop()

    fresh = make_router(keys=[c, b], config=WITH_ADMIN)  # C takes A's old name, key_1
    rows = admin_keys(fresh)
    assert (rows["key_1"]["state"], rows["key_1"]["reason"]) == ("active", None)
    ask(fresh, 4)
    assert 2 in used_key_indexes(emulator)
    fresh.stop()
    assert json.loads((tmp_path / ".hpn" / "state.json").read_text())["keys"] == {}  # A is gone: so is its state


OLD_GARBAGE = {"version": 1, "disabled": {}, "cooldowns": [{"project": "key:key_1", "model": "m", "until": "x"}], "day_counts": []}
NEW_GARBAGE = {"version": 2, "keys": [], "cooldowns": "soon", "day_counts": [], "total_saved": "lots"}


@pytest.mark.parametrize(("content", "warning"), [(OLD_GARBAGE, "another version"), (NEW_GARBAGE, "unexpected shape")])
def test_a_state_file_of_unexpected_shape_starts_the_router_fresh(make_router, tmp_path, content, warning):
    state = tmp_path / ".hpn" / "state.json"
    state.parent.mkdir()
    state.write_text(json.dumps(content))
    router = make_router(config=WITH_ADMIN)
    assert warning in router.log()
    assert {row["state"] for row in admin_keys(router).values()} == {"active"}
    ask(router, 1)


@pytest.mark.single_process(reason="one process owns the state file: as workers the supervisor retries worker 0 before it gives up")
def test_a_second_router_on_the_same_state_file_refuses_to_start(make_router, emulator, tmp_path):
    first = make_router()
    # Non-zero (ErrorCheck exits with 1; mitmdump's teardown after it has been seen to crash).
    with pytest.raises(RuntimeError, match=r"mitmdump exited with (?!0:)-?\d+:") as info:
        start_router(tmp_path, keys=KEYS[:2], gemini_url=emulator.url)
    message = str(info.value)
    assert "is in use by another router" in message and "HPN_STATE_FILE" in message
    other = make_router(env={"HPN_STATE_FILE": str(tmp_path / "other" / "state.json")})
    ask(other, 1)
    ask(first, 1)


def test_a_key_that_hangs_is_passed_over_by_the_next_requests(make_router, emulator):
    router = make_router(keys=KEYS[:2], config={"server": {"admin_token": ADMIN, "read_timeout_seconds": 1}})
    emulator.set_key(0, "hang")
    ask(router, 1)  # waits 1 s for key_1, then key_2 answers
    for i in range(3):  # a connection each: as workers, the kernel spreads them over both
        client_for(router).chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": f"after {i}"}])
    by_key = emulator.stats()["by_key"]
    assert (by_key.get("0"), by_key.get("1")) == (1, 4)
    for _ in range(4):  # a connection each, so as workers both answer (whichever saw the hang)
        row = admin_keys(router)["key_1"]
        assert (row["state"], row["reason"]) == ("cooling", "no answer (timeout) once") and row["until"]
        assert http_json("GET", f"{router.url}/health")["unanswered_keys"] == 1  # type: ignore[index]
    assert router.log().count("key_unanswered") == 1


def test_reload_keeps_state_for_a_renamed_key_and_drops_it_for_a_changed_value(make_router, emulator, tmp_path):
    def keys_config(*keys: tuple[str, str]) -> dict:
        return {**WITH_ADMIN, "key_pool": {"keys": [{"name": name, "key": key} for name, key in keys]}}

    router = make_router(config=keys_config(("first", KEYS[0]), ("second", KEYS[1])), env={"HPN_API_KEYS": ""})
    emulator.set_key(0, "invalid")
    ask(router, 1)
    config_file = next(tmp_path.glob("config-*.yaml"))
    config_file.write_text(yaml.safe_dump(keys_config(("second", KEYS[1]), ("renamed", KEYS[0]))))
    reload(router)
    assert admin_keys(router)["renamed"]["state"] == "disabled"
    config_file.write_text(yaml.safe_dump(keys_config(("second", KEYS[1]), ("renamed", KEYS[3]))))
    reload(router)
    assert admin_keys(router)["renamed"]["state"] == "active"


def reload(router) -> None:
    before = router.log().count("Configuration reloaded")
    router.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while router.log().count("Configuration reloaded") == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert router.log().count("Configuration reloaded") > before
