"""The Anthropic emulator over HTTP: auth, versions, headers, behaviours, rate limits, streaming, models, admin."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from anthropic_emulator import load_scenario, make_app
from emulatortools import Clock, started_client

SCENARIO = load_scenario(Path(__file__).resolve().parents[2] / "configs" / "emulator" / "anthropic-test.yaml")
KEYS = [k.key for k in SCENARIO.keys]
GOOD, OTHER_ORG, SAME_ORG, RPM_ONE, RPM_TWO, SCRIPTED, REVOKED, NO_CREDIT = range(8)
HELLO = {"model": "claude-sonnet-4-5", "max_tokens": 256, "messages": [{"role": "user", "content": "hello"}]}
VERSION = {"anthropic-version": "2023-06-01"}


@dataclasses.dataclass
class Emu:
    client: TestClient
    clock: Clock

    async def post(self, path: str = "/v1/messages", body: Any = HELLO, key: int | None = GOOD, **headers: str) -> aiohttp.ClientResponse:
        sent = {**VERSION, **({"x-api-key": KEYS[key]} if key is not None else {}), **headers}
        return await self.client.post(path, json=body, headers={k: v for k, v in sent.items() if v})

    async def get(self, path: str, key: int = GOOD) -> aiohttp.ClientResponse:
        return await self.client.get(path, headers={**VERSION, "x-api-key": KEYS[key]})

    async def set_behaviour(self, index: int, behaviour: str, script: list[str] | None = None) -> None:
        body = {"key_index": index, "behaviour": behaviour, "script": script or []}
        assert (await self.client.post("/_emulator/scenario", json=body)).status == 200


@pytest.fixture
async def emu() -> AsyncIterator[Emu]:
    clock = Clock(datetime(2026, 3, 10, 12, 0, 5, tzinfo=UTC).timestamp())
    client = await started_client(make_app(SCENARIO, clock=clock))
    yield Emu(client, clock)
    await client.close()


async def error_of(response: aiohttp.ClientResponse, status: int, kind: str) -> str:
    assert response.status == status
    body = await response.json()
    assert body["type"] == "error" and body["error"]["type"] == kind
    assert body["request_id"] == response.headers["request-id"] and body["request_id"].startswith("req_")
    return str(body["error"]["message"])


def sse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    assert raw.endswith(b"\n\n") and b"[DONE]" not in raw and b"\r" not in raw
    events = []
    for frame in raw.decode().split("\n\n")[:-1]:
        name_line, data_line = frame.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        data = json.loads(data_line[6:])
        assert data["type"] == name_line[7:]  # the event name and the data's type always agree
        events.append((name_line[7:], data))
    return events


async def test_auth_missing_unknown_and_bearer(emu: Emu) -> None:
    assert await error_of(await emu.post(key=None), 401, "authentication_error") == "x-api-key header is required"
    assert await error_of(await emu.post(key=None, **{"x-api-key": "sk-ant-nope"}), 401, "authentication_error") == "invalid x-api-key"
    bearer = await emu.post(key=None, authorization=f"Bearer {KEYS[GOOD]}")
    assert bearer.status == 200
    log = (await (await emu.client.get("/_emulator/stats")).json())["requests"]
    assert [e["auth"] for e in log] == ["", "x-api-key", "bearer"]
    assert KEYS[GOOD] not in json.dumps(log)


async def test_version_header_is_required_and_dated(emu: Emu) -> None:
    missing = await emu.post(**{"anthropic-version": ""})
    assert await error_of(missing, 400, "invalid_request_error") == "anthropic-version: header is required"
    assert (await emu.post(**{"anthropic-version": "latest"})).status == 400
    assert (await emu.post(**{"anthropic-version": "2026-10-21"})).status == 200  # any dated version, as newer SDKs send


async def test_every_answer_names_request_and_organization(emu: Emu) -> None:
    a, b, same = await emu.post(key=GOOD), await emu.post(key=OTHER_ORG), await emu.post(key=SAME_ORG)
    assert a.headers["request-id"] != b.headers["request-id"]
    assert a.headers["anthropic-organization-id"] == same.headers["anthropic-organization-id"] != b.headers["anthropic-organization-id"]
    assert a.headers["anthropic-ratelimit-requests-limit"] == "4000"
    assert a.headers["anthropic-ratelimit-requests-reset"] == "2026-03-10T12:01:00Z"
    revoked = await emu.post(key=REVOKED)
    assert await error_of(revoked, 401, "authentication_error") == "invalid x-api-key"
    assert "anthropic-organization-id" in revoked.headers


async def test_message_answer(emu: Emu) -> None:
    body = await (await emu.post()).json()
    assert body["id"].startswith("msg_") and body["type"] == "message" and body["role"] == "assistant"
    assert body["model"] == "claude-sonnet-4-5-20250929"  # the alias resolves to the dated model
    assert body["content"] == [{"type": "text", "text": "Hello from claude-sonnet-4-5-20250929! You said: hello"}]
    assert (body["stop_reason"], body["stop_sequence"]) == ("end_turn", None)
    assert body["usage"]["input_tokens"] > 0 and body["usage"]["output_tokens"] > 0


async def test_unknown_model_path_and_traps_over_http(emu: Emu) -> None:
    assert await error_of(await emu.post(body={**HELLO, "model": "claude-9"}), 404, "not_found_error") == "model: claude-9"
    assert await error_of(await emu.post("/v1/chat/completions"), 404, "not_found_error") == "Not Found"
    no_max = {k: v for k, v in HELLO.items() if k != "max_tokens"}
    assert await error_of(await emu.post(body=no_max), 400, "invalid_request_error") == "max_tokens: Field required"
    bad_json = await emu.client.post("/v1/messages", data=b"{nope", headers={**VERSION, "x-api-key": KEYS[GOOD]})
    await error_of(bad_json, 400, "invalid_request_error")


@pytest.mark.parametrize(
    ("behaviour", "status", "kind", "retry_after"),
    [
        ("rate_limit", 429, "rate_limit_error", "2"),
        ("overloaded", 529, "overloaded_error", "2"),
        ("forbidden", 403, "permission_error", None),
        ("billing", 402, "billing_error", None),
        ("credit", 400, "invalid_request_error", None),
        ("workspace_limit", 400, "invalid_request_error", None),
        ("internal", 500, "api_error", None),
        ("timeout", 504, "timeout_error", None),
        ("spend_limit", 429, "rate_limit_error", None),
    ],
)
async def test_behaviours(emu: Emu, behaviour: str, status: int, kind: str, retry_after: str | None) -> None:
    await emu.set_behaviour(OTHER_ORG, behaviour)
    response = await emu.post(key=OTHER_ORG)
    text = await error_of(response, status, kind)
    assert response.headers.get("retry-after") == retry_after
    if behaviour == "spend_limit":
        assert (await response.json())["error"]["details"] == {"error_code": "enforced_spend_limit_reached"}
        assert "2026-04-01 at 00:00 UTC" in text and response.headers["x-should-retry"] == "false"
    if behaviour == "credit":
        assert text.startswith("Your credit balance is too low to access the Anthropic API.")


async def test_script_then_behaviour_and_revoked_key_on_models(emu: Emu) -> None:
    first = await emu.post(key=SCRIPTED)
    assert await error_of(first, 429, "rate_limit_error")
    assert (first.headers["retry-after"], first.headers["retry-after-ms"], first.headers["x-should-retry"]) == ("7", "7000", "true")
    assert (await emu.post(key=SCRIPTED)).status == 529
    assert (await emu.post(key=SCRIPTED)).status == 200
    assert (await emu.get("/v1/models", key=REVOKED)).status == 401
    assert (await emu.get("/v1/models", key=NO_CREDIT)).status == 200  # credit only gates calls


async def test_requests_per_minute_are_shared_by_the_organization_and_model_class(emu: Emu) -> None:
    assert (await emu.post(key=RPM_ONE)).headers["anthropic-ratelimit-requests-remaining"] == "1"
    assert (await emu.post(key=RPM_TWO)).status == 200
    limited = await emu.post(key=RPM_ONE)
    text = await error_of(limited, 429, "rate_limit_error")
    assert "of 2 requests per minute" in text and limited.headers["retry-after"] == "55"
    assert limited.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert (await emu.post(key=RPM_ONE, body={**HELLO, "model": "claude-haiku-4-5"})).status == 200  # another model class
    emu.clock.now += 60
    assert (await emu.post(key=RPM_TWO)).status == 200


async def test_count_tokens(emu: Emu) -> None:
    body = {k: v for k, v in HELLO.items() if k != "max_tokens"}
    response = await emu.post("/v1/messages/count_tokens", body=body)
    assert response.status == 200 and (await response.json())["input_tokens"] > 0
    assert (await emu.post("/v1/messages/count_tokens", body=HELLO)).status == 400


async def test_stream_event_sequence(emu: Emu) -> None:
    response = await emu.post(body={**HELLO, "stream": True, "thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 2048})
    assert response.status == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = sse(await response.read())
    names = [n for n, _ in events]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    assert events[0][1]["message"]["content"] == [] and events[0][1]["message"]["stop_reason"] is None
    deltas = [d["delta"] for n, d in events if n == "content_block_delta"]
    thinking = [d for d in deltas if d["type"] in ("thinking_delta", "signature_delta")]
    assert thinking[-1]["type"] == "signature_delta"
    text = "".join(d["text"] for d in deltas if d["type"] == "text_delta")
    assert text == "Hello from claude-sonnet-4-5-20250929! You said: hello"
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn" and events[-2][1]["usage"]["output_tokens"] > 1


async def test_stream_tool_use_input_arrives_as_json_fragments(emu: Emu) -> None:
    tool = {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    events = sse(await (await emu.post(body={**HELLO, "stream": True, "tools": [tool]})).read())
    start = next(d for n, d in events if n == "content_block_start")["content_block"]
    assert start["type"] == "tool_use" and start["input"] == {} and start["id"].startswith("toolu_")
    fragments = [d["delta"]["partial_json"] for n, d in events if n == "content_block_delta"]
    assert fragments[0] == "" and json.loads("".join(fragments)) == {"city": "example"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


async def test_scripted_error_after_the_200_and_cut_stream(emu: Emu) -> None:
    await emu.set_behaviour(OTHER_ORG, "ok", ["stream_error", "stream_cut"])
    errored = await emu.post(key=OTHER_ORG, body={**HELLO, "stream": True})
    events = sse(await errored.read())
    assert errored.status == 200
    assert [n for n, _ in events] == ["message_start", "content_block_start", "ping", "content_block_delta", "error"]
    assert events[-1][1] == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(aiohttp.ClientPayloadError):
        await (await emu.post(key=OTHER_ORG, body={**HELLO, "stream": True})).read()


async def test_prompt_caching_writes_then_reads(emu: Emu) -> None:
    system = [{"type": "text", "text": "a long system prompt " * 20, "cache_control": {"type": "ephemeral"}}]
    first = (await (await emu.post(body={**HELLO, "system": system})).json())["usage"]
    second = (await (await emu.post(body={**HELLO, "system": system})).json())["usage"]
    assert first["cache_creation_input_tokens"] > 0 and first["cache_read_input_tokens"] == 0
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"] and second["cache_creation_input_tokens"] == 0
    total = sum(first[k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
    assert total == sum(second[k] for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))


async def test_models_list_paginates_and_get_resolves_aliases(emu: Emu) -> None:
    first = await (await emu.get("/v1/models?limit=2")).json()
    assert len(first["data"]) == 2 and first["has_more"] and first["first_id"] == first["data"][0]["id"]
    assert first["data"][0] == {
        "type": "model",
        "id": "claude-opus-4-5-20251101",
        "display_name": "Claude Opus 4.5",
        "created_at": "2025-11-24T00:00:00Z",
        "max_input_tokens": 200_000,
        "max_tokens": 64_000,
    }
    rest = await (await emu.get(f"/v1/models?limit=1000&after_id={first['last_id']}")).json()
    assert not rest["has_more"] and rest["data"][-1]["id"] == "claude-test-extra"
    back = await (await emu.get(f"/v1/models?before_id={rest['first_id']}")).json()
    assert [m["id"] for m in back["data"]] == [m["id"] for m in first["data"]]
    assert (await (await emu.get("/v1/models/claude-haiku-4-5")).json())["id"] == "claude-haiku-4-5-20251001"
    assert await error_of(await emu.get("/v1/models/gpt-4o"), 404, "not_found_error") == "model: gpt-4o"
    assert (await emu.get("/v1/models?limit=0")).status == 400


async def test_request_too_large(emu: Emu) -> None:
    big = b'{"pad": "' + b"x" * (32 * 1024 * 1024) + b'"}'
    response = await emu.client.post("/v1/messages", data=big, headers={**VERSION, "x-api-key": KEYS[GOOD]})
    assert await error_of(response, 413, "request_too_large")


async def test_admin_reset_and_bad_scenario_requests(emu: Emu) -> None:
    await emu.set_behaviour(GOOD, "overloaded")
    assert (await emu.post()).status == 529
    assert (await emu.client.post("/_emulator/scenario", json={"key_index": 0, "behaviour": "exploded"})).status == 400
    assert (await emu.client.post("/_emulator/scenario", json={"key_index": 99})).status == 400
    await emu.client.post("/_emulator/reset")
    assert (await emu.post()).status == 200
    stats = await (await emu.client.get("/_emulator/stats")).json()
    assert stats["by_key"] == {"0": 1} and stats["requests"][0]["version"] == "2023-06-01"
