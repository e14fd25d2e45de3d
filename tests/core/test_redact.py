from __future__ import annotations

import json
import string
from typing import Any

import pytest
from hpn_router.core.redact import FRAGMENT_MIN, Redactor, redact_key_values
from hypothesis import assume, given, settings
from hypothesis import strategies as st

KEY_1 = "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"
KEY_2 = "AIzaSyZ9y8X7w6V5u4T3s2R1q0PoNmLkJiHgFeD"
UNKNOWN = "AIzaSyQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
KEY_CHARS = string.ascii_letters + string.digits + "_-"


@pytest.fixture
def redactor() -> Redactor:
    return Redactor({"key_1": KEY_1, "key_2": KEY_2})


def windows(key: str) -> list[str]:
    return [key[i : i + FRAGMENT_MIN] for i in range(len(key) - FRAGMENT_MIN + 1)]


def assert_no_fragment(text: str, *keys: str) -> None:
    for key in keys:
        for window in windows(key):
            assert window not in text, (window, text)


def test_keys_are_google_shaped() -> None:
    assert len(KEY_1) == len(KEY_2) == len(UNKNOWN) == 39


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"using {KEY_1} now", "using <key:key_1> now"),
        (f"{KEY_2}", "<key:key_2>"),
        (f"{KEY_1}{KEY_2}", "<key:key_1><key:key_2>"),
        (f"prefix {KEY_1[:12]} only", "prefix <key:key_1> only"),
        (f"suffix {KEY_1[-12:]}.", "suffix <key:key_1>."),
        (f"middle {KEY_1[5:25]}!", "middle <key:key_1>!"),
        (f"x{KEY_1[:20]}{KEY_1[15:]}y", "x<key:key_1><key:key_1>y"),
        (f"glued abc{KEY_1}def", "glued abc<key:key_1>def"),
        (f"short {KEY_1[:11]} stays", f"short {KEY_1[:11]} stays"),
    ],
)
def test_pool_keys_and_fragments(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.redact(text) == expected


def test_fragment_longer_than_a_window_is_removed_whole(redactor: Redactor) -> None:
    out = redactor.redact(f"[{KEY_1[3:30]}]")
    assert out == "[<key:key_1>]"


def test_unknown_google_key(redactor: Redactor) -> None:
    assert redactor.redact(f"k={UNKNOWN}") == "k=<key:unknown>"


def test_google_403_body_quoting_the_key(redactor: Redactor) -> None:
    body = json.dumps(
        {
            "error": {
                "code": 403,
                "message": f"Permission denied: Consumer 'api_key:{KEY_1}' has been suspended.",
                "status": "PERMISSION_DENIED",
                "details": [{"metadata": {"consumer": f"projects/123/api_key:{UNKNOWN}"}}],
            }
        }
    )
    out = redactor.redact(body)
    assert "Consumer 'api_key:<key:key_1>' has been suspended." in out
    assert "api_key:<key:unknown>" in out
    assert_no_fragment(out, KEY_1, UNKNOWN)
    assert json.loads(out)["error"]["status"] == "PERMISSION_DENIED"


def test_api_key_quote_with_non_google_value(redactor: Redactor) -> None:
    assert redactor.redact("Consumer 'api_key:abc123' denied") == "Consumer 'api_key:<key:unknown>' denied"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer sk-proj-abcdef", "Authorization: <redacted>"),
        ("sent bearer eyJhbGciOi.J9.x to upstream", "sent bearer <redacted> to upstream"),
        ("x-goog-api-key: something", "x-goog-api-key: <redacted>"),
        (f"X-Goog-Api-Key:{KEY_1}", "X-Goog-Api-Key:<key:key_1>"),
        ("cookie: a=1; b=2\nhost: x", "cookie: <redacted>\nhost: x"),
        ("Set-Cookie: sid=1; Path=/", "Set-Cookie: <redacted>"),
        ("api-key: azure-secret", "api-key: <redacted>"),
        ("{'authorization': 'Bearer abc', 'host': 'h'}", "{'authorization': '<redacted>', 'host': 'h'}"),
        ('{"Cookie": "a=\\"b\\"", "n": 1}', '{"Cookie": "<redacted>", "n": 1}'),
        (
            "[(b'x-goog-api-key', b'zzz'), (b'host', b'h')]",
            "[(b'x-goog-api-key', b'<redacted>'), (b'host', b'h')]",
        ),
        ('{"api_key": "secret"}', '{"api_key": "<redacted>"}'),
        ("GET /v1beta/models/m:x?key=SECRET&alt=sse", "GET /v1beta/models/m:x?key=<redacted>&alt=sse"),
        ('url=https://h/p?alt=sse&key=abc "next"', 'url=https://h/p?alt=sse&key=<redacted> "next"'),
        ("client key sk-abcdefghijklmnop1234", "client key sk-<redacted>"),
    ],
)
def test_patterns(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello world",
        "POST /v1/chat/completions 200 in 123ms model=gpt-4 tokens=42",
        "the authorization server said no",
        "monkey=banana&turkey=1 sk-short",
        '{"role": "user", "content": "What is an API key?"}',
        "transactionIdentifier_0123456789abcdef",
        "Ünïcödé ✓ 🚀",
    ],
)
def test_ordinary_text_is_unchanged(redactor: Redactor, text: str) -> None:
    assert redactor.redact(text) == text


