"""The flash cache's addons as the tests drive them: one client request through CacheLookup,
(an upstream answer) and CacheStore, with an injected clock."""

from __future__ import annotations

from typing import Any

from flowtools import answer_from_upstream, chat_flow, completion, router_config
from hpn_router.addons.cache import FlashCache
from hpn_router.addons.cachehit import HEADER
from hpn_router.addons.cachelookup import CacheLookup
from hpn_router.addons.cachestore import CacheStore
from mitmproxy import http

BODY = {"model": "gpt-4", "messages": [{"role": "user", "content": "Hello"}]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(clock: Clock | None = None, **cache: Any) -> tuple[FlashCache, CacheLookup, CacheStore]:
    flash = FlashCache(timer=clock or Clock())
    flash.apply(router_config(cache=cache, models={"fast": "gemini-2.5-flash"}))
    return flash, CacheLookup(flash), CacheStore(flash)


async def ask(
    lookup: CacheLookup, store: CacheStore, body: dict[str, Any] | bytes = BODY, answer: dict[str, Any] | None = None, **kw: Any
) -> http.HTTPFlow:
    """One client request through lookup, (upstream), store."""
    flow = chat_flow(body, **kw)
    await lookup.request(flow)
    if flow.response is None:
        answer_from_upstream(flow, answer or completion())
    store.responseheaders(flow)
    await store.response(flow)
    return flow


def status(flow: http.HTTPFlow) -> str | None:
    return flow.response.headers.get(HEADER) if flow.response else None
