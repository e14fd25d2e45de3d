"""Issue 3 end to end: the whole OpenAI surface through a real mitmdump, driven with the official
OpenAI SDK (max_retries=0) against the strict Gemini emulator.

Most tests share one router (their outcome does not depend on key-pool state); tests that
count upstream attempts or change config start their own. Streaming timing uses a second
emulator whose events are `STREAM_DELAY_MS` apart; the only time assertions are orderings
against that emulator's own timeline (docs/gemini-wire-format.md#openai-streaming,
docs/gemini-wire-format.md#streaming-translation; the traps by number: docs/gemini-wire-format.md#traps).
"""

from __future__ import annotations

import base64
import http.server
import json
import math
import os
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Literal

import httpx
import openai
import pytest
from gemini_emulator.answers import DUMMY_SIGNATURES, THOUGHT_TEXT, verify_signature
from gemini_emulator.answers import embedding as emulator_embedding
from hpn_router.core.toolids import decode_call_id
from procs import KEYS, Emulator, Router, client_for, scenario, start_emulator, start_router
from pydantic import BaseModel

ALIASES = {"my-fast": "gemini-2.5-flash", "house-model": "gemini-3-flash-preview"}
SHARED_CONFIG = {"models": ALIASES}
STREAM_DELAY_MS = 80  # the slow emulator also writes each event in two halves (trap 1)
LONG = "Tell me a story [[long]]"
FLASH = "gemini-2.5-flash"  # Gemini 2.5: thinking budgets, no call ids, no signatures
GEMINI3 = "gemini-3-flash-preview"  # Gemini 3 mode in the emulator: levels, call ids, signatures required
PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_router(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    router = start_router(tmp_path_factory.mktemp("shared"), keys=KEYS[:3], gemini_url=emulator.url, config=SHARED_CONFIG)
    yield router
    router.stop()


@pytest.fixture
def client(shared_router: Router, emulator: Emulator) -> openai.OpenAI:
    emulator.reset()
    return client_for(shared_router)


@pytest.fixture(scope="module")
def slow_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emu = start_emulator(scenario(stream_delay_ms=STREAM_DELAY_MS, split_events=True), tmp_path_factory.mktemp("slow-emulator"))
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def slow_router(slow_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    router = start_router(tmp_path_factory.mktemp("slow"), keys=KEYS[:3], gemini_url=slow_emulator.url)
    yield router
    router.stop()


@pytest.fixture
def slow_client(slow_router: Router, slow_emulator: Emulator) -> openai.OpenAI:
    slow_emulator.reset()
    return client_for(slow_router)


@pytest.fixture
def make_slow_router(slow_emulator: Emulator, tmp_path) -> Iterator[Callable[..., Router]]:
    slow_emulator.reset()
    started: list[Router] = []

    def make(**kw: object) -> Router:
        router = start_router(tmp_path, keys=KEYS[:3], gemini_url=slow_emulator.url, **kw)  # type: ignore[arg-type]
        started.append(router)
        return router

    yield make
    for router in started:
        router.stop()


# --- helpers ----------------------------------------------------------------------------------


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def timed(stream) -> list[tuple[float, object]]:
    """Every chunk with the wall-clock time it reached the client."""
    return [(time.time(), chunk) for chunk in stream]


def content_of(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def stream_requests(emulator: Emulator) -> list[dict]:
    return [r for r in emulator.stats()["requests"] if r["stream"]]


def assert_incremental(arrivals: list[tuple[float, object]], upstream_started: float) -> None:
    """Content chunks reach the client while the emulator is still streaming.

    The emulator writes text event k at upstream_started + k*delay and the finish event after
    the last text event, so it cannot finish before upstream_started + n*delay for n text
    events (n >= the client's content chunks). A buffered relay would deliver everything after
    that instant; an incremental one delivers the first (and the middle) chunk well before it.
    """
    content = [t for t, c in arrivals if c.choices and c.choices[0].delta.content]
    assert len(content) >= 8, "the [[long]] answer should arrive in many chunks"
    upstream_done_no_earlier_than = upstream_started + len(content) * STREAM_DELAY_MS / 1000
    assert content[0] < upstream_done_no_earlier_than
    assert content[len(content) // 2] < upstream_done_no_earlier_than


def raw_stream(router: Router, body: dict) -> bytes:
    with httpx.Client(timeout=30) as http_client:
        response = http_client.post(f"{router.base_url}/chat/completions", json=body)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return response.read()


def sse_payloads(raw: bytes) -> list[str]:
    assert b"\r\n" not in raw  # the client side uses \n\n framing (docs/gemini-wire-format.md#streaming-translation)
    return [event.removeprefix("data: ") for event in raw.decode().split("\n\n") if event]


# --- streaming --------------------------------------------------------------------------------


def test_stream_text_arrives_incrementally_with_one_id_and_a_finish_chunk(slow_client, slow_emulator):
    arrivals = timed(slow_client.chat.completions.create(model="gpt-4o", messages=user(LONG), stream=True))
    chunks = [c for _, c in arrivals]
    (request,) = stream_requests(slow_emulator)
    assert request["status"] == 200 and request["path"].endswith(":streamGenerateContent")
    assert_incremental(arrivals, request["t"])
    assert {(c.id, c.created, c.model, c.object) for c in chunks} == {(chunks[0].id, chunks[0].created, "gpt-4o", "chat.completion.chunk")}
    assert chunks[0].id.startswith("chatcmpl-")
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "You said: Tell me a story" in content_of(chunks) and "quick brown fox" in content_of(chunks)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].usage is None


def test_stream_ends_with_done_and_matches_the_non_streamed_text(client, shared_router):
    # U+2028 is content, not a line break (trap 1: str.splitlines would split the event).
    ask = user("Compare me\u2028 and the rest")
    payloads = sse_payloads(raw_stream(shared_router, {"model": FLASH, "messages": ask, "stream": True}))
    assert payloads[-1] == "[DONE]" and payloads.count("[DONE]") == 1
    events = [json.loads(p) for p in payloads[:-1]]
    streamed = "".join(e["choices"][0]["delta"].get("content") or "" for e in events)
    assert all("usage" not in e for e in events)  # no include_usage: no usage key at all
    whole = client.chat.completions.create(model=FLASH, messages=ask)
    assert streamed == whole.choices[0].message.content and "\u2028 and the rest" in streamed


def test_stream_refused_before_the_first_byte_is_a_plain_openai_error(client, emulator):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gemini-0-nonexistent", messages=user("hi"), stream=True)
    assert info.value.code == "model_not_found"
    assert [r["status"] for r in emulator.stats()["requests"]] == [404]


def test_include_usage_sends_a_final_usage_chunk_with_cumulative_counts(client):
    stream = client.chat.completions.create(model=FLASH, messages=user(LONG), stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    final = chunks[-1]
    assert final.choices == [] and final.usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    # Gemini's usageMetadata is cumulative on every event: the last one counts, never the sum.
    whole = client.chat.completions.create(model=FLASH, messages=user(LONG)).usage
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (whole.prompt_tokens, whole.completion_tokens)
    assert final.usage.total_tokens == final.usage.prompt_tokens + final.usage.completion_tokens
    assert final.usage.completion_tokens_details.reasoning_tokens == whole.completion_tokens_details.reasoning_tokens


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string"}, "utc": {"type": "boolean"}},
            "required": ["zone", "utc"],
        },
    },
}
NEWS = {"type": "function", "function": {"name": "get_news", "parameters": {"type": "object", "properties": {}}}}


def test_stream_tool_calls_have_index_id_name_and_whole_arguments(client):
    chunks = list(
        client.chat.completions.create(
            model=FLASH, messages=user("Weather and time please [[parallel]]"), tools=[WEATHER, TIME, NEWS], stream=True
        )
    )
    deltas = [d for c in chunks if c.choices for d in (c.choices[0].delta.tool_calls or [])]
    assert [d.index for d in deltas] == [0, 1, 2]  # counted across the stream, not per chunk
    assert [d.function.name for d in deltas] == ["get_weather", "get_time", "get_news"]
    assert all(d.id and d.type == "function" for d in deltas) and len({d.id for d in deltas}) == 3
    assert [json.loads(d.function.arguments) for d in deltas] == [{"city": "example"}, {"zone": "example", "utc": True}, {}]
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["tool_calls"]  # Gemini says STOP; clients must still run the tools


def test_stream_helper_of_the_sdk_assembles_tool_calls(client):
    """openai-python's `.stream()` helper indexes tool_calls[index]: it breaks on bad indexes."""

    class Lookup(BaseModel):
        term: str
        limit: int | None

    tool = openai.pydantic_function_tool(Lookup, name="lookup")
    with client.chat.completions.stream(model=GEMINI3, messages=user("look it up"), tools=[tool]) as stream:
        final = stream.get_final_completion()
    (call,) = final.choices[0].message.tool_calls
    assert call.function.name == "lookup" and call.function.parsed_arguments == Lookup(term="example", limit=1)
    assert final.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("behaviour", ["stream_error", "stream_cut"])
def test_mid_stream_failure_raises_in_the_sdk_and_never_fakes_a_stop(slow_client, slow_emulator, slow_router, behaviour):
    # The slow emulator spaces its events, so the ones before the failure reach the router
    # before the error or the reset (a TCP reset can discard data not yet read).
    for index in range(3):
        slow_emulator.set_key(index, behaviour)
    seen = []
    with pytest.raises(openai.APIError) as info:
        for chunk in slow_client.chat.completions.create(model=FLASH, messages=user(LONG), stream=True):
            seen.append(chunk)
    assert not isinstance(info.value, openai.APIStatusError)  # in-band, after the 200
    assert content_of(seen)  # the first events did arrive before the failure
    assert not any(c.choices and c.choices[0].finish_reason for c in seen)
    # On the wire: an error event and no [DONE].
    payloads = sse_payloads(raw_stream(slow_router, {"model": FLASH, "messages": user(LONG), "stream": True}))
    assert "[DONE]" not in payloads
    assert set(json.loads(payloads[-1])["error"]) == {"message", "type", "param", "code"}


def test_stream_fails_over_before_the_first_byte_and_stays_incremental(make_slow_router, slow_emulator):
    router = make_slow_router()
    slow_emulator.set_key(0, "rate_limit")
    arrivals = timed(client_for(router).chat.completions.create(model="gpt-4o", messages=user(LONG), stream=True))
    requests = stream_requests(slow_emulator)
    assert [(r["key_index"], r["status"]) for r in requests] == [(0, 429), (1, 200)]
    assert_incremental(arrivals, requests[1]["t"])
    assert "quick brown fox" in content_of([c for _, c in arrivals])
    assert "Key rotation triggered" in router.log()


def _router_sockets_to(router: Router, port: int) -> int:
    """ESTABLISHED TCP connections of the router's processes to 127.0.0.1:`port` (Linux /proc)."""
    inodes = set()
    for pid in router.pids():
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    count = 0
    with open(f"/proc/{router.proc.pid}/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].split(":")[1], 16)
            if remote_port == port and fields[3] == "01" and fields[9] in inodes:
                count += 1
    return count


@pytest.mark.single_process(reason="counts one process's upstream sockets: each worker keeps its own connection pool")
def test_client_disconnect_mid_stream_closes_the_upstream_request(make_slow_router, slow_emulator):
    """The emulator's stats cannot say whether a stream was aborted, so this looks at the
    router's sockets: a stream read to its end leaves its connection in aiohttp's keep-alive
    pool, an aborted one closes it."""
    router = make_slow_router()
    client = client_for(router)
    port = int(slow_emulator.url.rsplit(":", 1)[1])
    # Control: a stream read to the end leaves one idle keep-alive connection behind.
    list(client.chat.completions.create(model="gpt-4o", messages=user("short"), stream=True))
    assert _router_sockets_to(router, port) == 1
    stream = client.chat.completions.create(model="gpt-4o", messages=user(LONG), stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    assert _router_sockets_to(router, port) == 1  # the same connection, streaming now
    started = stream_requests(slow_emulator)[-1]["t"]
    stream.close()
    deadline = time.monotonic() + 10
    while _router_sockets_to(router, port) and time.monotonic() < deadline:
        time.sleep(0.02)
    closed_at = time.time()
    assert _router_sockets_to(router, port) == 0
    # Closed before the emulator would have finished the ~16-event answer.
    assert closed_at < started + 12 * STREAM_DELAY_MS / 1000


# --- tools ------------------------------------------------------------------------------------


def test_single_tool_call(client):
    answer = client.chat.completions.create(model=FLASH, messages=user("Weather in Paris?"), tools=[WEATHER])
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "example"}
    assert call.id.startswith("call_") and len(call.id) >= 29  # synthesised: 2.5 gives no ids


def test_parallel_calls_and_the_round_trip_of_their_results(client):
    tools = [WEATHER, TIME, NEWS]
    messages = user("Everything at once [[parallel]]")
    first = client.chat.completions.create(model=FLASH, messages=messages, tools=tools)
    calls = first.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time", "get_news"]
    assert len({c.id for c in calls}) == 3
    results = ['{"temp_c": 18}', "12:00 sharp", '["headline"]']  # an object, plain text, a JSON array
    messages = [
        *messages,
        first.choices[0].message.model_dump(exclude_none=True),
        # Answered out of order: the router must put them back in call order, in one user turn.
        *({"role": "tool", "tool_call_id": calls[i].id, "content": results[i]} for i in (2, 0, 1)),
    ]
    second = client.chat.completions.create(model=FLASH, messages=messages, tools=tools)
    text = second.choices[0].message.content
    assert second.choices[0].finish_reason == "stop"
    assert text == 'Tool results received: [{"temp_c":18},{"content":"12:00 sharp"},{"result":["headline"]}]'


STRICT_TOOLS = [
    {  # OpenAI strict mode: every property required, nullables as type unions
        "name": "get_forecast",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": ["string", "null"], "enum": ["celsius", "fahrenheit", None]},
                "days": {"type": ["integer", "null"], "minimum": 1, "maximum": 14},
            },
            "required": ["city", "unit", "days"],
            "additionalProperties": False,
        },
    },
    {  # $ref / $defs, nested strict objects, string enum
        "name": "book_flight",
        "strict": True,
        "parameters": {
            "$defs": {
                "Airport": {
                    "type": "object",
                    "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}$"}, "city": {"type": "string"}},
                    "required": ["code", "city"],
                    "additionalProperties": False,
                }
            },
            "type": "object",
            "properties": {
                "origin": {"$ref": "#/$defs/Airport"},
                "destination": {"$ref": "#/$defs/Airport", "description": "Where to"},
                "cabin": {"type": "string", "enum": ["economy", "business", "first"]},
                "stops": {"type": "array", "items": {"$ref": "#/$defs/Airport"}},
            },
            "required": ["origin", "destination", "cabin", "stops"],
            "additionalProperties": False,
        },
    },
    {  # MCP-style JSON Schema keywords Gemini's `parameters` rejects
        "name": "search_docs",
        "parameters": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1},
                "limit": {"type": "number", "exclusiveMinimum": 0, "default": 10},
                "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                "level": {"type": "integer", "enum": [1, 2, 3]},
                "mode": {"const": "fast"},
                "owner": {"type": "string", "format": "email"},
                "filter": {"anyOf": [{"type": "string"}, {"type": "number"}, {"type": "null"}]},
                "since": {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}]},
                "extra": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["query", "level", "mode"],
            "additionalProperties": False,
        },
    },
    {  # recursive $ref (a tree)
        "name": "save_tree",
        "parameters": {
            "$defs": {
                "Node": {
                    "type": "object",
                    "properties": {"label": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
                    "required": ["label"],
                    "additionalProperties": False,
                }
            },
            "type": "object",
            "properties": {"root": {"$ref": "#/$defs/Node"}},
            "required": ["root"],
        },
    },
    {
        "name": "list_files",
        "strict": True,  # no-argument, strict form
        "parameters": {"type": "object", "properties": {}, "required": [], "additionalProperties": False},
    },
    {"name": "ping"},  # no parameters at all
]


