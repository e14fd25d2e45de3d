"""Translation: each client request goes to the translator of its endpoint (as Endpoints
named it), Gemini's errors reach OpenAI clients in OpenAI's format, and a translator that
fails gets an answer instead of raising out of the hook."""

from __future__ import annotations

import json
from typing import Any

from hpn_router.addons.answers import answer_json
from hpn_router.addons.endpoints import Endpoints
from hpn_router.addons.translation import Translation
from hpn_router.config import parse_config
from hpn_router.core.errors import InvalidRequest
from mitmproxy import http
from mitmproxy.test import taddons, tflow

CONFIG = parse_config({"key_pool": {"keys": [{"name": "k", "key": "AIzaSyTranslationKey"}], "state_file": ""}}, {})


class Recorder:
    """A translator that records the hooks it was given and can be told to fail."""

    def __init__(self, name: str, *, fails_with: Exception | None = None, passes_errors: bool = False) -> None:
        self.name = name
        self.calls: list[str] = []
        self.fails_with = fails_with
        self.passes_errors = passes_errors
        self.applied: list[Any] = []

    def apply(self, config: Any) -> None:
        self.applied.append(config)

    def translate_request(self, flow: http.HTTPFlow, config: Any) -> None:
        self.calls.append("request")
        if self.fails_with:
            raise self.fails_with

    def translate_response(self, flow: http.HTTPFlow, config: Any) -> None:
        self.calls.append("response")
        flow.response.content = f"translated by {self.name}".encode()


def setup(**by_route: Recorder) -> tuple[Endpoints, Translation]:
    endpoints, translation = Endpoints(), Translation(by_route)
    endpoints.apply(CONFIG)
    translation.apply(CONFIG)
    return endpoints, translation


def client_request(endpoints: Endpoints, translation: Translation, method: str, path: str) -> http.HTTPFlow:
    flow = tflow.tflow()
    flow.response = None
    flow.request.method, flow.request.path = method, path
    flow.request.content = b"{}"
    endpoints.request(flow)
    translation.request(flow)
    return flow


def gemini_answers(flow: http.HTTPFlow, status: int, body: Any) -> None:
    """What KeyRouting leaves on the flow: Gemini's own answer."""
    flow.response = http.Response.make(status, json.dumps(body), {"content-type": "application/json"})


def test_each_request_goes_to_the_translator_of_its_endpoint_and_config_reaches_each_once():
    chat, embeddings = Recorder("chat"), Recorder("embeddings")
    shared = Recorder("models")
    endpoints, translation = setup(chat=chat, embeddings=embeddings, models=shared, model=shared)
    with taddons.context():
        client_request(endpoints, translation, "POST", "/v1/embeddings")
        flow = client_request(endpoints, translation, "POST", "/v1/chat/completions")
        gemini_answers(flow, 200, {"candidates": []})
        translation.response(flow)
    assert chat.calls == ["request", "response"] and embeddings.calls == ["request"]
    assert flow.response.content == b"translated by chat"
    assert chat.applied == [CONFIG] and shared.applied == [CONFIG]  # one translator on two routes is configured once


def test_a_request_for_no_translator_is_left_alone():
    chat = Recorder("chat")
    endpoints, translation = setup(chat=chat)
    with taddons.context():
        flow = client_request(endpoints, translation, "POST", "/v1/embeddings")
    assert chat.calls == [] and flow.response is None


def test_geminis_error_reaches_the_client_in_openais_format():
    chat = Recorder("chat")
    endpoints, translation = setup(chat=chat)
    violation = {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": "contents[0].parts"}]}
    with taddons.context():
        flow = client_request(endpoints, translation, "POST", "/v1/chat/completions")
        gemini_answers(flow, 400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad parts", "details": [violation]}})
        translation.response(flow)
    assert flow.response.status_code == 400 and chat.calls == ["request"]  # not handed to translate_response
    error = json.loads(flow.response.content)["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "contents[0].parts"
    assert error["message"] == "Gemini rejected the request: bad parts"


def test_an_unknown_model_is_openais_404():
    endpoints, translation = setup(chat=Recorder("chat"))
    with taddons.context():
        flow = client_request(endpoints, translation, "POST", "/v1/chat/completions")
        gemini_answers(flow, 404, [{"error": {"code": 404, "message": "models/nope is not found", "status": "NOT_FOUND"}}])
        translation.response(flow)
    assert flow.response.status_code == 404
    assert json.loads(flow.response.content)["error"]["code"] == "model_not_found"


def test_a_translator_that_passes_errors_gets_geminis_own_body():
    native = Recorder("native", passes_errors=True)
    endpoints, translation = setup(native=native)
    body = {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad"}}
    with taddons.context():
        flow = client_request(endpoints, translation, "POST", "/v1beta/models/gemini-2.5-flash:generateContent")
        gemini_answers(flow, 400, body)
        translation.response(flow)
    assert native.calls == ["request", "response"] and flow.response.content == b"translated by native"


def test_a_translator_exception_is_answered_not_raised():
    endpoints, translation = setup(chat=Recorder("chat", fails_with=KeyError("boom")))
    with taddons.context():
        flow = client_request(endpoints, translation, "POST", "/v1/chat/completions")
    assert flow.response.status_code == 500
    error = json.loads(flow.response.content)["error"]
    assert (
        error["type"] == "server_error"
        and error["message"] == "The router failed to translate the request."
        and "boom" not in error["message"]
    )


def test_a_client_mistake_found_by_a_translator_is_a_400_naming_the_field():
    endpoints, translation = setup(chat=Recorder("chat", fails_with=InvalidRequest("messages must not be empty", param="messages")))
    with taddons.context():
        flow = client_request(endpoints, translation, "POST", "/v1/chat/completions")
    assert flow.response.status_code == 400
    assert json.loads(flow.response.content)["error"] == {
        "message": "messages must not be empty",
        "type": "invalid_request_error",
        "param": "messages",
        "code": None,
    }


def test_a_failing_response_translation_is_answered_not_raised():
    chat = Recorder("chat")
    chat.translate_response = lambda flow, config: json.loads(b"not json")  # type: ignore[method-assign]
    endpoints, translation = setup(chat=chat)
    with taddons.context():
        flow = client_request(endpoints, translation, "POST", "/v1/chat/completions")
        gemini_answers(flow, 200, {"candidates": []})
        translation.response(flow)
    assert flow.response.status_code == 500
    assert json.loads(flow.response.content)["error"]["message"] == "The router failed to translate Gemini's answer."


def test_the_routers_own_answers_are_not_translated_again():
    chat = Recorder("chat")
    endpoints, translation = setup(chat=chat)
    with taddons.context():
        flow = client_request(endpoints, translation, "POST", "/v1/chat/completions")
        answer_json(flow, 429, {"error": {"message": "slow down"}})
        translation.response(flow)
    assert chat.calls == ["request"] and json.loads(flow.response.content) == {"error": {"message": "slow down"}}
