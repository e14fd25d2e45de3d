"""The CA bundle `python -m hpn_router trust` writes for SSL_CERT_FILE: the machine's own trusted
CAs (the current SSL_CERT_FILE / SSL_CERT_DIR, else the system store) plus mitmproxy's CA, so
a corporate CA in the system store keeps working once the user exports the bundle."""

from __future__ import annotations

import datetime
import os
import ssl
import subprocess
import sys
from pathlib import Path

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hpn_router.edge.cabundle import BUNDLE, ensure_ca, write_bundle

REPO = Path(__file__).resolve().parents[1]


def made_up_ca(common_name: str) -> str:
    """A self-signed CA certificate, as a company's TLS-inspecting proxy would have."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Corp")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def trusted_names(bundle: Path) -> set[str]:
    """The subjects a client given this bundle trusts (what ssl itself loads from it)."""
    context = ssl.create_default_context(cafile=str(bundle))
    return {dict(field[0] for field in cert["subject"]).get("commonName", "") for cert in context.get_ca_certs()}


def paths(cafile: Path | None = None, capath: Path | None = None, openssl_cafile: str = "") -> ssl.DefaultVerifyPaths:
    return ssl.DefaultVerifyPaths(
        str(cafile) if cafile else None, str(capath) if capath else None, "SSL_CERT_FILE", openssl_cafile, "SSL_CERT_DIR", ""
    )


@pytest.fixture
def confdir(tmp_path: Path) -> Path:
    ensure_ca(tmp_path / "conf")
    return tmp_path / "conf"


def test_trust_builds_the_bundle_from_the_current_ssl_cert_file(tmp_path: Path, confdir: Path):
    """End to end through the command run.sh runs, with SSL_CERT_FILE holding a company CA."""
    company, no_folder = tmp_path / "company-cas.pem", tmp_path / "empty-cert-dir"
    company.write_text(made_up_ca("Example Corp Inspection CA"))
    no_folder.mkdir()  # SSL_CERT_DIR too, so the machine's own folder does not blur the result
    env = {
        **os.environ,
        "HPN_API_KEYS": "AIzaK",
        "HPN_CONFDIR": str(confdir),
        "SSL_CERT_FILE": str(company),
        "SSL_CERT_DIR": str(no_folder),
    }
    done = subprocess.run(
        [sys.executable, "-m", "hpn_router", "trust"], capture_output=True, text=True, cwd=REPO / "addons", env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    bundle = Path(done.stdout.splitlines()[1])
    assert trusted_names(bundle) == {"Example Corp Inspection CA", "mitmproxy"}  # not certifi's list in place of the company's


def test_the_system_store_file_and_folder_are_both_read(tmp_path: Path, confdir: Path):
    store, folder = tmp_path / "ca-certificates.crt", tmp_path / "certs"
    first, second = made_up_ca("Store CA one"), made_up_ca("Folder CA two")
    store.write_text(first)
    folder.mkdir()
    (folder / "abcd1234.0").write_text(second)
    (folder / "copy-of-one.pem").write_text(first)  # the same CA in both: listed once
    (folder / "README").write_text("not a certificate")
    bundle = write_bundle(confdir, paths(store, folder))
    assert trusted_names(bundle) == {"Store CA one", "Folder CA two", "mitmproxy"}
    assert bundle.read_text().count("BEGIN CERTIFICATE") == 3


def test_a_bundle_exported_from_the_last_start_does_not_feed_on_itself(tmp_path: Path, confdir: Path):
    """run.sh prints `export SSL_CERT_FILE=<the bundle>`; the next start must read the system's
    store instead, or a replaced mitmproxy CA would stay trusted for ever."""
    system = tmp_path / "system.pem"
    system.write_text(made_up_ca("System CA"))
    bundle = confdir / BUNDLE
    write_bundle(confdir, paths(system))
    before = bundle.read_text()
    write_bundle(confdir, paths(bundle, openssl_cafile=str(system)))
    assert bundle.read_text() == before
    assert trusted_names(bundle) == {"System CA", "mitmproxy"}


def test_without_any_system_store_certifi_stands_in(tmp_path: Path, confdir: Path):
    bundle = write_bundle(confdir, paths(tmp_path / "missing.pem", tmp_path / "missing-dir"))
    assert len(trusted_names(bundle)) == len(trusted_names(Path(certifi.where()))) + 1
