from __future__ import annotations

import json

import pytest
from hpn_router.core.access import (
    ClientRateLimiter,
    ClientWindow,
    basic_password,
    bearer_token,
    has_lone_surrogate,
    json_excess,
    local_share,
    match_token,
    minute_bucket,
    shared_estimate,
    shared_retry_after,
)

TOKENS = ("token-one-aaaaaaaaaaaa", "token-two-bbbbbbbbbbbb")


@pytest.mark.parametrize(
    "header,expected",
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("", None), (None, None), ("Bearer", None)],
)
def test_bearer_token(header, expected):
    assert bearer_token(header) == expected


def test_match_token():
    assert match_token("token-two-bbbbbbbbbbbb", TOKENS) == 1
    assert match_token("token-two-bbbbbbbbbbbX", TOKENS) is None
    assert match_token(None, TOKENS) is None
    assert match_token("x", ()) is None


def excess(raw: bytes, max_depth: int = 64, max_items: int = 1000) -> str | None:
    return json_excess(raw, max_depth=max_depth, max_items=max_items)


def test_a_token_that_is_not_utf8_matches_nothing():
    presented = b"\xff\xfe".decode("utf-8", "surrogateescape")  # how mitmproxy hands out such a header
    assert match_token(presented, TOKENS) is None
    assert match_token(bearer_token("Bearer " + presented), TOKENS) is None


@pytest.mark.parametrize("depth,limit,expected", [(5, 5, None), (6, 5, "depth"), (100, 64, "depth")])
def test_json_depth(depth, limit, expected):
    assert excess(("[" * depth + "]" * depth).encode(), max_depth=limit) == expected


def test_unclosed_nesting_is_too_deep():
    assert excess(b"[" * 100_000, max_depth=64, max_items=10**6) == "depth"


def test_brackets_commas_and_quotes_inside_strings_do_not_count():
    raw = json.dumps({"content": '[[[[[[[[[[{{{{{{{{ \\" [[[[ ,,,,,,,, \\\\" ' + "," * 5000}).encode()
    assert excess(raw, max_depth=2, max_items=10) is None


def test_items_count_containers_strings_and_values():
    raw = json.dumps({"messages": [{"role": "user", "content": "hi"}] * 10, "input": list(range(50))}).encode()
    # {, 2 keys, 2 arrays, 10 objects (each 4 strings and a comma), 9 + 1 + 49 more commas: 124
    assert excess(raw, max_items=124) is None
    assert excess(raw, max_items=123) == "items"


def test_many_tiny_objects_are_refused_without_reading_the_whole_body():
    raw = b"[" + b",".join([b'{"a":1}'] * 1_000_000) + b"]"
    assert excess(raw, max_items=200_000) == "items"


@pytest.mark.parametrize(
    "text,lone",
    [
        ('"\\ud800"', True),  # a high surrogate alone
        ('"\\udc00x"', True),  # a low surrogate alone
        ('"\\uD83D\\uDE00"', False),  # a pair (an emoji, as ensure_ascii writes it)
        ('"\\\\ud800"', False),  # an escaped backslash, then the text ud800
        ('"\\\\\\ud800"', True),  # an escaped backslash, then a lone surrogate
        ('"\\ud83d\\\\udc00"', True),  # a high surrogate, an escaped backslash, text
        ('"plain \\u00e9"', False),
    ],
)
def test_lone_surrogates(text, lone):
    assert has_lone_surrogate(text.encode()) is lone
    assert json.loads(text)  # json.loads accepts every one of them


def test_client_rate_limiter_window():
    limiter = ClientRateLimiter(rpm=2)
    assert limiter.admit("a", 0.0) is None
    assert limiter.admit("a", 1.0) is None
    assert limiter.admit("a", 2.0) == pytest.approx(58.0)
    assert limiter.admit("b", 2.0) is None  # other clients are not affected
    assert limiter.admit("a", 60.0) is None


def test_unlimited():
    limiter = ClientRateLimiter(rpm=0)
    assert all(limiter.admit("a", float(t)) is None for t in range(1000))


def _basic(text: str) -> str:
    import base64

    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "header,expected",
    [
        (_basic("hpn:token-one-aaaaaaaaaaaa"), "token-one-aaaaaaaaaaaa"),
        (_basic(":token-one-aaaaaaaaaaaa"), "token-one-aaaaaaaaaaaa"),  # no user name at all
        (_basic("anyone:pass:with:colons"), "pass:with:colons"),
        ("basic " + _basic("u:p")[6:], "p"),
        (_basic("user-only"), None),
        (_basic("user:"), None),
        ("Basic not*base64", None),
        ("Basic dTp", None),  # bad padding
        ("Basic /w==", None),  # a byte that is not UTF-8
        ("Bearer token-one-aaaaaaaaaaaa", None),
        ("", None),
        (None, None),
    ],
)
def test_basic_password(header, expected):
    assert basic_password(header) == expected


def test_minute_bucket():
    assert minute_bucket(120.0) == (2, 0.0)
    assert minute_bucket(150.0) == (2, 0.5)


def test_the_shared_estimate_slides_the_previous_minute_out():
    assert shared_estimate(3, 10, 0.0) == 13
    assert shared_estimate(3, 10, 0.5) == 8
    assert shared_estimate(3, 10, 0.99) == 4  # rounded up: a minute's edge lets no extra request in
    assert shared_estimate(3, 10, 1.0) == 3


def test_shared_retry_after_waits_for_the_next_minute_when_this_one_is_full():
    assert shared_retry_after(5, 5, 0, 130.0) == pytest.approx(50.0)


def test_shared_retry_after_waits_until_the_previous_minute_slid_out_enough():
    # rpm 10, 5 this minute, 10 the previous one, 15 s in: 5 + ceil(10 * 0.75) = 13 >= 10; the
    # estimate drops below 10 once ceil((1 - f) * 10) <= 4, at f = 0.6: 21 s later.
    assert shared_retry_after(10, 5, 10, 135.0) == pytest.approx(21.0)
    assert shared_estimate(5, 10, 0.59) == 10 and shared_estimate(5, 10, 0.6) == 9


def test_local_share_splits_the_limit_between_live_routers():
    assert local_share(60, 1) == 60
    assert local_share(60, 2) == 30
    assert local_share(60, 0) == 60  # none seen yet: this router alone
    assert local_share(1, 3) == 1  # never below one request a minute
    assert local_share(0, 2) == 0  # unlimited stays unlimited


def test_a_client_window_names_its_minute_the_previous_minutes_weight_and_its_refusal():
    window = ClientWindow("client_a", 10, 135.0)  # minute 2, a quarter into it
    assert (window.minute, window.weight) == (2, pytest.approx(0.75))
    refusal = window.refusal(5, 10)
    assert refusal.status == 429 and "10 requests per minute" in refusal.message
    assert refusal.retry_after == pytest.approx(shared_retry_after(10, 5, 10, 135.0))
