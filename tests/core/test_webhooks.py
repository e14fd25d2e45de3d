from __future__ import annotations

import base64
import json

import pytest
from hpn_router.config import KeyConfig
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool
from hpn_router.core.webhooks import (
    EVENT_TYPES,
    RETRY_DELAYS,
    Delivery,
    Outbox,
    RedisWatch,
    TransitionWatch,
    WebhookEvent,
    dedup_marks,
    event_body,
    key_views,
    own_port_refusal,
    pool_views,
    safe_url,
    signature,
    signed_headers,
    signing_key,
)

M = "gemini-2.5-flash"
VALUES = ["AIzaSyA" + "a" * 32, "AIzaSyB" + "b" * 32]
RATE_LIMITED = Outcome(Verdict.RATE_LIMITED, "429 per-minute quota", retry_after=10)


def make_pool() -> KeyPool:
    return KeyPool([KeyConfig(name=f"k{i}", key=v) for i, v in enumerate(VALUES)], cooldown_seconds=60)


def observe(watch: TransitionWatch, pool: KeyPool, now: float) -> list[WebhookEvent]:
    return watch.observe(key_views(pool, now), pool_views(pool, now, [("gemini", M)]), now)


# -- signing: Standard Webhooks -----------------------------------------------------------


def test_signature_matches_the_standard_webhooks_published_vector():
    # The reference libraries' test vector (standard-webhooks/standard-webhooks,
    # libraries/python/tests/test_webhooks.py, test_sign_function).
    key = signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    got = signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert got == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_plain_secret_is_its_utf8_bytes_and_a_whsec_secret_its_base64_rest():
    assert signing_key("plain-secret-ünïcode") == "plain-secret-ünïcode".encode()
    assert signing_key("whsec_" + base64.b64encode(b"0123456789abcdef").decode()) == b"0123456789abcdef"
    with pytest.raises(ValueError):
        signing_key("whsec_not*base64")


def test_signed_headers_carry_id_timestamp_and_signature_of_this_body():
    headers = signed_headers(b"k", "msg_1", 1700000000, b"{}")
    assert headers["webhook-id"] == "msg_1" and headers["webhook-timestamp"] == "1700000000"
    assert headers["webhook-signature"] == signature(b"k", "msg_1", 1700000000, b"{}")
    assert headers["webhook-signature"] != signature(b"k", "msg_1", 1700000000, b"{ }")


# -- transitions ----------------------------------------------------------------------------


def test_a_storm_of_429s_is_one_cooling_event_and_one_recovery():
    pool, watch = make_pool(), TransitionWatch()
    assert observe(watch, pool, 0.0) == []  # the baseline
    events = []
    for i in range(20):  # every 429 extends or repeats the cooldown: still one cooldown
        pool.report(0, RATE_LIMITED, now=float(i) * 0.1, model=M)
        events += observe(watch, pool, float(i) * 0.1)
    assert [(e.type, e.key) for e in events] == [("key.cooling", "k0")]
    assert events[0].reason == "429 per-minute quota" and events[0].until == 10.0  # the first cooldown, as it was announced
    assert [(e.type, e.key) for e in observe(watch, pool, 30.0)] == [("key.recovered", "k0")]
    assert observe(watch, pool, 31.0) == []


def test_a_disabled_key_is_one_event_and_its_re_enabling_a_recovery():
    pool, watch = make_pool(), TransitionWatch()
    observe(watch, pool, 0.0)
    pool.report(1, Outcome(Verdict.KEY_INVALID, "400 API key invalid"), now=1.0, model=M)
    assert [(e.type, e.key, e.reason) for e in observe(watch, pool, 1.0)] == [("key.disabled", "k1", "400 API key invalid")]
    assert observe(watch, pool, 2.0) == []
    pool.enable(1)
    assert [(e.type, e.key) for e in observe(watch, pool, 3.0)] == [("key.recovered", "k1")]