def test_redaction_is_idempotent(redactor: Redactor) -> None:
    text = f"Authorization: Bearer x\n{KEY_1} ?key={KEY_2} api_key:{UNKNOWN}"
    once = redactor.redact(text)
    assert redactor.redact(once) == once


def test_redact_headers(redactor: Redactor) -> None:
    headers = [
        ("Host", "generativelanguage.googleapis.com"),
        ("X-Goog-Api-Key", KEY_1),
        ("Authorization", "Bearer sk-abc"),
        ("Cookie", "a=b"),
        ("Referer", f"https://x/?key={KEY_2}"),
        ("X-Note", f"used {KEY_2}"),
    ]
    assert redactor.redact_headers(headers) == [
        ("Host", "generativelanguage.googleapis.com"),
        ("X-Goog-Api-Key", "<redacted>"),
        ("Authorization", "<redacted>"),
        ("Cookie", "<redacted>"),
        ("Referer", "https://x/?key=<key:key_2>"),  # placeholder kept: safe and useful
        ("X-Note", "used <key:key_2>"),
    ]


def test_redact_json(redactor: Redactor) -> None:
    obj: dict[str, Any] = {
        "headers": {"x-goog-api-key": KEY_1, "Accept": "json"},
        "items": [f"a {KEY_2}", 3, None, True, 1.5, (KEY_1,)],
        KEY_1: "key as a dict key",
    }
    assert redactor.redact_json(obj) == {
        "headers": {"x-goog-api-key": "<redacted>", "Accept": "json"},
        "items": ["a <key:key_2>", 3, None, True, 1.5, ["<key:key_1>"]],
        "<key:key_1>": "key as a dict key",
    }
    assert obj["headers"]["x-goog-api-key"] == KEY_1  # input untouched


def test_update_replaces_the_pool(redactor: Redactor) -> None:
    redactor.update({"fresh": KEY_2})
    assert redactor.redact(KEY_2) == "<key:fresh>"
    assert redactor.redact(KEY_1) == "<key:unknown>"  # no longer pooled, still Google-shaped


def test_empty_pool_still_applies_patterns() -> None:
    redactor = Redactor({})
    assert redactor.redact(f"{KEY_1} Bearer x") == "<key:unknown> Bearer <redacted>"


def test_short_and_duplicate_keys() -> None:
    redactor = Redactor({"tiny": "s3cr3t", "a": KEY_1, "b": KEY_1, "empty": ""})
    assert redactor.redact("x s3cr3t y") == "x <key:tiny> y"
    assert redactor.redact(KEY_1) == "<key:a>"


def test_overlapping_keys_pick_the_longest_continuation() -> None:
    shared = "SHAREDPREFIX"  # 12 characters common to both keys
    key_a = shared + "aaaaaaaaaaaaaaa"
    key_b = "zz" + shared + "bbbbbbbbbbbbbbb"
    redactor = Redactor({"a": key_a, "b": key_b})
    assert redactor.redact(f"[{shared}bbbbb]") == "[<key:b>]"
    assert redactor.redact(f"[{key_a}]") == "[<key:a>]"


def test_many_log_lines_are_fast(redactor: Redactor) -> None:
    import time

    pool = Redactor({f"key_{i}": "AIza" + f"{i:035d}" for i in range(50)})
    line = "POST /v1/chat/completions 200 request_id=abcdef0123456789abcdef model=gpt-4 " * 10
    start = time.perf_counter()
    for _ in range(2000):
        pool.redact(line)
    assert time.perf_counter() - start < 5  # ~0.3 s measured; generous for slow CI


