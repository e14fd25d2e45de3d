"""Attempt flows: each upstream attempt shown in mitmweb's view next to the client's flow,
with the key's name where the key was."""

from __future__ import annotations

from hpn_router.addons.attempt_flows import record_attempts
from hpn_router.core.attempts import Attempt
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.transport import UpstreamRequest
from mitmproxy.addons.view import View
from mitmproxy.test import taddons, tflow

REQUEST = UpstreamRequest("POST", "/v1beta/models/m:generateContent", "", b'{"contents": []}', False, "m")
ATTEMPTS = [
    Attempt(1, 0, "first", 429, Outcome(Verdict.RATE_LIMITED, "429 per-minute quota"), 10.0, 10.5),
    Attempt(2, 1, "second", None, Outcome(Verdict.UNANSWERED, "timeout"), 10.5, 11.0),
]


def test_each_attempt_is_a_flow_in_the_view_holding_the_key_name_only():
    view = View()
    client = tflow.tflow()
    with taddons.context(view):
        record_attempts(client, REQUEST, ATTEMPTS, "https://generativelanguage.googleapis.com")
        flows = list(view)
    assert len(flows) == 2
    first, second = sorted(flows, key=lambda f: f.request.timestamp_start)
    assert first.request.url == "https://generativelanguage.googleapis.com/v1beta/models/m:generateContent"
    assert first.request.headers["x-goog-api-key"] == "<key:first>" and first.request.content == REQUEST.body
    assert first.response.status_code == 429 and first.response.text == "attempt 1 with first: 429 per-minute quota"
    assert second.response.status_code == 502 and "timeout" in second.response.text  # no answer at all
    assert all(f.is_replay == "request" and not f.live for f in flows)


def test_without_a_view_nothing_is_recorded_and_nothing_fails():
    with taddons.context():
        record_attempts(tflow.tflow(), REQUEST, ATTEMPTS, "https://generativelanguage.googleapis.com")


def test_a_mistral_attempt_shows_its_bearer_header_with_the_key_name():
    view = View()
    request = UpstreamRequest("POST", "/v1/chat/completions", "", b"{}", False, "mistral-small-latest", "mistral")
    with taddons.context(view):
        record_attempts(tflow.tflow(), request, ATTEMPTS[:1], "https://api.mistral.ai")
        [flow] = list(view)
    assert flow.request.url == "https://api.mistral.ai/v1/chat/completions"
    assert flow.request.headers["authorization"] == "Bearer <key:first>" and "x-goog-api-key" not in flow.request.headers


def test_an_anthropic_attempt_shows_its_x_api_key_header_with_the_key_name():
    view = View()
    request = UpstreamRequest("POST", "/v1/messages", "", b"{}", False, "claude-sonnet-4-5", "anthropic")
    with taddons.context(view):
        record_attempts(tflow.tflow(), request, ATTEMPTS[:1], "https://api.anthropic.com")
        [flow] = list(view)
    assert flow.request.url == "https://api.anthropic.com/v1/messages"
    assert flow.request.headers["x-api-key"] == "<key:first>" and flow.request.headers["anthropic-version"] == "2023-06-01"
