"""Issue 9 item 1 end to end: the proxy listener is no open proxy.

- With client tokens, every tunnel and plain-HTTP proxy request needs one as the proxy
  password (`http://hpn:TOKEN@host:port`), else 407; the credential goes no further.
- Passthrough never reaches loopback, private or link-local addresses or the router's own
  ports (unless server.passthrough_private), nor any host with server.passthrough: false.
- Bound beyond loopback without client tokens, the proxy listener does not open.
"""

from __future__ import annotations

import base64
import http.server
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from procs import KEYS, REPO, Emulator, Router, free_port, raw_exchange, start_router, venv_for_run_sh

TESTS = REPO / "tests"
TOKEN = "hpn-client-token-0123456789abcdef"
GUARDED_PYTHON = "import runpy, sys; sys.path.insert(0, sys.argv[2]); import guard_addon; runpy.run_path(sys.argv[1], run_name='__main__')"
SDK_APP = """
from openai import OpenAI

client = OpenAI()  # https://api.openai.com/v1; the proxy and its token come from HTTPS_PROXY
answer = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "through an authenticated proxy"}])
print(answer.choices[0].message.content)
"""


def basic(password: str, user: str = "hpn") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def clean_env(**extra: str) -> dict[str, str]:
    names = ("PROXY", "SSL_CERT", "CA_BUNDLE", "NODE_", "OPENAI_")
    return {**{k: v for k, v in os.environ.items() if not any(n in k.upper() for n in names)}, **extra}


def proxy_exchange(router: Router, head: str) -> bytes:
    """Send one request head to the proxy listener; the reply's head (and body, if any)."""
    return raw_exchange(router.proxy_port, head.encode())


