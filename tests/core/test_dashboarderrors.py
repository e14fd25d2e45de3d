"""Each key's last error on the dashboard: the latest failure per key, removed keys forgotten,
stored in Redis and read back, the later of this process's and another's."""

from __future__ import annotations

from dashboardtools import RATE_LIMITED, T0, attempt
from hpn_router.core.classify import OK, Outcome, Verdict
from hpn_router.core.dashboarderrors import LastErrors, decode_error, encode_error


def test_last_errors_keep_each_keys_latest_failure_and_forget_removed_keys():
    errors = LastErrors()
    errors.note([attempt(1, "key_1", RATE_LIMITED, 429, T0), attempt(2, "key_2", OK, 200, T0 + 1)])
    errors.note([attempt(1, "key_1", Outcome(Verdict.TRANSIENT, "503"), 503, T0 + 5)])
    assert errors.of("key_1") == {"at": T0 + 5.1, "outcome": "server_error", "status": 503}
    assert errors.of("key_2") is None
    errors.forget_except(["key_2"])
    assert errors.of("key_1") is None


def test_last_errors_are_taken_once_and_survive_a_round_trip():
    errors = LastErrors()
    errors.note([attempt(1, "key_1", RATE_LIMITED, 429, T0)])
    sent = errors.take_unsent()
    assert {name: decode_error(encode_error(e)) for name, e in sent.items()} == sent == {"key_1": (T0 + 0.1, "rate_limited", 429)}
    assert errors.take_unsent() == {} and decode_error(None) is None and decode_error(b"[1]") is None
    later = {"key_1": (T0 + 50, "server_error", 503)}
    assert errors.of("key_1", later) == {"at": T0 + 50, "outcome": "server_error", "status": 503}
    assert errors.of("key_1", {"key_1": (T0 - 50, "server_error", 503)})["at"] == T0 + 0.1  # its own is later