class Cabin(StrEnum):
    economy = "economy"
    business = "business"


class Passenger(BaseModel):
    name: str
    age: int | None
    kind: Literal["adult", "child"]


class Booking(BaseModel):
    passengers: list[Passenger]
    cabin: Cabin
    note: str | None


def all_strict_tools() -> list:
    return [{"type": "function", "function": f} for f in STRICT_TOOLS] + [openai.pydantic_function_tool(Booking)]


REQUIRED_ARGS = {
    "get_forecast": {"city", "unit", "days"},
    "book_flight": {"origin", "destination", "cabin", "stops"},
    "search_docs": {"query", "level", "mode"},
    "save_tree": {"root"},
    "list_files": set(),
    "ping": set(),
    "Booking": {"passengers", "cabin", "note"},
}


@pytest.mark.parametrize("name", list(REQUIRED_ARGS))
def test_real_world_schemas_are_accepted_and_called(client, name):
    answer = client.chat.completions.create(
        model=FLASH,
        messages=user("Use the named tool"),
        tools=all_strict_tools(),  # every declaration goes upstream: the strict emulator checks them all
        tool_choice={"type": "function", "function": {"name": name}},
    )
    (call,) = answer.choices[0].message.tool_calls
    assert call.function.name == name
    arguments = json.loads(call.function.arguments)
    assert isinstance(arguments, dict) and REQUIRED_ARGS[name] <= set(arguments)
    if name == "search_docs":
        assert arguments["level"] in (1, 2, 3)  # integer enum kept numeric (hint only)
    if name == "book_flight":
        assert set(arguments["origin"]) == {"code", "city"}  # $ref inlined


