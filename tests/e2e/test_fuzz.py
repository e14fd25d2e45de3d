"""Thousands of malformed bodies, headers and paths at a running router: zero 5xx, zero
crashes, and nothing malformed forwarded (the emulator sees only requests the router
answered with success)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from procs import KEYS, Router, start_router

PATHS = [
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/models",
    "/v1/models/x",
    "/health",
    "/admin/keys",
    "/v1beta/models/gemini-2.5-flash:generateContent",
    "/v1/models/m:countTokens",
    "/v1/../etc",
    "/%00",
    "//v1",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
messages = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "role": st.sampled_from(["user", "system", "assistant", "tool", "robot", 5, None]),
            "content": json_values,
            "tool_calls": json_values,
            "tool_call_id": json_values,
        },
    ),
    max_size=4,
)
chat_like = st.fixed_dictionaries(
    {},
    optional={
        "model": json_values,
        "messages": messages | json_values,
        "temperature": json_values,
        "n": json_values,
        "stream": json_values,
        "tools": json_values,
        "tool_choice": json_values,
        "stop": json_values,
        "max_tokens": json_values,
        "response_format": json_values,
        "input": json_values,
    },
)
bodies = st.one_of(
    st.binary(max_size=300),
    chat_like.map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 300).map(lambda n: b"[" * n + b"]" * n),
)
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


@pytest.fixture(scope="module")
def fuzz_router(emulator, tmp_path_factory) -> Iterator[Router]:
    emulator.reset()
    router = start_router(
        tmp_path_factory.mktemp("fuzz"), keys=KEYS[:2], gemini_url=emulator.url, config={"server": {"max_json_depth": 64}}
    )
    yield router
    router.stop()


def send(router: Router, method: str, path: str, body: bytes, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", router.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        if response.status >= 400 and path != "/%00":
            assert "error" in json.loads(payload), payload
        return response.status
    finally:
        connection.close()


COUNTS = {"seen": 0}  # emulator requests seen so far (the fuzz router is the only client)


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    path=st.sampled_from(PATHS)
    | st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=30).map(lambda p: "/" + p),
    body=bodies,
    content_type=st.sampled_from(["application/json", "text/plain", "", "application/json; charset=latin-1"]),
    extra=st.dictionaries(
        st.sampled_from(["authorization", "x-goog-api-key", "cache-control", "x-custom", "accept"]), header_values, max_size=3
    ),
)
def test_fuzz_never_5xx_never_forwards_garbage(fuzz_router, emulator, method, path, body, content_type, extra):
    status = send(fuzz_router, method, path, body, {"content-type": content_type, **extra})
    assert status < 500, (method, path, body[:200], status)
    seen = len(emulator.stats()["requests"])
    forwarded, COUNTS["seen"] = seen - COUNTS["seen"], seen
    if status >= 400:
        # A rejected request may only have reached Gemini if Gemini itself rejected it.
        assert forwarded <= 1 and (forwarded == 0 or status in (400, 404))


def test_router_survived_the_fuzzing(fuzz_router):
    assert send(fuzz_router, "GET", "/health", b"", {}) == 200
