"""Helpers shared by the addons for answering a flow locally."""

from __future__ import annotations

import json
import time
from typing import Any

from loguru import logger
from mitmproxy import http
from mitmproxy.net.http import status_codes

from hpn_router.addons import meta
from hpn_router.addons.flowcontext import PlannedUpstream, context
from hpn_router.core.access import has_lone_surrogate
from hpn_router.core.errors import ClientApi, InvalidRequestError, RouterError, render
from hpn_router.core.providers.gemini.models import wants_gemini_shape
from hpn_router.core.routes import Endpoint, client_api, match


def answer_json(flow: http.HTTPFlow, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    """Set the router's own final answer: later addons must not translate it again."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    flow.response = local_response(status, body, {"content-type": "application/json", **(headers or {})})
    context(flow).local = True


def local_response(status: int, body: bytes, headers: dict[str, str]) -> http.Response:
    """What `http.Response.make(status, body, headers)` builds, made directly: the router's own
    answers (cache hits above all) and the upstream answers KeyRouting hands on skip its type
    dispatch and the content setter's header scans (20-60 µs an answer)."""
    fields = tuple((name.encode("utf-8", "surrogateescape"), value.encode("utf-8", "surrogateescape")) for name, value in headers.items())
    now = time.time()
    # The message's fields set directly: without `python -O` (stock mitmdump) the dataclass's
    # __post_init__ type-checks each field at every answer: 2 % of a cache hit's CPU there.
    # The values here have the declared types (tests/addons/test_answers.py checks them).
    data = object.__new__(http.ResponseData)
    data.__dict__.update(
        http_version=b"HTTP/1.1",
        headers=http.Headers(fields + ((b"content-length", str(len(body)).encode()),)),
        content=body,
        trailers=None,
        timestamp_start=now,
        timestamp_end=now,
        status_code=status,
        reason=status_codes.RESPONSES.get(status, "").encode(),
    )
    response = object.__new__(http.Response)
    response.data = data
    return response


def answer_error(flow: http.HTTPFlow, err: RouterError) -> None:
    """Set the router's own error as the final answer, in the format of the client's API."""
    status, body, headers = render(err, error_format(flow))
    flow.response = http.Response.make(status, body, headers)
    context(flow).local = True


_OPENAI_ONLY = frozenset({Endpoint.CHAT.value, Endpoint.RESPONSES.value, Endpoint.RESPONSE.value, Endpoint.EMBEDDINGS.value})
_ANTHROPIC = frozenset({Endpoint.MESSAGES.value, Endpoint.COUNT_TOKENS.value})
_MODELS = frozenset({Endpoint.MODELS.value, Endpoint.MODEL.value})  # OpenAI's paths, and google-genai's with api_version="v1"


def error_format(flow: http.HTTPFlow) -> ClientApi:
    """The API whose error format the flow's client reads: its endpoint's, once Endpoints has
    named it (a translator may have rewritten the path into Gemini's since), else its path's.
    On /v1/models Google's and Anthropic's clients are told by their headers, as ModelsEndpoint
    tells them."""
    ctx = context(flow)
    if ctx.route == Endpoint.NATIVE.value or ctx.gemini_listing is not None:
        return ClientApi.GEMINI
    if ctx.route in _OPENAI_ONLY:
        return ClientApi.OPENAI
    if ctx.route in _ANTHROPIC:
        return ClientApi.ANTHROPIC
    if (ctx.route or match(flow.request.method, flow.request.path).endpoint.value) in _MODELS:
        if _google_client(flow):
            return ClientApi.GEMINI
        return ClientApi.ANTHROPIC if anthropic_client(flow) else ClientApi.OPENAI
    return client_api(flow.request.path)


def _google_client(flow: http.HTTPFlow) -> bool:
    headers = flow.request.headers
    return wants_gemini_shape(
        goog_api_key=headers.get("x-goog-api-key"),
        goog_api_client=headers.get("x-goog-api-client"),
        user_agent=headers.get("user-agent"),
        query_key=flow.request.query.get("key"),
    )


def anthropic_client(flow: http.HTTPFlow) -> bool:
    """Anthropic's SDKs and Claude Code send `anthropic-version` on every request."""
    return "anthropic-version" in flow.request.headers


def replace_body(response: http.Response, body: bytes, content_type: str = "application/json") -> None:
    """Give an upstream answer a new JSON body, keeping only what applies to it."""
    # One assignment of the raw fields: Headers.clear() pops one name at a time, each pop a
    # scan of every field (~50 µs an answer), and the content setter scans them again.
    response.headers.fields = ((b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body)))
    response.raw_content = body  # no content-encoding is left: the body goes as it is


