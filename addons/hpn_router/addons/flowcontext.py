"""FlowContext: what the router's addons know about one flow, typed, in one place.

Usage:
    from hpn_router.addons.flowcontext import context
    ctx = context(flow)          # created on first use, the same object for the flow's life
    ctx.route, ctx.model, ctx.upstream, ctx.cache, ...

Where it lives: a table keyed by the flow object itself, holding its entries weakly
(`weakref.WeakKeyDictionary`), not `flow.metadata`. mitmproxy deep-copies `flow.metadata` in
`get_state` and writes it with tnetstring for `-w` and mitmweb, which takes plain types only
(bytes, str, numbers, lists, dicts): a dataclass there would break saving flows. Outside the
flow nothing of this reaches a saved file or a view, and the weak table cannot leak: an
entry goes when its flow does (mitmweb's view keeps a flow, and so its context, until the
flow is dropped; `ContextMetadata` releases the parsed bodies when the flow ends). A replay
from mitmweb re-runs the same flow object, so it finds the context its first run left, as
it found the same `flow.metadata` before. Flows loaded from a file have none: they start
empty. A copy (`flow.copy()`) is a new object and gets a new, empty context.

What mitmweb should show is written into `flow.metadata` once, when the flow ends, by the
`ContextMetadata` addon: the names in `meta.py`, plain values only, never a key's value.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mitmproxy import http

from hpn_router.core.access import ClientWindow
from hpn_router.core.attempts import Attempt
from hpn_router.core.errors import RouterError
from hpn_router.core.inbound.openai_responses_request import ResponsesRequest
from hpn_router.core.inbound.openai_responses_store import StoredResponse
from hpn_router.core.model.answer import ChatAnswer, Usage
from hpn_router.core.model.embedding import EmbeddingRequest


@dataclass(frozen=True, slots=True)
class UpstreamPlan:
    """What KeyRouting sends: the translated request's method, path and query, with the flow's
    request body, to `provider` (a transport KeyRouting holds). `batches`, when not empty: one
    upstream request per body instead (embeddings beyond one batch), answered together as a
    JSON array of the upstream answers, in order. `fallbacks`: the models to move to, in order,
    when this one's provider cannot answer (`fallbacks:` in the config). `parts`, when not empty:
    one request per part, each to its own provider (the model lists of every provider with keys);
    a part that fails is left out, and the answer is a JSON object of the others' answers by provider.
    `next_page`, on a part: the query of the page after a 200 answer's body (None: the last); the
    part's answer is then a JSON array of its pages, in order (Anthropic's model list)."""

    method: str
    path: str
    query: str
    stream: bool
    model: str
    batches: tuple[bytes, ...] = ()
    provider: str = "gemini"
    fallbacks: tuple[FallbackPlan, ...] = ()
    parts: tuple[UpstreamPlan, ...] = ()
    next_page: Callable[[bytes], str | None] | None = None


@dataclass(frozen=True, slots=True)
class PlannedUpstream:
    """A fallback model's request, built from the same parsed request: the plan, its body, and
    the parameters this model does not take (`X-HPN-Ignored-Params`)."""

    plan: UpstreamPlan
    body: bytes
    ignored: list[str]


@dataclass(frozen=True, slots=True)
class FallbackPlan:
    """A fallback model (its name as configured, its provider) and how to plan its request,
    called only when the request reaches it; raises InvalidRequest when it cannot take it."""

    name: str
    provider: str
    plan: Callable[[], PlannedUpstream]


@dataclass(frozen=True, slots=True)
class GeminiListing:
    """GET /v1/models from a Google client: answered in Gemini's own shape, by pages."""

    page_size: str | None
    page_token: str | None


@dataclass(slots=True)
class CacheDecision:
    """What CacheLookup decided. `key` is None when the request is not cacheable at all;
    `leader`: this flow is the one upstream for its key, others wait for its answer."""

    status: str  # HIT | MISS | BYPASS
    key: str | None = None
    store: bool = False
    leader: bool = False
    coalesced: bool = False  # a HIT answered by an identical request that was in flight
    shared_lead: str | None = None  # the token of this flow's lead in Redis, while it holds one


@dataclass(frozen=True, slots=True)
class PendingClient:
    """A client's request Access admitted but whose rate in the window every router shares is
    still to check: the request's first Redis round trip before its upstream call carries it
    (the cache's lookup, the quota gate), or it goes alone (addons/sharedstate.py)."""

    window: ClientWindow
    local: Callable[[], RouterError | None]  # this router's share of the limit, when Redis fails


