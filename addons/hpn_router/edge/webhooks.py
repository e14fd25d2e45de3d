"""Webhook delivery: signs each event (core/webhooks.py) and posts it to every endpoint that
wants its type, from a task of its own, so no request ever waits on a receiver.

Events wait in a bounded outbox (core/webhooks.Outbox); a delivery that fails (no 2xx, a
timeout, a refused connection) is retried with exponential backoff, and every failure, every
delivery given up and every event dropped from a full outbox is logged: nothing is lost
silently. Logs show the endpoint's URL without credentials or query, never the secret. Each
outcome is also reported to `on_outcome` (the metrics' `hpn_webhook_deliveries_total`), one of
DELIVERY_OUTCOMES: `delivered`, `failed` (a retry follows), `given_up`, `dropped` (a full outbox,
or still waiting at shutdown).

Usage:
    sender = WebhookSender(on_outcome=lambda outcome: ...)
    sender.endpoints = [Endpoint(url, signing_key(secret), frozenset(EVENT_TYPES))]
    sender.start()                 # on the running loop
    msg_id = sender.enqueue(event)  # never blocks; the event's webhook-id
    await sender.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp
from loguru import logger

from hpn_router.core.webhooks import Delivery, Outbox, WebhookEvent, event_body, safe_url, signed_headers

TIMEOUT_SECONDS = 10.0  # a receiver should answer at once and work later (Standard Webhooks)
PARALLEL = 8  # deliveries in flight at once: a slow receiver holds a few, not all
DELIVERY_OUTCOMES = ("delivered", "failed", "given_up", "dropped")


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    key: bytes = field(repr=False)  # the HMAC key (core/webhooks.signing_key)
    events: frozenset[str]


class WebhookSender:
    def __init__(
        self,
        *,
        capacity: int = 1000,
        delays: Sequence[float] | None = None,
        timeout: float = TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
        on_outcome: Callable[[str], None] = lambda outcome: None,
    ) -> None:
        self.on_outcome = on_outcome
        self.endpoints: list[Endpoint] = []
        self.outbox = Outbox(capacity) if delays is None else Outbox(capacity, delays)
        self.timeout = timeout
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    def enqueue(self, event: WebhookEvent) -> str:
        """Queues the event for each endpoint that wants it; its `webhook-id` (the same for every
        endpoint and retry), which the router logs so the receiver's id finds the log line."""
        body = event_body(event)
        msg_id = f"msg_{uuid.uuid4().hex}"
        for endpoint in self.endpoints:
            if event.type not in endpoint.events:
                continue
            dropped = self.outbox.add(Delivery(msg_id, event.type, endpoint.url, endpoint.key, body), self.clock())
            if dropped is not None:
                self.on_outcome("dropped")
                logger.error(
                    "webhook {} {} to {} dropped: the outbox is full ({} waiting)",
                    dropped.type,
                    dropped.msg_id,
                    safe_url(dropped.url),
                    len(self.outbox),
                )
        self._wake.set()
        return msg_id

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="hpn-webhooks")

    async def close(self) -> None:
        for task in [self._task, *self._in_flight]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._task = None
        if len(self.outbox):
            for _ in range(len(self.outbox)):
                self.on_outcome("dropped")
            logger.warning("webhooks: {} deliveries still waiting at shutdown are dropped", len(self.outbox))
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        while True:
            try:
                await self._send_due()
                await self._sleep_until_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop must outlive any one failure
                logger.exception("webhook delivery loop failed")
                await asyncio.sleep(1.0)

    async def _sleep_until_due(self) -> None:
        self._wake.clear()
        due = self.outbox.next_due()
        wait = None if due is None else max(due - self.clock(), 0.0)
        if wait == 0.0 and len(self._in_flight) >= PARALLEL:
            wait = 0.05  # due, but every slot is taken: look again shortly
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait)

    async def _send_due(self) -> None:
        for delivery in self.outbox.take_due(self.clock(), limit=PARALLEL - len(self._in_flight)):
            task = asyncio.get_running_loop().create_task(self._deliver(delivery))
            self._in_flight.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()  # a slot is free

    async def _deliver(self, delivery: Delivery) -> None:
        problem = await self._post(delivery)
        if problem is None:
            self.on_outcome("delivered")
            logger.debug("webhook {} {} delivered to {}", delivery.type, delivery.msg_id, safe_url(delivery.url))
            return
        attempt = delivery.attempts + 1
        delay = self.outbox.failed(delivery, self.clock())
        where = safe_url(delivery.url)
        self.on_outcome("given_up" if delay is None else "failed")
        if delay is None:
            logger.error("webhook {} {} to {} given up after {} attempts: {}", delivery.type, delivery.msg_id, where, attempt, problem)
        else:
            logger.warning(
                "webhook {} {} to {} failed (attempt {}): {}; retry in {:.0f}s",
                delivery.type,
                delivery.msg_id,
                where,
                attempt,
                problem,
                delay,
            )

    async def _post(self, delivery: Delivery) -> str | None:
        """None when the receiver took it (2xx), else what went wrong."""
        headers = signed_headers(delivery.key, delivery.msg_id, int(self.clock()), delivery.body)
        try:
            session = self._session_for_use()
            async with session.post(delivery.url, data=delivery.body, headers=headers, allow_redirects=False) as response:
                await response.read()
                return None if 200 <= response.status < 300 else f"HTTP {response.status}"
        except TimeoutError:
            return f"no answer within {self.timeout:.0f}s"
        except aiohttp.ClientError as e:
            return type(e).__name__

    def _session_for_use(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # Its own session: webhooks never share connections or limits with upstream calls;
            # no proxy from the environment (trust_env off) and no cookies kept.
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
            )
        return self._session
