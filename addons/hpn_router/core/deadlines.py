"""Per-connection deadlines that keep slow or idle clients from holding a connection for ever.

A client connection is always in one of three states:
- waiting for request headers (just connected, or a tunnel to a host the router serves has
  just opened): the headers must be complete within `header_timeout`;
- busy (at least one request between its headers and its answer): no deadline, since a long
  upload or a long stream is legitimate;
- idle (every request answered): the next request's headers must be complete within
  `idle_timeout` of the last answer.
Connections the router does not read (passthrough tunnels, WebSockets) are forgotten. Pure:
the caller passes the time and closes what `expired` returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class _Connection:
    deadline: float | None
    reason: str
    in_flight: set[str] = field(default_factory=set)  # request ids: HTTP/2 runs several at once


class ConnectionDeadlines:
    def __init__(self, header_timeout: float, idle_timeout: float) -> None:
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self._connections: dict[str, _Connection] = {}

    def __len__(self) -> int:
        return len(self._connections)

    def connected(self, conn: str, now: float) -> None:
        self._connections[conn] = _Connection(now + self.header_timeout, "request headers too slow")

    def awaiting_headers(self, conn: str, now: float) -> None:
        """A tunnel to a host the router serves opened: its first request starts now."""
        if (state := self._connections.get(conn)) is not None and not state.in_flight:
            state.deadline, state.reason = now + self.header_timeout, "request headers too slow"

    def request_started(self, conn: str, request: str) -> None:
        if (state := self._connections.get(conn)) is not None:
            state.in_flight.add(request)
            state.deadline = None

    def request_finished(self, conn: str, request: str, now: float) -> None:
        """The request was answered (or failed). Told twice, the second time changes nothing."""
        if (state := self._connections.get(conn)) is not None and request in state.in_flight:
            state.in_flight.discard(request)
            if not state.in_flight:
                state.deadline, state.reason = now + self.idle_timeout, "idle"

    def forget(self, conn: str) -> None:
        self._connections.pop(conn, None)

    def expired(self, now: float) -> list[tuple[str, str]]:
        """(connection, reason) of every connection past its deadline; they are forgotten."""
        late = [(conn, state.reason) for conn, state in self._connections.items() if state.deadline is not None and state.deadline <= now]
        for conn, _ in late:
            del self._connections[conn]
        return late