@dataclass(frozen=True, slots=True)
class Parsed:
    """A JSON body parsed once, with the bytes it came from: a reader checks `raw is` the
    body it would parse, so an edited or rewritten body is never answered from a stale parse."""

    raw: bytes | None
    value: Any


@dataclass(frozen=True, slots=True)
class AnswerBody:
    """The answer a translator wrote as the response body: the bytes (`raw`), the router's model
    of them (`answer`) and the client-format value they encode (`rendered`, e.g. OpenAI's
    completion dict). A reader checks `raw is` the current body, so an edited body is never
    read from a stale answer."""

    raw: bytes | None
    answer: ChatAnswer
    rendered: dict[str, Any]


@dataclass(slots=True)
class FlowContext:
    # Who and what (Access, Endpoints, Interception, FailClosed)
    route: str | None = None  # Endpoint value of a client request the router handles
    client: str | None = None  # "client_" + a digest of the client's token, or "anonymous"
    full_health: bool = True  # the caller may see /health's counters
    client_check: PendingClient | None = None  # the client's shared rate, until a Redis round trip checks it
    passthrough: bool = False  # proxy mode, a host the router does not intercept: hands off
    target: tuple[str, str, int] | None = None  # (scheme, host, port) the client addressed
    failed: bool = False  # a router hook failed on this flow: its answer is the router's error
    local: bool = False  # the response is the router's own final answer: do not translate
    # The client's request, as the translators read it
    request: Parsed | None = None  # Parsed(raw, ChatRequest): the chat request, read once (addons/chat.chat_request)
    responses: ResponsesRequest | None = None  # POST /v1/responses: what its answer repeats (ctx.request holds its ChatRequest)
    model: str | None = None  # the model name the client asked for
    gemini_model: str | None = None  # the Gemini model it maps to
    stream: bool = False  # the client asked for a stream
    include_usage: bool = False  # stream_options.include_usage
    legacy_functions: bool = False  # the request used legacy `functions`: answer with `function_call`
    ignored_params: list[str] = field(default_factory=list)  # chat parameters not sent to this model
    embeddings: EmbeddingRequest | None = None  # the validated embeddings request
    model_id: str | None = None  # GET /v1/models/{id}: the id asked for
    gemini_listing: GeminiListing | None = None
    # Upstream (KeyRouting)
    upstream: UpstreamPlan | None = None
    key_name: str | None = None  # name of the key that served the request; never its value
    attempts: int = 0  # upstream attempts made
    attempt_log: list[Attempt] = field(default_factory=list)  # each attempt (key name, outcome, times), for metrics
    relayed: bool = False  # the answer streams from the relay
    tried_models: list[tuple[str, str]] = field(default_factory=list)  # (provider, model) the pool was asked for, fallbacks too
    fallback_from: str | None = None  # a fallback served: the first model, which could not
    # The answer (translators, cache, cost)
    answer: AnswerBody | None = None  # the non-streamed answer the translator wrote
    usage: Usage | None = None  # the final answer's token counts, when known (chat and embeddings)
    answer_text: str | None = None  # a stream's text, length-bounded, for cost estimates
    cache: CacheDecision | None = None
    kept_response: StoredResponse | None = None  # the Response this flow stored (shared through Redis when set)
    saved_usd: str | None = None  # OpenAI's price less the provider's charge (never below 0), exact decimal
    charged_usd: str | None = None  # what the serving provider charged (0 for a cache hit), exact decimal
    prompt_tokens: int | None = None  # the counted request's tokens, as CostEstimator priced them
    completion_tokens: int | None = None
    first_chunk_at: float | None = None  # a stream: when its first chunk went to the client (time.time)
    # The id that finds the request in the log, mitmweb and the answer (addons/requestids.request_id)
    request_id: str | None = None

    def release_bodies(self) -> None:
        """The flow has ended: drop the parsed bodies (a view may keep the flow for long)."""
        self.request = None
        self.responses = None
        self.answer = None
        self.answer_text = None
        self.embeddings = None
        self.kept_response = None


_contexts: weakref.WeakKeyDictionary[http.HTTPFlow, FlowContext] = weakref.WeakKeyDictionary()


def start(flow: http.HTTPFlow) -> FlowContext:
    """A fresh context for a flow entering the router (Interception, the first addon to see a
    request). A replay from mitmweb reuses the flow object, whose context still holds the
    previous run's flags and answer: it must start empty like any new request."""
    ctx = _contexts[flow] = FlowContext()
    return ctx


def context(flow: http.HTTPFlow) -> FlowContext:
    """The flow's context, created empty on first use."""
    ctx = _contexts.get(flow)
    if ctx is None:
        ctx = _contexts[flow] = FlowContext()
    return ctx
