"""The Mistral emulator over HTTP: auth, rate-limit headers, per-organization rpm, scripted
failures, streaming framing, models, embeddings, admin endpoints."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from emulatortools import Clock, started_client
from mistral_emulator import load_scenario, make_app

SCENARIO = load_scenario(Path(__file__).resolve().parents[2] / "configs" / "emulator" / "mistral-test.yaml")
KEYS = [k.key for k in SCENARIO.keys]
GOOD, SAME_ORG, RPM_TWO, SCRIPTED, REVOKED = range(5)
CHAT = "/v1/chat/completions"
HELLO = {"model": "mistral-small-latest", "messages": [{"role": "user", "content": "hello"}]}
WEATHER = {
    "type": "function",
    "function": {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
NOW = 1_767_225_605.0  # five seconds into a minute


@dataclasses.dataclass
class Emu:
    client: TestClient
    clock: Clock

    async def post(self, path: str = CHAT, body: Any = HELLO, key: int | None = GOOD) -> aiohttp.ClientResponse:
        headers = {"Authorization": f"Bearer {KEYS[key]}"} if key is not None else {}
        return await self.client.post(path, json=body, headers=headers)

    async def get(self, path: str, key: int = GOOD) -> aiohttp.ClientResponse:
        return await self.client.get(path, headers={"Authorization": f"Bearer {KEYS[key]}"})

    async def script(self, index: int, *steps: str) -> None:
        assert (await self.client.post("/_emulator/scenario", json={"key_index": index, "script": list(steps)})).status == 200


@pytest.fixture
async def emu() -> AsyncIterator[Emu]:
    clock = Clock(NOW)
    client = await started_client(make_app(SCENARIO, clock=clock))
    yield Emu(client, clock)
    await client.close()


def sse_events(raw: bytes) -> list[Any]:
    assert raw.endswith(b"data: [DONE]\n\n") and b"\r" not in raw
    frames = raw.split(b"\n\n")[:-1]
    assert all(f.startswith(b"data: ") and b"\n" not in f for f in frames)
    return [json.loads(f[6:]) for f in frames[:-1]]


async def test_missing_wrong_and_revoked_keys_answer_401(emu: Emu) -> None:
    for response in (
        await emu.post(key=None),
        await emu.client.post(CHAT, json=HELLO, headers={"Authorization": "Bearer nope"}),
        await emu.client.post(CHAT, json=HELLO, headers={"x-api-key": KEYS[GOOD]}),  # only Bearer counts
        await emu.post(key=REVOKED),
        await emu.get("/v1/models", key=REVOKED),
    ):
        assert response.status == 401
        assert await response.json() == {"detail": "Unauthorized"}


async def test_answer_and_headers(emu: Emu) -> None:
    response = await emu.post()
    assert response.status == 200
    body = await response.json()
    assert body["object"] == "chat.completion" and body["model"] == "mistral-small-latest"
    assert body["choices"] == [
        {"index": 0, "message": {"role": "assistant", "tool_calls": None, "content": "Echo: hello"}, "finish_reason": "stop"}
    ]
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    assert response.headers["x-ratelimit-limit-req-minute"] == "720"
    assert response.headers["x-ratelimit-remaining-req-minute"] == "719"
    assert response.headers["x-ratelimit-tokens-query-cost"] == str(body["usage"]["total_tokens"])
    assert response.headers["mistral-correlation-id"] == response.headers["x-kong-request-id"]


async def test_rpm_is_shared_by_the_organization_and_resets_each_minute(emu: Emu) -> None:
    await emu.client.post("/_emulator/reset")
    assert (await emu.post(key=RPM_TWO)).status == 200
    second = await emu.post(key=RPM_TWO)
    assert second.headers["x-ratelimit-remaining-req-minute"] == "0"
    third = await emu.post(key=RPM_TWO)
    assert third.status == 429
    assert third.headers["Retry-After"] == "55"  # what is left of the minute
    assert await third.json() == {
        "object": "error",
        "message": "Rate limit exceeded",
        "type": "rate_limited",
        "param": None,
        "code": "1300",
        "raw_status_code": 429,
    }
    emu.clock.now += 60
    assert (await emu.post(key=RPM_TWO)).status == 200


async def test_keys_of_one_organization_share_the_window(emu: Emu) -> None:
    await emu.post(key=GOOD)
    response = await emu.post(key=SAME_ORG)
    assert response.headers["x-ratelimit-remaining-req-minute"] == "718"


@pytest.mark.parametrize(
    ("behaviour", "status", "body", "retry_after"),
    [
        (
            "rate_limit",
            429,
            {
                "object": "error",
                "message": "Rate limit exceeded",
                "type": "rate_limited",
                "param": None,
                "code": "1300",
                "raw_status_code": 429,
            },
            "7",
        ),
        ("rate_limit_bare", 429, {"message": "Requests rate limit exceeded"}, "7"),
        (
            "capacity",
            429,
            {
                "object": "error",
                "message": "Service tier capacity exceeded for this model.",
                "type": "service_tier_capacity_exceeded",
                "param": None,
                "code": "3505",
            },
            None,
        ),
        ("unauthorized", 401, {"detail": "Unauthorized"}, None),
    ],
)
async def test_scripted_failures_then_recovery(
    emu: Emu, behaviour: str, status: int, body: dict[str, Any], retry_after: str | None
) -> None:
    await emu.script(SCRIPTED, behaviour)
    failed = await emu.post(key=SCRIPTED)
    assert failed.status == status
    assert await failed.json() == body
    assert failed.headers.get("Retry-After") == retry_after
    assert (await emu.post(key=SCRIPTED)).status == 200


@pytest.mark.parametrize(
    ("behaviour", "status"), [("payment_required", 402), ("monthly_limit", 429), ("internal", 500), ("unavailable", 503)]
)
async def test_service_and_billing_failures_use_the_documented_envelope(emu: Emu, behaviour: str, status: int) -> None:
    await emu.script(SCRIPTED, behaviour)
    failed = await emu.post(key=SCRIPTED)
    assert failed.status == status
    body = await failed.json()
    assert body["object"] == "error" and set(body) == {"object", "message", "type", "param", "code"}


async def test_gateway_shaped_401_carries_a_request_id(emu: Emu) -> None:
    await emu.script(SCRIPTED, "unauthorized_gateway")
    body = await (await emu.post(key=SCRIPTED)).json()
    assert body["message"] == "Unauthorized" and len(body["request_id"]) == 32


async def test_streaming_framing_and_events(emu: Emu) -> None:
    response = await emu.post(body={**HELLO, "stream": True, "messages": [{"role": "user", "content": "one two three four five"}]})
    assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
    events = sse_events(await response.read())
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events) == "Echo: one two three four five"
    assert [e["choices"][0]["finish_reason"] for e in events][-2:] == [None, "stop"]
    assert "usage" in events[-1] and all("usage" not in e for e in events[:-1])
    assert {e["object"] for e in events} == {"chat.completion.chunk"}


async def test_streamed_tool_call_arrives_whole(emu: Emu) -> None:
    response = await emu.post(body={**HELLO, "stream": True, "tools": [WEATHER]})
    events = sse_events(await response.read())
    calls = events[1]["choices"][0]["delta"]["tool_calls"]
    assert calls[0]["function"] == {"name": "weather", "arguments": '{"city": "city-example"}'}
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_stream_cut_sends_two_events_and_no_done(emu: Emu) -> None:
    await emu.script(SCRIPTED, "stream_cut")
    response = await emu.post(body={**HELLO, "stream": True}, key=SCRIPTED)
    with pytest.raises(aiohttp.ClientPayloadError):
        await response.read()


async def test_validation_errors_come_before_the_rpm_count(emu: Emu) -> None:
    bad = await emu.post(body={**HELLO, "max_completion_tokens": 5}, key=RPM_TWO)
    assert bad.status == 422
    assert (await emu.post(key=RPM_TWO)).headers["x-ratelimit-remaining-req-minute"] == "1"


async def test_invalid_json_is_a_422(emu: Emu) -> None:
    response = await emu.client.post(CHAT, data=b"{nope", headers={"Authorization": f"Bearer {KEYS[GOOD]}"})
    assert response.status == 422
    assert (await response.json())["message"]["detail"][0]["type"] == "json_invalid"


async def test_models_list_and_get(emu: Emu) -> None:
    listing = await (await emu.get("/v1/models")).json()
    assert listing["object"] == "list"
    cards = {c["id"]: c for c in listing["data"]}
    assert cards["mistral-embed"]["capabilities"]["completion_chat"] is False
    assert cards["mistral-small-latest"]["capabilities"]["function_calling"] is True
    one = await emu.get("/v1/models/mistral-large-latest")
    assert (await one.json())["max_context_length"] == 262_144
    assert (await emu.get("/v1/models/nope")).status == 404


async def test_unknown_routes_and_methods(emu: Emu) -> None:
    assert (await emu.post("/v1/fine_tuning/jobs")).status == 404
    assert (await emu.get(CHAT)).status == 405


async def test_embeddings(emu: Emu) -> None:
    response = await emu.post("/v1/embeddings", {"model": "mistral-embed", "input": ["a", "b"]})
    body = await response.json()
    assert response.status == 200 and body["object"] == "list"
    assert [d["index"] for d in body["data"]] == [0, 1] and len(body["data"][0]["embedding"]) == 1024
    assert body["usage"]["prompt_tokens"] == 2


async def test_stats_never_hold_the_key(emu: Emu) -> None:
    await emu.post()
    stats = await (await emu.client.get("/_emulator/stats")).json()
    assert stats["by_key"] == {"0": 1}
    assert KEYS[GOOD] not in json.dumps(stats)


async def test_admin_rejects_unknown_behaviours(emu: Emu) -> None:
    response = await emu.client.post("/_emulator/scenario", json={"key_index": 0, "behaviour": "explode"})
    assert response.status == 400
