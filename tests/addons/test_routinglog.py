"""The log lines KeyRouting writes (addons/routinglog.py): read from a request routed through the
real chain with a scripted transport, and from the fallback and passed-over events as the attempt
loop reports them. Keys appear by name, never by value."""

from __future__ import annotations

import json

from flowtools import captured_logs
from hpn_router.addons.routinglog import log_fallback, log_passed_over, log_skipped
from hpn_router.core.attempts import KeyPassedOver
from keyroutingkit import FIRST, MODEL, SECOND, FakeTransport, Router, gemini_answer, rate_limited
from mitmproxy.test import taddons

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}


async def test_a_rotation_and_the_answer_are_logged_by_key_name_with_the_attempts_it_took():
    router = Router(FakeTransport(rate_limited(), gemini_answer()))
    with taddons.context(), captured_logs() as records:
        await router.ask(CHAT)
    rotation = next(r for r in records if r.get("event") == "key_rotation")
    assert (rotation["old_key"], rotation["new_key"], rotation["retry_attempt"]) == ("first", "second", 1)
    assert rotation["reason"] and rotation["msg"] == "Key rotation triggered"
    served = next(r for r in records if r.get("event") == "upstream")
    assert (served["provider"], served["model"], served["key"], served["attempts"], served["status"]) == ("gemini", MODEL, "second", 2, 200)
    assert served["latency_ms"] == 0.0 and served["msg"] == "Gemini answered"  # the clock stands still
    assert FIRST not in json.dumps(records, default=str) and SECOND not in json.dumps(records, default=str)


async def test_a_request_no_key_answers_is_logged_as_such():
    router = Router(FakeTransport(rate_limited(), rate_limited()))
    with taddons.context(), captured_logs() as records:
        await router.ask(CHAT)
    served = [r for r in records if r.get("event") == "upstream"]
    assert [(r["key"], r["attempts"], r["status"], r["msg"]) for r in served] == [(None, 2, 429, "No key could answer")]


def test_fallbacks_taken_and_skipped_and_a_key_passed_over_each_carry_their_event():
    with captured_logs() as records:
        log_fallback("gemini-2.5-pro", "mistral-small-latest", "every key cooling", "rid-1")
        log_skipped("claude-x", "no anthropic keys", "rid-1")
        log_passed_over(KeyPassedOver(key_name="first", reason="timeout", failures=3, skipped_seconds=30.0))
    events = [(r["event"], r["msg"]) for r in records]
    assert events == [
        ("fallback", "↪ FALLBACK gemini-2.5-pro → mistral-small-latest (every key cooling)"),
        ("fallback_skipped", "Fallback claude-x skipped: no anthropic keys"),
        ("key_unanswered", "Key did not answer; passed over for a while"),
    ]
    assert records[0]["request_id"] == records[1]["request_id"] == "rid-1"
    assert (records[2]["key"], records[2]["failures"], records[2]["skipped_seconds"]) == ("first", 3, 30.0)