def connect(router: Router, target: str, authorization: str | None = None) -> bytes:
    auth = f"Proxy-Authorization: {authorization}\r\n" if authorization else ""
    return proxy_exchange(router, f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{auth}\r\n")


def plain_get(router: Router, url: str, host: str, authorization: str | None = None) -> bytes:
    auth = f"Proxy-Authorization: {authorization}\r\n" if authorization else ""
    return proxy_exchange(router, f"GET {url} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n")


class _Origin(http.server.BaseHTTPRequestHandler):
    """A local service the proxy must not expose; counts what reaches it."""

    def do_GET(self) -> None:  # noqa: N802
        self.server.seen.append(dict(self.headers))  # type: ignore[attr-defined]
        body = b"local service"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Counting(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Origin)
        self.seen: list[dict[str, str]] = []
        self.connections = 0

    def get_request(self):  # type: ignore[no-untyped-def]
        self.connections += 1
        return super().get_request()


@pytest.fixture
def local_service() -> Iterator[_Counting]:
    server = _Counting()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def secured(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    """Client tokens set; the default passthrough rules."""
    config = {"server": {"client_tokens": [TOKEN]}}
    router = start_router(tmp_path_factory.mktemp("secured"), keys=KEYS[:3], gemini_url=emulator.url, proxy=True, config=config)
    yield router
    router.stop()


@pytest.fixture(scope="module")
def private_allowed(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    router = start_router(
        tmp_path_factory.mktemp("private"),
        keys=KEYS[:3],
        gemini_url=emulator.url,
        proxy=True,
        config={"server": {"client_tokens": [TOKEN], "passthrough_private": True}},
    )
    yield router
    router.stop()


# --- proxy authentication ---------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, basic("wrong-token-0123456789abcdef"), f"Bearer {TOKEN}", "Basic %%%"])
def test_a_tunnel_without_a_valid_token_gets_407(secured, authorization):
    reply = connect(secured, "api.openai.com:443", authorization)
    assert reply.startswith(b"HTTP/1.1 407"), reply
    assert b'proxy-authenticate: basic realm="hpn router"\r\n' in reply.lower()
    assert b"proxy_authentication_required" in reply


def test_a_plain_http_request_without_a_token_gets_407_and_goes_nowhere(private_allowed, local_service):
    url = f"http://127.0.0.1:{local_service.server_address[1]}/"
    reply = plain_get(private_allowed, url, f"127.0.0.1:{local_service.server_address[1]}")
    assert reply.startswith(b"HTTP/1.1 407"), reply
    reply = plain_get(private_allowed, "http://api.openai.com/v1/models", "api.openai.com", basic("wrong-token-0123456789abcdef"))
    assert reply.startswith(b"HTTP/1.1 407"), reply
    assert local_service.connections == 0


def test_the_openai_sdk_and_curl_work_with_the_token_in_the_proxy_url(secured, emulator, tmp_path):
    emulator.reset()
    proxy = f"http://hpn:{TOKEN}@127.0.0.1:{secured.proxy_port}"
    env = clean_env(HTTPS_PROXY=proxy, SSL_CERT_FILE=str(secured.ca_cert), OPENAI_API_KEY=TOKEN)
    app = tmp_path / "app.py"
    app.write_text(SDK_APP)
    result = subprocess.run(
        [sys.executable, "-c", GUARDED_PYTHON, str(app), str(TESTS)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "You said: through an authenticated proxy" in result.stdout
    curl = subprocess.run(
        ["curl", "-sS", "--cacert", str(secured.ca_cert), "-H", f"Authorization: Bearer {TOKEN}", "https://api.openai.com/v1/models"],
        env=clean_env(HTTPS_PROXY=proxy),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert curl.returncode == 0 and '"object": "list"' in curl.stdout, curl.stdout + curl.stderr
    assert TOKEN not in secured.log()


def test_the_proxy_token_does_not_replace_the_bearer_token(secured):
    verify = ssl.create_default_context(cafile=str(secured.ca_cert))
    proxied = httpx.Client(proxy=f"http://anyone:{TOKEN}@127.0.0.1:{secured.proxy_port}", verify=verify, timeout=10)
    with proxied:
        assert proxied.get("https://api.openai.com/v1/models").status_code == 401  # Access: no Bearer token
        client = openai.OpenAI(api_key=TOKEN, max_retries=0, http_client=proxied)
        assert any(m.id.startswith("gemini-") for m in client.models.list())


def test_the_proxy_credential_reaches_no_origin(private_allowed, local_service):
    port = local_service.server_address[1]
    reply = plain_get(private_allowed, f"http://127.0.0.1:{port}/", f"127.0.0.1:{port}", basic(TOKEN))
    assert reply.startswith(b"HTTP/1.0 200") and reply.endswith(b"local service"), reply
    assert [{k.lower() for k in seen} & {"proxy-authorization"} for seen in local_service.seen] == [set()]
    assert TOKEN not in private_allowed.log()


# --- where passthrough may go ------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "0.0.0.0", "169.254.169.254", "10.0.0.1"])
def test_a_tunnel_to_an_internal_address_is_refused(secured, local_service, host):
    port = local_service.server_address[1]
    reply = connect(secured, f"{host}:{port}", basic(TOKEN))
    assert reply.startswith(b"HTTP/1.1 403"), reply
    assert b"destination_refused" in reply and b"server.passthrough_private: true" in reply
    assert local_service.connections == 0


def test_a_plain_request_to_a_loopback_service_is_refused_and_the_service_sees_nothing(secured, local_service):
    port = local_service.server_address[1]
    for host in ("127.0.0.1", "localhost"):
        reply = plain_get(secured, f"http://{host}:{port}/secret", f"{host}:{port}", basic(TOKEN))
        assert reply.startswith(b"HTTP/1.1 403") and b"loopback" in reply, reply
    assert local_service.connections == 0
    assert "passthrough_refused" in secured.log()


def test_the_router_s_own_ports_are_refused(secured):
    for port in (secured.port, secured.proxy_port):
        reply = plain_get(secured, f"http://127.0.0.1:{port}/health", f"127.0.0.1:{port}", basic(TOKEN))
        assert reply.startswith(b"HTTP/1.1 403"), reply


def test_passthrough_private_allows_local_services_but_not_the_router_itself(private_allowed, local_service):
    port = local_service.server_address[1]
    reply = plain_get(private_allowed, f"http://localhost:{port}/", f"localhost:{port}", basic(TOKEN))
    assert reply.startswith(b"HTTP/1.0 200") and reply.endswith(b"local service"), reply
    with socket.create_connection(("127.0.0.1", private_allowed.proxy_port), timeout=10) as raw:
        raw.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nProxy-Authorization: {basic(TOKEN)}\r\n\r\n".encode())
        assert raw.recv(65536).startswith(b"HTTP/1.1 200")
        raw.sendall(b"GET /through-the-tunnel HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert b"local service" in b"".join(iter(lambda: raw.recv(65536), b""))
    assert len(local_service.seen) == 2
    for own in (private_allowed.port, private_allowed.proxy_port):
        assert connect(private_allowed, f"127.0.0.1:{own}", basic(TOKEN)).startswith(b"HTTP/1.1 403")


def test_passthrough_false_serves_only_the_intercepted_hosts(emulator, tmp_path):
    router = start_router(tmp_path, keys=KEYS[:3], gemini_url=emulator.url, proxy=True, config={"server": {"passthrough": False}})
    try:
        reply = connect(router, "example.com:443")
        assert reply.startswith(b"HTTP/1.1 403") and b"server.passthrough is false" in reply, reply
        assert plain_get(router, "http://example.com/", "example.com").startswith(b"HTTP/1.1 403")
        verify = ssl.create_default_context(cafile=str(router.ca_cert))
        with httpx.Client(proxy=router.proxy_url, verify=verify, timeout=10) as client:
            assert client.get("https://api.openai.com/health").json()["status"] == "healthy"
    finally:
        router.stop()


# --- no open proxy beyond loopback ------------------------------------------------------------------


def _listeners(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hpn_router", "listeners"], cwd=REPO / "addons", env=env, capture_output=True, text=True, timeout=60
    )


def test_run_sh_s_listeners_refuse_an_open_proxy_beyond_loopback(tmp_path):
    base = clean_env(HPN_API_KEYS=KEYS[0], HPN_HOST="0.0.0.0", HPN_CONFDIR=str(tmp_path), HPN_CONFIG=str(tmp_path / "c.yaml"))
    (tmp_path / "c.yaml").write_text("{}\n")
    refused = _listeners(base)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "server.proxy_open" in refused.stderr and "HPN_CLIENT_TOKENS" in refused.stderr
    assert _listeners({**base, "HPN_CLIENT_TOKENS": TOKEN}).stdout == f"0.0.0.0 8080 8888 token {tmp_path}\n"
    (tmp_path / "c.yaml").write_text("server:\n  proxy_open: true\n")
    assert _listeners(base).stdout == f"0.0.0.0 8080 8888 none {tmp_path}\n"
    assert _listeners({**base, "HPN_HOST": "127.0.0.1"}).returncode == 0


def test_mitmdump_does_not_open_a_proxy_listener_beyond_loopback_without_tokens(emulator, tmp_path):
    port, proxy_port = free_port(), free_port()
    (tmp_path / "c.yaml").write_text("{}\n")
    env = clean_env(HPN_API_KEYS=KEYS[0], HPN_GEMINI_BASE_URL=emulator.url, HPN_CONFIG=str(tmp_path / "c.yaml"))
    args = [
        os.path.join(os.path.dirname(sys.executable), "mitmdump"),
        "-s",
        str(TESTS / "guard_addon.py"),
        "-s",
        str(REPO / "addons" / "router.py"),
        "--mode",
        f"reverse:https://generativelanguage.googleapis.com@127.0.0.1:{port}",
        "--mode",
        f"regular@0.0.0.0:{proxy_port}",
        "--set",
        f"confdir={tmp_path / 'ca'}",
    ]
    result = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "server.proxy_open" in output and "would be an open proxy" in output
    assert "Error logged during startup, exiting" in output


def test_run_sh_prints_the_proxy_url_with_a_token_placeholder(tmp_path):
    port, proxy_port = free_port(), free_port()
    (tmp_path / "none.yaml").write_text("{}\n")
    env = clean_env(
        HPN_VENV=str(venv_for_run_sh(tmp_path)),
        HPN_API_KEYS=KEYS[0],
        HPN_CLIENT_TOKENS=TOKEN,
        HPN_PORT=str(port),
        HPN_PROXY_PORT=str(proxy_port),
        HPN_CONFDIR=str(tmp_path / "ca"),
        HPN_CONFIG=str(tmp_path / "none.yaml"),
    )
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(REPO / "run.sh"), "-s", str(TESTS / "guard_addon.py")], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while f"listening at 127.0.0.1:{port}" not in log.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        exports = [line.strip() for line in log.read_text().splitlines() if line.strip().startswith("export ")]
        assert exports[0] == f"export HTTPS_PROXY=http://hpn:<your-client-token>@127.0.0.1:{proxy_port}"
        # The printed lines with the user's token filled in make curl reach the router.
        script = "\n".join(exports).replace("<your-client-token>", TOKEN) + "\ncurl -sS https://api.openai.com/health"
        out = subprocess.run(["bash", "-c", script], env=clean_env(), capture_output=True, text=True, timeout=60)
        assert '"status": "healthy"' in out.stdout, out.stdout + out.stderr
    finally:
        proc.send_signal(2)
        proc.wait(15)
    assert TOKEN not in log.read_text()
