"""The lean runner's reverse front (edge/reversefront.py) against real loopback sockets: it
listens, hands each request to the addons as a mitmproxy flow with mitmproxy's hooks in
mitmproxy's order, and lets the Block addon refuse a client at connect."""

from __future__ import annotations

from typing import Any

from frontkit import (
    ANSWER,
    GET,
    TARGET,
    FakeMaster,
    Front,
    answer,
    full_options,
    read_response,
    read_to_end,
    status_line,
)
from hpn_router.edge.reversefront import ReverseFront
from mitmproxy.proxy.mode_specs import ProxyMode


async def test_an_answered_request_goes_through_mitmproxys_hooks_and_keeps_the_connection_alive(front: Front):
    front.addons.handlers["request"] = answer
    reader, writer = await front.connect()
    writer.write(GET)
    head, body = await read_response(reader)
    assert head + body == ANSWER

    writer.write(b"GET /v1/models HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")  # the same connection
    head, body = await read_response(reader)
    assert status_line(head) == b"HTTP/1.1 200 OK" and body == b"hello"
    assert await read_to_end(reader) == b""  # `connection: close` closes it
    writer.close()

    await front.addons.wait_disconnected()
    one = ["requestheaders", "request", "responseheaders", "response"]
    assert front.addons.names == ["client_connected", *one, *one, "client_disconnected"]


async def test_a_client_blocked_in_client_connected_is_closed_without_reading(front: Front):
    def block(client: Any) -> None:
        client.error = "Client connection blocked."

    front.addons.handlers["client_connected"] = block
    front.addons.handlers["request"] = answer
    reader, writer = await front.connect()
    writer.write(GET)
    try:
        reply = await read_to_end(reader)
    except ConnectionResetError:  # closed with our request unread: the kernel may reset
        reply = b""
    writer.close()
    assert reply == b""
    await front.addons.wait_disconnected()
    assert front.addons.names == ["client_connected", "client_disconnected"]


async def test_a_port_in_use_is_an_error_naming_it_and_listen_says_false(front: Front, caplog):
    taken = ReverseFront(FakeMaster(full_options()))
    assert not await taken.listen([ProxyMode.parse(f"reverse:https://{TARGET}@127.0.0.1:{front.port}")])
    assert f"could not listen on 127.0.0.1:{front.port}" in caplog.text  # logged as an error: the runner exits at start-up
    assert taken.servers == []
