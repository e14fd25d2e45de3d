"""Issue 9 item 2 end to end: when a hook fails, the client gets the router's own error and
nothing reaches an upstream.

The router here forwards what it lets through to the emulator (its reverse target), so
"nothing reached upstream" is the emulator's request log staying empty.
"""

from __future__ import annotations

import json
import socket
import ssl
from pathlib import Path

import openai
import pytest
from procs import KEYS, start_router

HERE = Path(__file__).resolve().parent
TOKEN = "client-token-failclosed-0123456789"
CHAT = json.dumps({"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]}).encode()
ROUTER_FAILED = {"message": "The router failed to handle this request.", "type": "server_error", "param": None, "code": None}


@pytest.fixture
def router(emulator, tmp_path):
    emulator.reset()
    started = start_router(
        tmp_path,
        keys=KEYS[:2],
        gemini_url=emulator.url,
        config={"server": {"client_tokens": [TOKEN]}},
        scripts_before=[HERE / "failing_addon.py"],
        reverse_target=emulator.url,
    )
    yield started
    started.stop()


def raw_request(port: int, head: bytes, body: bytes = CHAT) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request over a plain socket: http.client cannot send header bytes that
    are not UTF-8."""
    request = b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-type: application/json\r\n"
    request += head + b"content-length: %d\r\n\r\n" % len(body) + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    status_line, _, rest = reply.partition(b"\r\n")
    header_block, _, payload = rest.partition(b"\r\n\r\n")
    headers = dict(line.decode("latin-1").split(": ", 1) for line in header_block.split(b"\r\n") if line)
    return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, payload


def test_an_addon_failing_in_request_gets_the_routers_error_and_nothing_goes_upstream(router, emulator):
    status, headers, body = raw_request(router.port, b"authorization: Bearer " + TOKEN.encode() + b"\r\nx-test-fail: request\r\n")
    assert status == 500
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": ROUTER_FAILED}
    assert emulator.stats()["requests"] == []
    assert "Addon error: failing addon: deliberate failure in request" in router.log()
    assert "did not route" in router.log()  # the router says why the client got a 500
    # The next request is served as usual.
    status, _, body = raw_request(router.port, b"authorization: Bearer " + TOKEN.encode() + b"\r\n")
    assert status == 200 and json.loads(body)["choices"][0]["message"]["content"]


@pytest.mark.parametrize("header", [b"authorization: Bearer \xff\xfe", b"x-goog-api-key: \xff\xfe", b"authorization: Bearer \xc3"])
def test_a_token_that_is_not_utf8_is_an_unknown_token(router, emulator, header):
    status, headers, body = raw_request(router.port, header + b"\r\n")
    assert status == 401
    assert json.loads(body)["error"]["code"] == "invalid_api_key"
    assert emulator.stats()["requests"] == []
    assert "Addon error" not in router.log()


def test_proxy_mode_requests_for_an_intercepted_host_fail_closed_too(emulator, tmp_path):
    """Through the HTTPS_PROXY listener: a request for api.openai.com whose router hooks were
    skipped gets the router's 500; nothing connects to api.openai.com (or anywhere else)."""
    emulator.reset()
    router = start_router(tmp_path, keys=KEYS[:2], gemini_url=emulator.url, proxy=True, scripts_before=[HERE / "failing_addon.py"])
    try:
        verify = ssl.create_default_context(cafile=str(router.ca_cert))
        http_client = openai.DefaultHttpxClient(proxy=router.proxy_url, verify=verify)
        client = openai.OpenAI(api_key="sk-client-not-a-gemini-key", max_retries=0, http_client=http_client)
        with pytest.raises(openai.InternalServerError) as failed:
            messages = [{"role": "user", "content": "hi"}]
            client.chat.completions.create(model="gpt-4", messages=messages, extra_headers={"x-test-fail": "request"})
        assert failed.value.status_code == 500 and failed.value.body == ROUTER_FAILED
        assert emulator.stats()["requests"] == []
        assert "Refused a connection to intercepted host" not in router.log()  # it never tried
        answer = client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content
    finally:
        router.stop()
