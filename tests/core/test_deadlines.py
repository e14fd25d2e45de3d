from __future__ import annotations

from hpn_router.core.deadlines import ConnectionDeadlines


def test_headers_must_arrive_within_the_header_timeout():
    d = ConnectionDeadlines(header_timeout=2, idle_timeout=10)
    d.connected("slow", 0.0)
    d.connected("quick", 0.0)
    d.request_started("quick", "r1")
    assert d.expired(1.9) == []
    assert d.expired(2.0) == [("slow", "request headers too slow")]
    assert len(d) == 1  # the slow one is forgotten once reported


def test_a_busy_connection_has_no_deadline_and_an_idle_one_gets_the_idle_timeout():
    d = ConnectionDeadlines(header_timeout=2, idle_timeout=10)
    d.connected("c", 0.0)
    d.request_started("c", "r1")
    d.request_started("c", "r2")  # HTTP/2: two at once
    d.request_finished("c", "r1", 1.0)
    assert d.expired(1000.0) == []  # r2 is still running
    d.request_finished("c", "r2", 1000.0)
    d.request_finished("c", "r2", 1005.0)  # told twice (response, then error): no change
    assert d.expired(1009.9) == []
    assert d.expired(1010.0) == [("c", "idle")]


def test_a_tunnel_awaits_headers_and_forgotten_connections_never_expire():
    d = ConnectionDeadlines(header_timeout=2, idle_timeout=10)
    d.connected("tunnel", 0.0)
    d.request_started("tunnel", "connect")
    d.request_finished("tunnel", "connect", 1.0)
    d.awaiting_headers("tunnel", 1.0)
    assert d.expired(3.0) == [("tunnel", "request headers too slow")]
    d.connected("passthrough", 0.0)
    d.forget("passthrough")
    d.request_finished("passthrough", "x", 0.0)
    assert d.expired(10**9) == []
