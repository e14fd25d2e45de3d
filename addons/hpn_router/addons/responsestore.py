"""StoredResponses: `GET /v1/responses/{id}` and `DELETE /v1/responses/{id}` (OpenAI's Responses
API), answered by the router from the responses ResponsesTranslation stored
(core/inbound/openai_responses_store.py).

A response is the client's that created it: another client's id, an expired one or one never
stored (`store: false`) is a 404 in OpenAI's envelope, so ids cannot be probed across clients.
A translator run by the Translation addon; nothing goes upstream.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from loguru import logger
from mitmproxy import http

from hpn_router.addons.answers import answer_error, answer_json
from hpn_router.addons.flowcontext import context
from hpn_router.addons.responses import ANONYMOUS
from hpn_router.addons.sharedstate import SharedPoolState
from hpn_router.config import RouterConfig
from hpn_router.core.errors import NotFoundError
from hpn_router.core.inbound.openai_responses_store import ResponseStore, entry_from_bytes, entry_to_bytes
from hpn_router.core.rediskeys import DELETED
from hpn_router.core.routes import match
from hpn_router.edge.sharedstate import StoreError


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


class SharedResponses:
    """With `state.redis_url`, stored responses reach every router sharing that Redis: the
    response a `previous_response_id` or `GET`/`DELETE /v1/responses/{id}` names is read from
    Redis first (`request`, before CacheLookup, which reads the conversation too: one GET) into
    this router's store; a response this router stored goes to Redis before its client gets it
    (`response`, after the translators), with the store's TTL and byte bound. A DELETE leaves a
    tombstone for the TTL, so a router holding a copy drops it when next asked for it. Redis
    without the id (it lost its data; stored during an outage): the local copy serves. Redis
    down: this router's own store, as without it.

    Two faces, since its hooks sit at two places of the chain: `fetch` (its `request`) and
    this object (its `response`)."""

    def __init__(self, store: ResponseStore, shared: SharedPoolState, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.shared = shared
        self.clock = clock
        self.fetch = FetchSharedResponse(self)

    async def response(self, flow: http.HTTPFlow) -> None:
        ctx = context(flow)
        redis = self.shared.redis_store()
        if redis is None or flow.response is None:
            return
        try:
            if ctx.kept_response is not None:
                entry, ctx.kept_response = ctx.kept_response, None
                await redis.put_response(entry.response_id, entry_to_bytes(entry), int(self.store.ttl_seconds * 1000))
            elif ctx.route == "response" and flow.request.method == "DELETE" and flow.response.status_code == 200:
                response_id = match(flow.request.method, flow.request.path).response_id or ""
                await redis.put_response(response_id, DELETED, int(self.store.ttl_seconds * 1000))
        except StoreError as e:
            self.shared.redis_failed(e)
        except Exception:  # the client's answer stands; only the other routers miss this response
            logger.exception("could not share a stored response")

    async def load_named(self, flow: http.HTTPFlow) -> None:
        """Bring the response this request names into the local store as Redis has it."""
        ctx = context(flow)
        response_id = _named_response(flow, ctx.route)
        redis = self.shared.redis_store()
        if response_id is None or redis is None or not self.store.enabled:
            return
        try:
            raw = await redis.get_response(response_id)
        except StoreError as e:
            self.shared.redis_failed(e)
            return
        owner, now = ctx.client or ANONYMOUS, self.clock()
        if raw == DELETED:
            self.store.delete(response_id, owner, now)  # deleted on another router
            return
        entry = entry_from_bytes(raw) if raw is not None else None
        # Another client's entry is not loaded: ids are not probed across clients here either.
        theirs = entry is None or entry.response_id != response_id or entry.owner != owner
        if entry is not None and not theirs and self.store.get(response_id, owner, now) is None:
            self.store.put(entry, now)


class FetchSharedResponse:
    def __init__(self, shared: SharedResponses) -> None:
        self.shared = shared

    async def request(self, flow: http.HTTPFlow) -> None:
        try:
            await self.shared.load_named(flow)
        except Exception:  # the request goes on with this router's own store
            logger.exception("could not read a stored response from Redis")


def _named_response(flow: http.HTTPFlow, route: str | None) -> str | None:
    """The stored response a request names: the id of `/v1/responses/{id}`, or a Responses
    request's `previous_response_id` (the body is parsed only when it mentions one)."""
    if route == "response":
        return match(flow.request.method, flow.request.path).response_id
    raw = flow.request.raw_content or b""
    if route != "responses" or b"previous_response_id" not in raw:
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        return None  # the translator answers the 400
    previous = body.get("previous_response_id") if isinstance(body, dict) else None
    return previous if isinstance(previous, str) and previous else None
