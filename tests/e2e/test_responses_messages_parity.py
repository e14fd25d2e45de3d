"""Issue 11: cost, redaction and the pool's errors on the Responses API and the Messages API as on
chat (test_cache_cost_redaction.py has chat's), through a real mitmdump against the emulator,
driven with the official openai and anthropic SDKs. (Failover, the cache and client tokens:
test_responses_api.py, test_messages_api.py and test_fallbacks.py.)"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import anthropic
import openai
import pytest
from mitmproxy.io import FlowReader
from procs import KEYS, Router, http_json, start_router

pytestmark = pytest.mark.e2e

CLIENT_TOKEN = "sk-client-token-not-a-gemini-key"
# Round prices: every request costs whole cents, so /health's two places are exact.
CENTS = {
    "pricing": {
        "as_of": "2024-01-25",
        "default": {"input_per_million": 10000, "output_per_million": 30000},
        "models": {"gpt-4o": {"input_per_million": 20000, "output_per_million": 50000}},
    }
}
NO_WAIT = {"key_pool": {"max_wait_seconds": 0, "retry_backoff_ms": 0}}
FRAGMENTS = sorted({key[i : i + 12] for key in KEYS for i in range(len(key) - 11)})


def cost(input_tokens: int, output_tokens: int, input_per_million: int, output_per_million: int) -> Decimal:
    return (Decimal(input_tokens) * input_per_million + Decimal(output_tokens) * output_per_million) / 10**6


def openai_client(router: Router) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.base_url, api_key=CLIENT_TOKEN, max_retries=0)


def claude(router: Router) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=router.url, api_key=CLIENT_TOKEN, max_retries=0)


def test_both_apis_are_priced_logged_and_totalled_as_chat(make_router, emulator) -> None:
    router = make_router(config={**CENTS, **NO_WAIT})
    raw = openai_client(router).responses.with_raw_response.create(model="gpt-4o", input="Price a response")
    usage = raw.parse().usage
    assert usage is not None
    responses_cost = cost(usage.input_tokens, usage.output_tokens, 20000, 50000)  # gpt-4o's price: the name asked for
    assert Decimal(raw.headers["x-hpn-saved-usd"]) == responses_cost
    message = claude(router).messages.with_raw_response.create(
        model="claude-sonnet-4-5", max_tokens=200, messages=[{"role": "user", "content": "Price a message"}]
    )
    parsed = message.parse()
    messages_cost = cost(parsed.usage.input_tokens, parsed.usage.output_tokens, 10000, 30000)  # no price of its own: the default
    assert Decimal(message.headers["x-hpn-saved-usd"]) == messages_cost
    # A stream counts too, once it has ended (its headers left before its cost was known).
    with claude(router).messages.stream(model="claude-sonnet-4-5", max_tokens=200, messages=[{"role": "user", "content": "Stream"}]) as s:
        final = s.get_final_message()
    streamed_cost = cost(final.usage.input_tokens, final.usage.output_tokens, 10000, 30000)
    expected = responses_cost + messages_cost + streamed_cost
    assert http_json("GET", f"{router.url}/health")["total_saved"] == f"${expected:.2f}"
    lines = [json.loads(line) for line in router.log().splitlines() if "CHA-CHING" in line]
    assert [Decimal(line["saved_usd"]) for line in lines] == [responses_cost, messages_cost, streamed_cost]
    served = [json.loads(line) for line in router.log().splitlines() if line.startswith("{") and '"event": "request"' in line]
    assert [(line["endpoint"], Decimal(line["saved_usd"])) for line in served] == [
        ("responses", responses_cost),
        ("messages", messages_cost),
        ("messages", streamed_cost),
    ]


def saved_flow_texts(path: Path) -> list[str]:
    def default(value: object) -> str:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else repr(value)

    with path.open("rb") as f:
        return [json.dumps(flow.get_state(), default=default, ensure_ascii=False) for flow in FlowReader(f).stream()]


@pytest.mark.single_process(reason="two workers would write one -w file")
def test_no_key_in_the_log_saved_flows_or_answers_of_either_api(emulator, tmp_path) -> None:
    """A 429 failover and a key disabled by a 403 that quotes it, on both APIs, streamed and
    not, with debug logging and every flow saved (`-w`): no 12-character piece of a key, nor
    the client's token, anywhere."""
    emulator.reset()
    saved = tmp_path / "flows.mitm"
    config = {**NO_WAIT, "logging": {"level": "debug"}}
    router = start_router(tmp_path, keys=KEYS[:3], gemini_url=emulator.url, config=config, extra_args=["-w", str(saved)])
    answers: list[str] = []
    try:
        emulator.set_key(0, "ok", script=["rate_limit", "rate_limit"])
        emulator.set_key(1, "forbidden")
        for i in range(2):
            raw = openai_client(router).responses.with_raw_response.create(model="gpt-4o", input=f"Redact {i}")
            answers.append(f"{json.dumps(dict(raw.headers))} {raw.text}")
            message = claude(router).messages.with_raw_response.create(
                model="claude-sonnet-4-5", max_tokens=200, messages=[{"role": "user", "content": f"Redact {i}"}]
            )
            answers.append(f"{json.dumps(dict(message.headers))} {message.text}")
        with claude(router).messages.stream(model="claude-sonnet-4-5", max_tokens=200, messages=[{"role": "user", "content": "s"}]) as s:
            answers.append(json.dumps([event.to_dict() for event in s]))
        with openai_client(router).responses.stream(model="gpt-4o", input="s") as stream:
            answers.append(json.dumps([event.to_dict(warnings=False) for event in stream]))
        for i in range(3):  # exhaustion: Anthropic's and OpenAI's error bodies
            emulator.set_key(i, "rate_limit")
        with pytest.raises(anthropic.RateLimitError) as info:
            claude(router).messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "none left"}])
        answers.append(json.dumps(info.value.body))
    finally:
        router.stop()
    statuses = {r["status"] for r in emulator.stats()["requests"]}
    assert {429, 403} <= statuses  # both happened
    logs, flows = router.log(), saved_flow_texts(saved)
    assert "Key rotation triggered" in logs and len(flows) >= 6
    for name, text in [
        ("log", logs),
        *[(f"flow {i}", f) for i, f in enumerate(flows)],
        *[(f"answer {i}", a) for i, a in enumerate(answers)],
        ("raw -w file", saved.read_bytes().decode("latin-1")),
    ]:
        assert [f for f in FRAGMENTS if f in text] == [], name
        assert CLIENT_TOKEN not in text, name


def test_every_key_disabled_is_an_anthropic_overloaded_error(make_router, emulator) -> None:
    """503 (no usable key, not the client's fault) in Anthropic's envelope, as Anthropic's own overload."""
    router = make_router(keys=KEYS[:1], config=NO_WAIT)
    emulator.set_key(0, "invalid")
    client = claude(router)
    with pytest.raises(anthropic.APIStatusError):  # the invalid key is found out, and disabled
        client.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(anthropic.InternalServerError) as info:
        client.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 503
    assert info.value.body["type"] == "error" and info.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
