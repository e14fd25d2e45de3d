"""Fallback across providers, end to end: the official OpenAI SDK against a real mitmdump whose
Gemini keys the Gemini emulator rate-limits, with `fallbacks:` moving the request to the strict
Mistral emulator (which refuses tool ids that are not 9 letters or digits) or to the strict
Anthropic emulator (which refuses tool ids outside `[a-zA-Z0-9_-]` and results without their call)."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest
from procs import KEYS, MISTRAL_KEYS, SERVED_BY, WEATHER, Emulator, Router, client_for, provider_env, start_anthropic_emulator, start_router
from prometheus_client.parser import text_string_to_metric_families

GEMINI = "gemini-2.5-flash"
MISTRAL = "mistral-small-latest"
ANTHROPIC_KEYS = ["sk-ant-api03-E2eFallback-0000000000000000000000000000000000000000-AAAA"]
CLAUDE = "claude-haiku-4-5"
HI = [{"role": "user", "content": "Say hi"}]


@pytest.fixture
def router(tmp_path: Path, emulator: Emulator, mistral: Emulator) -> Iterator[Router]:
    """A router per test: the cooldowns one test leaves must not decide the next."""
    emulator.reset()
    mistral.reset()
    env = provider_env("mistral", mistral, MISTRAL_KEYS[:1])
    config = {"fallbacks": {GEMINI: [MISTRAL], MISTRAL: [GEMINI]}, "key_pool": {"retry_backoff_ms": 0}}
    router = start_router(tmp_path, keys=KEYS[:2], gemini_url=emulator.url, config=config, env=env)
    yield router
    router.stop()


def gemini_rate_limited(emulator: Emulator) -> None:
    for index in range(2):
        emulator.set_key(index, "rate_limit")


def statuses(emulator: Emulator) -> list[int]:
    return [r["status"] for r in emulator.stats()["requests"]]


def test_every_gemini_key_cooling_falls_back_to_mistral(router: Router, emulator: Emulator, mistral: Emulator) -> None:
    gemini_rate_limited(emulator)
    raw = client_for(router).chat.completions.with_raw_response.create(model=GEMINI, messages=HI)
    answer = raw.parse()
    assert raw.headers[SERVED_BY] == f"mistral/{MISTRAL}"
    assert answer.model == GEMINI and answer.choices[0].message.content
    assert statuses(emulator) == [429, 429] and statuses(mistral) == [200]
    assert f"↪ FALLBACK {GEMINI} → {MISTRAL} (all gemini keys cooling)" in router.log()


def test_mistral_falls_back_to_gemini(router: Router, emulator: Emulator, mistral: Emulator) -> None:
    mistral.set_key(0, "rate_limit")
    raw = client_for(router).chat.completions.with_raw_response.create(model=MISTRAL, messages=HI)
    assert raw.headers[SERVED_BY] == f"gemini/{GEMINI}" and raw.parse().model == MISTRAL
    assert statuses(mistral) == [429] and statuses(emulator) == [200]
    assert f"↪ FALLBACK {MISTRAL} → {GEMINI} (all mistral keys cooling)" in router.log()


def test_a_stream_falls_back_before_its_first_byte(router: Router, emulator: Emulator, mistral: Emulator) -> None:
    gemini_rate_limited(emulator)
    with client_for(router).chat.completions.with_streaming_response.create(
        model=GEMINI, messages=HI, stream=True, stream_options={"include_usage": True}
    ) as response:
        assert response.headers[SERVED_BY] == f"mistral/{MISTRAL}"
        chunks = list(response.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert {c.model for c in chunks} == {GEMINI} and chunks[-1].usage is not None
    assert statuses(mistral) == [200]


def test_a_tool_round_trip_continues_on_mistral_with_geminis_ids(router: Router, emulator: Emulator, mistral: Emulator) -> None:
    client = client_for(router)
    first = client.chat.completions.create(
        model=GEMINI, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER], tool_choice="required"
    )
    [call] = first.choices[0].message.tool_calls
    assert not (len(call.id) == 9 and call.id.isalnum())  # Gemini's id, which Mistral would refuse as is
    gemini_rate_limited(emulator)
    history = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp": "18C"}'},
    ]
    raw = client.chat.completions.with_raw_response.create(model=GEMINI, messages=history, tools=[WEATHER])
    assert raw.headers[SERVED_BY] == f"mistral/{MISTRAL}" and raw.parse().choices[0].message.content
    assert statuses(mistral) == [200]  # the strict emulator took the re-encoded ids


def test_the_clients_own_fault_never_falls_back(router: Router, emulator: Emulator, mistral: Emulator) -> None:
    with pytest.raises(openai.BadRequestError):
        client_for(router).chat.completions.create(model=GEMINI, messages=HI, logprobs=True)
    assert statuses(emulator) == [400] and statuses(mistral) == []
    assert "FALLBACK" not in router.log()


def test_every_provider_exhausted_is_one_429_with_retry_after(router: Router, emulator: Emulator, mistral: Emulator) -> None:
    gemini_rate_limited(emulator)
    mistral.set_key(0, "rate_limit")
    with pytest.raises(openai.RateLimitError) as caught:
        client_for(router).with_options(max_retries=0).chat.completions.create(model=GEMINI, messages=HI)
    error = caught.value
    assert error.response.headers["retry-after"] == "2"  # Gemini's keys recover first (its 2 s, Mistral's 30 s)
    assert GEMINI in error.message and MISTRAL in error.message
    assert statuses(emulator) == [429, 429] and statuses(mistral) == [429]


def test_the_responses_api_falls_back_too(router: Router, emulator: Emulator, mistral: Emulator) -> None:
    gemini_rate_limited(emulator)
    raw = client_for(router).responses.with_raw_response.create(model=GEMINI, input="Say hi")
    response = raw.parse()
    assert raw.headers[SERVED_BY] == f"mistral/{MISTRAL}"
    assert response.model == GEMINI and response.output_text
    assert statuses(mistral) == [200]


def test_a_messages_stream_falls_back_too(router: Router, emulator: Emulator, mistral: Emulator) -> None:
    gemini_rate_limited(emulator)
    claude = anthropic.Anthropic(base_url=router.url, api_key="unused", max_retries=0)
    with claude.messages.with_streaming_response.create(
        model=GEMINI, max_tokens=64, messages=[{"role": "user", "content": "Say hi"}], stream=True
    ) as response:
        assert response.headers[SERVED_BY] == f"mistral/{MISTRAL}"
        events = [event for event in response.parse() if event.type in ("message_start", "content_block_delta", "message_stop")]
    assert events[0].message.model == GEMINI and events[-1].type == "message_stop"
    assert "".join(e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta")
    assert statuses(mistral) == [200]


@pytest.fixture(scope="module")
def claude(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = start_anthropic_emulator({"keys": [{"key": ANTHROPIC_KEYS[0], "retry_after": 30}]}, tmp_path_factory.mktemp("anthropic"))
    yield emu
    emu.stop()


@pytest.fixture
def to_claude(tmp_path: Path, emulator: Emulator, claude: Emulator) -> Iterator[Router]:
    """A router whose Gemini model falls back to Claude, per test (cooldowns stay in their test)."""
    emulator.reset()
    claude.reset()
    env = {"HPN_ANTHROPIC_API_KEYS": ",".join(ANTHROPIC_KEYS), "HPN_ANTHROPIC_BASE_URL": claude.url}
    config = {"fallbacks": {GEMINI: [CLAUDE]}, "key_pool": {"retry_backoff_ms": 0}}
    router = start_router(tmp_path, keys=KEYS[:2], gemini_url=emulator.url, config=config, env=env)
    yield router
    router.stop()


def attempts_by_provider(router: Router) -> dict[tuple[str, str], float]:
    with urllib.request.urlopen(router.url + "/metrics", timeout=10) as scrape:
        families = list(text_string_to_metric_families(scrape.read().decode()))
    counted: dict[tuple[str, str], float] = {}
    for sample in (s for f in families for s in f.samples if s.name == "hpn_upstream_attempts_total"):
        where = (sample.labels["provider"], sample.labels["outcome"])
        counted[where] = counted.get(where, 0.0) + sample.value
    return counted


def test_every_gemini_key_cooling_falls_back_to_claude(to_claude: Router, emulator: Emulator, claude: Emulator) -> None:
    gemini_rate_limited(emulator)
    raw = client_for(to_claude).chat.completions.with_raw_response.create(model=GEMINI, messages=HI)
    answer = raw.parse()
    assert raw.headers[SERVED_BY] == f"anthropic/{CLAUDE}"
    assert answer.model == GEMINI and answer.choices[0].message.content and answer.usage.prompt_tokens > 0
    assert statuses(emulator) == [429, 429] and statuses(claude) == [200]
    assert f"↪ FALLBACK {GEMINI} → {CLAUDE} (all gemini keys cooling)" in to_claude.log()
    # Each try counts under the provider it went to.
    assert attempts_by_provider(to_claude) == {("gemini", "rate_limited"): 2, ("anthropic", "ok"): 1}


def test_a_stream_falls_back_to_claude_before_its_first_byte(to_claude: Router, emulator: Emulator, claude: Emulator) -> None:
    gemini_rate_limited(emulator)
    with client_for(to_claude).chat.completions.with_streaming_response.create(
        model=GEMINI, messages=HI, stream=True, stream_options={"include_usage": True}
    ) as response:
        assert response.headers[SERVED_BY] == f"anthropic/{CLAUDE}"
        chunks = list(response.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert {c.model for c in chunks} == {GEMINI} and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert statuses(claude) == [200]


def test_a_tool_round_trip_across_the_fallback_keeps_every_id(to_claude: Router, emulator: Emulator, claude: Emulator) -> None:
    client = client_for(to_claude)
    first = client.chat.completions.create(
        model=GEMINI, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER], tool_choice="required"
    )
    [gemini_call] = first.choices[0].message.tool_calls
    gemini_rate_limited(emulator)
    history: list[dict] = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "tool_calls": [gemini_call.model_dump()]},
        {"role": "tool", "tool_call_id": gemini_call.id, "content": '{"temp": "18C"}'},
        {"role": "assistant", "content": "18C in Paris."},
        {"role": "user", "content": "And in Rome?"},
    ]
    raw = client.chat.completions.with_raw_response.create(model=GEMINI, messages=history, tools=[WEATHER], tool_choice="required")
    [claude_call] = raw.parse().choices[0].message.tool_calls
    assert raw.headers[SERVED_BY] == f"anthropic/{CLAUDE}" and claude_call.id.startswith("toolu_")
    history += [
        {"role": "assistant", "tool_calls": [claude_call.model_dump()]},
        {"role": "tool", "tool_call_id": claude_call.id, "content": '{"temp": "25C"}'},
    ]
    last = client.chat.completions.create(model=GEMINI, messages=history, tools=[WEATHER])
    assert last.choices[0].message.content and last.choices[0].finish_reason == "stop"
    # The strict emulator took both ids: Gemini's re-encoded, its own unchanged.
    assert statuses(claude) == [200, 200]
