"""Issue 3 end to end: Gemini's own API through the router, driven with Google's `google-genai`
SDK pointed at it. The client's key is replaced by a pool key (the emulator logs key_index -1
for a key it does not know), failover works as for OpenAI clients, and both `/v1beta/` and
`/v1/` paths are served."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import httpx
import pytest
from gemini_emulator.answers import DUMMY_SIGNATURES, verify_signature
from google import genai
from google.genai import errors, types
from procs import KEYS, Emulator, Router, client_for, scenario, start_emulator, start_router

STREAM_DELAY_MS = 80


def genai_client(router: Router, version: str | None = None) -> genai.Client:
    options = types.HttpOptions(base_url=router.url, **({"api_version": version} if version else {}))
    return genai.Client(api_key="client-key-not-in-the-pool", http_options=options)


def calls(emulator: Emulator) -> list[tuple[int, str, int]]:
    return [(r["key_index"], r["path"], r["status"]) for r in emulator.stats()["requests"]]


@pytest.mark.parametrize("version", [None, "v1beta", "v1"])
def test_generate_content_and_stream_with_a_pool_key(router, emulator, version):
    client = genai_client(router, version)
    answer = client.models.generate_content(model="gemini-2.5-flash", contents="Hello native")
    assert answer.text == "Hello from gemini-2.5-flash! You said: Hello native"
    assert answer.usage_metadata.prompt_token_count > 0
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="Stream it [[long]]"))
    assert len(chunks) >= 8 and chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert "".join(c.text or "" for c in chunks).startswith("Hello from gemini-2.5-flash! You said: Stream it")
    prefix = f"/{version or 'v1beta'}/models/gemini-2.5-flash:"
    seen = calls(emulator)
    assert [(path, status) for _, path, status in seen] == [(prefix + "generateContent", 200), (prefix + "streamGenerateContent", 200)]
    assert all(0 <= key < 3 for key, _, _ in seen)  # never -1: the client's own key stayed behind


def test_tools_and_thought_signatures_pass_through_untouched(router, emulator):
    client = genai_client(router)
    weather = types.FunctionDeclaration(
        name="get_weather", parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    )
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[weather])])
    first = client.models.generate_content(model="gemini-3-flash-preview", contents="Weather in Paris?", config=config)
    call_part = first.candidates[0].content.parts[0]
    assert call_part.function_call.name == "get_weather" and call_part.function_call.id
    signature = base64.b64encode(call_part.thought_signature).decode()
    assert verify_signature(signature) and signature not in DUMMY_SIGNATURES  # the emulator's own, intact
    # Emulator bug worked around: google-genai sends bytes as URL-safe base64 (proto3 JSON accepts
    # both alphabets), but the emulator's verify_signature only decodes the standard one. So the
    # second turn goes out as raw JSON with the signature exactly as the emulator issued it.
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {
                "role": "model",
                "parts": [{"functionCall": call_part.function_call.model_dump(exclude_none=True), "thoughtSignature": signature}],
            },
            {
                "role": "user",
                "parts": [{"functionResponse": {"id": call_part.function_call.id, "name": "get_weather", "response": {"temp_c": 18}}}],
            },
        ],
        "tools": [{"functionDeclarations": [weather.model_dump(mode="json", by_alias=True, exclude_none=True)]}],
    }
    second = httpx.post(
        f"{router.url}/v1beta/models/gemini-3-flash-preview:generateContent",
        json=body,
        headers={"x-goog-api-key": "client-key-not-in-the-pool"},
        timeout=10,
    )
    assert second.status_code == 200, second.text
    assert second.json()["candidates"][0]["content"]["parts"][0]["text"] == 'Tool results received: [{"temp_c":18}]'
    assert all(key >= 0 for key, _, _ in calls(emulator))


def test_models_count_tokens_and_embeddings(router, emulator):
    client = genai_client(router)
    names = [m.name for m in client.models.list()]
    assert "models/gemini-2.5-flash" in names and "models/gemini-embedding-001" in names
    assert client.models.count_tokens(model="gemini-2.5-flash", contents="count these words").total_tokens > 0
    vectors = client.models.embed_content(
        model="gemini-embedding-001", contents=["a", "b"], config=types.EmbedContentConfig(output_dimensionality=128)
    )
    assert [len(e.values) for e in vectors.embeddings] == [128, 128]
    assert all(key >= 0 for key, _, _ in calls(emulator))


def test_gemini_errors_reach_the_sdk_in_googles_format(router, emulator):
    client = genai_client(router)  # held: a collected Client closes its HTTP connection pool
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-0-nonexistent", contents="hi")
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"
    assert len(calls(emulator)) == 1  # a 404 is the caller's problem: not retried on other keys


def test_failover_for_native_calls_and_streams(make_router, emulator):
    router = make_router()
    emulator.set_key(0, "rate_limit")
    client = genai_client(router)
    assert client.models.generate_content(model="gemini-2.5-flash", contents="one").text.endswith("You said: one")
    assert [(k, s) for k, _, s in calls(emulator)] == [(0, 429), (1, 200)]
    emulator.reset()
    emulator.set_key(2, "unavailable")  # the next key in turn fails; the stream still comes through
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="two"))
    assert "".join(c.text or "" for c in chunks).endswith("You said: two")
    statuses = [s for _, _, s in calls(emulator)]
    assert statuses == [503, 200]
    assert "Key rotation triggered" in router.log()


@pytest.fixture(scope="module")
def slow_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = start_emulator(scenario(stream_delay_ms=STREAM_DELAY_MS), tmp_path_factory.mktemp("slow-native"))
    yield emu
    emu.stop()


def test_native_stream_reaches_the_client_incrementally(slow_emulator, tmp_path):
    router = start_router(tmp_path, keys=KEYS[:2], gemini_url=slow_emulator.url)
    try:
        slow_emulator.set_key(0, "rate_limit")  # and after a failover
        client = genai_client(router)
        arrivals = [(time.time(), c) for c in client.models.generate_content_stream(model="gemini-2.5-flash", contents="Tell me [[long]]")]
    finally:
        router.stop()
    texts = [t for t, c in arrivals if c.text]
    requests = slow_emulator.stats()["requests"]
    assert [r["status"] for r in requests] == [429, 200]
    # The emulator cannot finish before its start + (text events) * delay; see test_openai_surface.
    upstream_done_no_earlier_than = requests[1]["t"] + len(texts) * STREAM_DELAY_MS / 1000
    assert len(texts) >= 8 and texts[0] < upstream_done_no_earlier_than and texts[len(texts) // 2] < upstream_done_no_earlier_than


@pytest.mark.parametrize("version", ["v1", "v1beta"])
def test_models_list_and_get_answer_in_geminis_shape_on_both_prefixes(router, emulator, version):
    """google-genai lists through GET /{version}/models; on /v1 that path is also OpenAI's, and
    Google's client must still get Gemini's shape there (the OpenAI SDK keeps OpenAI's)."""
    client = genai_client(router, version)
    names = [m.name for m in client.models.list()]
    assert {"models/gemini-2.5-flash", "models/gemini-embedding-001"} <= set(names) and len(names) == len(set(names))
    pages = client.models.list(config={"page_size": 2})
    assert len(pages.page) == 2 and [m.name for m in pages] == names  # the pager follows nextPageToken to the end
    flash = client.models.get(model="gemini-2.5-flash")
    assert flash.name == "models/gemini-2.5-flash" and flash.input_token_limit > 0 and "generateContent" in flash.supported_actions
    with pytest.raises(errors.ClientError) as info:
        client.models.get(model="gemini-0-nonexistent")
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"
    openai_client = client_for(router)
    assert "gemini-2.5-flash" in [m.id for m in openai_client.models.list()]
    assert openai_client.models.retrieve("gemini-2.5-flash").owned_by == "google"
    assert all(key >= 0 for key, _, _ in calls(emulator))


def test_the_routers_own_errors_reach_google_clients_in_googles_format(make_router, emulator):
    """401 bad token, 429 every key cooling, 503 no usable key: google-genai raises its own typed
    error with the router's message and Google's status, as it would for Gemini's own errors."""
    router = make_router(config={"server": {"client_tokens": ["native-client-token"]}})
    stranger = genai_client(router)  # held: a collected Client closes its HTTP connection pool
    with pytest.raises(errors.ClientError) as unauthorized:
        stranger.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert (unauthorized.value.code, unauthorized.value.status) == (401, "UNAUTHENTICATED")
    assert unauthorized.value.message.startswith("Missing or unknown client token")
    client = genai.Client(api_key="native-client-token", http_options=types.HttpOptions(base_url=router.url))
    for key in range(3):
        emulator.set_key(key, "rate_limit")
    with pytest.raises(errors.ClientError) as limited:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert (limited.value.code, limited.value.status) == (429, "RESOURCE_EXHAUSTED") and "rate limited" in limited.value.message.lower()
    assert limited.value.response.headers["retry-after"]  # the SDK's retry options read it
    for key in range(3):
        emulator.set_key(key, "invalid")
    with pytest.raises(errors.ServerError) as no_key:
        client.models.generate_content(model="gemini-2.5-pro", contents="hi")  # another model: the flash keys are cooling
    assert (no_key.value.code, no_key.value.status) == (503, "UNAVAILABLE") and "disabled" in no_key.value.message
    assert all(key >= 0 for key, _, _ in calls(emulator))
