"""Issue 5 end to end: unmodified apps through the HTTPS_PROXY listener, mitmweb, and the
README's curl, Python and Node.js examples, run exactly as the README shows them.

Every router here loads tests/guard_addon.py (start_router does), and every client runs in a
subprocess with a guard of its own (guard_addon for Python, node_guard.cjs for Node): any
connection outside 127.0.0.0/8 is refused and reported, so a client that ignored the proxy
would fail the test instead of reaching the real api.openai.com.
"""

from __future__ import annotations

import dataclasses
import http.cookiejar
import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import openai
import pytest
from mitmproxy.io import FlowReader
from procs import EGRESS_MARKER, KEYS, REPO, Emulator, Router, free_port, start_router, venv_for_run_sh

TESTS = REPO / "tests"
CLIENT_TOKEN = "sk-client-not-a-gemini-key"
# The newest majors that run on Node 20 (openai 7 needs Node 22, undici 8 Node 22.19).
NODE_PACKAGES = ("openai@6", "undici@7")
# Runs an app file unchanged, after installing the egress guard in the same interpreter.
GUARDED_PYTHON = "import runpy, sys; sys.path.insert(0, sys.argv[2]); import guard_addon; runpy.run_path(sys.argv[1], run_name='__main__')"
PROXY_VARS = (
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "NODE_OPTIONS",
    "NODE_USE_ENV_PROXY",
)


def readme_example(name: str) -> str:
    """The code block the README marks with `<!-- tested: NAME -->`."""
    text = (REPO / "README.md").read_text()
    match = re.search(rf"<!-- tested: {re.escape(name)} -->\s*```\w*\n(.*?)\n```", text, re.S)
    assert match, f"README.md has no example marked {name!r}"
    return match.group(1)


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any proxy, CA or OpenAI setting of the machine's own."""
    env = {k: v for k, v in os.environ.items() if k.upper() not in PROXY_VARS and not k.upper().startswith("OPENAI_")}
    return {**env, **extra}


def run_checked(args: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 60) -> str:
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    output = result.stdout + result.stderr
    assert EGRESS_MARKER not in output, output
    assert result.returncode == 0, output
    return result.stdout


def generate_calls(emulator: Emulator) -> int:
    return sum(1 for r in emulator.stats()["requests"] if "generateContent" in r["path"])


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def router(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Router]:
    # The stand-ins for other hosts listen on loopback, which passthrough refuses by default:
    # passthrough_private is the documented way to allow it (test_proxy_security.py covers the default).
    router = start_router(
        tmp_path_factory.mktemp("proxy"),
        keys=KEYS[:3],
        gemini_url=emulator.url,
        proxy=True,
        config={"server": {"passthrough_private": True}},
    )
    yield router
    router.stop()


@pytest.fixture(scope="module")
def trust(router: Router) -> tuple[Path, Path]:
    """What run.sh does before it starts: `python -m hpn_router trust` (keeps the router's CA,
    writes the bundle of public CAs plus it)."""
    out = run_checked(
        [sys.executable, "-m", "hpn_router", "trust"],
        cwd=REPO / "addons",
        env=clean_env(HPN_API_KEYS=KEYS[0], HPN_CONFDIR=str(router.confdir)),
    )
    ca, bundle = (Path(line) for line in out.split())
    assert ca == router.ca_cert and bundle.parent == router.confdir
    return ca, bundle


@pytest.fixture
def proxy_env(router: Router, trust: tuple[Path, Path], emulator: Emulator) -> dict[str, str]:
    """The environment run.sh tells the user to export, plus the key the SDKs insist on."""
    emulator.reset()
    ca, bundle = trust
    return clean_env(
        HTTPS_PROXY=router.proxy_url,
        SSL_CERT_FILE=str(bundle),
        REQUESTS_CA_BUNDLE=str(bundle),
        CURL_CA_BUNDLE=str(bundle),
        NODE_EXTRA_CA_CERTS=str(ca),
        OPENAI_API_KEY=CLIENT_TOKEN,
    )


