"""Issue 13 end to end: GET /metrics on a real mitmdump with the router, after scripted traffic
from the official OpenAI SDK against the emulator (a chat, a cache hit, a stream, a 429 failover,
an invalid request), parsed with prometheus_client's own parser; the admin token guarding the
scrape; X-Request-Id on the answers and in the log."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from email.message import Message

import openai
import pytest
from procs import KEYS, Router, client_for
from prometheus_client.parser import text_string_to_metric_families

MSG = [{"role": "user", "content": "Hello metrics"}]
ADMIN = "metrics-e2e-admin-token-0123456789"
CLIENT_TOKEN = "sk-client-token-not-a-gemini-key"  # client_for's


def get(router: Router, path: str, token: str | None = None) -> tuple[int, Message, str]:
    request = urllib.request.Request(router.url + path, headers={"authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value for f in text_string_to_metric_families(text) for s in f.samples}


def value(found: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


# Every series issue 13 names, with its labels exactly (histograms by their family name; `le`
# aside). More series may come; none of these may be renamed or lose or gain a label.
ISSUE_13_SERIES = {
    "hpn_requests_total": {"endpoint", "model", "status"},
    "hpn_upstream_attempts_total": {"provider", "key", "outcome"},
    "hpn_key_state": {"provider", "key", "project", "state"},
    "hpn_key_cooldown_seconds": {"provider", "key"},
    "hpn_cache_requests_total": {"result"},
    "hpn_tokens_total": {"provider", "model", "direction"},
    "hpn_saved_usd_total": set(),
    "hpn_request_duration_seconds": {"endpoint"},
    "hpn_upstream_duration_seconds": {"provider"},
    "hpn_time_to_first_token_seconds": {"endpoint"},
    "hpn_router_overhead_seconds": set(),
}


def series(text: str) -> dict[str, set[str]]:
    """The label names of each of ISSUE_13_SERIES found in a scrape (each must have one label set)."""
    found: dict[str, set[frozenset[str]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            name = family.name if family.type == "histogram" else sample.name
            if name in ISSUE_13_SERIES:
                found.setdefault(name, set()).add(frozenset(sample.labels) - {"le"})
    assert all(len(label_sets) == 1 for label_sets in found.values()), found
    return {name: set(next(iter(label_sets))) for name, label_sets in found.items()}


@pytest.mark.e2e
def test_scripted_traffic_shows_in_the_scrape_with_exact_counts(make_router, emulator):
    router = make_router()
    client = client_for(router)
    emulator.set_key(0, "rate_limit")
    first = client.chat.completions.with_raw_response.create(model="gpt-4", messages=MSG, extra_headers={"X-Request-Id": "trace-e2e-1"})
    hit = client.chat.completions.with_raw_response.create(model="gpt-4", messages=MSG)
    streamed = [{"role": "user", "content": "Stream please"}]
    raw = client.chat.completions.with_raw_response.create(model="gpt-4", messages=streamed, stream=True)
    chunks, stream_cache = list(raw.parse()), raw.headers.get("x-hpn-cache")
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="gpt-4", messages=[{"role": "nobody", "content": "x"}])
    assert chunks and (first.headers.get("x-hpn-cache"), hit.headers.get("x-hpn-cache"), stream_cache) == ("MISS", "HIT", "MISS")

    status, headers, text = get(router, "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    found = samples(text)
    assert value(found, "hpn_requests_total", endpoint="chat", model="gpt-4", status="200") == 3
    assert value(found, "hpn_requests_total", endpoint="chat", model="none", status="400") == 1  # refused before it was read
    assert sum(v for (name, _), v in found.items() if name == "hpn_requests_total") == 4  # /health and /metrics are not requests
    assert value(found, "hpn_upstream_attempts_total", provider="gemini", key="key_1", outcome="rate_limited") == 1
    assert value(found, "hpn_upstream_attempts_total", provider="gemini", key="key_2", outcome="ok") == 1
    assert value(found, "hpn_upstream_attempts_total", provider="gemini", key="key_3", outcome="ok") == 1
    assert sum(v for (name, _), v in found.items() if name == "hpn_upstream_attempts_total") == 3
    assert value(found, "hpn_upstream_duration_seconds_count", provider="gemini") == 3
    assert value(found, "hpn_cache_requests_total", result="hit") == 1
    assert value(found, "hpn_cache_requests_total", result="miss") == 2
    assert value(found, "hpn_key_state", provider="gemini", key="key_1", project="key:key_1", state="cooling") == 1
    assert value(found, "hpn_key_state", provider="gemini", key="key_1", project="key:key_1", state="active") == 0
    assert value(found, "hpn_key_state", provider="gemini", key="key_2", project="key:key_2", state="active") == 1
    assert value(found, "hpn_key_cooldown_seconds", provider="gemini", key="key_1") > 0
    assert value(found, "hpn_key_cooldown_seconds", provider="gemini", key="key_2") == 0
    assert value(found, "hpn_tokens_total", provider="gemini", model="gemini-flash-latest", direction="input") > 0
    assert value(found, "hpn_tokens_total", provider="gemini", model="gemini-flash-latest", direction="output") > 0
    assert value(found, "hpn_saved_usd_total") > 0
    assert value(found, "hpn_request_duration_seconds_count", endpoint="chat") == 4
    assert value(found, "hpn_time_to_first_token_seconds_count", endpoint="chat") == 1
    assert value(found, "hpn_router_overhead_seconds_count") == 4
    assert series(text) == ISSUE_13_SERIES

    # Names only: no key value, no piece of one, no client token.
    for key in KEYS[:3]:
        assert key not in text and key[-16:] not in text and key[12:28] not in text
    assert CLIENT_TOKEN not in text

    # The client's id came back and is in the request's log line; the others got new ones.
    assert first.headers["x-request-id"] == "trace-e2e-1"
    assert hit.headers["x-request-id"].startswith("req_") and hit.headers["x-request-id"] != "trace-e2e-1"
    served = [json.loads(line) for line in router.log().splitlines() if line.startswith("{") and '"event": "request"' in line]
    assert any(line.get("request_id") == "trace-e2e-1" and line.get("key") == "key_2" for line in served), served


@pytest.mark.e2e
def test_with_an_admin_token_the_scrape_needs_it(make_router):
    router = make_router(config={"server": {"admin_token": ADMIN}})
    status, _, body = get(router, "/metrics")
    assert status == 401 and json.loads(body)["error"]["type"]
    assert get(router, "/metrics", "wrong-token-0123456789abcdef")[0] == 401
    assert get(router, "/metrics", CLIENT_TOKEN)[0] == 401
    status, headers, body = get(router, "/metrics", ADMIN)
    assert status == 200 and "hpn_key_state" in body and headers["X-Request-Id"].startswith("req_")