def test_the_pool_is_exhausted_once_until_a_key_serves_again():
    pool, watch = make_pool(), TransitionWatch()
    observe(watch, pool, 0.0)
    pool.report(0, RATE_LIMITED, now=0.0, model=M)
    pool.report(1, Outcome(Verdict.RATE_LIMITED, "429", retry_after=5), now=0.0, model=M)
    first = observe(watch, pool, 0.0)
    assert sorted(e.type for e in first) == ["key.cooling", "key.cooling", "pool.exhausted"]
    exhausted = next(e for e in first if e.type == "pool.exhausted")
    assert (exhausted.model, exhausted.until, exhausted.key) == (M, 5.0, None)
    assert observe(watch, pool, 1.0) == []
    later = observe(watch, pool, 6.0)  # k1 is back: the pool serves again
    assert sorted((e.type, e.key) for e in later) == [("key.recovered", "k1"), ("pool.recovered", None)]


def test_a_models_pool_is_exhausted_although_another_providers_keys_could_serve_a_fallback():
    pool = KeyPool([*make_pool().keys, KeyConfig(name="m0", key="mistral-value", provider="mistral")], cooldown_seconds=60)
    watch = TransitionWatch()
    models = [("gemini", M), ("mistral", "mistral-small-latest")]
    watch.observe(key_views(pool, 0.0), pool_views(pool, 0.0, models), 0.0)
    for index in (0, 1):
        pool.report(index, RATE_LIMITED, now=0.0, model=M)
    events = watch.observe(key_views(pool, 0.0), pool_views(pool, 0.0, models), 0.0)
    [exhausted] = [e for e in events if e.type == "pool.exhausted"]
    assert (exhausted.provider, exhausted.model) == ("gemini", M)  # the Mistral key, active, does not hide it


def test_a_key_that_starts_cooling_is_a_baseline_not_an_event():
    pool, watch = make_pool(), TransitionWatch()
    pool.report(0, RATE_LIMITED, now=0.0, model=M)
    assert [e.type for e in watch.observe(key_views(pool, 0.0), {}, 0.0)] == []


def test_the_payload_has_the_standard_shape_and_names_only():
    pool, watch = make_pool(), TransitionWatch()
    observe(watch, pool, 0.0)
    pool.report(0, RATE_LIMITED, now=1_700_000_000.0, model=M)
    (event,) = [e for e in observe(watch, pool, 1_700_000_000.0) if e.type == "key.cooling"]
    body = event_body(event)
    assert json.loads(body) == {
        "type": "key.cooling",
        "timestamp": "2023-11-14T22:13:20Z",
        "data": {
            "provider": "gemini",
            "key": "k0",
            "project": "key:k0",
            "model": None,
            "reason": "429 per-minute quota",
            "until": "2023-11-14T22:13:30Z",
        },
    }
    assert not any(value.encode() in body or value[-8:].encode() in body for value in VALUES)


def test_event_types_are_the_ones_the_config_accepts():
    assert set(EVENT_TYPES) == {
        "key.disabled",
        "key.cooling",
        "key.recovered",
        "pool.exhausted",
        "pool.recovered",
        "state.redis_down",
        "state.redis_up",
    }


# -- the outbox: bounded, retried with backoff ------------------------------------------------


def delivery(n: int = 0) -> Delivery:
    return Delivery(f"msg_{n}", "key.cooling", "http://127.0.0.1:9/h", b"k", b"{}")


def test_a_failed_delivery_comes_back_after_growing_delays_then_is_given_up():
    box = Outbox(capacity=10, delays=(5.0, 10.0, 20.0))
    box.add(delivery(), now=0.0)
    now, delays = 0.0, []
    while (due := box.take_due(now)) or box.next_due() is not None:
        if not due:
            assert box.take_due(now) == []
            now = box.next_due() or now
            continue
        delay = box.failed(due[0], now)
        if delay is None:
            break
        delays.append(delay)
        assert box.take_due(now + delay - 0.001) == []  # not before its time
    assert delays == [5.0, 10.0, 20.0] and len(box) == 0


def test_the_default_retries_outlast_a_receiver_down_for_a_minute():
    assert sum(RETRY_DELAYS[:4]) > 60.0
    assert RETRY_DELAYS == tuple(sorted(RETRY_DELAYS))


