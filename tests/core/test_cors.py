"""CORS decisions: which origin may read an answer, what a preflight answers."""

from __future__ import annotations

from hpn_router.core.cors import EXPOSED_HEADERS, allow_origin, answer_headers, is_preflight, preflight_headers

APP = "https://app.example.com"


def test_only_listed_origins_are_allowed() -> None:
    assert allow_origin(APP, (APP,)) == APP
    assert allow_origin("https://APP.example.com", (APP,)) == "https://APP.example.com"  # echoed as the browser sent it
    assert allow_origin("https://evil.example.com", (APP,)) is None
    assert allow_origin("https://app.example.com.evil.test", (APP,)) is None
    assert allow_origin("null", (APP,)) is None
    assert allow_origin(None, (APP,)) is None
    assert allow_origin(APP, ()) is None


def test_any_origin_is_a_star() -> None:
    assert allow_origin("https://anything.test", ("*",)) == "*"
    assert allow_origin(None, ("*",)) is None  # not a browser's cross-origin request: nothing to add


def test_a_preflight_is_options_with_origin_and_requested_method() -> None:
    assert is_preflight("OPTIONS", APP, "POST")
    assert not is_preflight("OPTIONS", APP, None)
    assert not is_preflight("OPTIONS", None, "POST")
    assert not is_preflight("POST", APP, "POST")


def test_preflight_headers() -> None:
    headers = preflight_headers(APP, ("POST",), "Authorization, content-type,x-stainless-os, bad header")
    assert headers["access-control-allow-origin"] == APP
    assert headers["access-control-allow-methods"] == "POST"
    assert headers["access-control-allow-headers"] == "authorization, content-type, x-stainless-os"
    assert int(headers["access-control-max-age"]) > 0
    assert headers["vary"] == "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    assert "access-control-allow-credentials" not in headers
    assert "access-control-allow-headers" not in preflight_headers(APP, ("GET",), None)


def test_answer_headers_expose_the_routers_own() -> None:
    headers = answer_headers(APP)
    assert headers["access-control-allow-origin"] == APP
    exposed = {h.strip().lower() for h in headers["access-control-expose-headers"].split(",")}
    assert {"x-hpn-saved-usd", "x-hpn-cache", "retry-after"} <= exposed
    assert set(EXPOSED_HEADERS) and "access-control-allow-credentials" not in headers