def test_schemas_also_work_on_a_gemini3_model_and_in_a_stream(client):
    chunks = list(
        client.chat.completions.create(
            model=GEMINI3,
            messages=user("Book it"),
            tools=all_strict_tools(),
            stream=True,
            tool_choice={"type": "function", "function": {"name": "Booking"}},
        )
    )
    (delta,) = [d for c in chunks if c.choices for d in (c.choices[0].delta.tool_calls or [])]
    booking = Booking.model_validate_json(delta.function.arguments)
    assert booking.cabin is Cabin.economy and booking.passengers[0].kind == "adult"


def test_tool_choice_none_required_and_named(client):
    tools = [WEATHER, TIME]
    none = client.chat.completions.create(model=FLASH, messages=user("Weather?"), tools=tools, tool_choice="none")
    assert none.choices[0].message.tool_calls is None and "You said: Weather?" in none.choices[0].message.content
    assert none.choices[0].finish_reason == "stop"
    required = client.chat.completions.create(model=FLASH, messages=user("Weather?"), tools=tools, tool_choice="required")
    assert required.choices[0].finish_reason == "tool_calls"
    named = client.chat.completions.create(
        model=FLASH, messages=user("Weather?"), tools=tools, tool_choice={"type": "function", "function": {"name": "get_time"}}
    )
    assert [c.function.name for c in named.choices[0].message.tool_calls] == ["get_time"]  # not the first tool
    auto = client.chat.completions.create(model=FLASH, messages=user("Weather?"), tools=tools, tool_choice="auto")
    assert [c.function.name for c in auto.choices[0].message.tool_calls] == ["get_weather"]


