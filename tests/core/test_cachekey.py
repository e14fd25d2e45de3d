from __future__ import annotations

import json

import pytest
from hpn_router.core.cachekey import cache_key, is_cacheable, parse_cache_control, request_cache_directives
from hpn_router.core.inbound.openai_chat_request import parse_chat_request

BODY = {
    "model": "gpt-4",
    "messages": [{"role": "user", "content": "Hello, wörld"}],
    "temperature": 0,
}


def key(body: dict, *, model: str = "gemini-2.0-flash", endpoint: str = "/v1/chat/completions", client: str | None = "client-a") -> str:
    """The key of an OpenAI body, read into the model as the router does."""
    return cache_key(parse_chat_request(body), upstream_model=model, endpoint=endpoint, client_id=client)


def test_key_is_sha256_hex() -> None:
    k = key(BODY)
    assert len(k) == 64 and int(k, 16) >= 0


def test_key_order_and_whitespace_do_not_matter() -> None:
    text = json.dumps(BODY, indent=4)
    reordered = json.loads(json.dumps(dict(reversed(list(BODY.items())))))
    assert key(json.loads(text)) == key(reordered) == key(BODY)


@pytest.mark.parametrize(
    "extra",
    [
        {"stream": True},
        {"stream": True, "stream_options": {"include_usage": True}},
        {"metadata": {"trace": "x"}},
        {"prompt_cache_retention": "24h"},
        {"store": True},
        {"service_tier": "auto"},
        {"model": "my-alias-for-gpt-4"},
    ],
)
def test_fields_that_do_not_change_the_answer_are_ignored(extra: dict) -> None:
    assert key({**BODY, **extra}) == key(BODY)


@pytest.mark.parametrize(
    "change",
    [
        {"temperature": 0.5},
        {"messages": [{"role": "user", "content": "Hello, world"}]},
        {"max_tokens": 10},
        {"seed": 1},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"response_format": {"type": "json_object"}},
    ],
)
def test_fields_that_change_the_answer_miss(change: dict) -> None:
    assert key({**BODY, **change}) != key(BODY)


@pytest.mark.parametrize("field", ["user", "safety_identifier", "prompt_cache_key"])
def test_end_user_fields_split_the_cache(field: str) -> None:
    """Two end users of one app (one client token) never get each other's answers."""
    alice, bob = key({**BODY, field: "alice"}), key({**BODY, field: "bob"})
    assert len({alice, bob, key(BODY)}) == 3
    assert key({**BODY, field: "alice"}) == alice


def test_integral_float_equals_int() -> None:
    assert key({**BODY, "temperature": 1.0, "top_p": 1}) == key({**BODY, "temperature": 1, "top_p": 1.0})


@pytest.mark.parametrize(
    "kwargs",
    [{"model": "gemini-1.5-pro"}, {"endpoint": "/v1/completions"}, {"client": "client-b"}, {"client": None}],
)
def test_model_endpoint_and_client_are_part_of_the_key(kwargs: dict) -> None:
    assert key(BODY, **kwargs) != key(BODY)


def test_lone_surrogate_hashes() -> None:
    body = json.loads('{"model": "gpt-4", "messages": [{"role": "user", "content": "\\ud800"}]}')
    assert key(body) != key(BODY)


def test_body_is_not_mutated() -> None:
    body = {**BODY, "stream": True}
    key(body)
    assert body["stream"] is True and body["model"] == "gpt-4"


@pytest.mark.parametrize(
    "change",
    [
        {"logit_bias": {"50256": -100}},  # not read by any translator, kept in `extra`
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "Hello, wörld"}, {"type": "image_url", "image_url": "https://a/b.png"}],
                }
            ]
        },
        {"messages": [{"role": "system", "content": "Hello, wörld"}]},  # same text, another role
        {"functions": [{"name": "f"}]},  # answered in the legacy shape
    ],
)
def test_what_the_model_keeps_splits_the_cache(change: dict) -> None:
    assert key({**BODY, **change}) != key(BODY)


def test_the_key_is_stable_for_equal_requests_built_apart() -> None:
    body = {
        **BODY,
        "tools": [
            {
                "type": "function",
                "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "number", "minimum": 1.0}}}},
            }
        ],
    }
    same = json.loads(json.dumps(body).replace("1.0", "1"))
    assert key(body) == key(same)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"temperature": 0}, True),
        ({"temperature": 0.0, "n": 1}, True),
        ({"temperature": 0, "n": None}, True),
        ({}, False),  # model default temperature 1.0 samples
        ({"temperature": None}, False),
        ({"temperature": 0.2}, False),
        ({"temperature": 0, "n": 2}, False),
    ],
)
def test_is_cacheable_deterministic_only(body: dict, expected: bool) -> None:
    assert is_cacheable(parse_chat_request({**BODY, "temperature": None, **body}), cache_sampled=False) is expected


@pytest.mark.parametrize("body", [{}, {"temperature": 0.9}, {"n": 3}, {"temperature": 0}])
def test_is_cacheable_with_sampled_caching(body: dict) -> None:
    assert is_cacheable(parse_chat_request({**BODY, "temperature": None, **body}), cache_sampled=True) is True


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, (False, False)),
        ("", (False, False)),
        ("no-cache", (True, False)),
        ("NO-STORE", (False, True)),
        ("max-age=0, No-Cache , no-store", (True, True)),
        ('no-cache="set-cookie"', (True, False)),
        ("max-age=60, private", (False, False)),
        ("no-cachex, xno-store", (False, False)),
    ],
)
def test_parse_cache_control(header: str | None, expected: tuple[bool, bool]) -> None:
    assert parse_cache_control(header) == expected


@pytest.mark.parametrize(
    ("cache_control", "pragma", "expected"),
    [
        (None, "no-cache", (True, False)),  # an HTTP/1.0 client's way to ask for a fresh answer
        (None, "No-Cache", (True, False)),
        ("", "no-cache", (True, False)),
        (None, "x-other, no-cache", (True, False)),
        (None, "no-cachex", (False, False)),
        (None, None, (False, False)),
        ("no-store", "no-cache", (False, True)),  # Cache-Control present: Pragma is ignored
        ("max-age=0", "no-cache", (False, False)),
    ],
)
def test_pragma_no_cache_counts_without_cache_control(cache_control: str | None, pragma: str | None, expected: tuple[bool, bool]) -> None:
    assert request_cache_directives(cache_control, pragma) == expected
