"""Admin: the key pool's state, and operator actions, under `/admin/` (admin token only;
Access checks it).

    GET  /admin/keys                  each key's name, project, state, reason, until, usage
    POST /admin/keys/{name}/enable    bring a disabled or cooling key back
    POST /admin/reload                reload the config (also on SIGHUP); keys that stay keep state

With shared state (`state.redis_url`) a key's requests_today and requests_last_minute count every
router's requests (SharedPoolState.request_counts, one Redis round trip per listing; this router's
own counts while Redis is down), and an operator's reload reaches every router: this one tells
the others through Redis (SharedPoolState.announce_reload), and reloads when another one tells it
(trigger `peer`, never announced again).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from loguru import logger
from mitmproxy import http

from hpn_router.addons.answers import answer_error, answer_json, is_client_flow
from hpn_router.core.errors import InvalidRequestError, NotFoundError
from hpn_router.core.keypool import KeyPool
from hpn_router.core.state import RouterState


class Reloader(Protocol):
    """Settings.reload: returns an error message, or None when reloaded; logs the reload."""

    def __call__(self, *, trigger: str, by: str | None = None) -> str | None: ...


class ReloadChannel(Protocol):
    """SharedPoolState's side of reloads: tells the other routers, and calls peer_reload when
    another router tells this one."""

    peer_reload: Callable[[str], object] | None

    @property
    def shared(self) -> bool: ...

    async def announce_reload(self, trigger: str) -> int | None: ...

    async def request_counts(self, now: float) -> dict[str, tuple[int, int]] | None: ...


class Admin:
    def __init__(
        self, state: RouterState, reload: Reloader, *, shared: ReloadChannel | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.state = state
        self.reload = reload
        self.shared = shared
        self.clock = clock
        self._sighup_installed = False
        self._announcements: set[asyncio.Task[int | None]] = set()
        if shared is not None:
            shared.peer_reload = self._reload_for_peer

    def running(self) -> None:
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)
            self._sighup_installed = True
        except (RuntimeError, NotImplementedError, ValueError):
            pass  # not on the main thread / not on this platform: /admin/reload still works

    def done(self) -> None:
        if self._sighup_installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)

    def _on_sighup(self) -> None:
        try:
            self.reload(trigger="sighup")  # logs its outcome
            if self.shared is not None:  # even when refused here: the others read their own files
                task = asyncio.get_running_loop().create_task(self.shared.announce_reload("sighup"))
                self._announcements.add(task)
                task.add_done_callback(self._announcements.discard)
        except Exception:
            logger.exception("Reload on SIGHUP failed")

    def _reload_for_peer(self, origin: str) -> None:
        """Another router was reloaded by an operator: this one reloads its own config file
        (logged as every reload is, `by` naming that router) and tells nobody."""
        try:
            self.reload(trigger="peer", by=origin)
        except Exception:
            logger.exception("Reload asked by another router failed")

    async def request(self, flow: http.HTTPFlow) -> None:
        path = flow.request.path.split("?", 1)[0].rstrip("/")
        if not path.startswith("/admin") or not is_client_flow(flow):
            return
        pool = self.state.pool
        parts = path.split("/")[2:]  # ["keys", name, "enable"] / ["reload"]
        method = flow.request.method
        if parts == ["keys"] and method == "GET" and pool:
            answer_json(flow, 200, {"keys": self.describe(pool, await self._shared_counts())})
        elif len(parts) == 3 and parts[0] == "keys" and parts[2] == "enable" and method == "POST" and pool:
            await self._enable(flow, pool, parts[1])
        elif parts == ["reload"] and method == "POST":
            await self._reload(flow)
        else:
            answer_error(flow, NotFoundError(f"Unknown admin action {method} {path}."))

    async def _reload(self, flow: http.HTTPFlow) -> None:
        error = self.reload(trigger="admin_api", by=_peer(flow))
        # Told to the others even when refused here: each router reads its own config file.
        peers: dict[str, object] = {}
        if self.shared is not None and self.shared.shared:
            notified = await self.shared.announce_reload("admin_api")
            peers = {"routers_notified": notified}
            if notified is None:
                peers["warning"] = "Redis is down: the other routers were not told to reload"
        if error:
            told = "" if not peers else f" ({_told(peers['routers_notified'])})"
            answer_error(flow, InvalidRequestError(f"Reload failed; the previous config stays: {error}{told}", code="invalid_config"))
        else:
            answer_json(flow, 200, {"reloaded": True, "keys": len(self.state.pool.keys) if self.state.pool else 0, **peers})

    async def _shared_counts(self) -> dict[str, tuple[int, int]] | None:
        return await self.shared.request_counts(self.clock()) if self.shared is not None else None

    async def _enable(self, flow: http.HTTPFlow, pool: KeyPool, name: str) -> None:
        index = pool.index_of(name)
        if index is None:
            answer_error(flow, NotFoundError(f"No key named {name!r}.", param="name"))
            return
        pool.enable(index)
        logger.bind(event="key_enabled", key=name).info("Key re-enabled by an operator")
        answer_json(flow, 200, self.describe(pool, await self._shared_counts())[index])

    def describe(self, pool: KeyPool, shared_counts: dict[str, tuple[int, int]] | None = None) -> list[dict[str, object]]:
        """Each key's row; its request counts from `shared_counts` (every router's, by quota
        group) when given, else this router's own."""
        now = self.clock()
        rows = []
        for index, key in enumerate(pool.keys):
            reason = pool.disabled_reason(index)
            pause = None if reason else _pause(pool, index, now)
            counts = shared_counts.get(pool.group(index)) if shared_counts is not None else None
            today, last_minute = counts if counts is not None else (pool.requests_today(index, now), pool.requests_last_minute(index, now))
            rows.append(
                {
                    "name": key.name,
                    "project": key.project_label,
                    "state": "disabled" if reason else "cooling" if pause else "active",
                    "reason": reason or (pause[1] if pause else None),
                    "until": _iso(pause[0]) if pause else None,
                    "requests_today": today,
                    "requests_last_minute": last_minute,
                }
            )
        return rows


def _told(notified: object) -> str:
    if notified is None:
        return "Redis is down: the other routers were not told to reload"
    return f"{notified} other router{'' if notified == 1 else 's'} told to reload"


def _peer(flow: http.HTTPFlow) -> str:
    """The admin caller's address, host:port."""
    peer = flow.client_conn.peername
    return f"{peer[0]}:{peer[1]}" if peer else "unknown"


def _pause(pool: KeyPool, index: int, now: float) -> tuple[float, str] | None:
    """Why and until when a key is passed over: its project's cooldown or its own breaker
    (it did not answer lately), whichever lasts longer."""
    pauses = []
    if cooldown := pool.cooldown_of(index, now):
        pauses.append((cooldown.until, cooldown.reason))
    if breaker := pool.breaker_of(index, now):
        times = "once" if breaker.failures == 1 else f"{breaker.failures} times in a row"
        pauses.append((breaker.until, f"no answer ({breaker.reason}) {times}"))
    return max(pauses, default=None)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
