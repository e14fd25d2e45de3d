"""The shared pieces of request checks (core/fieldcheck.py)."""

from __future__ import annotations

import pytest
from hpn_router.core.fieldcheck import fail, is_int, is_number, parse_data_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("data:image/png;base64,iVBO", ("image/png", "iVBO")),
        ("data:application/pdf;name=x.pdf;base64,JVBE", ("application/pdf", "JVBE")),
        ("data:image/svg+xml;base64,PHN2", ("image/svg+xml", "PHN2")),
        ("data:image/png,raw", None),
        ("data:;base64,AAAA", None),
        ("https://x/y.png", None),
    ],
)
def test_parse_data_url(url: str, expected: tuple[str, str] | None) -> None:
    assert parse_data_url(url) == expected


def test_a_bool_is_never_a_number_nor_is_an_infinite_float() -> None:
    assert is_int(3) and is_number(3) and is_number(0.5)
    assert not is_int(True) and not is_number(False) and not is_int(2.0)
    assert not is_number(float("inf")) and not is_number(float("nan")) and not is_number("1")


def test_fail_names_the_field_in_the_param_and_the_message() -> None:
    error = fail("tools[0].type", "must be 'function'", "unsupported_value")
    assert (error.param, error.message, error.code) == ("tools[0].type", "tools[0].type: must be 'function'", "unsupported_value")
