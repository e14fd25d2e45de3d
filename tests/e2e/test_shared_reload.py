"""Issue 14, admin actions reach every router, end to end: two routers (real mitmdump) on one
config file and one real redis-server. `POST /admin/reload` on router A alone makes router B
read the edited file too (a key added, a model mapping changed), once, without the notice
coming back to A; a bad edit is refused by both, each keeping its config, and B's log names the
field. No key value in any log."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from procs import KEYS, Router, client_for, start_router, wait_for

# Two routers sharing one Redis are the instances under test; as workers each would split further
# (and count its workers among the routers told).
pytestmark = pytest.mark.single_process(reason="starts two routers on one Redis itself: they are the instances under test")

ADMIN = "admin-token-0123456789abcdef"
ALIAS = "gpt-reload-test"


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shared-config") / "config.yaml"
    write(path, keys=1, model="gemini-flash-latest")
    return path


@pytest.fixture(scope="module")
def routers(emulator, redis_server, config_file, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Router]]:
    """A and B read the same config file (keys in the file, none from the environment)."""
    started = []
    for name in ("a", "b"):
        tmp = tmp_path_factory.mktemp(f"router-{name}")
        env = {
            "HPN_CONFIG": str(config_file),
            "HPN_API_KEYS": "",
            "HPN_REDIS_URL": redis_server.url,
            "HPN_STATE_FILE": str(tmp / "state.json"),
        }
        started.append(start_router(tmp, keys=[], gemini_url=emulator.url, env=env))
    yield started
    for router in started:
        router.stop()


def write(path: Path, *, keys: int, model: str, retry_count: object = 1) -> None:
    config = {
        "server": {"admin_token": ADMIN},
        "key_pool": {"keys": [{"name": f"key_{i + 1}", "key": KEYS[i]} for i in range(keys)], "retry_count": retry_count},
        "models": {ALIAS: model},
        "cache": {"enabled": False},
    }
    path.write_text(yaml.safe_dump(config))


def admin(router: Router, method: str = "GET", path: str = "/admin/keys") -> tuple[int, dict]:
    request = urllib.request.Request(f"{router.url}{path}", method=method, headers={"authorization": f"Bearer {ADMIN}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def key_names(router: Router) -> list[str]:
    return [row["name"] for row in admin(router)[1]["keys"]]


def peer_reloads(router: Router) -> list[dict]:
    """The router's reload lines asked by another router."""
    lines = [json.loads(line) for line in router.log().splitlines() if line.startswith("{") and '"config_reload"' in line]
    return [line for line in lines if line.get("trigger") == "peer"]


def models_asked(router: Router, emulator, count: int) -> set[str]:
    """The Gemini models (and key indexes) `count` requests to ALIAS reached."""
    emulator.reset()
    for i in range(count):
        client_for(router).chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": f"hi {i} {time.monotonic_ns()}"}])
    return {f"{r['path'].split('/')[-1].split(':')[0]}@{r['key_index']}" for r in emulator.stats()["requests"]}


def wait_redis_up(routers: list[Router]) -> None:
    for router in routers:
        wait_for(lambda r=router: json.loads(urllib.request.urlopen(f"{r.url}/health", timeout=5).read()).get("redis") == "up", "redis up")


def test_a_reload_on_router_a_reaches_router_b_once(routers, config_file, emulator):
    a, b = routers
    wait_redis_up(routers)
    assert models_asked(b, emulator, 2) == {"gemini-flash-latest@0"}
    before = len(peer_reloads(b))
    write(config_file, keys=2, model="gemini-flash-lite-latest")  # a key added, a mapping changed

    status, answer = admin(a, "POST", "/admin/reload")

    assert (status, answer) == (200, {"reloaded": True, "keys": 2, "routers_notified": 1})
    wait_for(lambda: len(peer_reloads(b)) > before, "B to reload")
    assert key_names(b) == ["key_1", "key_2"]
    assert models_asked(b, emulator, 2) == {"gemini-flash-lite-latest@0", "gemini-flash-lite-latest@1"}  # both keys, new model
    [line] = peer_reloads(b)[before:]
    assert line["outcome"] == "reloaded" and line["by"].endswith(f"pid {a.proc.pid}")  # the origin, named
    assert line["keys_added"] == ["key_2"] and "models" in " ".join(line["settings_changed"])
    assert peer_reloads(a) == []  # B did not announce its reload in turn: no loop


def test_a_bad_edit_is_refused_by_every_router_and_b_names_the_field(routers, config_file, emulator):
    a, b = routers
    wait_redis_up(routers)
    write(config_file, keys=2, model="gemini-flash-lite-latest")
    before = len(peer_reloads(b))
    assert admin(a, "POST", "/admin/reload")[0] == 200
    wait_for(lambda: len(peer_reloads(b)) == before + 1, "B to reload the good config")
    write(config_file, keys=1, model="gemini-flash-latest", retry_count="many")

    status, answer = admin(a, "POST", "/admin/reload")

    assert status == 400 and "key_pool.retry_count" in answer["error"]["message"]
    assert answer["error"]["message"].endswith("(1 other router told to reload)")
    wait_for(lambda: len(peer_reloads(b)) == before + 2, "B to try the bad config")
    refused = peer_reloads(b)[-1]
    assert refused["outcome"] == "refused" and refused["error"].startswith("key_pool.retry_count: expected an integer")
    for router in routers:  # the previous config stays on both
        assert key_names(router) == ["key_1", "key_2"]
        assert models_asked(router, emulator, 2) == {"gemini-flash-lite-latest@0", "gemini-flash-lite-latest@1"}
    assert peer_reloads(a) == []
    logs = a.log() + b.log()
    for key in KEYS[:2]:
        assert key not in logs and key[-8:] not in logs
