"""Interception: in proxy mode the router serves only the intercepted hosts (`intercept_hosts`,
default api.openai.com); every other host passes through untouched.

Usage:
    mitmdump -s addons/router.py \
        --mode reverse:https://generativelanguage.googleapis.com@127.0.0.1:8080 \
        --mode regular@127.0.0.1:8888
    HTTPS_PROXY=http://127.0.0.1:8888 SSL_CERT_FILE=~/.mitmproxy/hpn-ca-bundle.pem python app.py

- TLS: a tunnel (CONNECT) to any other host becomes a raw TCP relay in `next_layer`, before
  mitmproxy looks at the bytes: no certificate of ours, nothing decrypted, no flow. The
  decision is per connection, unlike mitmproxy's `allow_hosts`, which would also turn the
  reverse listener into a tunnel (docs/mitmproxy.md#allow_hosts-is-global). Our `next_layer` runs before
  mitmproxy's own NextLayer addon, which never overrides a layer set by another addon.
- Plain HTTP proxy requests for other hosts are marked PASSTHROUGH in `requestheaders`, so no
  router addon touches them (`is_client_flow`) and mitmproxy forwards them as they are. This
  addon must therefore come before every other router addon.
- Requests for an intercepted host are answered by the router like reverse-mode requests.
  The router never connects to an intercepted host itself: `server_connect` refuses it, a
  guard behind connection_strategy=lazy and the endpoints answering every path locally.
"""

from __future__ import annotations

from loguru import logger
from mitmproxy import http
from mitmproxy.proxy import layer, layers, mode_specs, server_hooks

from hpn_router.addons.flowcontext import start
from hpn_router.config import DEFAULT_INTERCEPT_HOSTS, RouterConfig


def router_serves(mode: mode_specs.ProxyMode, host: str, intercepted: frozenset[str]) -> bool:
    """Whether a request (or connection) for `host` arriving on a `mode` listener is the
    router's: everything on the reverse listener, only intercepted hosts elsewhere."""
    return isinstance(mode, mode_specs.ReverseMode) or host.lower().rstrip(".") in intercepted


class Interception:
    def __init__(self) -> None:
        self.hosts = frozenset(DEFAULT_INTERCEPT_HOSTS)

    def apply(self, config: RouterConfig) -> None:
        self.hosts = frozenset(config.intercept_hosts)

    def next_layer(self, nextlayer: layer.NextLayer) -> None:
        context = nextlayer.context
        # No address yet: the proxy listener's first decision (HTTP proxy protocol). Ours
        # comes when a tunnel to a known destination starts.
        if nextlayer.layer is not None or not context.server.address:
            return
        if router_serves(context.client.proxy_mode, context.server.address[0], self.hosts):
            return
        if context.client.transport_protocol == "udp":
            nextlayer.layer = layers.UDPLayer(context, ignore=True)
        else:
            nextlayer.layer = layers.TCPLayer(context, ignore=True)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        ctx = start(flow)  # first router addon in the chain: a replayed flow starts afresh too
        if not router_serves(flow.client_conn.proxy_mode, flow.request.host, self.hosts):
            ctx.passthrough = True

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        address = data.server.address
        if address and address[0].lower().rstrip(".") in self.hosts and not data.server.error:
            data.server.error = f"HPN Router answers {address[0]} itself and never connects to it"
            logger.bind(event="intercepted_host_connect", host=address[0]).error(
                "Refused a connection to intercepted host {}: the router must answer it", address[0]
            )