@pytest.fixture
def proxied_client(router: Router, emulator: Emulator) -> openai.OpenAI:
    """An SDK client with the default base URL (api.openai.com), through the proxy listener."""
    emulator.reset()
    verify = ssl.create_default_context(cafile=str(router.ca_cert))
    http_client = openai.DefaultHttpxClient(proxy=router.proxy_url, verify=verify)
    return openai.OpenAI(api_key=CLIENT_TOKEN, max_retries=0, http_client=http_client)


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """openai and undici from npm, installed once into a cache folder (idempotent)."""
    npm = shutil.which("npm")
    if not shutil.which("node") or not npm:
        pytest.skip("node/npm are not installed: the Node.js SDK tests need them")
    cache = Path(os.environ.get("HPN_NODE_CACHE") or Path.home() / ".cache" / "hpn-router" / "node")
    stamp = cache / ("installed-" + "-".join(NODE_PACKAGES).replace("@", "_"))
    if not stamp.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache), *NODE_PACKAGES], capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, f"npm install failed:\n{result.stdout}\n{result.stderr}"
        stamp.touch()
    return cache / "node_modules"


@pytest.fixture
def node_dir(node_modules: Path, tmp_path: Path) -> Path:
    """A folder for the README's Node files, where `import "openai"` resolves."""
    (tmp_path / "node_modules").symlink_to(node_modules, target_is_directory=True)
    return tmp_path


def node_version() -> tuple[int, int]:
    out = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout
    major, minor = out.strip().lstrip("v").split(".")[:2]
    return int(major), int(minor)


def run_node(script: str, *, cwd: Path, env: dict[str, str]) -> str:
    return run_checked(["node", "--require", str(TESTS / "node_guard.cjs"), script], cwd=cwd, env=env)


# --- the README's examples ----------------------------------------------------------------------


def test_python_sdk_unmodified_through_https_proxy(proxy_env, emulator, tmp_path):
    app = tmp_path / "app.py"
    app.write_text(readme_example("proxy-python"))
    assert "base_url" not in app.read_text()
    out = run_checked([sys.executable, "-c", GUARDED_PYTHON, str(app), str(TESTS)], env=proxy_env, cwd=tmp_path)
    assert "You said: Say hello through the proxy." in out
    assert generate_calls(emulator) == 1


def test_anthropic_sdk_unmodified_through_https_proxy(proxy_env, emulator, tmp_path):
    """api.anthropic.com is intercepted by default: the SDK's own base URL, answered by the pool."""
    app = tmp_path / "app.py"
    app.write_text(readme_example("proxy-anthropic-python"))
    assert "base_url" not in app.read_text()
    env = {k: v for k, v in proxy_env.items() if not k.upper().startswith("ANTHROPIC_")} | {"ANTHROPIC_API_KEY": CLIENT_TOKEN}
    out = run_checked([sys.executable, "-c", GUARDED_PYTHON, str(app), str(TESTS)], env=env, cwd=tmp_path)
    assert "You said: Say hello through the proxy." in out
    assert generate_calls(emulator) == 1


def test_curl_through_https_proxy(proxy_env, emulator, tmp_path):
    out = run_checked(["bash", "-c", readme_example("proxy-curl")], env=proxy_env, cwd=tmp_path)
    answer = json.loads(out)
    assert answer["object"] == "chat.completion"
    assert "You said: Hello through the proxy" in answer["choices"][0]["message"]["content"]
    assert generate_calls(emulator) == 1