def is_client_flow(flow: http.HTTPFlow) -> bool:
    """A live client request for the router that nobody has answered yet (mitmproxy's guard,
    plus our own recorded attempt flows, which are never handled again, and proxy-mode
    requests for hosts the router does not intercept, which pass through untouched)."""
    return not (flow.response or flow.error or not flow.live or meta.is_attempt(flow) or context(flow).passthrough)


LONE_SURROGATE_MESSAGE = (
    'The request body is not valid JSON text: it escapes half of a UTF-16 surrogate pair alone (e.g. "\\ud800"), '
    "which no UTF-8 text can hold."
)


def parse_json_body(flow: http.HTTPFlow) -> Any:
    """The client's JSON body, or an InvalidRequestError saying what is wrong with it."""
    raw = flow.request.raw_content or b""
    if not raw.strip():
        raise InvalidRequestError("The request body is empty; expected a JSON object.")
    # json.loads accepts a lone surrogate escape; encoding the string later would fail.
    if has_lone_surrogate(raw):
        raise InvalidRequestError(LONE_SURROGATE_MESSAGE)
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise InvalidRequestError("The request body is not valid UTF-8 JSON.") from None
    except ValueError as e:
        raise InvalidRequestError(f"The request body is not valid JSON: {e}.") from None


CLIENT_CREDENTIALS = ("authorization", "x-goog-api-key", "x-api-key", "cookie", "openai-organization", "openai-project")
_CREDENTIALS = frozenset(name.encode() for name in CLIENT_CREDENTIALS)


def rewrite_request(flow: http.HTTPFlow, method: str, path: str, body: bytes) -> None:
    """Turn the flow's request into the Gemini request KeyRouting will send, so mitmweb
    shows what goes upstream. The client's credentials never go upstream."""
    flow.request.method = method
    flow.request.path = path
    headers = flow.request.headers
    # One pass over the raw fields (a pop per name costs a scan and a KeyError each).
    headers.fields = tuple(
        (name, value) for name, value in headers.fields if name.lower() not in _CREDENTIALS and name.lower() != b"content-type"
    ) + ((b"content-type", b"application/json"),)
    flow.request.content = body


def apply_plan(flow: http.HTTPFlow, planned: PlannedUpstream) -> None:
    """Points the flow at a planned upstream request: the first model's, or the fallback that
    serves (mitmweb shows what went upstream; the answer is decoded as its provider's)."""
    plan = planned.plan
    ctx = context(flow)
    ctx.gemini_model = plan.model
    ctx.upstream = plan
    ctx.ignored_params = planned.ignored
    rewrite_request(flow, plan.method, plan.path + (f"?{plan.query}" if plan.query else ""), planned.body)


def answer_exception(flow: http.HTTPFlow, exc: Exception, what: str) -> None:
    """Answer a hook's failure; hooks never raise (a raising hook would skip the same hook
    in every later addon, redaction included: docs/mitmproxy.md#hooks-must-not-raise)."""
    if isinstance(exc, RouterError):
        answer_error(flow, exc)
    else:
        logger.opt(exception=exc).error("{} failed", what)
        answer_error(flow, RouterError(f"The router failed to {what}."))
