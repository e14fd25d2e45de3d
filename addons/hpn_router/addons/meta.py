"""Names of the `flow.metadata` entries the router writes: what mitmweb, the dump and saved
flows (`-w`) show about a flow. The addons talk to each other through `FlowContext`
(flowcontext.py); these entries are written from it once, when the flow ends
(addons/contextmetadata.py), plus the markers of the recorded attempt flows, which must
survive saving and loading.

Values are plain (str, int, bool, dicts of those): mitmproxy deep-copies and saves metadata.
Never a key value: a key is named by its configured name only.
"""

from __future__ import annotations

from mitmproxy import http

ROUTE = "hpn.route"  # Endpoint value of a client request the router handled
CLIENT = "hpn.client"  # which client token ("client_" + a digest of the token), or "anonymous"
MODEL = "hpn.model"  # the model name the client asked for
GEMINI_MODEL = "hpn.gemini_model"  # the Gemini model it maps to
KEY = "hpn.key"  # name of the key that served the request
ATTEMPTS = "hpn.attempts"  # number of upstream attempts
FALLBACK_FROM = "hpn.fallback_from"  # a fallback model served: the upstream model that could not
CACHE = "hpn.cache"  # HIT, MISS or BYPASS: what the flash cache did
USAGE = "hpn.usage"  # OpenAI-format usage of the answer, when known
SAVED_USD = "hpn.saved_usd"  # OpenAI's price less what the provider charged, exact decimal string
CHARGED_USD = "hpn.charged_usd"  # what the serving provider charged, exact decimal string
REQUEST_ID = "hpn.request_id"  # the X-Request-Id of the answer (addons/requestids.py), on every flow the router answers
PASSTHROUGH = "hpn.passthrough"  # proxy mode, a host the router does not intercept: forwarded as sent

ATTEMPT_OF = "hpn.attempt_of"  # on a recorded attempt flow: id of the client flow
ATTEMPT = "hpn.attempt"  # on a recorded attempt flow: {"number", "key" (name), "outcome"}


def is_attempt(flow: http.HTTPFlow) -> bool:
    """One of the router's recorded upstream attempts (attempt_flows.py), never a client's flow."""
    return ATTEMPT_OF in flow.metadata
