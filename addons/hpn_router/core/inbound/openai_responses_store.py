"""Stored responses of OpenAI's Responses API: what `previous_response_id` continues, and what
`GET /v1/responses/{id}` returns.

Each entry holds the Response object as its client received it and the conversation it ends:
the request's input as the model's messages (its `instructions` left out: OpenAI does not carry
them over to the next turn), then the answer's output. A request naming it as its
`previous_response_id` gets that conversation before its own input.

In memory, bounded by entry count, by bytes and by age (`ttl_seconds`); the oldest entries go
first. An entry is visible only to the client that created it (`owner`, Access's client name):
another client's id reads as unknown, as OpenAI answers for another organisation's. Pure: the
clock is passed in, and a single event loop (mitmproxy's) uses it, so no locks.

Usage:
    store = ResponseStore(max_entries=1000, max_bytes=64 << 20, ttl_seconds=3600)
    store.put(stored_response(owner, response, conversation), now)
    history = store.conversation(response_id, owner, now)     # None: unknown, expired or not ours
    store.get(response_id, owner, now)                        # the StoredResponse, or None
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ..model.request import MediaPart, Message, ReasoningPart, TextPart, ToolResult

# What an entry costs besides its text: object headers, ids. A rough figure, for the budget only.
ENTRY_OVERHEAD = 256
MESSAGE_OVERHEAD = 64


@dataclass(frozen=True, slots=True)
class StoredResponse:
    response_id: str
    owner: str  # the client that created it; nobody else reads or continues it
    body: bytes  # the Response object's JSON, as the client received it
    conversation: tuple[Message, ...]  # the input (instructions excepted), then the output
    size: int  # bytes counted against the store's budget

    def response(self) -> dict[str, Any]:
        """A fresh copy of the Response object (callers may change it)."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


def stored_response(owner: str, response: dict[str, Any], conversation: tuple[Message, ...]) -> StoredResponse:
    body = json.dumps(response, ensure_ascii=False, separators=(",", ":")).encode()
    size = ENTRY_OVERHEAD + len(body) + sum(message_size(m) for m in conversation)
    return StoredResponse(str(response["id"]), owner, body, conversation, size)


def message_size(message: Message) -> int:
    """Bytes a message holds, roughly: its text, media data and call arguments. Entries of one
    conversation share their earlier messages, so this counts them once per entry: an upper bound."""
    size = MESSAGE_OVERHEAD + sum(_part_size(p) for p in message.content)
    for call in message.tool_calls:
        size += len(call.name) + len(call.id or "") + len(json.dumps(call.arguments, ensure_ascii=False))
    return size


def _part_size(part: object) -> int:
    if isinstance(part, TextPart):
        return len(part.text.encode())
    if isinstance(part, MediaPart):
        return len(part.data or "") + len(part.url or "")
    if isinstance(part, ToolResult):
        return sum(_part_size(p) for p in part.content) + len(part.call_id or "")
    if isinstance(part, ReasoningPart):
        return len(part.text) + len(part.signature.value if part.signature else "")
    return MESSAGE_OVERHEAD


class ResponseStore:
    def __init__(self, *, max_entries: int = 1000, max_bytes: int = 64 << 20, ttl_seconds: float = 3600) -> None:
        self._entries: OrderedDict[str, tuple[StoredResponse, float]] = OrderedDict()  # oldest first
        self._bytes = 0
        self.max_entries, self.max_bytes, self.ttl_seconds = max_entries, max_bytes, ttl_seconds

    def configure(self, *, max_entries: int, max_bytes: int, ttl_seconds: float, now: float) -> None:
        """New bounds (a config reload): entries are kept as far as the new bounds allow."""
        self.max_entries, self.max_bytes, self.ttl_seconds = max_entries, max_bytes, ttl_seconds
        self._evict(now)

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def put(self, entry: StoredResponse, now: float) -> bool:
        """Keep `entry`; False when the store is off or the entry alone exceeds the byte budget."""
        if not self.enabled or entry.size > self.max_bytes:
            return False
        self._drop(entry.response_id)
        self._entries[entry.response_id] = (entry, now)
        self._bytes += entry.size
        self._evict(now)
        return True

    def get(self, response_id: str, owner: str, now: float) -> StoredResponse | None:
        """The entry, if it exists, has not expired and belongs to `owner`."""
        found = self._entries.get(response_id)
        if found is None:
            return None
        entry, stored_at = found
        if now - stored_at >= self.ttl_seconds:
            self._drop(response_id)
            return None
        return entry if entry.owner == owner else None

    def conversation(self, response_id: str, owner: str, now: float) -> tuple[Message, ...] | None:
        entry = self.get(response_id, owner, now)
        return entry.conversation if entry else None

    def delete(self, response_id: str, owner: str, now: float) -> bool:
        if self.get(response_id, owner, now) is None:
            return False
        self._drop(response_id)
        return True

    def _drop(self, response_id: str) -> None:
        found = self._entries.pop(response_id, None)
        if found is not None:
            self._bytes -= found[0].size

    def _evict(self, now: float) -> None:
        """Expired entries first, then the oldest until both bounds hold."""
        while self._entries:
            oldest_id, (_, stored_at) = next(iter(self._entries.items()))
            over = len(self._entries) > self.max_entries or self._bytes > self.max_bytes
            if not over and now - stored_at < self.ttl_seconds:
                return
            self._drop(oldest_id)
