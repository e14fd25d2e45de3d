"""StoredResponses: `GET /v1/responses/{id}` and `DELETE /v1/responses/{id}` (OpenAI's Responses
API), answered by the router from the responses ResponsesTranslation stored
(core/inbound/openai_responses_store.py).

A response is the client's that created it: another client's id, an expired one or one never
stored (`store: false`) is a 404 in OpenAI's envelope, so ids cannot be probed across clients.
A translator run by the Translation addon; nothing goes upstream.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mitmproxy import http

from hpn_router.addons.answers import answer_error, answer_json
from hpn_router.addons.flowcontext import context
from hpn_router.addons.responses import ANONYMOUS
from hpn_router.config import RouterConfig
from hpn_router.core.errors import NotFoundError
from hpn_router.core.inbound.openai_responses_store import ResponseStore
from hpn_router.core.routes import match


class StoredResponses:
    def __init__(self, store: ResponseStore, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.clock = clock

    def translate_request(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        response_id = match(flow.request.method, flow.request.path).response_id or ""
        owner = context(flow).client or ANONYMOUS
        if flow.request.method == "DELETE":
            if self.store.delete(response_id, owner, self.clock()):
                answer_json(flow, 200, {"id": response_id, "object": "response", "deleted": True})
            else:
                answer_error(flow, _not_found(response_id))
            return
        entry = self.store.get(response_id, owner, self.clock())
        if entry is None:
            answer_error(flow, _not_found(response_id))
        else:
            answer_json(flow, 200, entry.response())


def _not_found(response_id: str) -> NotFoundError:
    return NotFoundError(f"Response with id '{response_id}' not found.")
