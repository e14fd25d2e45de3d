"""ChatTranslation: `POST /v1/chat/completions` as Gemini `generateContent`, and back.

A translator run by the Translation addon. `translate_request` validates the OpenAI request
and rewrites the flow's request into the Gemini request (so mitmweb shows what goes
upstream), leaving KeyRouting a plan in `flow.metadata`; `start_stream`/`translate_response`
turn Gemini's answer, streamed or not, into OpenAI's format. Bad input raises InvalidRequest,
which Translation answers with a 4xx; nothing is forwarded. Parameters the target model does
not take (penalties, on Gemini 3 and on aliases) are left out and named in `X-HPN-Ignored-Params`.
"""

from __future__ import annotations

import json
import time

from mitmproxy import http

from hpn_router import meta
from hpn_router.addons.answers import (
    parse_json_body,
    replace_body,
    rewrite_request,
    upstream_plan,
)
from hpn_router.config import RouterConfig
from hpn_router.core.chat_request import (
    TranslateOptions,
    chat_request_to_gemini,
    ignored_params,
    is_streaming,
    uses_legacy_functions,
    validate_chat_request,
    wants_usage_in_stream,
)
from hpn_router.core.chat_response import gemini_to_chat_completion, new_completion_id
from hpn_router.core.chat_stream import StreamTranslator
from hpn_router.models import gemini_model_for

IGNORED_HEADER = "X-HPN-Ignored-Params"


class ChatTranslation:
    def translate_request(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        body = validate_chat_request(parse_json_body(flow))
        gemini_model = gemini_model_for(body["model"], config.models, config.gemini.default_model)
        gemini_body = chat_request_to_gemini(body, gemini_model, _options(config))
        stream = is_streaming(body)
        path = f"/v1beta/models/{gemini_model}:" + ("streamGenerateContent" if stream else "generateContent")
        query = "alt=sse" if stream else ""
        flow.metadata.update(
            {
                meta.MODEL: body["model"],
                meta.GEMINI_MODEL: gemini_model,
                meta.STREAM: stream,
                meta.INCLUDE_USAGE: wants_usage_in_stream(body),
                meta.LEGACY_FUNCTIONS: uses_legacy_functions(body),
                meta.UPSTREAM: upstream_plan("POST", path, query, stream=stream, model=gemini_model),
                meta.IGNORED_PARAMS: ignored_params(body, gemini_model),
            }
        )
        content = json.dumps(gemini_body, ensure_ascii=False).encode()
        rewrite_request(flow, "POST", path + (f"?{query}" if query else ""), content)

    def start_stream(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        """A relayed 200 stream: translate it event by event as mitmproxy pumps it."""
        assert flow.response is not None
        translator = StreamTranslator(
            model=str(flow.metadata.get(meta.MODEL)),
            completion_id=new_completion_id(),
            created=int(time.time()),
            include_usage=bool(flow.metadata.get(meta.INCLUDE_USAGE)),
            options=_options(config),
            legacy_functions=bool(flow.metadata.get(meta.LEGACY_FUNCTIONS)),
        )
        _name_ignored_params(flow)
        flow.response.headers["content-type"] = "text/event-stream"
        flow.response.headers.pop("content-length", None)
        flow.response.stream = StreamAdapter(translator)

    def translate_response(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        if flow.metadata.get(meta.RELAYED):
            self._record_stream(flow)
        else:
            self._translate_completion(flow, config)

    def _translate_completion(self, flow: http.HTTPFlow, config: RouterConfig) -> None:
        assert flow.response is not None
        completion = gemini_to_chat_completion(
            json.loads(flow.response.raw_content or b"{}"),
            model=str(flow.metadata.get(meta.MODEL)),
            completion_id=new_completion_id(),
            created=int(time.time()),
            options=_options(config),
            legacy_functions=bool(flow.metadata.get(meta.LEGACY_FUNCTIONS)),
        )
        flow.metadata[meta.USAGE] = completion.get("usage")
        # Rewritten in place: a new Response would re-run mitmproxy's per-field type checks,
        # a measurable share of the router's CPU per request.
        replace_body(flow.response, json.dumps(completion, ensure_ascii=False).encode())
        _name_ignored_params(flow)

    def _record_stream(self, flow: http.HTTPFlow) -> None:
        """A streamed answer has gone out; keep what the cost estimator needs."""
        adapter = flow.response.stream if flow.response else None
        if isinstance(adapter, StreamAdapter):
            flow.metadata[meta.USAGE] = adapter.translator.openai_usage
            flow.metadata[meta.ANSWER_TEXT] = adapter.translator.text[:20000]


class StreamAdapter:
    """mitmproxy's stream callable: bytes in, a *list* of chunks out. Returning b"" would
    end the client's chunked body early (docs/mitmproxy.md#the-empty-chunk-ends-the-body), so nothing empty leaves."""

    def __init__(self, translator: StreamTranslator) -> None:
        self.translator = translator

    def __call__(self, data: bytes) -> list[bytes]:
        events = self.translator.feed(data) if data else self.translator.finish()
        return [e for e in events if e]


def _options(config: RouterConfig) -> TranslateOptions:
    return TranslateOptions(expose_reasoning=config.gemini.expose_reasoning)


def _name_ignored_params(flow: http.HTTPFlow) -> None:
    ignored = flow.metadata.get(meta.IGNORED_PARAMS)
    if ignored and flow.response is not None:
        flow.response.headers[IGNORED_HEADER] = ", ".join(ignored)