def test_reverse_mode_python_and_curl_examples(router, emulator, tmp_path):
    emulator.reset()
    env = clean_env()
    app = tmp_path / "app.py"
    app.write_text(readme_example("reverse-python").replace("127.0.0.1:8080", f"127.0.0.1:{router.port}"))
    out = run_checked([sys.executable, "-c", GUARDED_PYTHON, str(app), str(TESTS)], env=env, cwd=tmp_path)
    assert "What is the capital of France?" in out
    curl = readme_example("reverse-curl").replace("127.0.0.1:8080", f"127.0.0.1:{router.port}")
    answer = json.loads(run_checked(["bash", "-c", curl], env=env, cwd=tmp_path))
    assert "Explain machine learning in one sentence." in answer["choices"][0]["message"]["content"]
    assert generate_calls(emulator) == 2


def test_node_sdk_against_the_reverse_port(router, emulator, node_dir):
    emulator.reset()
    (node_dir / "app.mjs").write_text(readme_example("reverse-node").replace("127.0.0.1:8080", f"127.0.0.1:{router.port}"))
    out = run_node("app.mjs", cwd=node_dir, env=clean_env())
    assert "You said: What is the capital of France?" in out


def test_node_sdk_unmodified_through_https_proxy_with_undici_preload(proxy_env, emulator, node_dir):
    (node_dir / "hpn-proxy.mjs").write_text(readme_example("proxy-node-preload"))
    (node_dir / "app.mjs").write_text(readme_example("proxy-node-app"))
    out = run_node("app.mjs", cwd=node_dir, env={**proxy_env, "NODE_OPTIONS": "--import=./hpn-proxy.mjs"})
    assert "You said: Say hello through the proxy." in out  # the emulator's answer (or its cached copy)


def test_node_sdk_with_node_use_env_proxy(proxy_env, emulator, node_dir):
    version = node_version()
    if not ((22, 21) <= version < (23, 0) or version >= (24, 5)):
        pytest.skip(
            f"Node {version[0]}.{version[1]} ignores NODE_USE_ENV_PROXY (Node 22.21+ / 24.5+ honour it); "
            "the undici preload test covers this Node"
        )
    (node_dir / "app.mjs").write_text(readme_example("proxy-node-app"))
    out = run_node("app.mjs", cwd=node_dir, env={**proxy_env, "NODE_USE_ENV_PROXY": "1"})
    assert "You said: Say hello through the proxy." in out


# --- what the proxy listener does -----------------------------------------------------------------


def test_streaming_embeddings_and_models_through_the_proxy(proxied_client, emulator):
    stream = proxied_client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "stream through the proxy"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert "You said: stream through the proxy" in text
    embedding = proxied_client.embeddings.create(model="text-embedding-3-small", input=["one", "two"])
    assert len(embedding.data) == 2 and embedding.data[0].embedding
    assert any(m.id.startswith("gemini-") for m in proxied_client.models.list())


def test_other_paths_on_api_openai_com_get_a_clear_404(proxied_client, router, emulator):
    with pytest.raises(openai.NotFoundError) as info:
        proxied_client.images.generate(model="dall-e-3", prompt="a cat")
    error = info.value.body
    assert error["code"] == "not_found" and error["type"] == "invalid_request_error"
    assert "does not serve /v1/images/generations" in error["message"]
    assert "api.openai.com" in error["message"] and "/v1/chat/completions" in error["message"]
    with pytest.raises(openai.NotFoundError, match=r"does not serve /v1/audio/speech"):
        proxied_client.audio.speech.create(model="tts-1", voice="alloy", input="hello")
    assert emulator.stats()["requests"] == []


def test_more_intercept_hosts_can_be_configured(emulator, tmp_path):
    emulator.reset()
    router = start_router(
        tmp_path, keys=KEYS[:3], gemini_url=emulator.url, proxy=True, config={"intercept_hosts": ["api.openai.com", "llm.internal.test"]}
    )
    try:
        verify = ssl.create_default_context(cafile=str(router.ca_cert))
        client = openai.OpenAI(
            base_url="https://llm.internal.test/v1",
            api_key=CLIENT_TOKEN,
            max_retries=0,
            http_client=openai.DefaultHttpxClient(proxy=router.proxy_url, verify=verify),
        )
        answer = client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "other host"}])
        assert "You said: other host" in answer.choices[0].message.content
    finally:
        router.stop()


