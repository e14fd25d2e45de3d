"""Webhooks: signed events (Standard Webhooks) when a key or the pool changes state.

A quarter of a second after a request that went upstream (scheduled late in `response`, after
KeyRouting reported its attempts to the pool; one check for all the requests meanwhile), and
once a second from a timer (a cooldown ends without traffic), the
pool's key states are compared with the last ones seen (core/webhooks.TransitionWatch); each
transition is one event, queued for the sender (edge/webhooks.py), which posts it from a task
of its own: a request never waits on a receiver.

Each event's log line names its webhook-id and the ids of the requests that went upstream since
the last check (bounded), so an X-Request-Id leads to the event a receiver got.

Pool transitions are watched for the models requests asked the pool for (bounded: the first
MAX_MODELS distinct ones), since exhaustion is per model.

Routers sharing one Redis (`state.redis_url`) send each transition once, not once per router:
the first to set the transition's mark in Redis (core/webhooks.dedup_marks, one EVALSHA) sends
it. While Redis is down every router sends what it sees. Each router also announces losing Redis
(`state.redis_down`) and reaching it again (`state.redis_up`), from its own state.

A receiver at one of the router's own ports (its listeners, the relay, mitmweb's UI) is
refused with an error line: the router would post its webhooks to itself.

Usage:
    webhooks = Webhooks(state, own_ports=lambda: ..., on_delivery=metrics.webhook_delivery)
    addons = [..., key_routing, pool_keeper, ..., webhooks, ...]
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from loguru import logger
from mitmproxy import http

from hpn_router.addons.flowcontext import context
from hpn_router.config import RouterConfig
from hpn_router.config.model import WebhookConfig
from hpn_router.core.state import RouterState
from hpn_router.core.webhooks import (
    RedisWatch,
    TransitionWatch,
    WebhookEvent,
    dedup_marks,
    key_views,
    own_port_refusal,
    pool_views,
    safe_url,
    signing_key,
)
from hpn_router.edge.sharedstate import RedisStore, StoreError
from hpn_router.edge.webhooks import Endpoint, WebhookSender

TICK_SECONDS = 1.0
# After a request that went upstream, the check runs this much later, off the request's hook,
# and once for all the requests meanwhile: with 100 keys a check costs a few milliseconds of
# the event loop, which a busy router must not pay per request.
CHECK_DELAY_SECONDS = 0.25
MAX_MODELS = 64
MAX_REQUEST_IDS = 8  # the request ids an event's log line names: the latest ones before the check


class Webhooks:
    def __init__(
        self,
        state: RouterState,
        *,
        own_ports: Callable[[], frozenset[int]] = frozenset,
        clock: Callable[[], float] = time.time,
        sender: WebhookSender | None = None,
        shared_store: Callable[[], RedisStore | None] = lambda: None,
        on_delivery: Callable[[str], None] = lambda outcome: None,
    ) -> None:
        self.state = state
        self.shared_store = shared_store  # the Redis that de-duplicates events across routers, when there is one
        self.redis_watch = RedisWatch()
        self._claims: set[asyncio.Task[None]] = set()
        self.own_ports = own_ports
        self.clock = clock
        self.sender = sender or WebhookSender(clock=clock, on_outcome=on_delivery)
        self.watch = TransitionWatch()
        self.models: set[tuple[str, str]] = set()  # (provider, model)
        self._configured: tuple[WebhookConfig, ...] = ()
        self._timer: asyncio.Task[None] | None = None
        self.check_delay = CHECK_DELAY_SECONDS
        self._pending: asyncio.TimerHandle | None = None
        self._requests: list[str] = []  # ids of the requests that went upstream since the last check

    def apply(self, config: RouterConfig) -> None:
        if not self._configured:
            self.watch = TransitionWatch()  # webhooks turned on: what was seen before is stale
        self._configured = config.webhooks
        self._set_endpoints()
        self._check_safely()  # the baseline (or what changed across the reload) before any request

    def running(self) -> None:
        self._set_endpoints()  # the listeners' ports are known now
        if self._timer is None:  # also without webhooks: a reload may add some
            self.sender.start()
            self._timer = asyncio.get_running_loop().create_task(self._tick(), name="hpn-webhook-timer")

    def response(self, flow: http.HTTPFlow) -> None:
        try:
            ctx = context(flow)
            if not self.sender.endpoints or ctx.upstream is None:
                return
            # Every model the pool was asked for: the first one too when a fallback served, so
            # its exhaustion is announced although the client got an answer.
            for model in ctx.tried_models or [(ctx.upstream.provider, ctx.upstream.model)]:
                if len(self.models) < MAX_MODELS:
                    self.models.add(model)
            if ctx.attempts and ctx.request_id:
                self._requests = [*self._requests[-(MAX_REQUEST_IDS - 1) :], ctx.request_id]
            if ctx.attempts and self._pending is None:
                self._pending = asyncio.get_running_loop().call_later(self.check_delay, self._pending_check)
        except Exception:  # never raise out of a hook: redaction runs after this addon
            logger.exception("webhooks failed")

    def _pending_check(self) -> None:
        self._pending = None
        self._check_safely()

    async def done(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        for task in list(self._claims):
            task.cancel()
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        await self.sender.close()

    def check(self) -> None:
        """Queues an event for each transition since the last check."""
        now = self.clock()
        for event in self.redis_watch.observe(self.state.redis, now):
            self._send(event)  # this router's own view: never de-duplicated
        pool = self.state.pool
        if pool is None:
            return
        # The requests whose attempts may have made these transitions: their ids in each event's
        # line, so one X-Request-Id finds the request's line, this one, and (by its webhook-id)
        # what the receiver got. The payload keeps Standard Webhooks' names-only shape.
        after = f"; after requests {', '.join(self._requests)}" if self._requests else ""
        self._requests = []
        store = self.shared_store() if self.state.redis == "up" else None
        for event in self.watch.observe(key_views(pool, now), pool_views(pool, now, self.models), now):
            if store is None:
                self._send(event, after)
            else:
                task = asyncio.get_running_loop().create_task(self._claim_and_send(store, event, after))
                self._claims.add(task)
                task.add_done_callback(self._claims.discard)

    async def _claim_and_send(self, store: RedisStore, event: WebhookEvent, after: str) -> None:
        """Sends the event unless another router already did (Redis unreachable: sends it)."""
        try:
            first = await store.claim_event(dedup_marks(event))
        except StoreError:
            first = True  # better twice than never
        except Exception:
            logger.exception("webhook de-duplication failed")
            first = True
        if first:
            self._send(event, after)

    def _send(self, event: WebhookEvent, after: str = "") -> None:
        subject = event.key if event.key is not None else event.model
        msg_id = self.sender.enqueue(event)
        logger.info("webhook event {} {} ({}): {}{}", event.type, msg_id, subject or event.provider, event.reason or "", after)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            self._check_safely()

    def _check_safely(self) -> None:
        try:
            if self.sender.endpoints:
                self.check()
        except Exception:  # a failed check must not stop the timer or a reload
            logger.exception("webhook check failed")

    def _set_endpoints(self) -> None:
        endpoints = []
        for hook in self._configured:
            refusal = own_port_refusal(hook.url, self.own_ports())
            if refusal is not None:
                logger.error("webhooks: {} {}; no events go there", safe_url(hook.url), refusal)
                continue
            endpoints.append(Endpoint(hook.url, signing_key(hook.secret), frozenset(hook.events)))
        self.sender.endpoints = endpoints