key_strategy = st.one_of(
    st.text(KEY_CHARS, min_size=35, max_size=35).map(lambda s: "AIza" + s),
    st.text(KEY_CHARS, min_size=FRAGMENT_MIN, max_size=60),
)
# Filler may itself contain key characters, so fragments get glued to text
# that happens to continue them.
filler = st.text(KEY_CHARS + " \n:'\"=&?<>{}", max_size=20)


@st.composite
def leaky_text(draw: st.DrawFn) -> tuple[list[str], str]:
    keys = draw(st.lists(key_strategy, min_size=1, max_size=4, unique=True))
    pieces = []
    for _ in range(draw(st.integers(1, 6))):
        pieces.append(draw(filler))
        key = draw(st.sampled_from(keys))
        start = draw(st.integers(0, len(key) - 1))
        stop = draw(st.integers(start + 1, len(key)))
        pieces.append(key[start:stop])
    pieces.append(draw(filler))
    return keys, "".join(pieces)


@settings(max_examples=400, deadline=None)
@given(leaky_text())
def test_no_window_of_any_key_survives(case: tuple[list[str], str]) -> None:
    keys, text = case
    redactor = Redactor({f"k{i}": key for i, key in enumerate(keys)})
    assert_no_fragment(redactor.redact(text), *keys)


@settings(max_examples=200, deadline=None)
@given(st.text(string.ascii_letters + " .,;!?\n", max_size=200))
def test_prose_without_secrets_is_unchanged(text: str) -> None:
    assume("bearer" not in text.lower())
    assert Redactor({"k": KEY_1}).redact(text) == text


def test_redact_keys_removes_key_values_and_keeps_json_and_prose(redactor: Redactor) -> None:
    body = json.dumps(
        {
            "error": {
                "message": f"Consumer 'api_key:{KEY_1}' suspended; retry https://x.test/?key={UNKNOWN[:20]} with {KEY_2[5:25]}. "
                "Send Authorization: Bearer <token>\nand x-goog-api-key: <your key>.",
                "details": [{"metadata": {"consumer": f"projects/1/api_key:{UNKNOWN}"}}],
            }
        }
    )
    out = redactor.redact_keys(body)
    assert_no_fragment(out, KEY_1, KEY_2, UNKNOWN)
    message = json.loads(out)["error"]["message"]  # still valid JSON
    assert "Send Authorization: Bearer <token>\nand x-goog-api-key: <your key>." in message  # guidance survives
    assert "api_key:<key:key_1>" in message and "?key=<redacted>" in message and "<key:key_2>" in message


@given(st.text(alphabet=KEY_CHARS + " \"'\\:,{}[]=&?\n", max_size=80), st.integers(0, len(KEY_1) - FRAGMENT_MIN))
@settings(max_examples=200)
def test_redact_keys_never_breaks_json_strings(noise: str, start: int) -> None:
    redactor = Redactor({"key_1": KEY_1, "key_2": KEY_2})
    body = json.dumps({"message": noise + KEY_1[start:] + noise, "n": [1, noise]})
    out = redactor.redact_keys(body)
    assert_no_fragment(out, KEY_1)
    json.loads(out)


def test_an_error_body_for_the_client_names_the_key_instead_of_quoting_it(redactor: Redactor) -> None:
    quoted = {"error": {"code": 403, "message": f"Consumer 'api_key:{KEY_2}' has been suspended.", "hint": f"key {KEY_1[3:30]}"}}
    clean = redact_key_values(json.dumps(quoted).encode(), redactor)
    message = json.loads(clean)["error"]
    assert message["message"] == "Consumer 'api_key:<key:key_2>' has been suspended." and message["hint"] == "key <key:key_1>"
    assert_no_fragment(clean.decode(), KEY_1, KEY_2)


def test_a_body_without_a_key_comes_back_as_it_was_even_when_not_utf8(redactor: Redactor) -> None:
    body = b'{"error": {"message": "send Authorization: Bearer <token>"}}'
    assert redact_key_values(body, redactor) is body
    binary = b"\xff\xfe" + KEY_1.encode() + b"\x80"
    assert redact_key_values(binary, redactor) == b"\xff\xfe<key:key_1>\x80"