# --- hosts that are not intercepted ---------------------------------------------------------------


class _Origin(http.server.BaseHTTPRequestHandler):
    """A stand-in for some other host the app talks to: echoes the path it was asked for."""

    def do_GET(self) -> None:  # noqa: N802
        body = f"{self.server.label} {self.path}".encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.send_header("set-cookie", "session=origin-cookie")
        self.send_header("x-seen-authorization", self.headers.get("authorization", ""))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(label: str, tls: ssl.SSLContext | None) -> tuple[http.server.ThreadingHTTPServer, int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    server.label = label  # type: ignore[attr-defined]
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def _self_signed(tmp: Path, name: str) -> tuple[Path, Path, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "origin-cert.pem", tmp / "origin-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path, cert.public_bytes(serialization.Encoding.DER)


def _read_until(sock: socket.socket, end: bytes | None) -> bytes:
    data = b""
    while end is None or end not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_other_https_hosts_are_an_untouched_tunnel(router, tmp_path):
    cert, key, der = _self_signed(tmp_path, "passthrough.test")
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    server, port = _serve("passthrough-origin", server_tls)
    try:
        with socket.create_connection(("127.0.0.1", router.proxy_port), timeout=10) as raw:
            raw.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            assert _read_until(raw, b"\r\n\r\n").startswith(b"HTTP/1.1 200")
            # Trusting only the origin's own certificate: mitmproxy's would fail the handshake.
            client_tls = ssl.create_default_context(cafile=str(cert))
            with client_tls.wrap_socket(raw, server_hostname="passthrough.test") as tls:
                assert tls.getpeercert(binary_form=True) == der
                # A path the router would answer, with api.openai.com's name: still the origin's.
                tls.sendall(b"GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\nConnection: close\r\n\r\n")
                reply = _read_until(tls, None)
    finally:
        server.shutdown()
    assert reply.startswith(b"HTTP/1.0 200") and reply.endswith(b"passthrough-origin /v1/models")


def test_plain_http_to_other_hosts_is_forwarded_untouched(router):
    server, port = _serve("plain-origin", None)
    try:
        with socket.create_connection(("127.0.0.1", router.proxy_port), timeout=10) as raw:
            raw.sendall(
                f"GET http://127.0.0.1:{port}/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Authorization: Bearer app-credential\r\nConnection: close\r\n\r\n".encode()
            )
            reply = _read_until(raw, None)
    finally:
        server.shutdown()
    assert reply.endswith(b"plain-origin /health"), reply  # not the router's own /health
    # Nothing rewritten either way: the app's credential reached the origin, its cookie the app.
    assert b"x-seen-authorization: Bearer app-credential\r\n" in reply
    assert b"set-cookie: session=origin-cookie\r\n" in reply


def _passthrough_private_config() -> dict:
    """Lets the proxy listener reach the loopback origin, where the router has that option
    (`server.passthrough_private`); a router without it passes loopback through anyway."""
    from hpn_router.config import ServerConfig

    names = {f.name for f in dataclasses.fields(ServerConfig)}
    return {"server": {"passthrough_private": True}} if "passthrough_private" in names else {}


@pytest.mark.single_process(reason="mitmdump's flow printer (flow_detail) is not in the lean runner the workers run")
def test_passthrough_credentials_are_forwarded_but_never_saved_nor_printed(emulator, tmp_path):
    """Another host's credentials reach it and its cookie reaches the app, but neither the
    saved flows (`-w`) nor the printed flows (flow_detail 3) show the app's credentials."""
    saved = tmp_path / "flows.mitm"
    # procs.py sets flow_detail=0 and mitmdump refuses a second value: raise it once running.
    verbose = tmp_path / "print_flows.py"
    verbose.write_text("from mitmproxy import ctx\n\n\ndef running():\n    ctx.options.update(flow_detail=3)\n")
    router = start_router(
        tmp_path,
        keys=KEYS[:3],
        gemini_url=emulator.url,
        proxy=True,
        config=_passthrough_private_config(),
        extra_args=["-s", str(verbose), "-w", str(saved)],
    )
    secrets = {
        "authorization": "Bearer other-host-token-0001",
        "cookie": "sid=other-host-cookie-0002",
        "x-api-key": "other-host-api-key-0003",
        "api-key": "azure-style-key-0004",
        "x-goog-api-key": "other-google-key-0005",
    }
    server, port = _serve("plain-origin", None)
    try:
        with httpx.Client(proxy=router.proxy_url, timeout=10) as client:
            reply = client.get(f"http://127.0.0.1:{port}/private", headers=secrets)
    finally:
        server.shutdown()
        router.stop()
    assert reply.text == "plain-origin /private"
    assert reply.headers["x-seen-authorization"] == secrets["authorization"]  # forwarded as sent
    assert reply.headers["set-cookie"] == "session=origin-cookie"  # the answer reached the app as sent
    with saved.open("rb") as file:
        [flow] = [f for f in FlowReader(file).stream() if f.request.path == "/private"]
    for name in secrets:
        assert flow.request.headers[name] == "<redacted>"
    log = router.log()
    assert re.search(r"(?m)^\s*api-key: <redacted>$", log)  # the request was printed, scrubbed
    for name, value in secrets.items():  # (the origin's answer echoes the authorization: that stays)
        assert not re.search(rf"(?m)^\s*{name}: {re.escape(value)}", log)


# --- mitmweb ----------------------------------------------------------------------------------------


def _web_flows(web: str) -> list[dict]:
    return json.loads(urllib.request.urlopen(f"{web}/flows", timeout=10).read())


def _web_body(web: str, flow: dict, part: str = "request") -> bytes:
    return urllib.request.urlopen(f"{web}/flows/{flow['id']}/{part}/content.data", timeout=10).read()


def _web_replay(web: str, flow: dict) -> None:
    """What the replay button does: mitmweb wants its XSRF cookie echoed in a header."""
    cookies = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
    opener.open(f"{web}/", timeout=10).read()
    token = next(c.value for c in cookies if c.name == "_xsrf")
    request = urllib.request.Request(f"{web}/flows/{flow['id']}/replay", method="POST", headers={"X-XSRFToken": token})
    opener.open(request, timeout=10).read()


def test_mitmweb_shows_the_client_flow_and_each_attempt_without_keys_and_caps_flows(emulator, tmp_path):
    emulator.reset()
    web_port = free_port()
    router = start_router(
        tmp_path,
        keys=KEYS[:3],
        gemini_url=emulator.url,
        proxy=True,
        program="mitmweb",
        config={"server": {"mitmweb_max_flows": 8}},
        extra_args=["--web-host", "127.0.0.1", "--web-port", str(web_port), "--set", "web_open_browser=false"],
    )
    web = f"http://127.0.0.1:{web_port}"
    try:
        emulator.set_key(0, "rate_limit")
        verify = ssl.create_default_context(cafile=str(router.ca_cert))
        client = openai.OpenAI(
            api_key=CLIENT_TOKEN, max_retries=0, http_client=openai.DefaultHttpxClient(proxy=router.proxy_url, verify=verify)
        )
        watched = client.chat.completions.with_raw_response.create(model="gpt-4", messages=[{"role": "user", "content": "watch me"}])
        request_id = watched.headers["x-request-id"]

        flows = _web_flows(web)
        # The client's flow is the request the client sent, with the answer it got.
        client_flow = next(f for f in flows if not f["is_replay"] and f["request"]["path"] != "/health")
        assert (client_flow["request"]["host"], client_flow["request"]["path"]) == ("api.openai.com", "/v1/chat/completions")
        assert b"watch me" in _web_body(web, client_flow) and b'"messages"' in _web_body(web, client_flow)
        assert b'"chat.completion"' in _web_body(web, client_flow, "response")
        assert "authorization" not in {name.lower() for name, value in client_flow["request"]["headers"] if value != "<redacted>"}
        # One id finds the request in mitmweb as in the log: the answer's header, and the flow's metadata (below).
        assert dict(client_flow["response"]["headers"])["X-Request-Id"] == request_id
        assert any(json.loads(line).get("request_id") == request_id for line in router.log().splitlines() if '"event": "request"' in line)
        # Each upstream attempt is a flow of its own: the real upstream URL and the key's name.
        attempts = [f for f in flows if f["is_replay"] == "request"]
        assert all(f["request"]["path"] == "/v1beta/models/gemini-flash-latest:generateContent" for f in attempts)
        assert all(f["request"]["host"] == "127.0.0.1" for f in attempts)  # the emulator stands in for Gemini
        assert [(dict(f["request"]["headers"])["x-goog-api-key"], f["response"]["status_code"]) for f in attempts] == [
            ("<key:key_1>", 429),
            ("<key:key_2>", 200),
        ]

        stream = client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "stream me"}], stream=True)
        assert "You said: stream me" in "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        flows = _web_flows(web)
        streamed = [f for f in flows if not f["is_replay"] and b"stream me" in _web_body(web, f)]
        assert [(f["request"]["host"], f["request"]["path"]) for f in streamed] == [("api.openai.com", "/v1/chat/completions")]

        # Reverse mode: the URL shown is the router's listener, not the reverse target.
        direct = openai.OpenAI(base_url=router.base_url, api_key=CLIENT_TOKEN, max_retries=0)
        direct.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "reverse me"}])
        flows = _web_flows(web)
        reverse = next(f for f in flows if not f["is_replay"] and b"reverse me" in _web_body(web, f))
        assert (reverse["request"]["host"], reverse["request"]["port"]) == ("127.0.0.1", router.port)
        assert reverse["request"]["path"] == "/v1/chat/completions"

        # Replaying an attempt would send the placeholder upstream: refused, nothing reaches Gemini.
        emulator.reset()
        attempt = next(f for f in flows if f["is_replay"] == "request")
        _web_replay(web, attempt)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            replayed = next((f for f in _web_flows(web) if f["id"] == attempt["id"]), None)
            if replayed and replayed.get("response") and replayed["response"]["status_code"] == 403:
                break
            time.sleep(0.1)
        assert replayed and replayed["response"]["status_code"] == 403
        assert b"does not replay an upstream attempt" in _web_body(web, replayed, "response")
        assert emulator.stats()["requests"] == []

        # Replaying the client's flow sends it through the router again, so through the pool,
        # and it starts afresh (not with its first run's state).
        _web_replay(web, reverse)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            again = next((f for f in _web_flows(web) if f["id"] == reverse["id"]), None)
            if again and again["is_replay"] == "request" and again.get("response"):
                break
            time.sleep(0.1)
        assert again and again["response"]["status_code"] == 200
        assert json.loads(_web_body(web, again, "response"))["object"] == "chat.completion"
        assert [r["path"] for r in emulator.stats()["requests"]] == ["/v1beta/models/gemini-flash-latest:generateContent"]

        dump = urllib.request.urlopen(f"{web}/flows/dump", timeout=10).read()
        assert b"hpn.request_id" in dump and request_id.encode() in dump
        assert dump and not any(k.encode() in dump or k[4:16].encode() in dump for k in KEYS)

        emulator.reset()
        for i in range(10):
            client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": f"again {i}"}])
        flows = _web_flows(web)
        assert 4 <= len(flows) <= 8  # each request adds its client flow and one attempt flow
    finally:
        router.stop()
        emulator.reset()


