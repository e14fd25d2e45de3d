"""Endpoints: the endpoints the router serves pass on; anything else is a 404 or 405 that names
what is served (in Google's format on Gemini's own paths, OpenAI's elsewhere), and nothing is
served without a valid config."""

from __future__ import annotations

import json

from hpn_router.addons.endpoints import Endpoints
from hpn_router.config import parse_config
from mitmproxy.test import taddons, tflow

CONFIG = parse_config({"key_pool": {"keys": [{"name": "k", "key": "AIzaSyEndpointsKey"}], "state_file": ""}}, {})


def ask(endpoints: Endpoints, method: str, path: str):
    flow = tflow.tflow()
    flow.response = None
    flow.request.method, flow.request.path = method, path
    with taddons.context():
        endpoints.request(flow)
    return flow


def test_served_endpoints_pass_on_to_the_next_addon():
    endpoints = Endpoints()
    endpoints.apply(CONFIG)
    for method, path in (
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/embeddings"),
        ("GET", "/v1/models"),
        ("GET", "/v1/models/gpt-4o"),
        ("POST", "/v1beta/models/gemini-2.5-flash:generateContent"),
        ("GET", "/health"),
    ):
        assert ask(endpoints, method, path).response is None, path


def test_an_unknown_path_is_a_404_naming_what_is_served():
    endpoints = Endpoints()
    endpoints.apply(CONFIG)
    flow = ask(endpoints, "POST", "/v1/audio/speech?x=1")
    error = json.loads(flow.response.content)["error"]
    assert flow.response.status_code == 404 and error["type"] == "invalid_request_error"
    assert "/v1/audio/speech" in error["message"] and "?x=1" not in error["message"] and "/v1/chat/completions" in error["message"]


def test_a_wrong_method_is_a_405_with_allow():
    endpoints = Endpoints()
    endpoints.apply(CONFIG)
    flow = ask(endpoints, "DELETE", "/v1/embeddings")
    assert flow.response.status_code == 405 and flow.response.headers["allow"] == "POST"


def test_without_a_config_requests_are_answered_with_the_routers_error():
    flow = ask(Endpoints(), "POST", "/v1/chat/completions")
    assert flow.response.status_code == 500
    assert "no valid configuration" in json.loads(flow.response.content)["error"]["message"]


def test_on_geminis_own_paths_the_404_and_405_are_googles_envelope():
    endpoints = Endpoints()
    endpoints.apply(CONFIG)
    wrong_method = ask(endpoints, "GET", "/v1beta/models/gemini-2.5-flash:generateContent")
    assert wrong_method.response.status_code == 405 and wrong_method.response.headers["allow"] == "POST"
    error = json.loads(wrong_method.response.content)["error"]
    assert (error["code"], error["status"]) == (405, "UNIMPLEMENTED") and "use POST" in error["message"]
    unknown = ask(endpoints, "POST", "/v1/models/gemini-2.5-flash:predictLongRunning")
    error = json.loads(unknown.response.content)["error"]
    assert unknown.response.status_code == 404 and (error["code"], error["status"]) == (404, "NOT_FOUND")
    assert "type" not in error
