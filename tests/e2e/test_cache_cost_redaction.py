"""Issue 4 end to end: the flash cache, the cost estimator and redaction, through a real
mitmdump with the router, driven with the official OpenAI SDK against the emulator."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import openai
import pytest
from mitmproxy.io import FlowReader
from procs import KEYS, Emulator, Router, client_for, http_json, scenario, start_emulator, start_router

HERE = Path(__file__).resolve().parent
MSG = [{"role": "user", "content": "Hello cache"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]
# Round prices, so every request's cost is a whole number of cents and /health's two places are exact.
CENTS = {
    "pricing": {
        "as_of": "2024-01-25",
        "default": {"input_per_million": 10000, "output_per_million": 30000},
        "models": {"gpt-4o": {"input_per_million": 20000, "output_per_million": 50000}},
    }
}
NO_WAIT = {"key_pool": {"max_wait_seconds": 0, "retry_backoff_ms": 0}}
SLOW_KEY = 4  # emulator key index with latency, for coalescing


def generate_requests(emulator: Emulator) -> list[dict]:
    return [r for r in emulator.stats()["requests"] if "generateContent" in r["path"] or "streamGenerateContent" in r["path"]]


def raw_post(router: Router, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        f"{router.base_url}/chat/completions", data=body, method="POST", headers={"content-type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def cache_status(raw: object) -> str | None:
    return raw.headers.get("x-hpn-cache")  # type: ignore[attr-defined]


# --- flash cache ----------------------------------------------------------------------


def test_hit_is_answered_locally_with_header_and_log(make_router, emulator):
    router = make_router()
    client = client_for(router)
    first = client.chat.completions.with_raw_response.create(model="gpt-4", messages=MSG)
    assert cache_status(first) == "MISS"
    upstream = len(generate_requests(emulator))
    assert upstream == 1
    second = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG)  # same Gemini model
    assert cache_status(second) == "HIT"
    assert len(generate_requests(emulator)) == upstream  # no key, no upstream
    a, b = first.parse(), second.parse()
    assert a.choices[0].message.content == b.choices[0].message.content
    assert b.id != a.id and b.model == "gpt-4o" and b.usage == a.usage
    hits = [json.loads(line) for line in router.log().splitlines() if "⚡ CACHE HIT" in line]
    # One line per hit: its request line.
    assert len(hits) == 1 and hits[0]["latency_ms"] >= 0 and hits[0]["event"] == "request" and hits[0]["cache"] == "hit"


def test_canonical_key_ignores_key_order_and_whitespace(make_router, emulator):
    router = make_router()
    status, headers, _ = raw_post(router, b'{"model":"gpt-4","messages":[{"role":"user","content":"Canonical"}],"temperature":0}')
    assert (status, headers["X-HPN-Cache"]) == (200, "MISS")
    variant = b'{\n  "temperature": 0.0,\n  "messages": [ { "content": "Canonical", "role": "user" } ],\n  "model": "gpt-4"\n}'
    status, headers, body = raw_post(router, variant)
    assert (status, headers["X-HPN-Cache"]) == (200, "HIT")
    assert "Canonical" in json.loads(body)["choices"][0]["message"]["content"]
    status, headers, _ = raw_post(router, b'{"model":"gpt-4","messages":[{"role":"user","content":"Canonical"}],"temperature":0.1}')
    assert headers["X-HPN-Cache"] == "MISS"  # a different request
    assert len(generate_requests(emulator)) == 2


def test_streaming_hit_is_a_proper_stream(make_router, emulator):
    client = client_for(make_router())

    def stream() -> tuple[str | None, list]:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4", messages=MSG, stream=True, stream_options={"include_usage": True}
        )
        return cache_status(raw), list(raw.parse())

    miss_status, miss = stream()
    hit_status, hit = stream()
    assert (miss_status, hit_status) == ("MISS", "HIT")
    assert len(generate_requests(emulator)) == 1

    def text(chunks: list) -> str:
        return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    assert text(hit) == text(miss) and "Hello cache" in text(hit)
    assert hit[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in hit if c.choices][-1] == "stop"
    assert hit[-1].choices == [] and hit[-1].usage == miss[-1].usage
    assert len({c.id for c in hit}) == 1 and hit[0].id != miss[0].id


def test_stream_is_stored_once_complete_then_hits_unstreamed(make_router, emulator):
    client = client_for(make_router())
    streamed = "".join(
        c.choices[0].delta.content or "" for c in client.chat.completions.create(model="gpt-4", messages=MSG, stream=True) if c.choices
    )
    raw = client.chat.completions.with_raw_response.create(model="gpt-4", messages=MSG)
    assert cache_status(raw) == "HIT"
    answer = raw.parse()
    assert answer.choices[0].message.content == streamed
    assert answer.usage.prompt_tokens > 0  # kept although the stream carried no usage chunk
    assert len(generate_requests(emulator)) == 1


def test_tool_calls_replay_as_stream_deltas_with_index(make_router, emulator):
    client = client_for(make_router())
    ask = {"model": "gpt-4", "messages": [{"role": "user", "content": "Weather in Paris and Rome? [[parallel]]"}], "tools": TOOLS}
    unstreamed = client.chat.completions.create(**ask)
    assert unstreamed.choices[0].finish_reason == "tool_calls"
    raw = client.chat.completions.with_raw_response.create(**ask, stream=True)
    assert cache_status(raw) == "HIT"
    calls: dict[int, dict] = {}
    finish = None
    for chunk in raw.parse():
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for call in choice.delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"id": call.id, "name": "", "arguments": ""})
                entry["name"] += call.function.name or ""
                entry["arguments"] += call.function.arguments or ""
    expected = {
        i: {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
        for i, c in enumerate(unstreamed.choices[0].message.tool_calls)
    }
    assert calls == expected and finish == "tool_calls"
    assert len(generate_requests(emulator)) == 1


def test_no_cache_and_no_store(make_router, emulator):
    client = client_for(make_router())
    client.chat.completions.create(model="gpt-4", messages=MSG)
    fresh = client.chat.completions.with_raw_response.create(model="gpt-4", messages=MSG, extra_headers={"Cache-Control": "no-cache"})
    assert cache_status(fresh) == "BYPASS" and len(generate_requests(emulator)) == 2
    other = [{"role": "user", "content": "Do not keep this"}]
    for _ in range(2):
        raw = client.chat.completions.with_raw_response.create(model="gpt-4", messages=other, extra_headers={"Cache-Control": "no-store"})
        assert cache_status(raw) == "MISS"
    assert len(generate_requests(emulator)) == 4


def test_errors_and_broken_streams_are_not_stored(make_router, emulator):
    router = make_router(config=NO_WAIT)
    client = client_for(router)
    for i in range(3):
        emulator.set_key(i, "stream_error")
    chunks = client.chat.completions.create(model="gpt-4", messages=MSG, stream=True)
    with pytest.raises(openai.APIError):
        list(chunks)
    for i in range(3):
        emulator.set_key(i, "ok")
    raw = client.chat.completions.with_raw_response.create(model="gpt-4", messages=MSG)
    assert cache_status(raw) == "MISS"


def test_cache_can_be_turned_off(make_router, emulator):
    client = client_for(make_router(config={"cache": {"enabled": False}}))
    for _ in range(2):
        assert cache_status(client.chat.completions.with_raw_response.create(model="gpt-4", messages=MSG)) is None
    assert len(generate_requests(emulator)) == 2


@pytest.fixture(scope="module")
def slow_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """Streams with 200 ms between events; key 4 answers after 3 s (so that, even on a loaded
    machine, every concurrent duplicate arrives while the first is still in flight)."""
    spec = scenario(stream_delay_ms=200)
    spec["keys"][SLOW_KEY]["latency_ms"] = 3000
    emu = start_emulator(spec, tmp_path_factory.mktemp("slow-emulator"))
    yield emu
    emu.stop()


def test_identical_requests_in_flight_go_upstream_once(slow_emulator, tmp_path):
    slow_emulator.reset()
    router = start_router(tmp_path, keys=[KEYS[SLOW_KEY]], gemini_url=slow_emulator.url)
    try:
        client = client_for(router, timeout=30)

        def ask(_: int) -> tuple[str | None, str]:
            raw = client.chat.completions.with_raw_response.create(model="gpt-4", messages=MSG)
            return cache_status(raw), raw.parse().choices[0].message.content

        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(pool.map(ask, range(10)))
        assert sorted(s for s, _ in answers) == ["HIT"] * 9 + ["MISS"]
        assert len({text for _, text in answers}) == 1
        assert len(generate_requests(slow_emulator)) == 1
        coalesced = [json.loads(line) for line in router.log().splitlines() if "⚡ CACHE HIT" in line]
        assert len(coalesced) == 9 and all(hit["coalesced"] for hit in coalesced)

        streams = [{"role": "user", "content": "Stream together"}]
        with ThreadPoolExecutor(max_workers=5) as pool:
            streamed = list(pool.map(lambda _: ask_stream(client, streams), range(5)))
        assert sorted(s for s, _ in streamed) == ["HIT"] * 4 + ["MISS"]
        assert len({text for _, text in streamed}) == 1
        assert len(generate_requests(slow_emulator)) == 2
    finally:
        router.stop()


def ask_stream(client: openai.OpenAI, messages: list[dict]) -> tuple[str | None, str]:
    raw = client.chat.completions.with_raw_response.create(model="gpt-4", messages=messages, stream=True)
    return cache_status(raw), "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)


# --- cost -----------------------------------------------------------------------------


def cost(usage: object, input_per_million: int, output_per_million: int) -> Decimal:
    return (Decimal(usage.prompt_tokens) * input_per_million + Decimal(usage.completion_tokens) * output_per_million) / 10**6  # type: ignore[attr-defined]


def test_cost_header_log_and_exact_health_total(make_router, emulator):
    router = make_router(config={**CENTS, **NO_WAIT})
    client = client_for(router)
    emulator.set_key(0, "ok", script=["rate_limit"])  # the first request fails over once: counted once
    expected = Decimal(0)
    for model, prices in (("gpt-4", (10000, 30000)), ("gpt-4o", (20000, 50000))):
        raw = client.chat.completions.with_raw_response.create(model=model, messages=[{"role": "user", "content": f"Price {model}"}])
        saved = cost(raw.parse().usage, *prices)
        assert Decimal(raw.headers["x-hpn-saved-usd"]) == saved
        expected += saved
    assert [r["status"] for r in generate_requests(emulator)][:2] == [429, 200]
    # A cache hit saves the stored answer's tokens again, at the price of the name asked for.
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": "Price gpt-4"}])
    assert cache_status(raw) == "HIT"
    assert Decimal(raw.headers["x-hpn-saved-usd"]) == cost(raw.parse().usage, 20000, 50000)
    expected += cost(raw.parse().usage, 20000, 50000)
    # A stream's headers leave before its cost is known: no header, but it counts.
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4", messages=[{"role": "user", "content": "Stream cost"}], stream=True, stream_options={"include_usage": True}
    )
    assert "x-hpn-saved-usd" not in raw.headers
    expected += cost(list(raw.parse())[-1].usage, 10000, 30000)
    # Errors cost nothing.
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4", messages=[])
    health = http_json("GET", f"{router.url}/health")
    assert health["total_saved"] == f"${expected:.2f}" and expected == expected.quantize(Decimal("0.01"))
    lines = [json.loads(line) for line in router.log().splitlines() if "CHA-CHING" in line]
    assert len(lines) == 4
    assert sum(Decimal(line["saved_usd"]) for line in lines) == expected
    assert (
        lines[-1]["msg"] == f"💸 CHA-CHING! You saved ${Decimal(lines[-1]['saved_usd']):.4f} on this request. Total Saved: ${expected:.2f}"
    )


# --- redaction ------------------------------------------------------------------------

CLIENT_TOKEN = "sk-client-token-not-a-gemini-key"
FRAGMENTS = sorted({key[i : i + 12] for key in KEYS for i in range(len(key) - 11)})


def leaks(text: str) -> list[str]:
    return [f for f in FRAGMENTS if f in text]


def saved_flow_texts(path: Path) -> list[str]:
    """Every saved flow as text: headers, bodies, URL, metadata, error, comment."""

    def default(value: object) -> str:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else repr(value)

    with path.open("rb") as f:
        return [json.dumps(flow.get_state(), default=default, ensure_ascii=False) for flow in FlowReader(f).stream()]


@pytest.mark.single_process(
    reason="mitmdump's flow printer (flow_detail) is not in the lean runner the workers run, and two workers would write one -w file"
)
def test_no_key_in_any_log_line_saved_flow_or_response(slow_emulator, tmp_path):
    """Timeouts, a 429 failover, a key disabled by a 403 that quotes it, exhaustion, Gemini's
    native API, an addon that copies a key into the flow and raises with it, and a stream still
    in flight at shutdown; with every flow printed (flow_detail 4), debug logging and `-w`.
    Then no log line, saved flow or response holds any 12-character piece of a key (nor the
    client's own token)."""
    emu = slow_emulator
    emu.reset()
    config = {
        "server": {"read_timeout_seconds": 1},
        "key_pool": {"retry_count": 2, "max_wait_seconds": 0, "retry_backoff_ms": 0},
        "logging": {"level": "debug"},
    }
    saved = tmp_path / "flows.mitm"
    responses: list[str] = []

    def keep(status: int, headers: dict, body: bytes) -> int:
        responses.append(f"{status} {json.dumps(headers)} {body.decode('utf-8', 'replace')}")
        return status

    def chat(r: Router, text: str, **headers: str) -> int:
        body = json.dumps({"model": "gpt-4", "messages": [{"role": "user", "content": text}]}).encode()
        return keep(*raw_post(r, body, {"authorization": f"Bearer {CLIENT_TOKEN}", **headers}))

    router = start_router(
        tmp_path, keys=KEYS[:3], gemini_url=emu.url, config=config, extra_args=["-s", str(HERE / "leaky_addon.py"), "-w", str(saved)]
    )
    first, stream = b"", None
    try:
        # Timeouts, a 429 failover and a 403 that quotes the key, in whatever order the pool picks keys.
        emu.set_key(0, "ok", script=["hang"])
        emu.set_key(1, "ok", script=["rate_limit"])
        emu.set_key(2, "forbidden")
        for i in range(4):
            chat(router, f"failover {i}")  # 403 when all three happen to one request: "after 3 attempts"
            if {0, 429, 403} <= {r["status"] for r in generate_requests(emu)}:
                break
        assert {0, 429, 403} <= {r["status"] for r in generate_requests(emu)}
        # The misbehaving addon: the key copied into the flow and logged, then a hook exception.
        assert chat(router, "leak it", **{"x-hpn-test": "leak"}) == 200
        assert chat(router, "raise with it", **{"x-hpn-test": "raise"}) == 200
        # Gemini's own API, with the client's own key in the URL and a header.
        native = urllib.request.Request(
            f"{router.url}/v1beta/models/gemini-2.5-flash:generateContent?key=client-own-key",
            data=json.dumps({"contents": [{"parts": [{"text": "native"}]}]}).encode(),
            method="POST",
            headers={"content-type": "application/json", "x-goog-api-key": "client-own-key"},
        )
        with urllib.request.urlopen(native, timeout=10) as response:
            assert keep(response.status, dict(response.headers), response.read()) == 200
        # A stream still in flight when the proxy stops: cut at shutdown, saved all the same.
        request = urllib.request.Request(
            f"{router.base_url}/chat/completions",
            method="POST",
            data=json.dumps({"model": "gpt-4", "stream": True, "messages": [{"role": "user", "content": "Long story [[long]]"}]}).encode(),
            headers={"content-type": "application/json", "authorization": f"Bearer {CLIENT_TOKEN}", "x-hpn-test": "leak"},
        )
        stream = urllib.request.urlopen(request, timeout=10)
        first = stream.readline()
        # Exhaustion (while the stream runs): the one key left rate limits too.
        for i in range(3):
            emu.set_key(i, "rate_limit")
        assert chat(router, "exhausted") in (429, 503)
    finally:
        router.stop()
        if stream is not None:
            stream.close()
    responses.append(first.decode())
    assert first.startswith(b"data:")

    logs = router.log()
    flows = saved_flow_texts(saved)
    # Everything happened, and was written down.
    assert "client-own-key" not in "".join(flows)
    assert "Key rotation triggered" in logs and "Addon error" in logs and "leaky addon failed with key <key:key_1>" in logs
    assert "stdlib log with <key:key_1>" in logs and "loguru traceback with the key in a local" in logs
    # (as the client sent it: ShowClientRequest restored it when the stream started; its metadata is written at the end)
    assert any("/v1/chat/completions" in f and "Long story" in f for f in flows), "the in-flight stream was saved"
    assert len(flows) >= 7
    # ... and nothing holds a key, a piece of one, or the client's token.
    for name, text in [
        ("log", logs),
        *[(f"flow {i}", f) for i, f in enumerate(flows)],
        *[(f"response {i}", r) for i, r in enumerate(responses)],
        ("raw -w file", saved.read_bytes().decode("latin-1")),
    ]:
        assert leaks(text) == [], f"{name} leaks {leaks(text)}"
        assert CLIENT_TOKEN not in text, name
