"""HPN Router: an OpenAI-compatible gateway for a pool of Google Gemini keys.

Usage:
    mitmdump -s addons/router.py \
        --mode reverse:https://generativelanguage.googleapis.com@127.0.0.1:8080 \
        --mode regular@127.0.0.1:8888      # optional: HTTPS_PROXY for unmodified apps
    HPN_API_KEYS=key1,key2 ... or --set hpn_config=configs/config.yaml

This file only wires the addons together; each concern lives in its own addon under
hpn_router/addons, and the pure logic under hpn_router/core. The order matters: within one
hook the Pipeline calls the addons in this order.
"""

from __future__ import annotations

import sys
from pathlib import Path

# mitmproxy puts this script's folder on sys.path while loading it; a plain `python` import
# (tests, tools) needs it too.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from hpn_router.addons.access import Access  # noqa: E402
from hpn_router.addons.admin import Admin  # noqa: E402
from hpn_router.addons.cache import FlashCache  # noqa: E402
from hpn_router.addons.cachelookup import CacheLookup  # noqa: E402
from hpn_router.addons.cachestore import CacheStore  # noqa: E402
from hpn_router.addons.chat import ChatTranslation  # noqa: E402
from hpn_router.addons.clientview import ClientView, NoteClientRequest, ShowClientRequest  # noqa: E402
from hpn_router.addons.contextmetadata import ContextMetadata  # noqa: E402
from hpn_router.addons.cors import Cors, CorsHeaders, CorsPreflight  # noqa: E402
from hpn_router.addons.cost import CostEstimator  # noqa: E402
from hpn_router.addons.dashboard import Dashboard  # noqa: E402
from hpn_router.addons.embeddings import Embeddings  # noqa: E402
from hpn_router.addons.endpoints import Endpoints  # noqa: E402
from hpn_router.addons.failclosed import FailClosed  # noqa: E402
from hpn_router.addons.flowredaction import FlowRedaction  # noqa: E402
from hpn_router.addons.health import Health  # noqa: E402
from hpn_router.addons.hookdispatch import HookDispatch  # noqa: E402
from hpn_router.addons.interception import Interception  # noqa: E402
from hpn_router.addons.keyrouting import KeyRouting  # noqa: E402
from hpn_router.addons.logredaction import LogRedaction  # noqa: E402
from hpn_router.addons.messages import CountTokens, MessagesTranslation  # noqa: E402
from hpn_router.addons.metrics import Metrics, MetricsEndpoint  # noqa: E402
from hpn_router.addons.modelsendpoint import ModelsEndpoint  # noqa: E402
from hpn_router.addons.native import NativePassthrough  # noqa: E402
from hpn_router.addons.passthrough import PassthroughGuard  # noqa: E402
from hpn_router.addons.pipeline import Pipeline  # noqa: E402
from hpn_router.addons.poolkeeper import PoolKeeper  # noqa: E402
from hpn_router.addons.proxyauth import ProxyClientAuth  # noqa: E402
from hpn_router.addons.requestids import RequestIds  # noqa: E402
from hpn_router.addons.requestlog import RequestLog  # noqa: E402
from hpn_router.addons.responses import ResponsesTranslation  # noqa: E402
from hpn_router.addons.responsestore import SharedResponses, StoredResponses  # noqa: E402
from hpn_router.addons.settings import Settings  # noqa: E402
from hpn_router.addons.sharedstate import SharedPoolState  # noqa: E402
from hpn_router.addons.timeouts import Timeouts  # noqa: E402
from hpn_router.addons.translation import Translation  # noqa: E402
from hpn_router.addons.viewcap import ViewCap  # noqa: E402
from hpn_router.addons.webhooks import Webhooks  # noqa: E402
from hpn_router.core.redact import Redactor  # noqa: E402
from hpn_router.core.state import RouterState  # noqa: E402
from hpn_router.edge.relay import StreamRelay  # noqa: E402
from hpn_router.edge.workers import keeps_state_file, worker_index  # noqa: E402

