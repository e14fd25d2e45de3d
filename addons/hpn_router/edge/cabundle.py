"""What a client needs to trust the proxy listener: mitmproxy's CA certificate, and a bundle
of the CAs the machine already trusts plus that one.

SSL_CERT_FILE and REQUESTS_CA_BUNDLE *replace* a client's trusted CAs. Pointed at mitmproxy's
CA alone, the app could no longer verify the hosts that pass through untouched (they show
their real certificates), so those variables get the bundle. NODE_EXTRA_CA_CERTS *adds* to
Node's CAs: it gets the CA certificate itself.

The bundle starts from the system's store as OpenSSL finds it (the current SSL_CERT_FILE /
SSL_CERT_DIR when set, else the platform's CA file and folder), not from certifi's public
list: a machine whose HTTPS goes through a corporate CA in its system store must keep
reaching its other hosts once the user exports SSL_CERT_FILE. Only where the system has no
store at all (python.org builds on macOS, some minimal images) does certifi stand in.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable
from pathlib import Path

import certifi
from mitmproxy.certs import CertStore
from mitmproxy.options import CONF_BASENAME

KEY_SIZE = 2048  # mitmproxy's default key_size
BUNDLE = "hpn-ca-bundle.pem"
MARKER = "# HPN Router: mitmproxy's CA"
PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")
MAX_CA_FILE_BYTES = 16 * 1024 * 1024  # a CA file is a few hundred KiB; skip anything absurd in a CA folder


def ca_cert_path(confdir: Path) -> Path:
    return confdir / f"{CONF_BASENAME}-ca-cert.pem"


def ensure_ca(confdir: Path) -> Path:
    """mitmproxy's CA in `confdir`, created the way mitmproxy itself creates it on first start
    (the private key file is 0600); an existing CA is kept."""
    CertStore.from_store(confdir, CONF_BASENAME, KEY_SIZE)
    return ca_cert_path(confdir)


def system_ca_sources(bundle: Path, paths: ssl.DefaultVerifyPaths | None = None) -> list[Path]:
    """Where OpenSSL finds the machine's trusted CAs: a file and a folder of certificates.

    `cafile`/`capath` already honour SSL_CERT_FILE/SSL_CERT_DIR. When SSL_CERT_FILE is our own
    bundle (pasted from run.sh's last start), the platform's defaults are read instead, so the
    bundle never feeds on itself (a replaced mitmproxy CA would otherwise stay trusted)."""
    paths = paths or ssl.get_default_verify_paths()
    cafile = paths.cafile
    if cafile and _same_file(Path(cafile), bundle):
        cafile = paths.openssl_cafile
    sources = [Path(cafile)] if cafile and Path(cafile).is_file() else []
    if paths.capath and Path(paths.capath).is_dir():
        sources += sorted(p for p in Path(paths.capath).iterdir() if p.is_file() and not _same_file(p, bundle))
    return sources


def read_certificates(sources: Iterable[Path]) -> list[str]:
    """The PEM certificates in `sources`, each once, in the order first seen."""
    seen: dict[str, None] = {}
    for source in sources:
        try:
            if source.stat().st_size > MAX_CA_FILE_BYTES:
                continue
            text = source.read_text(errors="replace")
        except OSError:
            continue
        for match in PEM_CERTIFICATE.finditer(text):
            seen.setdefault(_normalise(match.group(0)), None)
    return list(seen)


def write_bundle(confdir: Path, paths: ssl.DefaultVerifyPaths | None = None) -> Path:
    """`confdir`/hpn-ca-bundle.pem: the system's trusted CAs (certifi's where the system has
    none) followed by mitmproxy's CA certificate."""
    bundle = confdir / BUNDLE
    ca = ca_cert_path(confdir).read_text()
    own = {_normalise(m.group(0)) for m in PEM_CERTIFICATE.finditer(ca)}
    trusted = [c for c in read_certificates(system_ca_sources(bundle, paths)) if c not in own]
    if not trusted:
        trusted = read_certificates([Path(certifi.where())])
    bundle.write_text("\n".join(trusted) + f"\n\n{MARKER}\n" + ca)
    return bundle


def _normalise(pem: str) -> str:
    return "\n".join(line.strip() for line in pem.strip().splitlines() if line.strip())


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
