"""The config value readers: a typed value, or a ConfigError naming the field and the problem."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hpn_router.config.readers import ConfigError, as_bool, as_choice, as_decimal, as_int, as_mapping, as_str, as_url, reject_unknown


def test_good_values_are_read_and_normalised():
    assert as_mapping(None, "server") == {} and as_str("  x ", "a") == "x" and as_bool(False, "a") is False
    assert as_int("8080", "server.port") == 8080  # environment variables arrive as strings
    assert as_choice("JSON", "logging.format", ("json", "text")) == "json"
    assert as_url("https://example.com/", "gemini.base_url") == "https://example.com"
    assert as_decimal(0.5, "cost") == Decimal("0.5") and as_decimal("0.0123", "cost") == Decimal("0.0123")


@pytest.mark.parametrize(
    ("read", "message"),
    [
        (lambda: as_mapping([1], "server"), "server: expected a mapping, got [1]"),
        (lambda: reject_unknown({"prot": 1}, {"port", "host"}, "server"), "server.prot: unknown field; expected one of host, port"),
        (lambda: as_str("  ", "server.host"), 'server.host: expected a non-empty string, got "  "'),
        (lambda: as_bool("x", "server.proxy_open"), 'server.proxy_open: expected true/false, got "x"'),
        (lambda: as_int(True, "server.port"), "server.port: expected an integer, got True"),
        (lambda: as_int(0, "server.port", minimum=1, maximum=65535), "server.port: expected an integer between 1 and 65535, got 0"),
        (lambda: as_int(-1, "key_pool.retry_count"), "key_pool.retry_count: expected an integer >= 0, got -1"),
        (lambda: as_choice("xml", "logging.format", ("json", "text")), 'logging.format: expected one of json, text, got "xml"'),
        (lambda: as_url("ftp://x", "gemini.base_url"), 'gemini.base_url: expected an http(s) URL, got "ftp://x"'),
        (lambda: as_decimal("NaN", "pricing.x"), 'pricing.x: expected a non-negative number, got "NaN"'),
        (lambda: as_decimal("abc", "pricing.x"), 'pricing.x: expected a number, got "abc"'),
        (lambda: as_decimal(True, "pricing.x"), "pricing.x: expected a number, got True"),
    ],
)
def test_bad_values_name_the_field_and_the_problem(read, message):
    with pytest.raises(ConfigError) as raised:
        read()
    assert str(raised.value) == message


def test_a_redis_url_is_redis_or_rediss_with_a_host_and_errors_never_show_its_password():
    from hpn_router.config.readers import as_redis_url, redacted_redis_url

    assert as_redis_url("rediss://:pw@cache.internal:6380/2", "state.redis_url") == "rediss://:pw@cache.internal:6380/2"
    assert as_redis_url("", "state.redis_url") is None and as_redis_url(None, "state.redis_url") is None
    for bad in (
        "http://:s3cret-pw@host:6379",
        "redis://:s3cret-pw@host:port/0",
        "redis://:s3cret-pw@host:6379/99",
        "redis://:s3cret-pw@/0",
    ):
        with pytest.raises(ConfigError, match=r"^state\.redis_url: ") as raised:
            as_redis_url(bad, "state.redis_url")
        assert "s3cret" not in str(raised.value)
    assert redacted_redis_url("redis://user:s3cret@h:1/0") == "redis://***@h:1/0"
    assert redacted_redis_url("redis://h:1/0") == "redis://h:1/0"
