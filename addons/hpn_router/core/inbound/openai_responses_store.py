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
    entry_from_bytes(entry_to_bytes(entry))                   # as routers sharing Redis pass it on
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..model.request import MediaPart, Message, ReasoningPart, Signature, TextPart, ToolCall, ToolResult

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


# -- the wire form routers sharing Redis exchange (never pickle: Redis holds data, not code) --------

# Every model class a stored conversation holds, by name: the only types an entry read back can build.
_MODEL_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (Message, TextPart, MediaPart, ReasoningPart, Signature, ToolCall, ToolResult)
}
_MODEL_CLASSES = frozenset(_MODEL_TYPES.values())


def entry_to_bytes(entry: StoredResponse) -> bytes:
    data = {
        "id": entry.response_id,
        "owner": entry.owner,
        "body": entry.body.decode(),
        "conversation": [_to_plain(m) for m in entry.conversation],
        "size": entry.size,
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")


def entry_from_bytes(raw: bytes) -> StoredResponse | None:
    """The entry `entry_to_bytes` wrote; None for anything else (another version's, or not ours)."""
    try:
        data = json.loads(raw)
        conversation = tuple(_from_plain(m) for m in data["conversation"])
        entry = StoredResponse(str(data["id"]), str(data["owner"]), str(data["body"]).encode(), conversation, int(data["size"]))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    return entry if all(isinstance(m, Message) for m in conversation) else None


def _to_plain(value: Any) -> Any:
    if type(value) in _MODEL_CLASSES:
        return {"$type": type(value).__name__, **{f.name: _to_plain(getattr(value, f.name)) for f in fields(value)}}
    if isinstance(value, tuple):
        return [_to_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {"$json": dict(value)}  # a tool call's arguments: plain JSON, kept as it is
    return value


def _from_plain(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_from_plain(v) for v in value)
    if isinstance(value, dict) and "$json" in value:
        return dict(value["$json"])
    if isinstance(value, dict):
        cls = _MODEL_TYPES[value["$type"]]  # KeyError: not a type a conversation holds
        return cls(**{k: _from_plain(v) for k, v in value.items() if k != "$type"})
    return value


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
