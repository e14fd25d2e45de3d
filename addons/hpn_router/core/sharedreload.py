"""Config reloads across routers sharing a Redis: a router reloaded by an operator
(`/admin/reload`, SIGHUP) publishes a `ReloadNotice` on the shared channel; each other router
reloads its own config file once per notice and never announces that reload in turn, so notices
cannot loop or multiply. The publishing is edge/sharedchannel.py's, the following addons/sharedreload.py's.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import Any

RELOAD_KIND = "reload"  # a message's `kind`; deltas have none (routers before reloads were shared skip it)
ANNOUNCED_TRIGGERS = ("admin_api", "sighup")  # operator reloads; a `peer` reload is never announced again
SEEN_NOTICES = 256  # notice ids remembered, so a notice delivered twice reloads once


@dataclass(frozen=True, slots=True)
class ReloadNotice:
    sender: str  # the publishing connection's id (RedisStore.sender): a router skips its own
    origin: str  # the reloaded router, named for the others' logs (`router_name`)
    notice: str  # unique per reload: each router reloads once per notice
    siblings: str | None = None  # workers of one supervisor that all got the SIGHUP themselves


def router_name(host: str, pid: int, worker: int | None) -> str:
    """How a router is named in the other routers' reload lines: its host, process and worker."""
    return f"{host} pid {pid}" + ("" if worker is None else f" worker {worker}")


def announces(trigger: str, worker: int | None) -> bool:
    """Whether a reload is told to the other routers. A supervisor hands SIGHUP to each of its
    workers: worker 0 alone tells the routers elsewhere, once for them all."""
    if trigger not in ANNOUNCED_TRIGGERS:
        return False
    return not (trigger == "sighup" and worker not in (None, 0))


def siblings_of(trigger: str, worker: int | None, supervisor: str) -> str | None:
    """The supervisor whose workers already reload on this SIGHUP (they skip its notice); None
    when every router but the origin should reload."""
    return supervisor if trigger == "sighup" and worker is not None else None


def encode_reload(notice: ReloadNotice) -> str:
    return json.dumps(
        {"kind": RELOAD_KIND, "sender": notice.sender, "origin": notice.origin, "notice": notice.notice, "siblings": notice.siblings}
    )


def decode_reload(text: str | bytes) -> ReloadNotice | None:
    """A reload notice; None for anything else (a delta, another version's message)."""
    try:
        data: Any = json.loads(text)
        if data.get("kind") != RELOAD_KIND:
            return None
        siblings = data.get("siblings")
        fields = (data["sender"], data["origin"], data["notice"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if not all(isinstance(x, str) for x in fields) or not (siblings is None or isinstance(siblings, str)):
        return None
    return ReloadNotice(*fields, siblings=siblings)


class NoticeFilter:
    """Which notices this router follows: not its own, not one its supervisor already handed it
    as a SIGHUP, and each notice once (bounded memory of the ids seen)."""

    def __init__(self, supervisor: str | None, size: int = SEEN_NOTICES) -> None:
        self.supervisor = supervisor
        self._seen: deque[str] = deque(maxlen=size)

    def follows(self, notice: ReloadNotice, own_sender: str) -> bool:
        if notice.sender == own_sender or notice.notice in self._seen:
            return False
        self._seen.append(notice.notice)
        return notice.siblings is None or notice.siblings != self.supervisor
