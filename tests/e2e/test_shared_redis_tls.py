"""`state.redis_url` with `rediss://` (TLS) and a password, end to end, as the README's
"Who may reach Redis" advises: a real mitmdump against a real redis-server that speaks TLS
only and requires a password. The router connects when the URL names the CA that signed the
server's certificate (`?ssl_ca_certs=`), and refuses a certificate it cannot verify (Redis
shows as down, requests are still served); the password is never logged."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from procs import KEYS, Router, client_for, free_port, http_json, start_router, wait_for

PASSWORD = "tls-test-password-0123456789"
# The README's least-privilege user: only the router's own keys and channel, no @dangerous commands.
ACL_USER = ("hpn", "acl-test-password-0123456789")
ACL_RULES = ["on", f">{ACL_USER[1]}", "~hpn:v1:*", "&hpn:v1:*", "+@all", "-@dangerous"]


@dataclass
class TlsRedis:
    proc: subprocess.Popen
    port: int
    ca_file: Path

    def url(self, *, trusted: bool, user: tuple[str, str] = ("", PASSWORD)) -> str:
        query = f"?ssl_ca_certs={self.ca_file}" if trusted else ""
        return f"rediss://{user[0]}:{user[1]}@127.0.0.1:{self.port}/0{query}"

    def command(self, *args: str) -> str:
        """One command through redis-cli over TLS (the tests' own view, independent of redis-py)."""
        tls = ["--tls", "--cacert", str(self.ca_file)]
        done = subprocess.run(
            ["redis-cli", "-p", str(self.port), *tls, "--no-auth-warning", "-a", PASSWORD, *args],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return done.stdout


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _write_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate it signed for 127.0.0.1: (ca, cert, key) PEM files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("hpn test CA"))
        .issuer_name(_name("hpn test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "redis.pem", folder / "redis.key"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    unencrypted = serialization.NoEncryption()
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, unencrypted))
    return paths


def _answers_over_tls(port: int, ca_file: Path) -> bool:
    context = ssl.create_default_context(cafile=str(ca_file))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as probe:
                probe.sendall(b"PING\r\n")
                return probe.recv(64).startswith(b"-NOAUTH")  # up, and it wants the password
    except OSError:
        return False


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    """redis-server (the Debian package, built with TLS) listening on TLS only, password required."""
    binary = shutil.which("redis-server")
    if binary is None:  # ./run.sh test installs it (ensure_redis); never skip: the tests must run
        raise RuntimeError("redis-server is not installed: apt-get install -y redis-server (./run.sh test does it as root)")
    folder = tmp_path_factory.mktemp("redis-tls")
    ca, cert, key = _write_certificates(folder)
    port = free_port()
    args = [
        binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
        "--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no",
        "--requirepass", PASSWORD, "--user", ACL_USER[0], *ACL_RULES, "--save", "", "--appendonly", "no", "--dir", str(folder),
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=folder)
    deadline = time.monotonic() + 10
    while not _answers_over_tls(port, ca):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"redis-server with TLS did not start (exit code {proc.poll()})")
        time.sleep(0.05)
    yield TlsRedis(proc, port, ca)
    proc.terminate()
    proc.wait(10)


def _router(tmp_path: Path, emulator, url: str) -> Router:
    env = {"HPN_REDIS_URL": url, "HPN_STATE_FILE": str(tmp_path / "state.json")}
    return start_router(tmp_path, keys=KEYS[:1], gemini_url=emulator.url, env=env)


def _redis_status(router: Router) -> str:
    return str(http_json("GET", f"{router.url}/health").get("redis"))  # type: ignore[union-attr]


def test_a_rediss_url_with_its_ca_and_an_acl_user_shares_state_over_tls(tls_redis, emulator, tmp_path):
    """The user may touch only `hpn:v1:*` keys and channels and no @dangerous command: enough."""
    router = _router(tmp_path, emulator, tls_redis.url(trusted=True, user=ACL_USER))
    try:
        wait_for(lambda: _redis_status(router) == "up", "redis up over TLS")
        answer = client_for(router).chat.completions.create(model="gemini-flash-latest", messages=[{"role": "user", "content": "tls"}])
        assert answer.choices[0].message.content
        wait_for(lambda: "hpn:v1:" in tls_redis.command("KEYS", "hpn:v1:*"), "the router's state in Redis")
        assert ACL_USER[1] not in router.log()
    finally:
        router.stop()


def test_a_certificate_the_router_cannot_verify_is_refused_and_requests_are_still_served(tls_redis, emulator, tmp_path):
    """No `ssl_ca_certs`: the private CA is not in the system's store, so the handshake fails.
    The router does not fall back to an unverified connection; it runs as if Redis were down."""
    router = _router(tmp_path, emulator, tls_redis.url(trusted=False))
    try:
        wait_for(lambda: _redis_status(router) == "down", "redis down: certificate not trusted")
        answer = client_for(router).chat.completions.create(model="gemini-flash-latest", messages=[{"role": "user", "content": "no tls"}])
        assert answer.choices[0].message.content
        assert "redis_down" in router.log()
        assert PASSWORD not in router.log()
    finally:
        router.stop()
