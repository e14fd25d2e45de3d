"""Signed webhooks end to end: a real router, the emulator answering a storm of 429s, and a
local aiohttp receiver that verifies every signature (Standard Webhooks) and sees each key and
pool transition exactly once, recoveries included (they come from the router's timer: no
request is sent while the keys cool)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from aiohttp import web
from procs import KEYS, Emulator, client_for, free_port, start_emulator
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e

SECRET = "whsec_" + base64.b64encode(b"e2e webhook secret, 32 bytes ..").decode()
COOLDOWN = "4s"  # Gemini's retryDelay: the storm ends well within it
STORM = 30  # requests, 10 at a time


class Receiver:
    """An aiohttp server on loopback, in a thread of its own; it keeps each verified event."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.bad: list[str] = []
        self.ids: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        msg_id, stamp = request.headers.get("webhook-id", ""), request.headers.get("webhook-timestamp", "")
        key = base64.b64decode(SECRET.removeprefix("whsec_"))
        expected = base64.b64encode(hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()).decode()
        signatures = request.headers.get("webhook-signature", "").split()
        if not any(hmac.compare_digest(s.removeprefix("v1,"), expected) for s in signatures) or abs(time.time() - int(stamp)) > 300:
            self.bad.append(body.decode(errors="replace"))
            return web.Response(status=401)
        self.ids.append(msg_id)
        self.events.append(json.loads(body))
        return web.Response(status=204)

    def kinds(self) -> Counter[tuple[str, str | None]]:
        return Counter((e["type"], e["data"]["key"] or e["data"]["model"]) for e in self.events)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """Two keys that answer 429 (retry in 4 s) until told otherwise, a little slowly, so a burst
    of requests is in flight at both keys at once."""
    keys = [
        {"key": k, "project": f"proj-{i}", "behaviour": "rate_limit", "retry_delay": COOLDOWN, "latency_ms": 150}
        for i, k in enumerate(KEYS[:2], start=1)
    ]
    emu = start_emulator({"keys": keys, "gemini3_models": ["gemini-flash-latest"]}, tmp_path_factory.mktemp("emulator"))
    yield emu
    emu.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def wait_for(condition, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def ask(client: openai.OpenAI, n: int = 0) -> int:
    """A distinct question each time: identical ones in flight together would share one answer."""
    try:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": f"question {n}"}])
        return 200
    except openai.APIStatusError as e:
        return e.status_code


def delivered(router) -> float:
    with urllib.request.urlopen(f"{router.url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    found = {(s.name, tuple(s.labels.items())): s.value for f in text_string_to_metric_families(text) for s in f.samples}
    return found.get(("hpn_webhook_deliveries_total", (("outcome", "delivered"),)), 0.0)


def test_each_transition_is_one_signed_event_under_a_storm_of_429s(make_router, emulator, receiver):
    router = make_router(
        keys=KEYS[:2],
        config={"key_pool": {"max_wait_seconds": 0, "state_file": ""}, "webhooks": [{"url": receiver.url, "secret": SECRET}]},
    )
    client = client_for(router)
    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(lambda n: ask(client, n), range(STORM)))
    assert set(statuses) == {429}
    upstream_429s = Counter(r["key_index"] for r in emulator.stats()["requests"] if r["status"] == 429)
    for index in range(2):  # the keys recover with Gemini's answers from now on
        emulator.set_key(index, "ok")
    assert sum(upstream_429s.values()) > 2  # a storm: more 429s than cooldowns

    cooled = {("key.cooling", "key_1"): 1, ("key.cooling", "key_2"): 1, ("pool.exhausted", "gemini-flash-latest"): 1}
    recovered = {("key.recovered", "key_1"): 1, ("key.recovered", "key_2"): 1, ("pool.recovered", "gemini-flash-latest"): 1}
    assert wait_for(lambda: receiver.kinds() == Counter(cooled) + Counter(recovered)), receiver.kinds()
    assert ask(client, STORM) == 200  # back in service; a check after this request finds nothing new
    time.sleep(1.5)  # a tick of the router's timer too
    assert receiver.kinds() == Counter(cooled) + Counter(recovered)
    assert receiver.bad == [] and len(set(receiver.ids)) == len(receiver.ids)
    assert wait_for(lambda: delivered(router) == len(receiver.events)), delivered(router)  # hpn_webhook_deliveries_total

    exhausted = next(e for e in receiver.events if e["type"] == "pool.exhausted")
    assert exhausted["data"]["provider"] == "gemini" and exhausted["data"]["until"].endswith("Z")
    cooling = next(e for e in receiver.events if e["type"] == "key.cooling")
    assert set(cooling["data"]) == {"provider", "key", "project", "model", "reason", "until"}
    everything = json.dumps(receiver.events)
    assert not any(key in everything or key[-8:] in everything for key in KEYS)
    assert SECRET not in router.log() and SECRET.removeprefix("whsec_") not in router.log()


def test_a_webhook_at_the_routers_own_port_is_refused(make_router):
    """Its second listener's port is known before it starts: the webhook points there."""
    port = free_port()
    router = make_router(
        keys=KEYS[:1],
        config={"key_pool": {"state_file": ""}},
        extra_args=["--mode", f"regular@127.0.0.1:{port}"],
        env={"HPN_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook?token=abc", "HPN_WEBHOOK_SECRET": "a-webhook-secret-0123"},
    )
    assert wait_for(lambda: "is the router itself" in router.log(), 10), router.log()
    assert f"http://127.0.0.1:{port}/hook is the router itself" in router.log() and "token=abc" not in router.log()
