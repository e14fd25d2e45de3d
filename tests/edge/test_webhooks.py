"""The sender against a real aiohttp receiver on loopback: signed posts, retries after failures
with the same webhook-id, a log line per failure, and nothing dropped without a line."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from hpn_router.core.webhooks import EVENT_TYPES, WebhookEvent, signing_key
from hpn_router.edge.webhooks import Endpoint, WebhookSender
from localserver import serving_app
from loguru import logger

SECRET = "whsec_" + base64.b64encode(b"a receiver's shared secret bytes").decode()
EVENT = WebhookEvent("key.cooling", 1_700_000_000.0, "gemini", "k0", "key:k0", None, "429", 1_700_000_010.0)


def verified(request_headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does (Standard Webhooks): HMAC of "id.timestamp.body" with the secret."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{request_headers['webhook-id']}.{request_headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(s.removeprefix("v1,"), expected) for s in request_headers["webhook-signature"].split())


class Receiver:
    def __init__(self, fail_first: int = 0, hang: bool = False) -> None:
        self.fail_first = fail_first
        self.hang = hang
        self.seen: list[tuple[dict[str, str], bytes]] = []
        self.got = asyncio.Event()
        self.release = asyncio.Event()  # lets hanging handlers end, so the server stops at once

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append(({k.lower(): v for k, v in request.headers.items()}, body))
        if self.hang:
            await self.release.wait()
        if len(self.seen) <= self.fail_first:
            return web.Response(status=503)
        self.got.set()
        return web.Response(status=204)


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="DEBUG", format="{level} {message}")
    yield lines
    logger.remove(sink)


async def serve(receiver: Receiver) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    async with serving_app(app) as base_url:
        try:
            yield f"{base_url}/hook"
        finally:
            receiver.release.set()


def sender_for(url: str, **kw: object) -> WebhookSender:
    sender = WebhookSender(delays=(0.05, 0.1, 0.2), **kw)  # type: ignore[arg-type]
    sender.endpoints = [Endpoint(url, signing_key(SECRET), frozenset(EVENT_TYPES))]
    return sender


async def test_a_receiver_that_fails_twice_gets_the_event_signed_with_one_id(log_lines):
    receiver = Receiver(fail_first=2)
    outcomes: list[str] = []
    async for url in serve(receiver):
        sender = sender_for(url, on_outcome=outcomes.append)
        sender.start()
        sender.enqueue(EVENT)
        await asyncio.wait_for(receiver.got.wait(), 5)
        await sender.close()
    assert len(receiver.seen) == 3
    assert len({headers["webhook-id"] for headers, _ in receiver.seen}) == 1  # retries keep the id
    assert all(verified(headers, body) for headers, body in receiver.seen)
    assert json.loads(receiver.seen[-1][1])["data"]["key"] == "k0"
    failures = [line for line in log_lines if "failed (attempt" in line]
    assert len(failures) == 2 and "HTTP 503" in failures[0] and SECRET not in "".join(log_lines)
    assert outcomes == ["failed", "failed", "delivered"]  # hpn_webhook_deliveries_total{outcome}


async def test_a_receiver_down_for_good_is_given_up_with_a_line(log_lines):
    receiver = Receiver(fail_first=100)
    outcomes: list[str] = []
    async for url in serve(receiver):
        sender = sender_for(url, on_outcome=outcomes.append)
        sender.start()
        sender.enqueue(EVENT)
        for _ in range(100):  # bounded: 4 attempts with 0.35 s of delays in all
            if any("given up" in line for line in log_lines):
                break
            await asyncio.sleep(0.05)
        await sender.close()
    assert len(receiver.seen) == 4
    assert [line for line in log_lines if "given up after 4 attempts: HTTP 503" in line]
    assert outcomes == ["failed", "failed", "failed", "given_up"]


async def test_a_receiver_that_does_not_answer_times_out_and_is_retried(log_lines):
    receiver = Receiver(hang=True)
    async for url in serve(receiver):
        sender = sender_for(url, timeout=0.2)
        sender.start()
        sender.enqueue(EVENT)
        for _ in range(100):
            if len(receiver.seen) >= 2:
                break
            await asyncio.sleep(0.05)
        await sender.close()
    assert len(receiver.seen) >= 2
    assert any("no answer within" in line for line in log_lines)


async def test_events_a_receiver_did_not_subscribe_to_are_not_sent():
    sender = sender_for("http://127.0.0.1:9/hook")
    sender.endpoints = [Endpoint("http://127.0.0.1:9/hook", b"k", frozenset({"pool.exhausted"}))]
    sender.enqueue(EVENT)
    assert len(sender.outbox) == 0


async def test_a_full_outbox_logs_each_event_it_drops(log_lines):
    outcomes: list[str] = []
    sender = sender_for("http://127.0.0.1:9/hook", capacity=2, on_outcome=outcomes.append)  # never started: nothing leaves
    for _ in range(3):
        sender.enqueue(EVENT)
    assert len(sender.outbox) == 2
    assert len([line for line in log_lines if "dropped: the outbox is full" in line]) == 1
    await sender.close()
    assert any("2 deliveries still waiting at shutdown are dropped" in line for line in log_lines)
    assert outcomes == ["dropped"] * 3  # one from the full outbox, two at shutdown
