"""What a client needs to trust the proxy listener: mitmproxy's CA certificate, and a bundle
of the usual public CAs plus that one.

SSL_CERT_FILE and REQUESTS_CA_BUNDLE *replace* a client's trusted CAs. Pointed at mitmproxy's
CA alone, the app could no longer verify the hosts that pass through untouched (they show
their real certificates), so those variables get the bundle. NODE_EXTRA_CA_CERTS *adds* to
Node's CAs: it gets the CA certificate itself.
"""

from __future__ import annotations

from pathlib import Path

import certifi
from mitmproxy.certs import CertStore
from mitmproxy.options import CONF_BASENAME

KEY_SIZE = 2048  # mitmproxy's default key_size
BUNDLE = "hpn-ca-bundle.pem"


def ca_cert_path(confdir: Path) -> Path:
    return confdir / f"{CONF_BASENAME}-ca-cert.pem"


def ensure_ca(confdir: Path) -> Path:
    """mitmproxy's CA in `confdir`, created the way mitmproxy itself creates it on first start
    (the private key file is 0600); an existing CA is kept."""
    CertStore.from_store(confdir, CONF_BASENAME, KEY_SIZE)
    return ca_cert_path(confdir)


def write_bundle(confdir: Path, public_cas: Path = Path(certifi.where())) -> Path:
    """`confdir`/hpn-ca-bundle.pem: the public CAs followed by mitmproxy's CA certificate."""
    ca = ca_cert_path(confdir).read_text()
    bundle = confdir / BUNDLE
    bundle.write_text(public_cas.read_text().rstrip("\n") + "\n\n# HPN Router: mitmproxy's CA\n" + ca)
    return bundle
