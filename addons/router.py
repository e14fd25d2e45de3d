"""HPN Router: an OpenAI-compatible gateway for a pool of Google Gemini keys.

Usage:
    mitmdump -s addons/router.py \
        --mode reverse:https://generativelanguage.googleapis.com@127.0.0.1:8080
    HPN_API_KEYS=key1,key2 ... or --set hpn_config=configs/config.yaml

This file only wires the addons together; each concern lives in its own addon under
hpn_router/addons, and the pure logic under hpn_router/core. The order matters: within one
hook mitmproxy calls the addons in this order.
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
from hpn_router.addons.chat import ChatTranslation  # noqa: E402
from hpn_router.addons.embeddings import Embeddings  # noqa: E402
from hpn_router.addons.endpoints import Endpoints  # noqa: E402
from hpn_router.addons.health import Health  # noqa: E402
from hpn_router.addons.keyrouting import KeyRouting  # noqa: E402
from hpn_router.addons.logredaction import LogRedaction  # noqa: E402
from hpn_router.addons.modelsendpoint import ModelsEndpoint  # noqa: E402
from hpn_router.addons.native import NativePassthrough  # noqa: E402
from hpn_router.addons.settings import Settings  # noqa: E402
from hpn_router.core.redact import Redactor  # noqa: E402
from hpn_router.state import RouterState  # noqa: E402

state = RouterState()
log_redaction = LogRedaction(Redactor({}))  # first: every later line is redacted
access = Access()  # client tokens, admin token, per-client rate, body limits
health = Health(state)  # answers /health, counts answered requests
endpoints = Endpoints()  # which endpoint a request is for; 404/405 for the rest
chat = ChatTranslation()  # /v1/chat/completions <-> generateContent
embeddings = Embeddings()  # /v1/embeddings <-> batchEmbedContents
models = ModelsEndpoint()  # /v1/models from Gemini's live list + aliases
native = NativePassthrough()  # Gemini's own API with a pool key
key_routing = KeyRouting(state)  # last in `request`: attempts with pool keys, failover, relay

settings = Settings(consumers=[log_redaction, access, endpoints, chat, embeddings, models, key_routing])
admin = Admin(state, settings.reload)  # /admin/keys, /admin/reload, SIGHUP

addons = [
    settings,
    log_redaction,
    access,
    health,
    admin,
    endpoints,
    chat,
    embeddings,
    models,
    native,
    key_routing,
]
