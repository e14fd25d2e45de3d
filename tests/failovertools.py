"""A scripted transport, a fake clock and a small pool for the attempt loop's tests
(tests/core/test_failover.py, test_attempts.py, test_fallbacks.py): no sockets, no sleeps."""

from __future__ import annotations

import json

from hpn_router.config import KeyConfig
from hpn_router.core.failover import run_with_failover
from hpn_router.core.fallbacks import Fallback
from hpn_router.core.keypool import KeyPool
from hpn_router.core.transport import AttemptResult, UpstreamRequest

MODEL = "gemini-2.5-flash"
REQUEST = UpstreamRequest("POST", f"/v1beta/models/{MODEL}:generateContent", "", b"{}", False, MODEL)


def rate_limited(delay: str = "30s", per_day: bool = False) -> AttemptResult:
    quota_id = "GenerateRequestsPerDayPerProjectPerModel-FreeTier" if per_day else "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
    details = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": quota_id}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
    ]
    body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota", "details": details}}
    return AttemptResult(status=429, body=json.dumps(body).encode())


def invalid_key() -> AttemptResult:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]
    body = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "API key not valid.", "details": details}}
    return AttemptResult(status=400, body=json.dumps(body).encode())


OK = AttemptResult(status=200, body=b'{"candidates": []}')


class ScriptedTransport:
    """Answers by key value; records which keys were used."""

    def __init__(self, script: dict[str, list[AttemptResult]]) -> None:
        self.script = script
        self.calls: list[str] = []

    async def send(self, request: UpstreamRequest, key: str) -> AttemptResult:
        self.calls.append(key)
        queue = self.script[key]
        return queue.pop(0) if len(queue) > 1 else queue[0]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_pool(n: int = 3) -> KeyPool:
    return KeyPool([KeyConfig(f"key_{i}", f"K{i}") for i in range(1, n + 1)], cooldown_seconds=60)


async def run(pool, transport, clock, retry_count=3, rotations=None):
    hook = (
        (lambda failed, new: rotations.append((failed.key_name, new, failed.number, failed.outcome.reason)))
        if rotations is not None
        else None
    )
    return await run_with_failover(REQUEST, pool=pool, transport=transport, retry_count=retry_count, clock=clock, on_rotate=hook)


MISTRAL = "mistral-small-latest"
MISTRAL_REQUEST = UpstreamRequest("POST", "/v1/chat/completions", "", b"{}", False, MISTRAL, "mistral")


def two_provider_pool() -> KeyPool:
    keys = [KeyConfig("g1", "G1"), KeyConfig("g2", "G2"), KeyConfig("m1", "M1", provider="mistral")]
    return KeyPool(keys, cooldown_seconds=60)


def to_mistral(planned: list | None = None) -> Fallback:
    def plan():
        if planned is not None:
            planned.append(MISTRAL)
        return MISTRAL_REQUEST

    return Fallback(MISTRAL, "mistral", plan)
