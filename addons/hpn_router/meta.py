"""Names of the `flow.metadata` entries the addons use to talk to each other.

Values are JSON-like (mitmproxy deep-copies and saves metadata); never a key value.
"""

from __future__ import annotations

ROUTE = "hpn.route"  # Endpoint value of a client request we handle
MODEL = "hpn.model"  # the model name the client asked for
GEMINI_MODEL = "hpn.gemini_model"  # the Gemini model it maps to
STREAM = "hpn.stream"  # the client asked for a stream
INCLUDE_USAGE = "hpn.include_usage"
LEGACY_FUNCTIONS = "hpn.legacy_functions"  # the request used legacy `functions`: answer with `function_call`
UPSTREAM = "hpn.upstream"  # {"method", "path", "query", "stream"}: what KeyRouting sends
LOCAL = "hpn.local"  # the response is the router's own final answer: do not translate
UPSTREAM_STATUS = "hpn.upstream_status"  # status of the answer KeyRouting returned
KEY_NAME = "hpn.key_name"  # name of the key that served the request
ATTEMPTS = "hpn.attempts"  # number of upstream attempts
ATTEMPT_OF = "hpn.attempt_of"  # on a recorded attempt flow: id of the client flow
RELAYED = "hpn.relayed"  # the answer streams from the relay
USAGE = "hpn.usage"  # OpenAI-format usage of the final answer, when known
ANSWER_TEXT = "hpn.answer_text"  # length-bounded text of the answer, for cost estimates
CACHE = "hpn.cache"  # {"status": HIT|MISS|BYPASS, "key", "store", "leader"}: set by CacheLookup
SAVED_USD = "hpn.saved_usd"  # what the request would have cost on OpenAI, exact decimal string
IGNORED_PARAMS = "hpn.ignored_params"  # chat parameters not sent to this model (named to the client)
PASSTHROUGH = "hpn.passthrough"  # proxy mode, a host the router does not intercept: hands off


def is_attempt(metadata: dict) -> bool:
    return ATTEMPT_OF in metadata


CLIENT = "hpn.client"  # which client token ("client_" + a digest of the token), or "anonymous"
FULL_HEALTH = "hpn.full_health"  # the caller may see /health's counters
EMBEDDINGS = "hpn.embeddings"  # {"encoding_format", "normalize", "prompt_tokens"}: how to shape the vectors
MODEL_ID = "hpn.model_id"  # GET /v1/models/{id}: the id asked for
GEMINI_LISTING = "hpn.gemini_listing"  # GET /v1/models from a Google client: {"page_size", "page_token"}, answered in Gemini's shape
ATTEMPT = "hpn.attempt"  # on a recorded attempt flow: {"number", "key" (name), "outcome"}
TARGET = "hpn.target"  # [scheme, host, port] the client addressed; FailClosed points the flow at the relay
FAILED = "hpn.failed"  # a router hook failed on this flow: its answer is the router's error
