"""ProxyClientAuth: the proxy listener serves only the router's clients, and never opens as an open proxy
(named apart from mitmproxy's own ProxyAuth addon, which it resembles).

- With client tokens set (`server.client_tokens`), every CONNECT and every plain-HTTP proxy
  request on a regular-mode listener needs `Proxy-Authorization: Basic base64(user:token)`:
  any user name, a client token as the password, so `HTTPS_PROXY=http://hpn:TOKEN@host:8888`
  works in every common client. Without one the client gets 407 and `Proxy-Authenticate`.
  A CONNECT that presented a token authenticates its tunnel: the requests inside need
  nothing more here (requests to intercepted hosts still need their Bearer token: Access).
- The header is removed as soon as it is read, so it never reaches a log, a saved flow or an
  origin.
- A regular-mode listener bound beyond loopback without client tokens is an open proxy:
  unless `server.proxy_open: true`, the router logs a start-up error, which makes mitmdump
  exit as soon as its listeners are set up, and refuses everything on that listener
  meanwhile (and after a reload that drops the tokens). The reverse listener is no proxy: this addon
  leaves it alone, so a reverse-only mitmdump may listen anywhere.
"""

from __future__ import annotations

import logging

from loguru import logger
from mitmproxy import connection, ctx, http
from mitmproxy.proxy import mode_specs

from hpn_router.addons.answers import answer_error
from hpn_router.config import RouterConfig
from hpn_router.core.access import basic_password, match_token
from hpn_router.core.destinations import open_proxy_refusal
from hpn_router.core.errors import ProxyAuthRequired, ProxyClosed

PROXY_AUTHORIZATION = "proxy-authorization"


def is_proxy_listener(mode: mode_specs.ProxyMode) -> bool:
    """The router's proxy listener: a regular-mode one (`--mode regular@host:port`). Other
    forward modes (upstream, socks5, ...) are not the router's; an upstream mode's
    Proxy-Authorization and internal upstream proxy must stay as the operator set them."""
    return isinstance(mode, mode_specs.RegularMode)


def proxy_listen_hosts(specs: object, default_host: str) -> list[str]:
    """Listen hosts of the regular-mode specs in mitmproxy's `mode` option."""
    hosts = []
    for spec in specs if isinstance(specs, (list, tuple)) else []:
        try:
            mode = mode_specs.ProxyMode.parse(str(spec))
        except ValueError:
            continue  # mitmproxy itself refuses such a spec
        if is_proxy_listener(mode):
            hosts.append(mode.listen_host(default_host or None))
    return hosts


class ProxyClientAuth:
    def __init__(self) -> None:
        self.tokens: tuple[str, ...] = ()
        self.proxy_open = False
        self.listen_hosts: list[str] = []
        self.closed: str | None = None  # why the proxy listener refuses everything
        self.tunnels: set[str] = set()  # ids of client connections whose CONNECT presented a token

    def apply(self, config: RouterConfig) -> None:
        self.tokens = config.server.client_tokens
        self.proxy_open = config.server.proxy_open
        self._check_open_proxy()

    def configure(self, updated: set[str]) -> None:
        if {"mode", "listen_host"} & updated:
            self.listen_hosts = proxy_listen_hosts(ctx.options.mode, ctx.options.listen_host)
            self._check_open_proxy()

    def _check_open_proxy(self) -> None:
        reasons = [open_proxy_refusal(h, has_client_tokens=bool(self.tokens), proxy_open=self.proxy_open) for h in self.listen_hosts]
        closed = next((r for r in reasons if r), None)
        if closed and closed != self.closed:
            # Through stdlib logging, which mitmproxy's ErrorCheck watches: logged while
            # mitmdump starts, it exits once the listeners are set up (scripts load
            # alongside that), so `closed` also refuses whatever arrives in between.
            logging.getLogger("hpn.proxyauth").error("Invalid configuration: %s", closed)
        self.closed = closed

    def client_disconnected(self, client: connection.Client) -> None:
        self.tunnels.discard(client.id)

    def http_connect(self, flow: http.HTTPFlow) -> None:
        if not is_proxy_listener(flow.client_conn.proxy_mode) or flow.response:
            return
        try:
            if self._admit(flow):
                self.tunnels.add(flow.client_conn.id)
        except Exception:  # never raise out of a hook; refuse instead
            logger.exception("proxy authentication failed")
            answer_error(flow, ProxyClosed("The proxy could not check this tunnel."))

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if not is_proxy_listener(flow.client_conn.proxy_mode) or flow.response or flow.is_replay:
            return
        try:
            if flow.client_conn.id in self.tunnels and not self.closed:
                flow.request.headers.pop(PROXY_AUTHORIZATION, None)
                return
            self._admit(flow)
        except Exception:
            logger.exception("proxy authentication failed")
            answer_error(flow, ProxyClosed("The proxy could not check this request."))

    def _admit(self, flow: http.HTTPFlow) -> bool:
        """Answer the flow with 407/403 unless it may pass; strip the credential either way."""
        presented = basic_password(flow.request.headers.pop(PROXY_AUTHORIZATION, None))
        if self.closed:
            answer_error(flow, ProxyClosed(f"HPN Router's proxy listener is closed: {self.closed}."))
            return False
        if not self.tokens:
            return True
        if match_token(presented, self.tokens) is not None:
            return True
        logger.bind(event="proxy_auth_required", client=(flow.client_conn.peername or ("?",))[0]).info(
            "Proxy {} without a valid client token: 407", "tunnel" if flow.request.method == "CONNECT" else "request"
        )
        answer_error(
            flow,
            ProxyAuthRequired(
                "HPN Router's proxy needs a client token: use http://hpn:<token>@host:port as the proxy URL "
                "(Proxy-Authorization: Basic, any user name, the token as the password)."
            ),
        )
        return False