def test_a_request_for_another_host_is_forwarded_even_when_its_origin_is_down(router):
    """The client gets mitmproxy's own 502 (it tried to forward the request), not an
    OpenAI-format answer from the router, even for a path the router serves."""
    dead = free_port()
    with httpx.Client(proxy=router.proxy_url, timeout=10) as client:
        reply = client.get(f"http://127.0.0.1:{dead}/v1/models")
    assert reply.status_code == 502 and b'"error"' not in reply.content


# --- the egress guard itself ----------------------------------------------------------------------


def test_the_guard_refuses_and_reports_a_connection_outside_loopback(emulator, tmp_path):
    """A name that must never be dialled: the guard refuses it before any lookup, the client
    gets mitmproxy's 502, and the log carries the marker the conftest fixture fails on."""
    from procs import STARTED

    router = start_router(tmp_path, keys=KEYS[:1], gemini_url=emulator.url, proxy=True)
    STARTED.remove(router)  # its marker is expected: keep it out of the fixture's check
    try:
        with httpx.Client(proxy=router.proxy_url, timeout=10) as client:
            reply = client.get("http://egress-check.invalid/")
        assert reply.status_code == 502
    finally:
        router.stop()
    assert f"{EGRESS_MARKER}: mitmproxy server connection to egress-check.invalid:80" in router.log()