def test_a_full_outbox_drops_the_oldest_and_says_which():
    box = Outbox(capacity=2)
    assert box.add(delivery(1), 0.0) is None and box.add(delivery(2), 0.0) is None
    dropped = box.add(delivery(3), 1.0)
    assert dropped is not None and dropped.msg_id == "msg_1"
    assert [d.msg_id for d in box.take_due(1.0)] == ["msg_2", "msg_3"]


def test_a_retry_into_a_full_outbox_is_given_up():
    box = Outbox(capacity=1)
    box.add(delivery(1), 0.0)
    (first,) = box.take_due(0.0)
    box.add(delivery(2), 0.0)
    assert box.failed(first, 0.0) is None


# -- URLs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/hook", "http://localhost:8080/", "https://[::1]:8080/x", "http://0.0.0.0:8080", "http://10.0.0.5:8080/h"],
)
def test_the_routers_own_ports_are_refused(url):
    assert own_port_refusal(url, frozenset({8080}), frozenset({"10.0.0.5"})) is not None


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000/hook", "https://hooks.example.com:8080/h", "https://hooks.example.com/h"])
def test_other_receivers_are_allowed(url):
    assert own_port_refusal(url, frozenset({8080, 443})) is None  # a public host is never the router


def test_only_http_and_https_are_allowed():
    assert own_port_refusal("ftp://hooks.example.com/h", frozenset()) is not None


def test_logs_show_urls_without_credentials_or_query():
    assert safe_url("https://user:pw@hooks.example.com:8443/h?token=abc#x") == "https://hooks.example.com:8443/h"


def test_redis_down_and_up_are_edges_seen_after_the_first_contact():
    watch = RedisWatch()
    assert watch.observe("down", 0.0) == []  # starting before the first sync: nothing lost yet
    assert watch.observe("up", 1.0) == []  # the first contact is no recovery
    assert watch.observe("up", 2.0) == []
    [down] = watch.observe("down", 3.0)
    assert (down.type, down.at, down.key, down.model) == ("state.redis_down", 3.0, None, None)
    assert watch.observe("down", 4.0) == []  # once per outage
    [up] = watch.observe("up", 5.0)
    assert up.type == "state.redis_up"
    assert watch.observe("up", 6.0) == []
    assert json.loads(event_body(down))["data"]["provider"] is None


def test_a_router_without_redis_announces_nothing():
    watch = RedisWatch()
    assert watch.observe(None, 0.0) == [] and watch.observe(None, 1.0) == []


def test_one_transition_seen_by_two_routers_has_overlapping_marks():
    a = WebhookEvent("key.cooling", 100.0, "gemini", "key_1", "p1", None, "429", 169.9)
    b = WebhookEvent("key.cooling", 101.0, "gemini", "key_1", "p1", None, "429", 170.2)  # its own 429, a moment later
    assert dedup_marks(a)[0] in dedup_marks(b)  # straddling a bucket edge still meets
    assert dedup_marks(b)[0] in dedup_marks(a)


def test_other_transitions_have_other_marks():
    base = WebhookEvent("key.cooling", 100.0, "gemini", "key_1", "p1", None, "429", 170.0)
    others = [
        WebhookEvent("key.recovered", 100.0, "gemini", "key_1", "p1", None, None, 170.0),
        WebhookEvent("key.cooling", 100.0, "gemini", "key_2", "p1", None, "429", 170.0),
        WebhookEvent("key.cooling", 100.0, "gemini", "key_1", "p1", None, "429", 400.0),  # a later cooldown
    ]
    for other in others:
        assert not set(dedup_marks(base)) & {dedup_marks(other)[0]}
    recovered = WebhookEvent("key.recovered", 500.0, "gemini", "key_1", "p1")
    assert dedup_marks(recovered) != dedup_marks(WebhookEvent("key.recovered", 900.0, "gemini", "key_1", "p1"))
    assert "key_1" not in "".join(dedup_marks(base))  # names are digested too