def test_gemini3_thought_signatures_survive_a_three_turn_tool_loop(client, emulator):
    """A stock OpenAI client keeps only id/type/function of each call; the emulator in Gemini 3
    mode rejects any model turn in the history whose first call lost its signature."""
    tools = [WEATHER, TIME, NEWS]
    messages: list = []
    for turn, (ask, streamed) in enumerate([("Weather? [[parallel]]", True), ("And now? ", False), ("Once more", False)]):
        messages.append({"role": "user", "content": ask + str(turn)})
        if streamed:
            chunks = list(client.chat.completions.create(model=GEMINI3, messages=messages, tools=tools, stream=True))
            deltas = [d for c in chunks if c.choices for d in (c.choices[0].delta.tool_calls or [])]
            calls = [
                {"id": d.id, "type": "function", "function": {"name": d.function.name, "arguments": d.function.arguments}} for d in deltas
            ]
        else:
            answer = client.chat.completions.create(model=GEMINI3, messages=messages, tools=tools)
            assert answer.choices[0].finish_reason == "tool_calls"
            calls = [c.model_dump() for c in answer.choices[0].message.tool_calls]
        assert calls
        # The first call carries the emulator's own signature, not Google's dummy.
        _, signature = decode_call_id(calls[0]["id"])
        assert signature and verify_signature(signature) and signature not in DUMMY_SIGNATURES
        messages.append({"role": "assistant", "content": None, "tool_calls": calls})
        messages += [{"role": "tool", "tool_call_id": c["id"], "content": '{"ok": true}'} for c in calls]
        reply = client.chat.completions.create(model=GEMINI3, messages=messages, tools=tools)
        assert reply.choices[0].message.content.startswith("Tool results received")
        messages.append({"role": "assistant", "content": reply.choices[0].message.content})
    statuses = [r["status"] for r in emulator.stats()["requests"]]
    assert statuses == [200] * 6


