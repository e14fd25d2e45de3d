"""Translation: OpenAI requests in, Gemini requests out, and the answers back.

In `request` it validates the client's OpenAI request and rewrites the flow's request into
the Gemini request (so mitmweb shows what goes upstream), leaving KeyRouting a plan in
`flow.metadata`. In `responseheaders`/`response` it turns Gemini's answer, streamed or not,
into OpenAI's format. Bad input is answered here with a 4xx and never forwarded.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from loguru import logger
from mitmproxy import http

from hpn_router import meta
from hpn_router.addons.answers import answer_error, is_client_flow
from hpn_router.config import RouterConfig
from hpn_router.core.chat_request import (
    TranslateOptions,
    chat_request_to_gemini,
    is_streaming,
    validate_chat_request,
    wants_usage_in_stream,
)
from hpn_router.core.chat_response import gemini_to_chat_completion
from hpn_router.core.chat_stream import StreamTranslator
from hpn_router.core.invalid import InvalidRequest
from hpn_router.core.upstream_errors import gemini_error_to_openai
from hpn_router.errors import InvalidRequestError, NotFoundError, RouterError
from hpn_router.models import gemini_model_for, is_gemini3
from hpn_router.routes import Endpoint, Route, match

_NOT_SERVED = {
    Endpoint.NOT_FOUND: "Unknown path {path}. HPN Router serves /v1/chat/completions and /health.",
    Endpoint.METHOD_NOT_ALLOWED: "Method {method} is not allowed on {path}.",
}


def parse_json_body(flow: http.HTTPFlow) -> Any:
    raw = flow.request.raw_content or b""
    if not raw.strip():
        raise InvalidRequestError("The request body is empty; expected a JSON object.")
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise InvalidRequestError("The request body is not valid UTF-8 JSON.") from None
    except ValueError as e:
        raise InvalidRequestError(f"The request body is not valid JSON: {e}.") from None


class Translation:
    def __init__(self) -> None:
        self.config: RouterConfig | None = None

    def apply(self, config: RouterConfig) -> None:
        self.config = config

    def request(self, flow: http.HTTPFlow) -> None:
        if not is_client_flow(flow):
            return
        route = match(flow.request.method, flow.request.path)
        if route.endpoint is Endpoint.HEALTH:
            return
        flow.metadata[meta.ROUTE] = route.endpoint.value
        try:
            self._dispatch(flow, route)
        except InvalidRequest as e:
            answer_error(flow, InvalidRequestError(e.message, param=e.param, code=e.code))
        except RouterError as e:
            answer_error(flow, e)
        except Exception:  # never raise out of a hook
            logger.exception("translation of the request failed")
            answer_error(flow, RouterError("The router failed to translate this request."))

    def _dispatch(self, flow: http.HTTPFlow, route: Route) -> None:
        if route.endpoint in _NOT_SERVED:
            message = _NOT_SERVED[route.endpoint].format(path=flow.request.path, method=flow.request.method)
            raise NotFoundError(message) if route.endpoint is Endpoint.NOT_FOUND else InvalidRequestError(
                message, code="method_not_allowed"
            )
        if self.config is None:
            raise RouterError("The router has no valid configuration; see its log.")
        if route.endpoint is Endpoint.CHAT:
            self._chat_request(flow, self.config)
        else:
            raise NotFoundError(f"{flow.request.path} is not served yet.")

    def _chat_request(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        body = validate_chat_request(parse_json_body(flow))
        gemini_model = gemini_model_for(body["model"], config.models, config.gemini.default_model)
        options = TranslateOptions(gemini3=is_gemini3(gemini_model), expose_reasoning=config.gemini.expose_reasoning)
        gemini_body = chat_request_to_gemini(body, gemini_model, options)
        stream = is_streaming(body)
        action = "streamGenerateContent" if stream else "generateContent"
        flow.metadata.update(
            {
                meta.MODEL: body["model"],
                meta.GEMINI_MODEL: gemini_model,
                meta.STREAM: stream,
                meta.INCLUDE_USAGE: wants_usage_in_stream(body),
                meta.UPSTREAM: {
                    "method": "POST",
                    "path": f"/v1beta/models/{gemini_model}:{action}",
                    "query": "alt=sse" if stream else "",
                    "stream": stream,
                    "model": gemini_model,
                },
            }
        )
        _rewrite_request(flow, f"/v1beta/models/{gemini_model}:{action}" + ("?alt=sse" if stream else ""), gemini_body)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if not flow.metadata.get(meta.RELAYED) or flow.metadata.get(meta.LOCAL) or flow.response is None:
            return
        if flow.response.status_code != 200:
            return
        translator = StreamTranslator(
            model=str(flow.metadata.get(meta.MODEL)),
            completion_id=_completion_id(),
            created=int(time.time()),
            include_usage=bool(flow.metadata.get(meta.INCLUDE_USAGE)),
            options=self._options(flow),
        )
        flow.response.headers["content-type"] = "text/event-stream"
        flow.response.headers.pop("content-length", None)
        flow.response.stream = _StreamAdapter(translator)

    def response(self, flow: http.HTTPFlow) -> None:
        if meta.is_attempt(flow.metadata) or flow.metadata.get(meta.LOCAL) or flow.response is None:
            return
        if flow.metadata.get(meta.ROUTE) != Endpoint.CHAT.value or flow.metadata.get(meta.RELAYED):
            return
        try:
            self._chat_response(flow)
        except Exception:
            logger.exception("translation of the answer failed")
            answer_error(flow, RouterError("The router could not translate Gemini's answer."))

    def _chat_response(self, flow: http.HTTPFlow) -> None:
        assert flow.response is not None
        status = flow.response.status_code
        if status != 200:
            answer_error(flow, gemini_error_to_openai(status, flow.response.raw_content or b""))
            return
        completion = gemini_to_chat_completion(
            json.loads(flow.response.raw_content or b"{}"),
            model=str(flow.metadata.get(meta.MODEL)),
            completion_id=_completion_id(),
            created=int(time.time()),
            options=self._options(flow),
        )
        flow.metadata[meta.USAGE] = completion.get("usage")
        flow.response = http.Response.make(200, json.dumps(completion, ensure_ascii=False), {"content-type": "application/json"})

    def _options(self, flow: http.HTTPFlow) -> TranslateOptions:
        expose = bool(self.config and self.config.gemini.expose_reasoning)
        return TranslateOptions(gemini3=is_gemini3(str(flow.metadata.get(meta.GEMINI_MODEL))), expose_reasoning=expose)


class _StreamAdapter:
    """mitmproxy's stream callable: bytes in, a *list* of chunks out. Returning b"" would
    end the client's chunked body early (mitmproxy-notes §4.2), so nothing empty leaves."""

    def __init__(self, translator: StreamTranslator) -> None:
        self.translator = translator

    def __call__(self, data: bytes) -> list[bytes]:
        events = self.translator.feed(data) if data else self.translator.finish()
        return [e for e in events if e]


def _completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def _rewrite_request(flow: http.HTTPFlow, path: str, gemini_body: dict[str, Any]) -> None:
    flow.request.path = path
    flow.request.method = "POST"
    for name in ("authorization", "x-goog-api-key", "cookie", "openai-organization", "openai-project"):
        flow.request.headers.pop(name, None)  # never forward the client's credentials
    flow.request.headers["content-type"] = "application/json"
    flow.request.content = json.dumps(gemini_body, ensure_ascii=False).encode()
