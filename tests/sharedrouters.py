"""SharedPoolState test helpers (tests/addons/test_shared*.py): a router's state and shared
state on a given Redis URL (None: not shared), and a bounded wait."""

from __future__ import annotations

import asyncio
import time

from hpn_router.addons.sharedstate import SharedPoolState
from hpn_router.config import parse_config
from hpn_router.core.keypool import KeyPool
from hpn_router.core.state import RouterState

MODEL = "gemini-2.5-flash"
KEYS = [{"name": "a", "key": "AIzaSySharedKeyAaaaaaaaaaa", "project": "p1"}, {"name": "b", "key": "AIzaSySharedKeyBbbbbbbbbbb"}]


def config(url: str | None, keys: list[dict] = KEYS):
    return parse_config({"key_pool": {"keys": keys, "state_file": ""}, "state": {"redis_url": url}}, {})


def router(url: str | None, keys: list[dict] = KEYS) -> tuple[RouterState, SharedPoolState]:
    state = RouterState()
    cfg = config(url, keys)
    state.pool = KeyPool(cfg.pool_keys(), cooldown_seconds=60)
    shared = SharedPoolState(state)
    shared.apply(cfg)
    return state, shared


async def until(check, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)
