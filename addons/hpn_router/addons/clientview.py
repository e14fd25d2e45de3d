"""ClientView: a client's flow shows the request the client sent, with the answer it got.

While the router handles a request it rewrites the flow's request into the Gemini request it
sends (and, for a stream, points it at the in-process relay), so mitmweb, saved flows (`-w`)
and the dump would otherwise show a `generativelanguage.googleapis.com` URL that was never
contacted. NoteClientRequest notes what the client sent (`requestheaders`: method, URL, headers;
`request`: the body, before any translator runs); ShowClientRequest puts it back once the request has gone
where it goes (`responseheaders`, `response`, `error`). In reverse mode the URL shown is the
router's own listener (the client called that, not the reverse target mitmproxy put in the
flow). The upstream attempts are flows of their own (attempt_flows.py).

Replays from mitmweb: a replayed client flow goes through the router again, so through the
pool. A replayed attempt flow carries the key's name (`<key:NAME>`), not the key, and would
send that placeholder upstream: it is refused with a message saying what to replay instead.

Usage:
    client_view = ClientView()
    addons = [..., NoteClientRequest(client_view), ...,   # before any addon that rewrites
              ShowClientRequest(client_view), flow_redaction]
"""

from __future__ import annotations

from dataclasses import dataclass

from loguru import logger
from mitmproxy import http
from mitmproxy.proxy.mode_specs import ReverseMode

from hpn_router.addons import meta
from hpn_router.addons.answers import answer_error
from hpn_router.addons.flowcontext import context
from hpn_router.core.errors import AttemptReplayRefused

ATTEMPT_REPLAY_REFUSED = (
    "HPN Router does not replay an upstream attempt: it holds the key's name, not the key. "
    "Replay the client's flow instead; the router sends it through the key pool."
)


@dataclass(slots=True)
class SentRequest:
    """What the client sent, as mitmproxy holds it (the body is a reference, not a copy)."""

    method: str
    scheme: str
    host: str
    port: int
    path: str
    fields: tuple[tuple[bytes, bytes], ...]
    content: bytes | None = None

    def restore(self, request: http.Request) -> None:
        request.method = self.method
        request.scheme = self.scheme  # before host and port: their setters write the Host header
        request.host = self.host
        request.port = self.port
        request.path = self.path
        request.headers.fields = self.fields
        if self.content is not None:
            request.raw_content = self.content


class ClientView:
    """What each client flow sent, by flow id, from NoteClientRequest to ShowClientRequest."""

    def __init__(self) -> None:
        self.sent: dict[str, SentRequest] = {}


class NoteClientRequest:
    """Early in the chain: notes the client's request before any addon rewrites it."""

    def __init__(self, view: ClientView) -> None:
        self.view = view

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if meta.is_attempt(flow):
            if flow.is_replay == "request":
                logger.bind(event="attempt_replay_refused").warning("Refused to replay an upstream attempt flow")
                answer_error(flow, AttemptReplayRefused(ATTEMPT_REPLAY_REFUSED))
            return
        if flow.response or flow.error or context(flow).passthrough:
            return
        self.view.sent[flow.id] = _as_sent(flow)

    def request(self, flow: http.HTTPFlow) -> None:
        sent = self.view.sent.get(flow.id)
        if sent is not None:
            sent.content = flow.request.raw_content


class ShowClientRequest:
    """Late in the chain (after the translators and Cost, which may still read the upstream
    request; before FlowRedaction): puts the client's request back."""

    def __init__(self, view: ClientView) -> None:
        self.view = view

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        # A relayed stream: the request has reached the relay, so the view may show the
        # client's request while the answer streams. Other answers wait for `response`: a
        # translator may still read the upstream request there (embeddings' batches).
        sent = self.view.sent.get(flow.id)
        if context(flow).relayed and sent is not None and sent.content is not None:
            sent.restore(flow.request)

    def response(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._finish(flow)

    def _finish(self, flow: http.HTTPFlow) -> None:
        sent = self.view.sent.pop(flow.id, None)
        if sent is not None and sent.content is not None:
            sent.restore(flow.request)


def _as_sent(flow: http.HTTPFlow) -> SentRequest:
    request = flow.request
    if isinstance(flow.client_conn.proxy_mode, ReverseMode) and flow.client_conn.sockname:
        # mitmproxy already put the reverse target into the request; the client called us.
        host, port = flow.client_conn.sockname[:2]
        scheme = "https" if flow.client_conn.tls_established else "http"
        fields = tuple((n, v) for n, v in request.headers.fields if n.lower() != b"host")
        fields = ((b"host", f"{host}:{port}".encode()),) + fields
        return SentRequest(request.method, scheme, str(host), int(port), request.path, fields)
    return SentRequest(request.method, request.scheme, request.host, request.port, request.path, request.headers.fields)
