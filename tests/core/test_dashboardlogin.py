"""Who may see the dashboard: sessions (random, expiring, bounded), the failed-login throttle,
and a session as Redis keeps it (a digest)."""

from __future__ import annotations

from dashboardtools import T0
from hpn_router.core.dashboardlogin import LoginThrottle, Sessions, session_member


def test_a_session_is_random_valid_until_it_expires_and_ends_on_logout():
    sessions = Sessions(lifetime=100)
    a, b = sessions.open(T0), sessions.open(T0)
    assert a != b and len(a) >= 40
    assert sessions.valid(a, T0 + 99) and not sessions.valid(a + "x", T0) and not sessions.valid(None, T0) and not sessions.valid("", T0)
    assert not sessions.valid(a, T0 + 100)
    sessions.close(b)
    assert not sessions.valid(b, T0 + 1)


def test_sessions_are_bounded_and_cleared_together():
    sessions = Sessions(capacity=3)
    ids = [sessions.open(T0) for _ in range(5)]
    assert [sessions.valid(s, T0) for s in ids] == [False, False, True, True, True]
    sessions.clear()
    assert not any(sessions.valid(s, T0) for s in ids)


def test_the_login_form_takes_ten_wrong_tokens_a_minute_then_waits():
    throttle = LoginThrottle(limit=10, window=60)
    for i in range(10):
        assert throttle.retry_after(T0 + i) is None
        throttle.failed(T0 + i)
    assert throttle.retry_after(T0 + 10) == 50  # the oldest of the ten leaves the window at T0 + 60
    assert throttle.retry_after(T0 + 60) is None
    throttle.failed(T0 + 60)
    assert throttle.retry_after(T0 + 60.5) == 0.5  # ten again within a minute (T0 + 1 ... T0 + 60): wait for T0 + 1's to go


def test_a_session_is_kept_in_redis_as_a_digest_of_the_session_and_the_admin_token():
    member = session_member("admin-token-0123456789", "session-id")
    assert len(member) == 64 and "session-id" not in member and "admin" not in member
    assert member != session_member("another-admin-token", "session-id") != session_member("admin-token-0123456789", "other")