def test_the_guard_refuses_sockets_outside_loopback_before_connecting(tmp_path):
    script = (
        "import socket, sys; sys.path.insert(0, sys.argv[1]); import guard_addon\n"
        "def never(*a): raise SystemExit('the guard let a connection through')\n"
        "guard_addon._connect = never\n"
        "s = socket.socket()\n"
        "try:\n    s.connect(('192.0.2.1', 9))\nexcept ConnectionRefusedError as e:\n    print('refused', e)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(TESTS)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stdout.startswith("refused"), result.stdout + result.stderr
    assert EGRESS_MARKER in result.stderr


# --- run.sh ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("web", [False, True], ids=["mitmdump", "mitmweb"])
def test_run_sh_starts_both_listeners_and_prints_what_a_user_needs(web, tmp_path):
    import time

    port, proxy_port, web_port = free_port(), free_port(), free_port()
    env = clean_env(
        HPN_VENV=str(venv_for_run_sh(tmp_path)),
        HPN_API_KEYS=KEYS[0],
        HPN_PORT=str(port),
        HPN_PROXY_PORT=str(proxy_port),
        HPN_CONFDIR=str(tmp_path / "ca"),
        HPN_CONFIG=str(tmp_path / "none.yaml"),
    )
    (tmp_path / "none.yaml").write_text("{}\n")
    args = [
        str(REPO / "run.sh"),
        *(["--web", "--web-port", str(web_port), "--set", "web_open_browser=false"] if web else []),
        "-s",
        str(TESTS / "guard_addon.py"),
    ]
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while "listening at 127.0.0.1:" + str(port) not in log.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        text = log.read_text()
        exports = [line.strip() for line in text.splitlines() if line.strip().startswith("export ")]
        assert exports[0] == f"export HTTPS_PROXY=http://127.0.0.1:{proxy_port}"
        assert f"mitmproxy's CA certificate is {tmp_path / 'ca' / 'mitmproxy-ca-cert.pem'}" in text
        assert f"NODE_EXTRA_CA_CERTS={tmp_path / 'ca' / 'mitmproxy-ca-cert.pem'}" in exports[-1]
        # The printed lines, pasted into a shell, make curl reach the router as api.openai.com.
        out = run_checked(["bash", "-c", "\n".join(exports) + "\ncurl -sS https://api.openai.com/health"], env=clean_env(), cwd=tmp_path)
        assert json.loads(out)["status"] == "healthy"
        if web:
            assert "mitmweb UI at" in text
            assert isinstance(json.loads(urllib.request.urlopen(f"http://127.0.0.1:{web_port}/flows", timeout=5).read()), list)
    finally:
        proc.send_signal(2)
        proc.wait(15)
    assert EGRESS_MARKER not in log.read_text()
