"""Access: admits only the router's clients, and only bodies it can safely read.

- `server.client_tokens` set: every API request needs `Authorization: Bearer <token>`
  (Google's SDK may send it as `x-goog-api-key` on the native paths, Anthropic's SDKs and
  Claude Code as `x-api-key`); else 401. `/health`
  stays open but shows anonymous callers only the status.
- `/admin/...` needs the separate `server.admin_token` (or a dashboard session: the page's
  cookie with its `X-HPN-Dashboard` header, `admin_session`); so does `/metrics` when that token
  is set (open without it, like Prometheus' own exporters).
- `/dashboard...` asks for no client token: the Dashboard addon decides who may look (the admin
  token, or its login session).
- `server.client_rpm`: requests per minute per client; over it, that client alone gets 429.
  With Redis (`state.redis_url`) the limit holds across every router: a script checks and
  counts the client's request in a sliding minute shared by all (edge/sharedstate.py). It costs
  no round trip of its own: Access leaves the check in the flow's context and the request's
  first Redis round trip carries it (addons/sharedstate.py). Redis down: each router allows its
  share, the limit divided by the routers last seen alive.
- Bodies over `server.max_body_bytes` get 413 while they arrive (mitmproxy's `body_size_limit`,
  which Settings sets from it; chunked uploads included). JSON nested deeper than
  `server.max_json_depth`, with more than `server.max_json_items` elements, or with a lone
  surrogate escape gets 400 — before anything parses it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections.abc import Awaitable, Callable

from loguru import logger
from mitmproxy import ctx, http

from hpn_router.addons.answers import LONE_SURROGATE_MESSAGE, answer_error, is_client_flow
from hpn_router.addons.flowcontext import PendingClient, context
from hpn_router.addons.sharedstate import SharedPoolState
from hpn_router.config import RouterConfig
from hpn_router.core.access import (
    ClientRateLimiter,
    ClientWindow,
    bearer_token,
    has_lone_surrogate,
    json_excess,
    local_share,
    match_token,
)
from hpn_router.core.errors import InvalidRequestError, PayloadTooLarge, RateLimitedError, RouterError, Unauthorized


class Access:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        admin_session: Callable[[http.HTTPFlow], bool] | None = None,
        shared: SharedPoolState | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.wall_clock = wall_clock  # the shared window's minutes: every router agrees on them
        self.shared = shared
        self.admin_session = admin_session or (lambda flow: False)
        self.config: RouterConfig | None = None
        self.limiter = ClientRateLimiter(0)

    def apply(self, config: RouterConfig) -> None:
        if self.config is None or self.config.server.client_rpm != config.server.client_rpm:
            self.limiter = ClientRateLimiter(config.server.client_rpm)
        self.config = config

    def running(self) -> None:
        if self.config and not self.config.server.client_tokens:
            exposed = [h for h in _listen_hosts(ctx.options.mode) if not _is_loopback(h)]
            if exposed:
                logger.warning(
                    "!!! HPN Router listens on {} without client tokens: anyone who can reach it spends "
                    "your Gemini keys. Set server.client_tokens or HPN_CLIENT_TOKENS. !!!",
                    ", ".join(exposed) or "all interfaces",
                )

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if self.config is None or not is_client_flow(flow):
            return
        length = flow.request.headers.get("content-length", "0")
        if length.isdigit() and int(length) > self.config.server.max_body_bytes:
            answer_error(flow, PayloadTooLarge(f"The request body is {length} bytes; the limit is {self.config.server.max_body_bytes}."))

    def request(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        """Synchronous unless the client's rate is counted in Redis: then the awaitable that
        does it (the pipeline awaits it; no other request pays for it)."""
        config = self.config
        if config is None or not is_client_flow(flow):
            return None
        try:
            client = self._admit(flow, config)
            if client is None:
                return None
            if config.server.client_rpm > 0 and self.shared is not None and self.shared.store is not None and self.state_up():
                context(flow).client_check = PendingClient(
                    ClientWindow(client, config.server.client_rpm, self.wall_clock()), lambda: self._local_refusal(client, config)
                )
                if _body_fails(lambda: self._check_body(flow, config)):
                    return self._admit_shared(flow, config, self.shared)  # its rate first: an over-rate client gets 429
                return None  # the request's first Redis round trip checks the client's rate
            self._admit_locally(client, config)
            self._check_body(flow, config)
        except RouterError as e:
            answer_error(flow, e)
        return None

    def state_up(self) -> bool:
        return self.shared is not None and self.shared.state.redis == "up"

    async def _admit_shared(self, flow: http.HTTPFlow, config: RouterConfig, shared: SharedPoolState) -> None:
        """The client's shared rate checked alone (a body refused anyway makes no other trip)."""
        refusal = await shared.admit_client(flow)
        try:
            if refusal is not None:
                raise refusal
            self._check_body(flow, config)
        except RouterError as e:
            answer_error(flow, e)

    def _local_refusal(self, client: str, config: RouterConfig) -> RouterError | None:
        """This router's share of the client's limit (Redis failed): the 429, or None when admitted."""
        try:
            self._admit_locally(client, config)
        except RouterError as e:
            return e
        return None

    def _admit_locally(self, client: str, config: RouterConfig) -> None:
        routers = self.shared.live_routers if self.shared is not None and self.shared.url is not None else 1
        self.limiter.rpm = local_share(config.server.client_rpm, routers)
        retry_after = self.limiter.admit(client, self.clock())
        if retry_after is not None:
            raise RateLimitedError(f"Client rate limit of {config.server.client_rpm} requests per minute reached.", retry_after=retry_after)

    def _admit(self, flow: http.HTTPFlow, config: RouterConfig) -> str | None:
        """The client, when only its rate and body remain to check; None when admitted or
        refused already (admin, metrics, dashboard and /health requests are not counted)."""
        path = flow.request.path.split("?", 1)[0]
        if path.startswith("/admin"):
            presented = bearer_token(flow.request.headers.get("authorization"))
            if self.admin_session(flow):
                return None
            if not config.server.admin_token or match_token(presented, (config.server.admin_token,)) is None:
                raise Unauthorized("The admin API needs Authorization: Bearer <server.admin_token>.")
            return None
        if path == "/metrics":
            presented = bearer_token(flow.request.headers.get("authorization"))
            if config.server.admin_token and match_token(presented, (config.server.admin_token,)) is None:
                raise Unauthorized("Metrics need Authorization: Bearer <server.admin_token>.")
            return None
        if path == "/dashboard" or path.startswith("/dashboard/"):
            return None
        client = self._client(flow, config)
        ctx = context(flow)
        ctx.client = client
        ctx.full_health = client != "anonymous" or not config.server.client_tokens
        if path == "/health":
            return None
        if config.server.client_tokens and client == "anonymous":
            raise Unauthorized("Missing or unknown client token: send Authorization: Bearer <token> (or x-api-key: <token>).")
        return client

    def _client(self, flow: http.HTTPFlow, config: RouterConfig) -> str:
        if not config.server.client_tokens:
            return "anonymous"
        headers = flow.request.headers
        presented = bearer_token(headers.get("authorization")) or headers.get("x-goog-api-key") or headers.get("x-api-key")
        index = match_token(presented, config.server.client_tokens)
        if index is None:
            return "anonymous"
        # Named by a digest of the token, not its position: reordering tokens on a reload
        # must not hand one client's cache entries or rate window to another.
        return "client_" + hashlib.sha256(config.server.client_tokens[index].encode()).hexdigest()[:12]

    def _check_body(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        raw = flow.request.raw_content or b""
        if len(raw) > config.server.max_body_bytes:  # only when mitmproxy's body_size_limit is not set (Settings sets it)
            raise PayloadTooLarge(f"The request body is {len(raw)} bytes; the limit is {config.server.max_body_bytes}.")
        excess = json_excess(raw, max_depth=config.server.max_json_depth, max_items=config.server.max_json_items)
        if excess == "depth":
            raise InvalidRequestError(f"The request body nests JSON deeper than {config.server.max_json_depth} levels.")
        if excess == "items":
            raise InvalidRequestError(
                f"The request body holds more than {config.server.max_json_items} JSON elements (server.max_json_items)."
            )
        if has_lone_surrogate(raw):
            raise InvalidRequestError(LONE_SURROGATE_MESSAGE)


def _body_fails(check: Callable[[], None]) -> bool:
    try:
        check()
    except RouterError:
        return True
    return False


def _listen_hosts(modes: object) -> list[str]:
    """Listen hosts of mitmproxy's --mode specs ("reverse:URL@host:port", "regular@port")."""
    hosts = []
    for spec in modes if isinstance(modes, (list, tuple)) else []:
        listen = str(spec).rpartition("@")[2] if "@" in str(spec) else ""
        host = listen.rpartition(":")[0] if ":" in listen else ""
        hosts.append(host or ctx.options.listen_host or "0.0.0.0")
    return hosts


def _is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