# --- content parts ----------------------------------------------------------------------------


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("content-type", "image/png")
        self.end_headers()
        self.wfile.write(base64.b64decode(PNG_1PX))

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[tuple[str, list[str]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    _CountingHandler.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _CountingHandler.hits
    server.shutdown()


def _prompt_tokens(client: openai.OpenAI, content: list[dict]) -> int:
    answer = client.chat.completions.create(model=FLASH, messages=[{"role": "user", "content": content}])
    assert "You said: Describe" in answer.choices[0].message.content
    return answer.usage.prompt_tokens


MEDIA_TOKENS = 258  # the emulator's (and Gemini's) count per image/audio/document part


def test_images_by_data_url_and_by_https_url_are_sent_and_never_downloaded(client, image_server):
    base, hits = image_server
    text = [{"type": "text", "text": "Describe"}]
    plain = _prompt_tokens(client, text)
    data_url = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_1PX}", "detail": "high"}}
    assert _prompt_tokens(client, text + [data_url]) == plain + MEDIA_TOKENS
    remote = {"type": "image_url", "image_url": {"url": f"{base}/cat.png"}}
    https = {"type": "image_url", "image_url": {"url": "https://example.com/photos/cat.jpg"}}
    assert _prompt_tokens(client, text + [remote, https]) == plain + 2 * MEDIA_TOKENS
    assert hits == []  # the router passed the URL on as fileData; it fetched nothing itself


def test_input_audio_and_file_data_urls(client):
    text = [{"type": "text", "text": "Describe"}]
    plain = _prompt_tokens(client, text)
    audio = {"type": "input_audio", "input_audio": {"data": base64.b64encode(b"RIFF....WAVEfmt ").decode(), "format": "wav"}}
    pdf = {
        "type": "file",
        "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4").decode()},
    }
    mp3 = {"type": "input_audio", "input_audio": {"data": base64.b64encode(b"ID3\x03").decode(), "format": "mp3"}}
    assert _prompt_tokens(client, text + [audio, pdf, mp3]) == plain + 3 * MEDIA_TOKENS
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=FLASH, messages=[{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-abc"}}]}]
        )
    assert info.value.code == "unsupported_value"


# --- JSON output ------------------------------------------------------------------------------


def test_json_object_answer_parses(client):
    answer = client.chat.completions.create(model=FLASH, messages=user("Reply in JSON"), response_format={"type": "json_object"})
    assert isinstance(json.loads(answer.choices[0].message.content), dict)


RECIPE_SCHEMA = {
    "$defs": {
        "Step": {
            "type": "object",
            "properties": {"n": {"type": "integer"}, "text": {"type": "string"}},
            "required": ["n", "text"],
            "additionalProperties": False,
        }
    },
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "difficulty": {"type": "string", "enum": ["easy", "hard"]},
        "minutes": {"type": ["integer", "null"]},
        "steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}},
    },
    "required": ["title", "difficulty", "minutes", "steps"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("model", [FLASH, GEMINI3])
def test_json_schema_answer_conforms(client, model):
    answer = client.chat.completions.create(
        model=model,
        messages=user("A recipe"),
        response_format={"type": "json_schema", "json_schema": {"name": "recipe", "strict": True, "schema": RECIPE_SCHEMA}},
    )
    value = json.loads(answer.choices[0].message.content)
    assert set(value) == set(RECIPE_SCHEMA["properties"])
    assert value["difficulty"] in ("easy", "hard") and isinstance(value["title"], str)
    assert value["minutes"] is None or isinstance(value["minutes"], int)
    assert value["steps"] and all(set(s) == {"n", "text"} and isinstance(s["n"], int) for s in value["steps"])


def test_sdk_parse_helper_with_a_pydantic_model(client):
    completion = client.chat.completions.parse(model=FLASH, messages=user("Book"), response_format=Booking)
    booking = completion.choices[0].message.parsed
    assert isinstance(booking, Booking) and booking.cabin is Cabin.economy and booking.passengers


# --- reasoning --------------------------------------------------------------------------------


def test_reasoning_effort_on_gemini_25_is_a_thinking_budget(client):
    def usage(effort: str):
        return client.chat.completions.create(model=FLASH, messages=user("Think"), reasoning_effort=effort).usage

    off, low = usage("none"), usage("low")
    assert off.completion_tokens_details.reasoning_tokens == 0
    assert low.completion_tokens_details.reasoning_tokens > 0
    # Thoughts are counted inside completion_tokens (the visible text is the same).
    assert low.completion_tokens == off.completion_tokens + low.completion_tokens_details.reasoning_tokens
    assert low.total_tokens == low.prompt_tokens + low.completion_tokens


def test_reasoning_effort_on_gemini3_is_a_thinking_level(client):
    def usage(effort: str, **kw):
        return client.chat.completions.create(model=GEMINI3, messages=user("Think"), reasoning_effort=effort, **kw).usage

    low, high = usage("low"), usage("high")
    assert 0 < low.completion_tokens_details.reasoning_tokens < high.completion_tokens_details.reasoning_tokens
    assert (
        high.completion_tokens - high.completion_tokens_details.reasoning_tokens
        == low.completion_tokens - low.completion_tokens_details.reasoning_tokens
    )
    streamed = list(
        client.chat.completions.create(
            model=GEMINI3, messages=user("Think"), reasoning_effort="high", stream=True, stream_options={"include_usage": True}
        )
    )[-1].usage
    assert streamed.completion_tokens_details.reasoning_tokens == high.completion_tokens_details.reasoning_tokens
    assert streamed.completion_tokens == high.completion_tokens


def test_reasoning_text_is_hidden_by_default(client):
    answer = client.chat.completions.create(model=FLASH, messages=user("Think"), reasoning_effort="low")
    assert (answer.choices[0].message.model_extra or {}).get("reasoning_content") is None
    assert THOUGHT_TEXT not in answer.choices[0].message.content


def test_expose_reasoning_returns_reasoning_content(make_router):
    client = client_for(make_router(config={"gemini": {"expose_reasoning": True}}))
    answer = client.chat.completions.create(model=FLASH, messages=user("Think"), reasoning_effort="low")
    message = answer.choices[0].message
    assert message.model_extra["reasoning_content"] == THOUGHT_TEXT
    assert THOUGHT_TEXT not in message.content and "You said: Think" in message.content
    chunks = list(client.chat.completions.create(model=GEMINI3, messages=user("Think"), stream=True))
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks if c.choices)
    assert reasoning == THOUGHT_TEXT and THOUGHT_TEXT not in content_of(chunks)


# --- blocked prompts --------------------------------------------------------------------------


def test_blocked_prompt_is_a_200_content_filter_and_the_key_is_not_penalised(make_router, emulator):
    router = make_router(keys=KEYS[:1])
    client = client_for(router)
    answer = client.chat.completions.create(model=FLASH, messages=user("Something bad [[block]]"))
    assert answer.choices[0].finish_reason == "content_filter" and answer.choices[0].message.content is None
    chunks = list(client.chat.completions.create(model=FLASH, messages=user("Also bad [[block]]"), stream=True))
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["content_filter"]
    # The only key is still in rotation: the next request goes to it and is answered.
    assert "You said" in client.chat.completions.create(model=FLASH, messages=user("fine")).choices[0].message.content
    assert [(r["key_index"], r["status"]) for r in emulator.stats()["requests"]] == [(0, 200)] * 3
    health = json.loads(urllib.request.urlopen(f"{router.url}/health").read())
    assert health["active_keys"] == 1


def test_answers_without_text_keep_the_openai_shape(client):
    """Trap 6: SAFETY without content, thinking that ate the whole budget (no parts at all)."""
    safety = client.chat.completions.create(model=FLASH, messages=user("Risky [[safety]]"))
    assert (safety.choices[0].finish_reason, safety.choices[0].message.content) == ("content_filter", None)
    starved = client.chat.completions.create(model=FLASH, messages=user("Think hard"), max_completion_tokens=20)
    assert (starved.choices[0].finish_reason, starved.choices[0].message.content) == ("length", None)
    assert starved.usage.completion_tokens_details.reasoning_tokens == 20
    chunks = list(client.chat.completions.create(model=FLASH, messages=user("Think hard"), max_tokens=20, stream=True))
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["length"]
    assert content_of(chunks) == ""


# --- embeddings -------------------------------------------------------------------------------


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector]


