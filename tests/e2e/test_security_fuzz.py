"""The security items of issue 9 probed the way the fuzz test probes bodies: many generated
requests at a running router, each checked for the one outcome that matters.

- Credential headers of any bytes (not valid UTF-8 included) on the reverse listener, with
  client tokens set: a 401 in OpenAI's format, never a 5xx, and nothing reaches Gemini.
- Proxy-listener targets on loopback, private and link-local addresses, by address or by a
  name that resolves there, as tunnels and as plain requests, with a valid proxy token: all
  refused, and a canary server on loopback never sees a connection.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from procs import KEYS, Router, raw_exchange, start_router

TOKEN = "hpn-fuzz-client-token-0123456789"
PROXY_AUTH = "Basic " + base64.b64encode(f"hpn:{TOKEN}".encode()).decode()


class Canary:
    """A loopback listener that counts every connection made to it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    c = Canary()
    yield c
    c.close()


@pytest.fixture(scope="module")
def guarded_router(emulator, tmp_path_factory) -> Iterator[Router]:
    emulator.reset()
    router = start_router(
        tmp_path_factory.mktemp("security-fuzz"),
        keys=KEYS[:2],
        gemini_url=emulator.url,
        proxy=True,
        env={"HPN_CLIENT_TOKENS": TOKEN},
    )
    yield router
    router.stop()


def exchange(port: int, head: bytes) -> tuple[int, bytes]:
    """Send a raw request head; the status code and the body of the reply."""
    head_bytes, _, body = raw_exchange(port, head).partition(b"\r\n\r\n")
    status_line = head_bytes.split(b"\r\n", 1)[0].split()
    return (int(status_line[1]) if len(status_line) > 1 else 0), body


# Header values as raw bytes: anything but CR, LF and NUL (which end or break the header line).
header_bytes = st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"").replace(b"\0", b"")).filter(bool)
BODY = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(
    name=st.sampled_from([b"Authorization", b"x-goog-api-key", b"Cookie", b"X-Custom"]),
    scheme=st.sampled_from([b"Bearer ", b"", b"Basic "]),
    value=header_bytes,
    path=st.sampled_from([b"/v1/chat/completions", b"/v1/models", b"/v1beta/models/gemini-2.5-flash:generateContent", b"/admin/keys"]),
)
def test_any_credential_bytes_get_a_401_and_nothing_goes_upstream(guarded_router, emulator, name, scheme, value, path):
    before = len(emulator.stats()["requests"])
    head = (
        b"POST "
        + path
        + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + name
        + b": "
        + scheme
        + value
        + b"\r\nContent-Length: "
        + str(len(BODY)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + BODY
    )
    status, body = exchange(guarded_router.port, head)
    assert status in (400, 401), (name, scheme + value, status, body[:200])
    if status == 401 and path.startswith(b"/v1beta/"):  # Gemini's own API: Google's envelope
        error = json.loads(body)["error"]
        assert (error["code"], error["status"], error["details"][0]["reason"]) == (401, "UNAUTHENTICATED", "INVALID_API_KEY")
    elif status == 401:
        assert json.loads(body)["error"]["code"] == "invalid_api_key"
    assert len(emulator.stats()["requests"]) == before


INTERNAL_HOSTS = ["127.0.0.1", "127.1.2.3", "localhost", "0.0.0.0", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "[::1]"]


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(host=st.sampled_from(INTERNAL_HOSTS), tunnel=st.booleans(), use_canary=st.booleans(), port=st.integers(1, 65535))
def test_no_internal_destination_is_reachable_through_the_proxy(guarded_router, canary, host, tunnel, use_canary, port):
    target_port = canary.port if use_canary else port
    before = canary.connections
    target = f"{host}:{target_port}"
    if tunnel:
        head = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: {PROXY_AUTH}\r\n\r\n"
    else:
        head = f"GET http://{target}/ HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: {PROXY_AUTH}\r\nConnection: close\r\n\r\n"
    status, _ = exchange(guarded_router.proxy_port, head.encode())
    assert status in (403, 502), (target, tunnel, status)
    assert canary.connections == before, f"{target} reached the canary"


def test_the_router_and_its_ports_survived(guarded_router):
    status, body = exchange(guarded_router.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert status == 200 and json.loads(body)["status"]
