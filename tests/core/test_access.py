from __future__ import annotations

import json

import pytest
from hpn_router.core.access import ClientRateLimiter, bearer_token, json_too_deep, match_token

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


def test_a_token_that_is_not_utf8_matches_nothing():
    presented = b"\xff\xfe".decode("utf-8", "surrogateescape")  # how mitmproxy hands out such a header
    assert match_token(presented, TOKENS) is None
    assert match_token(bearer_token("Bearer " + presented), TOKENS) is None


@pytest.mark.parametrize("depth,limit,too_deep", [(5, 5, False), (6, 5, True), (100, 64, True)])
def test_json_depth(depth, limit, too_deep):
    raw = ("[" * depth + "]" * depth).encode()
    assert json_too_deep(raw, limit) is too_deep


def test_brackets_inside_strings_do_not_count():
    raw = json.dumps({"content": '[[[[[[[[[[{{{{{{{{ \\" [[[['}).encode()
    assert not json_too_deep(raw, 2)


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
