"""FlowRedaction: completed flows hold no key, so no dump, saved file or flow view shows one.

The last addon. In `response` and `error` (which run before mitmproxy's Dumper, Save and
View handle the event) it scrubs the flow:

* request: credential headers (`authorization`, `x-goog-api-key`, cookies, ...) become
  `<redacted>`, every other header value and the URL (`key=`) go through the Redactor;
* response: credential headers become `<redacted>`; other header values and error bodies
  (status >= 400, the ones that quote keys) lose key values only (pool keys and any
  12-character piece of one become `<key:NAME>`), so what the client is sent keeps its
  meaning and stays JSON. For a non-streamed answer this runs before the client gets it.
  Successful bodies are the model's answer and are left alone.
* `flow.error.msg`, the comment and the metadata go through the Redactor.

In `done`, which runs before Save's `done` writes the flows still in flight (`-w`), it
scrubs those flows and every flow a view holds (mitmweb: the recorded attempt flows too).

The router never puts a key into a flow (the attempts are made outside mitmproxy), so this
is the safety net for everything else: a client's own credentials, an addon that copies a
key somewhere, an error message that quotes one. No hook raises.

Flows for hosts the router does not serve (proxy mode, PASSTHROUGH) lose only their request's
credential headers and secrets in the URL and header values, in `response`, `error` and
`done`: by then the request has been forwarded as the app sent it (or never will be). Their
answer is left alone: in `response` it has not reached the app yet, so its headers
(`Set-Cookie` included) and body stay as the other host sent them.

Usage:
    flow_redaction = FlowRedaction()   # apply(config) gives it the pool's keys
    addons = [Settings(consumers=[..., flow_redaction]), ..., flow_redaction]   # the very last
"""

from __future__ import annotations

from typing import Any

from loguru import logger
from mitmproxy import ctx, http

from hpn_router.addons import meta
from hpn_router.addons.dashboardsessions import COOKIE as SESSION_COOKIE
from hpn_router.addons.flowcontext import context
from hpn_router.config import RouterConfig
from hpn_router.core.redact import REDACTED, SENSITIVE_HEADERS, Redactor


class FlowRedaction:
    def __init__(self, redactor: Redactor | None = None) -> None:
        self.redactor = redactor or Redactor({})
        self._live: dict[str, http.HTTPFlow] = {}

    def apply(self, config: RouterConfig) -> None:
        self.redactor.update(config.named_keys())

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self._live[flow.id] = flow

    def response(self, flow: http.HTTPFlow) -> None:
        self._live.pop(flow.id, None)
        self.scrub(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._live.pop(flow.id, None)
        self.scrub(flow)

    def done(self) -> None:
        flows = list(self._live.values())
        self._live.clear()
        try:
            view = ctx.master.addons.get("view") if ctx.master else None
            if view is not None:
                flows += view.resolve("@all")
        except Exception:
            logger.exception("flow redaction: could not read the flow view")
        for flow in flows:
            self.scrub(flow)

    def scrub(self, flow: http.HTTPFlow) -> None:
        try:
            if context(flow).passthrough:
                scrub_passthrough(flow, self.redactor)
            else:
                scrub_flow(flow, self.redactor)
        except Exception:
            logger.exception("flow redaction failed; dropping the flow's credential headers")
            try:
                # A passthrough answer is still on its way to the app: only its request.
                messages = (flow.request,) if context(flow).passthrough else (flow.request, flow.response)
                for message in messages:
                    if message is not None:
                        for name in SENSITIVE_HEADERS:
                            message.headers.pop(name, None)
            except Exception:
                logger.exception("flow redaction fallback failed")


TRUSTED_METADATA = frozenset(
    {
        meta.ROUTE,
        meta.CLIENT,
        meta.MODEL,
        meta.GEMINI_MODEL,
        meta.KEY,
        meta.ATTEMPTS,
        meta.CACHE,
        meta.USAGE,
        meta.SAVED_USD,
        meta.CHARGED_USD,
        meta.PASSTHROUGH,
    }
)


def scrub_flow(flow: http.HTTPFlow, redactor: Redactor) -> None:
    request = flow.request
    scrub_headers(request.headers, redactor)
    path = redactor.redact(request.path)
    if path != request.path:
        request.path = path
    if flow.response is not None:
        # What the client is sent keeps its meaning: only key values go (an error saying
        # "send Authorization: Bearer <token>" stays intact, JSON stays JSON).
        scrub_headers(flow.response.headers, redactor, keys_only=True, keep_session_cookie=context(flow).local)
        if flow.response.status_code >= 400 and flow.response.raw_content:
            text = flow.response.get_text(strict=False)
            if text is not None and (clean := redactor.redact_keys(text)) != text:
                flow.response.text = clean
    if flow.error is not None and flow.error.msg:
        flow.error.msg = redactor.redact(flow.error.msg)
    if flow.comment:
        flow.comment = redactor.redact(flow.comment)
    for name, value in list(flow.metadata.items()):
        # Entries the router builds from names, counts and flags only are skipped: scanning
        # them cost ~5% of a request. Anything else (other addons' entries too) is scrubbed.
        if name in TRUSTED_METADATA:
            continue
        if isinstance(value, (str, dict, list)):
            clean_value: Any = redactor.redact_json(value)
            if clean_value != value:
                flow.metadata[name] = clean_value


def scrub_passthrough(flow: http.HTTPFlow, redactor: Redactor) -> None:
    """A flow the router only forwarded: its request, already sent, is scrubbed like ours;
    its answer is what the app gets and stays as it is."""
    request = flow.request
    scrub_headers(request.headers, redactor)
    path = redactor.redact(request.path)
    if path != request.path:
        request.path = path
    if flow.error is not None and flow.error.msg:
        flow.error.msg = redactor.redact(flow.error.msg)
    if flow.comment:
        flow.comment = redactor.redact(flow.comment)


def scrub_headers(headers: http.Headers, redactor: Redactor, *, keys_only: bool = False, keep_session_cookie: bool = False) -> None:
    """Credential headers become `<redacted>`; other values lose keys (`keys_only`) or
    every secret pattern. `keep_session_cookie`: the router's own answer keeps the dashboard's
    session cookie (a random id, never the admin token), or the browser could not sign in."""
    fields = []
    changed = False
    for raw_name, raw_value in headers.fields:
        name = raw_name.decode("latin-1")
        value = raw_value.decode("utf-8", "surrogateescape")
        if keep_session_cookie and name.lower() == "set-cookie" and value.startswith(SESSION_COOKIE + "="):
            clean = value
        elif name.lower() in SENSITIVE_HEADERS:
            clean = REDACTED
        else:
            clean = redactor.redact_keys(value) if keys_only else redactor.redact(value)
        if clean != value:
            changed = True
            raw_value = clean.encode("utf-8", "surrogateescape")
        fields.append((raw_name, raw_value))
    if changed:
        headers.fields = tuple(fields)
