"""The emulator over HTTP: keys, behaviours, streaming, models, embeddings, quotas, admin endpoints."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from emulatortools import Clock, started_client
from gemini_emulator import load_scenario, make_app
from gemini_emulator.scenario import Scenario

SCENARIO = load_scenario(Path(__file__).resolve().parents[2] / "configs" / "emulator" / "test.yaml")
KEYS = [k.key for k in SCENARIO.keys]
GOOD, SPARE, SAME_PROJECT, RPM_ONE, RPM_TWO, DAILY, SCRIPTED, SUSPENDED, NO_RETRY_INFO = range(9)
FLASH = "/v1beta/models/gemini-2.5-flash"
HELLO = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
PACIFIC = ZoneInfo("America/Los_Angeles")


@dataclasses.dataclass
class Emu:
    client: TestClient
    clock: Clock

    async def post(self, path: str, body: Any = HELLO, key: int | None = GOOD, **kw: Any) -> aiohttp.ClientResponse:
        headers = {"x-goog-api-key": KEYS[key]} if key is not None else {}
        return await self.client.post(path, json=body, headers=headers, **kw)

    async def get(self, path: str, key: int = GOOD) -> aiohttp.ClientResponse:
        return await self.client.get(path, headers={"x-goog-api-key": KEYS[key]})

    async def set_behaviour(self, index: int, behaviour: str, script: list[str] | None = None) -> None:
        body = {"key_index": index, "behaviour": behaviour, "script": script or []}
        assert (await self.client.post("/_emulator/scenario", json=body)).status == 200


async def start(scenario: Scenario, clock: Clock) -> Emu:
    return Emu(await started_client(make_app(scenario, clock=clock)), clock)


@pytest.fixture
async def emu() -> AsyncIterator[Emu]:
    harness = await start(SCENARIO, Clock(datetime(2026, 3, 10, 12, 0, 5, tzinfo=PACIFIC).timestamp()))
    yield harness
    await harness.client.close()


def by_type(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["@type"].rsplit(".", 1)[1]: d for d in body["error"].get("details", [])}


def sse_events(raw: bytes) -> list[dict[str, Any]]:
    assert raw.endswith(b"\r\n\r\n") and b"[DONE]" not in raw
    frames = raw.split(b"\r\n\r\n")[:-1]
    assert all(f.startswith(b"data: ") and b"\n" not in f for f in frames)
    return [json.loads(f[6:]) for f in frames]


async def test_missing_and_unknown_keys(emu: Emu) -> None:
    missing = await emu.post(f"{FLASH}:generateContent", key=None)
    assert missing.status == 403
    assert (await missing.json())["error"]["message"].startswith("Method doesn't allow unregistered callers")
    unknown = await emu.client.post(f"{FLASH}:generateContent?key=AIzaSyNotInTheScenario0000000000000000", json=HELLO)
    body = await unknown.json()
    assert unknown.status == 400 and body["error"]["message"] == "API key not valid. Please pass a valid API key."
    assert by_type(body)["ErrorInfo"]["reason"] == "API_KEY_INVALID"
    by_query = await emu.client.post(f"{FLASH}:generateContent?key={KEYS[GOOD]}", json=HELLO)
    assert by_query.status == 200 and by_query.headers["Content-Type"] == "application/json; charset=UTF-8"


async def test_generate_on_v1_and_v1beta(emu: Emu) -> None:
    for version in ("v1", "v1beta"):
        response = await emu.post(f"/{version}/models/gemini-2.5-flash:generateContent")
        body = await response.json()
        assert body["candidates"][0]["content"]["parts"][0]["text"] == "Hello from gemini-2.5-flash! You said: hello"


@pytest.mark.parametrize(
    ("behaviour", "status", "state", "message"),
    [
        ("invalid", 400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."),
        ("expired", 400, "INVALID_ARGUMENT", "API key expired. Please renew the API key."),
        ("failed_precondition", 400, "FAILED_PRECONDITION", "User location is not supported for the API use."),
        (
            "internal",
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        ),
        ("unavailable", 503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
        ("stream_error", 503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
        ("deadline", 504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
        ("rate_limit_bare", 429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
        ("forbidden", 403, "PERMISSION_DENIED", f"Permission denied: Consumer 'api_key:{KEYS[SPARE]}' has been suspended."),
    ],
)
async def test_error_behaviours(emu: Emu, behaviour: str, status: int, state: str, message: str) -> None:
    await emu.set_behaviour(SPARE, behaviour)
    response = await emu.post(f"{FLASH}:generateContent", key=SPARE)
    body = await response.json()
    assert (response.status, body["error"]["status"], body["error"]["message"]) == (status, state, message)
    assert body["error"]["code"] == status and "Retry-After" not in response.headers


async def test_suspended_key_quotes_the_key_everywhere(emu: Emu) -> None:
    response = await emu.get("/v1beta/models", key=SUSPENDED)  # key-level behaviours hit models.list too
    body = await response.json()
    assert response.status == 403 and f"api_key:{KEYS[SUSPENDED]}" in body["error"]["message"]
    assert by_type(body)["ErrorInfo"]["metadata"]["containerInfo"] == f"api_key:{KEYS[SUSPENDED]}"
    assert by_type(body)["LocalizedMessage"]["message"] == body["error"]["message"]


async def test_rate_limit_429_details_in_shuffled_order(emu: Emu) -> None:
    await emu.set_behaviour(SPARE, "rate_limit")
    orders = set()
    for _ in range(3):
        response = await emu.post(f"{FLASH}:generateContent", key=SPARE)
        body = await response.json()
        assert response.status == 429 and "Retry-After" not in response.headers
        orders.add(tuple(d["@type"] for d in body["error"]["details"]))
        details = by_type(body)
        assert details["RetryInfo"]["retryDelay"] == "2s"
        assert details["QuotaFailure"]["violations"][0]["quotaId"] == ("GenerateRequestsPerMinutePerProjectPerModel-FreeTier")
        assert details["QuotaFailure"]["violations"][0]["quotaDimensions"]["model"] == "gemini-2.5-flash"
        assert body["error"]["message"].endswith("Please retry in 2s.")
    assert len(orders) > 1


async def test_rate_limit_day_zero_and_no_retry_info(emu: Emu) -> None:
    await emu.set_behaviour(SPARE, "rate_limit_day")
    day = await (await emu.post(f"{FLASH}:generateContent", key=SPARE)).json()
    assert by_type(day)["QuotaFailure"]["violations"][0]["quotaId"] == ("GenerateRequestsPerDayPerProjectPerModel-FreeTier")
    assert by_type(day)["RetryInfo"]["retryDelay"] == "2s"
    await emu.set_behaviour(SPARE, "rate_limit_zero")
    zero = await (await emu.post(f"{FLASH}:generateContent", key=SPARE)).json()
    assert "limit: 0, model: gemini-2.5-flash" in zero["error"]["message"]
    await emu.set_behaviour(NO_RETRY_INFO, "rate_limit")
    bare = await (await emu.post(f"{FLASH}:generateContent", key=NO_RETRY_INFO)).json()
    assert "RetryInfo" not in by_type(bare) and "Please retry in 55s." in bare["error"]["message"]


async def test_script_is_consumed_then_behaviour_applies(emu: Emu) -> None:
    first = await emu.post(f"{FLASH}:generateContent", key=SCRIPTED)
    body = await first.json()
    assert first.status == 429 and by_type(body)["RetryInfo"]["retryDelay"] == "1.5s"
    assert body["error"]["message"].endswith("Please retry in 1.5s.")
    assert (await emu.post(f"{FLASH}:generateContent", key=SCRIPTED)).status == 200
    assert (await emu.post("/_emulator/reset", key=None)).status == 200  # reset restores the script
    assert (await emu.post(f"{FLASH}:generateContent", key=SCRIPTED)).status == 429


async def test_unknown_and_shut_down_models(emu: Emu) -> None:
    for model, method in (
        ("gemini-2.0-flash", "generateContent"),
        ("gemini-embedding-001", "generateContent"),
        ("gemini-2.5-flash", "embedContent"),
    ):
        response = await emu.post(f"/v1beta/models/{model}:{method}")
        assert response.status == 404
        assert (await response.json())["error"]["message"] == (
            f"models/{model} is not found for API version v1beta, or is not supported for {method}. Call ListModels"
            " to see the list of available models and their supported methods."
        )
    assert "API version v1," in (await (await emu.post("/v1/models/nope:generateContent")).json())["error"]["message"]


async def test_models_list_paging_and_get(emu: Emu) -> None:
    names, token, pages = [], None, 0
    while True:
        page = await (await emu.get("/v1beta/models?pageSize=4" + (f"&pageToken={token}" if token else ""))).json()
        names += [m["name"] for m in page["models"]]
        pages += 1
        token = page.get("nextPageToken")
        if token is None:
            break
    assert pages == 3 and len(names) == len(set(names)) == 10 and "models/gemini-test-extra" in names
    everything = await (await emu.get("/v1beta/models")).json()
    assert "nextPageToken" not in everything and len(everything["models"]) == 10
    model = await (await emu.get("/v1beta/models/gemini-3.5-flash")).json()
    assert model["name"] == "models/gemini-3.5-flash" and "generateContent" in model["supportedGenerationMethods"]
    assert (await emu.get("/v1beta/models/gemini-2.0-flash")).status == 404


async def test_sse_framing_and_cumulative_usage(emu: Emu) -> None:
    response = await emu.post(
        f"{FLASH}:streamGenerateContent?alt=sse", {**HELLO, "generationConfig": {"thinkingConfig": {"includeThoughts": True}}}
    )
    assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
    events = sse_events(await response.read())
    assert len(events) >= 5 and events[0]["candidates"][0]["content"]["parts"][0]["thought"] is True
    totals = [e["usageMetadata"]["totalTokenCount"] for e in events]
    assert totals == sorted(totals) and all(e["usageMetadata"]["thoughtsTokenCount"] > 0 for e in events)
    assert [bool(e["candidates"][0].get("finishReason")) for e in events] == [False] * (len(events) - 1) + [True]


async def test_json_array_stream_without_alt_sse(emu: Emu) -> None:
    raw = await (await emu.post(f"{FLASH}:streamGenerateContent")).read()
    assert raw.startswith(b"[{") and b"},\r\n{" in raw and raw.endswith(b"}]")
    assert json.loads(raw)[-1]["candidates"][0]["finishReason"] == "STOP"


async def test_split_events_arrive_in_halves() -> None:
    emu = await start(dataclasses.replace(SCENARIO, split_events=True), Clock(0.0))
    try:
        response = await emu.post(f"{FLASH}:streamGenerateContent?alt=sse")
        chunks = [data async for data, _ in response.content.iter_chunks()]
        assert any(not c.endswith(b"\r\n\r\n") for c in chunks)
        assert len(sse_events(b"".join(chunks))) >= 4
    finally:
        await emu.client.close()


async def test_stream_error_sends_an_in_band_error(emu: Emu) -> None:
    await emu.set_behaviour(SPARE, "stream_error")
    response = await emu.post(f"{FLASH}:streamGenerateContent?alt=sse", key=SPARE)
    events = sse_events(await response.read())
    assert response.status == 200 and len(events) == 3
    assert events[-1] == {"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}


async def test_stream_cut_aborts_mid_stream(emu: Emu) -> None:
    await emu.set_behaviour(SPARE, "stream_cut")
    response = await emu.post(f"{FLASH}:streamGenerateContent?alt=sse", key=SPARE)
    received = b""
    with pytest.raises(aiohttp.ClientError):
        async for data in response.content.iter_any():
            received += data
    assert response.status == 200 and received.count(b"data: ") == 2


async def test_drop_closes_without_response(emu: Emu) -> None:
    await emu.set_behaviour(SPARE, "drop")
    with pytest.raises(aiohttp.ClientError):
        await emu.post(f"{FLASH}:generateContent", key=SPARE)


async def test_hang_does_not_block_other_requests(emu: Emu) -> None:
    await emu.set_behaviour(SPARE, "hang")
    hung = emu.post(f"{FLASH}:generateContent", key=SPARE, timeout=aiohttp.ClientTimeout(total=0.4))
    other = emu.post(f"{FLASH}:generateContent")
    results = await asyncio.gather(hung, other, return_exceptions=True)
    assert isinstance(results[0], asyncio.TimeoutError)
    assert isinstance(results[1], aiohttp.ClientResponse) and results[1].status == 200


async def test_validation_errors_over_http(emu: Emu) -> None:
    bad = {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "tools": [
            {
                "functionDeclarations": [
                    {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}}
                ]
            }
        ],
    }
    response = await emu.post(f"{FLASH}:generateContent", bad)
    assert response.status == 400 and 'Unknown name "additionalProperties"' in (await response.json())["error"]["message"]
    garbage = await emu.client.post(f"{FLASH}:generateContent", data=b"{nope", headers={"x-goog-api-key": KEYS[GOOD]})
    assert garbage.status == 400


async def test_gemini3_tool_loop_with_issued_signature(emu: Emu) -> None:
    path = "/v1beta/models/gemini-3-flash-preview:generateContent"
    tools = [{"functionDeclarations": [{"name": "get_time"}]}]
    ask: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "time?"}]}], "tools": tools}
    call = (await (await emu.post(path, ask)).json())["candidates"][0]["content"]
    assert call["parts"][0]["functionCall"]["id"].startswith("fc_") and "thoughtSignature" in call["parts"][0]
    reply = {
        "role": "user",
        "parts": [{"functionResponse": {"name": "get_time", "id": call["parts"][0]["functionCall"]["id"], "response": {"now": "noon"}}}],
    }
    loop = {"contents": [*ask["contents"], call, reply], "tools": tools}
    answer = await (await emu.post(path, loop)).json()
    assert answer["candidates"][0]["content"]["parts"][0]["text"] == 'Tool results received: [{"now":"noon"}]'
    del call["parts"][0]["thoughtSignature"]
    missing = await emu.post(path, loop)
    assert missing.status == 400
    assert (await missing.json())["error"]["message"].startswith("Function call is missing a thought_signature")


async def test_count_tokens_and_embeddings(emu: Emu) -> None:
    counted = await (await emu.post(f"{FLASH}:countTokens", HELLO)).json()
    assert counted == {"totalTokens": 2, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2}]}
    embed = "/v1beta/models/gemini-embedding-001"
    item = {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "alpha"}]}}
    single = await (await emu.post(f"{embed}:embedContent", {**item, "outputDimensionality": 768})).json()
    assert len(single["embedding"]["values"]) == 768 and "usageMetadata" not in single
    texts = ["alpha", "beta", "gamma"]
    batch = {"requests": [{**item, "content": {"parts": [{"text": t}]}} for t in texts]}
    vectors = (await (await emu.post(f"{embed}:batchEmbedContents", batch)).json())["embeddings"]
    assert [len(v["values"]) for v in vectors] == [3072] * 3
    assert vectors[0]["values"][:768] == single["embedding"]["values"]
    too_many = await emu.post(f"{embed}:batchEmbedContents", {"requests": [item] * 101})
    assert too_many.status == 400 and (await too_many.json())["error"]["message"] == (
        "BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch"
    )
    assert (await emu.post(f"{embed}:embedContent", {**item, "outputDimensionality": 4000})).status == 400


async def test_rpm_is_shared_per_project_and_model_and_resets_each_minute(emu: Emu) -> None:
    emu.clock.now = datetime(2026, 3, 10, 12, 0, 20, tzinfo=PACIFIC).timestamp()
    assert (await emu.post(f"{FLASH}:generateContent", key=RPM_ONE)).status == 200
    assert (await emu.post(f"{FLASH}:generateContent", key=RPM_TWO)).status == 200
    limited = await emu.post(f"{FLASH}:generateContent", key=RPM_ONE)
    body = await limited.json()
    assert limited.status == 429 and "Retry-After" not in limited.headers
    assert by_type(body)["RetryInfo"]["retryDelay"] == "40s" and body["error"]["message"].endswith("retry in 40s.")
    assert by_type(body)["QuotaFailure"]["violations"][0]["quotaValue"] == "2"
    assert (await emu.post("/v1beta/models/gemini-2.5-pro:generateContent", key=RPM_TWO)).status == 200
    assert (await emu.post(f"{FLASH}:generateContent", key=GOOD)).status == 200  # other project unaffected
    emu.clock.now += 40
    assert (await emu.post(f"{FLASH}:generateContent", key=RPM_TWO)).status == 200


async def test_rpd_resets_at_pacific_midnight_not_utc(emu: Emu) -> None:
    emu.clock.now = datetime(2026, 3, 10, 16, 59, 0, tzinfo=PACIFIC).timestamp()  # 23:59 UTC
    for _ in range(3):
        assert (await emu.post(f"{FLASH}:generateContent", key=DAILY)).status == 200
    emu.clock.now += 120  # past UTC midnight, still the same Pacific day
    day = await emu.post(f"{FLASH}:generateContent", key=DAILY)
    quota = by_type(await day.json())["QuotaFailure"]["violations"][0]
    assert day.status == 429 and quota["quotaId"] == "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    emu.clock.now = datetime(2026, 3, 11, 0, 0, 1, tzinfo=PACIFIC).timestamp()
    assert (await emu.post(f"{FLASH}:generateContent", key=DAILY)).status == 200


async def test_stats_reset_and_scenario_endpoints(emu: Emu) -> None:
    await emu.post(f"{FLASH}:generateContent")
    await emu.post(f"{FLASH}:streamGenerateContent?alt=sse", key=SAME_PROJECT)
    await emu.post(f"{FLASH}:generateContent", key=None)
    raw = await (await emu.client.get("/_emulator/stats")).text()
    assert not any(key in raw for key in KEYS)
    stats = json.loads(raw)
    assert stats["by_key"] == {"0": 1, "2": 1, "-1": 1}
    first, second, third = stats["requests"]
    assert first == {
        "key_index": 0,
        "path": f"{FLASH}:generateContent",
        "model": "gemini-2.5-flash",
        "stream": False,
        "status": 200,
        "t": emu.clock.now,
    }
    assert (second["stream"], second["status"], third["status"]) == (True, 200, 403)
    bad = await emu.client.post("/_emulator/scenario", json={"key_index": 99, "behaviour": "ok"})
    assert bad.status == 400
    assert (await emu.client.post("/_emulator/scenario", json={"key_index": 0, "behaviour": "boom"})).status == 400
    await emu.set_behaviour(GOOD, "ok", ["internal", "unavailable"])
    assert [(await emu.post(f"{FLASH}:generateContent")).status for _ in range(3)] == [500, 503, 200]
    await emu.client.post("/_emulator/reset")
    assert (await (await emu.client.get("/_emulator/stats")).json()) == {"requests": [], "by_key": {}}


async def test_unknown_routes_and_methods(emu: Emu) -> None:
    for response in (await emu.get(f"{FLASH}:generateContent"), await emu.post(f"{FLASH}:explode"), await emu.post("/v1beta/models")):
        assert response.status == 404
        assert (await response.json())["error"] == {"code": 404, "message": "Method not found.", "status": "NOT_FOUND"}


async def test_latency_is_added_per_key() -> None:
    slow_key = dataclasses.replace(SCENARIO.keys[SPARE], latency_ms=150)
    keys = tuple(slow_key if i == SPARE else k for i, k in enumerate(SCENARIO.keys))
    emu = await start(dataclasses.replace(SCENARIO, keys=keys), Clock(0.0))
    try:
        loop = asyncio.get_running_loop()
        began = loop.time()
        assert (await emu.post(f"{FLASH}:generateContent", key=GOOD)).status == 200
        fast = loop.time() - began
        assert (await emu.post(f"{FLASH}:generateContent", key=SPARE)).status == 200
        assert loop.time() - began - fast >= 0.15
    finally:
        await emu.client.close()
