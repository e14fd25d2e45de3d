"""Browser apps: CORS preflights and headers for `server.cors_origins`, and real 405s, through a
real mitmdump, sent the way a browser sends them (httpx stands in for the browser)."""

from __future__ import annotations

import httpx

APP = "https://app.example.com"
TOKEN = "client-token-for-the-browser-app"
CHAT = {"model": "gpt-4", "messages": [{"role": "user", "content": "Hello from a web page"}]}


def preflight(client: httpx.Client, url: str, origin: str, method: str = "POST") -> httpx.Response:
    return client.options(
        url,
        headers={
            "origin": origin,
            "access-control-request-method": method,
            "access-control-request-headers": "authorization,content-type,x-stainless-os",
        },
    )


def test_an_allowed_origin_gets_preflights_and_cors_headers_on_every_answer(make_router):
    router = make_router(config={"server": {"cors_origins": [APP]}}, env={"HPN_CLIENT_TOKENS": TOKEN})
    url = f"{router.base_url}/chat/completions"
    with httpx.Client(timeout=10) as client:
        # The preflight needs no token (browsers never send one with it).
        answer = preflight(client, url, APP)
        assert answer.status_code == 204 and answer.content == b""
        assert answer.headers["access-control-allow-origin"] == APP
        assert answer.headers["access-control-allow-methods"] == "POST"
        assert answer.headers["access-control-allow-headers"] == "authorization, content-type, x-stainless-os"
        assert int(answer.headers["access-control-max-age"]) > 0
        assert "access-control-allow-credentials" not in answer.headers

        auth = {"origin": APP, "authorization": f"Bearer {TOKEN}"}
        answer = client.post(url, json=CHAT, headers=auth)
        assert answer.status_code == 200 and answer.json()["object"] == "chat.completion"
        assert answer.headers["access-control-allow-origin"] == APP and "Origin" in answer.headers["vary"]
        exposed = answer.headers["access-control-expose-headers"].lower()
        assert "x-hpn-saved-usd" in exposed and "x-hpn-cache" in exposed and "retry-after" in exposed

        with client.stream("POST", url, json={**CHAT, "stream": True}, headers=auth) as stream:
            assert stream.headers["access-control-allow-origin"] == APP
            assert b"[DONE]" in b"".join(stream.iter_bytes())

        # Errors too: the page can read why it was refused.
        refused = client.post(url, json=CHAT, headers={"origin": APP})
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == APP
        models = client.options(f"{router.base_url}/models", headers={"origin": APP, "access-control-request-method": "GET"})
        assert models.status_code == 204 and models.headers["access-control-allow-methods"] == "GET"


def test_other_origins_get_no_cors_headers(make_router):
    router = make_router(config={"server": {"cors_origins": [APP]}})
    url = f"{router.base_url}/chat/completions"
    with httpx.Client(timeout=10) as client:
        answer = preflight(client, url, "https://evil.example.com")
        assert answer.status_code == 405 and "access-control-allow-origin" not in answer.headers
        answer = client.post(url, json=CHAT, headers={"origin": "https://evil.example.com"})
        assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers


def test_without_cors_origins_options_is_a_real_405(make_router):
    router = make_router()
    with httpx.Client(timeout=10) as client:
        answer = preflight(client, f"{router.base_url}/chat/completions", APP)
        assert answer.status_code == 405 and answer.reason_phrase == "Method Not Allowed"
        assert answer.headers["allow"] == "POST" and "access-control-allow-origin" not in answer.headers
        assert answer.json()["error"]["code"] == "method_not_allowed"
        answer = client.delete(f"{router.url}/health")
        assert answer.status_code == 405 and answer.headers["allow"] == "GET, HEAD"