def test_embeddings_float_and_the_sdks_default_base64_agree(client, emulator):
    as_float = client.embeddings.create(model="text-embedding-3-small", input="hello world", encoding_format="float")
    as_default = client.embeddings.create(model="text-embedding-3-small", input="hello world")  # SDK asks for base64
    a, b = as_float.data[0].embedding, as_default.data[0].embedding
    assert len(a) == len(b) == 3072
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-6  # float32 round trip
    assert max(abs(x - y) for x, y in zip(a, emulator_embedding("hello world"), strict=True)) < 1e-6
    assert as_float.model == "text-embedding-3-small" and as_float.usage.prompt_tokens > 0


def test_more_than_100_embeddings_keep_their_order_and_dimensions_apply(client, emulator):
    texts = [f"sentence number {i}" for i in range(150)]
    result = client.embeddings.create(model="text-embedding-3-small", input=texts, dimensions=256)
    assert [d.index for d in result.data] == list(range(150))
    for text, item in zip(texts, result.data, strict=True):
        assert len(item.embedding) == 256
        assert abs(sum(v * v for v in item.embedding) - 1) < 1e-4  # reduced vectors are normalized
        expected = _unit(emulator_embedding(text, 256))
        assert max(abs(x - y) for x, y in zip(item.embedding, expected, strict=True)) < 1e-5
    batches = [r for r in emulator.stats()["requests"] if r["path"].endswith(":batchEmbedContents")]
    assert len(batches) == 2 and all(r["status"] == 200 for r in batches)


# --- models -----------------------------------------------------------------------------------


def test_models_list_includes_live_models_and_aliases(client, emulator):
    ids = [m.id for m in client.models.list()]
    assert {"gemini-2.5-flash", "gemini-3-flash-preview", "gemini-embedding-001"} <= set(ids)
    assert set(ALIASES) <= set(ids)
    assert all(not i.startswith("models/") for i in ids)
    assert client.models.retrieve("my-fast").id == "my-fast"
    flash = client.models.retrieve("gemini-2.5-flash")
    assert (flash.id, flash.object, flash.owned_by) == ("gemini-2.5-flash", "model", "google")
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("no-such-model")
    assert info.value.code == "model_not_found"
    # The live list is cached: three calls, one upstream listing.
    assert len([r for r in emulator.stats()["requests"] if r["path"].endswith("/models")]) <= 1


def test_alias_from_config_routes_to_its_gemini_model(client):
    answer = client.chat.completions.create(model="my-fast", messages=user("Who are you"))
    assert answer.model == "my-fast" and answer.choices[0].message.content.startswith("Hello from gemini-2.5-flash!")
