"""Timeouts: which connections get a deadline, in mitmproxy's hook order."""

from __future__ import annotations

from hpn_router.addons.timeouts import Timeouts
from hpn_router.config import parse_config
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tflow

REGULAR = ProxyMode.parse("regular@127.0.0.1:8888")
CONFIG = parse_config({"server": {"header_timeout_seconds": 2, "idle_timeout_seconds": 5}}, {"HPN_API_KEYS": "AIzaTestKey"})


def addon_at(now: list[float]) -> Timeouts:
    timeouts = Timeouts(clock=lambda: now[0])
    timeouts.apply(CONFIG)
    return timeouts


def connect_flow(host: str) -> object:
    flow = tflow.tflow()
    flow.client_conn.proxy_mode = REGULAR
    flow.request.method, flow.request.host, flow.request.port = "CONNECT", host, 443
    return flow


def test_a_request_clears_the_header_deadline_and_its_answer_starts_the_idle_one():
    now = [0.0]
    timeouts = addon_at(now)
    flow = tflow.tflow(resp=True)
    with taddons.context(timeouts):
        timeouts.client_connected(flow.client_conn)
        timeouts.requestheaders(flow)
        assert timeouts.deadlines.expired(100.0) == []
        now[0] = 100.0
        timeouts.response(flow)
        timeouts.error(flow)  # a late error for the same request changes nothing
        assert timeouts.deadlines.expired(104.9) == []
        assert timeouts.deadlines.expired(105.0) == [(flow.client_conn.id, "idle")]


def test_a_passthrough_tunnel_is_forgotten_and_an_intercepted_one_awaits_headers():
    now = [0.0]
    timeouts = addon_at(now)
    with taddons.context(timeouts):
        passthrough, intercepted = connect_flow("example.com"), connect_flow("api.openai.com")
        for flow in (passthrough, intercepted):
            timeouts.client_connected(flow.client_conn)
            timeouts.http_connect(flow)
            timeouts.http_connected(flow)
        assert timeouts.deadlines.expired(10**6) == [(intercepted.client_conn.id, "request headers too slow")]


def test_a_closed_connection_a_failed_tunnel_and_a_websocket_stop_their_deadlines():
    now = [0.0]
    timeouts = addon_at(now)
    with taddons.context(timeouts):
        closed, websocket = tflow.tflow(), tflow.tflow()
        failed_tunnel = connect_flow("api.openai.com")
        for flow in (closed, websocket, failed_tunnel):
            timeouts.client_connected(flow.client_conn)
        timeouts.http_connect(failed_tunnel)
        timeouts.client_disconnected(closed.client_conn)
        timeouts.websocket_start(websocket)  # a WebSocket is not the router's to time out
        now[0] = 50.0
        timeouts.http_connect_error(failed_tunnel)  # answered with an error: the connection is idle now
        assert timeouts.deadlines.expired(54.9) == []
        assert timeouts.deadlines.expired(55.0) == [(failed_tunnel.client_conn.id, "idle")]


def test_an_http3_client_keeps_mitmproxys_own_timeout():
    timeouts = addon_at([0.0])
    flow = tflow.tflow()
    flow.client_conn.transport_protocol = "udp"
    with taddons.context(timeouts):
        timeouts.client_connected(flow.client_conn)
        assert len(timeouts.deadlines) == 0


class Handler:
    """What _close reads of mitmproxy's ConnectionHandler: its client and the client's I/O task."""

    def __init__(self, client, task) -> None:
        from mitmproxy.proxy.server import ConnectionIO

        self.client = client
        self.transports = {client: ConnectionIO(handler=task)}


async def test_the_watch_closes_a_late_connection_by_cancelling_its_handler(monkeypatch):
    import asyncio

    from hpn_router.addons import timeouts as module
    from loguru import logger
    from mitmproxy.addons.proxyserver import Proxyserver

    monkeypatch.setattr(module, "TICK_SECONDS", 0.01)
    now = [0.0]
    timeouts = addon_at(now)
    proxyserver = Proxyserver()
    slow, unknown = tflow.tflow(), tflow.tflow()
    slow.client_conn.peername = ("10.0.0.7", 5555)
    io_task = asyncio.get_running_loop().create_task(asyncio.sleep(3600))
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), format="{message} {extra}")
    try:
        with taddons.context(proxyserver, timeouts):
            proxyserver.connections[slow.client_conn.id] = Handler(slow.client_conn, io_task)
            timeouts.client_connected(slow.client_conn)
            timeouts.client_connected(unknown.client_conn)  # no handler: already gone, nothing to close
            timeouts.running()
            timeouts.running()  # one watch only
            now[0] = 2.0  # header_timeout_seconds: 2
            for _ in range(200):
                if io_task.done():
                    break
                await asyncio.sleep(0.01)
            assert io_task.cancelled()
            assert len(timeouts.deadlines) == 0
            await timeouts.done()
            assert timeouts._task is None
    finally:
        logger.remove(sink)
        io_task.cancel()
    [line] = [line for line in lines if "Closed a client connection" in line]
    assert "request headers too slow" in line and "10.0.0.7:5555" in line