state = RouterState()
relay = StreamRelay()  # streams KeyRouting fetched; the router's error for anything it did not route
log_redaction = LogRedaction(Redactor({}))  # first: every later line is redacted
interception = Interception()  # proxy mode: only intercepted hosts are ours, the rest tunnels
proxy_auth = ProxyClientAuth()  # proxy mode: a client token for every tunnel and request; no open proxy
fail_closed = FailClosed(relay)  # every flow we serve targets the relay until the router answers or routes it
view_cap = ViewCap()  # mitmweb keeps at most server.mitmweb_max_flows flows
cors = Cors()  # server.cors_origins, shared by CorsPreflight and CorsHeaders
worker = worker_index()  # this process's number under `server.workers` > 1; None when alone
# state.redis_url: key states, totals, client rates shared with other routers; operator reloads reach them all
shared_state = SharedPoolState(state, worker=worker)
# GET /dashboard: the live page; its login sessions may call /admin. With Redis: one page for every router.
dashboard = Dashboard(state, shared=shared_state)
# client tokens, admin token, per-client rate (across routers with Redis), body limits
access = Access(admin_session=dashboard.admin_session, shared=shared_state)
timeouts = Timeouts()  # closes client connections too slow with their headers, or idle too long
# answers /health (saying which worker; with Redis, every router's totals), counts answered requests
health = Health(state, worker=worker, shared=shared_state)
endpoints = Endpoints()  # which endpoint a request is for; 404/405 for the rest
chat = ChatTranslation()  # /v1/chat/completions <-> generateContent
responses = ResponsesTranslation()  # /v1/responses (OpenAI's Responses API) <-> generateContent; keeps responses
stored_responses = StoredResponses(responses.store)  # GET/DELETE /v1/responses/{id} from that store
messages = MessagesTranslation()  # /v1/messages (Anthropic's Messages API) <-> generateContent
count_tokens = CountTokens()  # /v1/messages/count_tokens <-> countTokens
embeddings = Embeddings()  # /v1/embeddings <-> batchEmbedContents
models = ModelsEndpoint()  # /v1/models from Gemini's live list + aliases
native = NativePassthrough()  # Gemini's own API with a pool key
translation = Translation(  # one addon in the chain, dispatching by the flow's endpoint
    {
        "chat": chat,
        "responses": responses,
        "response": stored_responses,
        "messages": messages,
        "count_tokens": count_tokens,
        "embeddings": embeddings,
        "models": models,
        "model": models,
        "native": native,
    }
)
# The key pool from each config; the state file (lock, restore, saves), worker 0's alone.
pool_keeper = PoolKeeper(state, keeps_state_file=keeps_state_file(worker))
# Last in `request`: attempts with pool keys, failover, relay; with Redis, budgets counted for all routers.
# The gate's first call also checks the client's shared rate (one round trip for both).
key_routing = KeyRouting(state, relay=relay, quota_gate=shared_state.limits.quota_gate, admit_client=shared_state.limits.admit_client)
client_view = ClientView()  # the client's request, shown again once it is answered
passthrough_guard = PassthroughGuard(relay_port=lambda: relay.port)  # passthrough: public hosts only
# state.redis_url: stored responses reach every router (`fetch` before the cache reads a conversation)
shared_responses = SharedResponses(responses.store, shared_state)
flash_cache = FlashCache(shared=shared_state)  # entries + in-flight table (shared through Redis when set), for CacheLookup and CacheStore
cost = CostEstimator(state)  # what each answer would have cost on OpenAI; /health total_saved
metrics = Metrics(state)  # Prometheus series per request; MetricsEndpoint answers GET /metrics
# Signed webhooks on key and pool transitions; never to the router's own ports.
# With Redis, each transition is sent by one router only; each delivery's outcome counts in
# hpn_webhook_deliveries_total.
webhooks = Webhooks(
    state,
    own_ports=lambda: passthrough_guard.listener_ports | {relay.port},
    shared_store=lambda: shared_state.store,
    on_delivery=metrics.webhook_delivery,
)
flow_redaction = FlowRedaction()  # the very last addon: finished flows hold no key

settings = Settings(
    consumers=[
        log_redaction,
        interception,
        proxy_auth,
        passthrough_guard,
        view_cap,
        cors,
        access,
        timeouts,
        endpoints,
        translation,
        pool_keeper,
        shared_state,  # after PoolKeeper: merges into the pool it built
        key_routing,
        flash_cache,
        cost,
        metrics,
        dashboard,
        webhooks,
        flow_redaction,
    ]
)
admin = Admin(state, settings.reload, shared=shared_state)  # /admin/keys, /admin/reload, SIGHUP; reloads told to every router

addons = [
    settings,
    log_redaction,
    interception,  # before every addon that handles requests: it marks what is not ours
    proxy_auth,  # right after: nothing on the proxy listener goes further without a token
    passthrough_guard,  # what is not ours goes only to public hosts
    timeouts,  # early: a failing later hook must not keep a connection's deadline from being set
    NoteClientRequest(client_view),  # what the client sent, before FailClosed retargets it
    fail_closed,  # nothing of ours leaves unless the router answers or routes it
    CorsPreflight(cors),  # before Access: browsers send preflights without a token
    # With Redis: nothing is served before the first merge with the shared state. Before the session
    # check, Access and Health: the first hooks that read what other routers share (sessions, rates, totals).
    shared_state.startup,
    dashboard.session_check,  # before Access: a dashboard session opened on another router or worker (Redis)
    access,
    health,
    MetricsEndpoint(metrics),  # after Access (the admin token, when set)
    dashboard.endpoint,  # the page, its data and login; it checks the admin token or session itself
    admin,
    endpoints,
    shared_responses.fetch,  # the stored response a request names, from Redis, before anyone reads it
    # Before translation: keys and answers the client's own request (chat, Responses, Messages).
    CacheLookup(flash_cache, {"responses": responses, "messages": messages}),
    translation,
    key_routing,
    pool_keeper,  # its `response` saves the pool's state after requests that went upstream
    shared_state,  # pushes what a request changed in the pool before its client gets the answer
    shared_responses,  # after the translators stored a Response: to Redis before its client gets it
    CacheStore(flash_cache),  # after translation: stores the OpenAI answer
    cost,
    RequestIds(),  # X-Request-Id on every answer, after the translators rebuilt its headers
    metrics,  # after Cost (saved USD) and every addon that fills the flow's context
    dashboard,  # beside Metrics: the same requests, into the page's minute history and failover list
    RequestLog(),  # one `event=request` line per request, after Cost and RequestIds fill what it says
    webhooks,  # after KeyRouting reported the attempts to the pool: sees each transition they made
    CorsHeaders(cors),  # after the translation, which rebuilds answers' headers
    view_cap,
    ShowClientRequest(client_view),  # after every addon that reads the upstream request
    ContextMetadata(),  # after every addon that reads the flow's context: what mitmweb and -w show
    flow_redaction,  # last: scrubs finished flows before Dumper, Save and View see them
]
# mitmproxy sees one addon: it looks each hook up once instead of on every addon, and every call
# is guarded, so one addon's failure cannot skip the later ones (redaction).
pipeline = Pipeline(addons)
# HookDispatch (its `load` only): mitmdump then calls each event only on the addons, its own
# included, that handle it, as the lean runner does.
addons = [HookDispatch(), pipeline]
