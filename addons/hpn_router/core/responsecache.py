"""Bounded TTL cache of complete chat answers, and in-flight coalescing.

`ResponseCache` holds finished answers under a cache key (see `cachekey`),
bounded by entry count, by bytes and by age. `InFlight` lets identical
requests that arrive while the first one is still upstream wait for its
answer instead of spending quota on the same question again.

Both are sans-I/O: the clock is injected, and `InFlight` only uses asyncio
futures. Both assume a single event loop (mitmproxy's), so no locks.

Usage:
    cache = ResponseCache(max_entries=1000, max_bytes=50_000_000,
                          ttl_seconds=300, timer=time.monotonic)
    inflight = InFlight()
    if (hit := cache.get(key)) is None:
        if inflight.begin(key):
            with inflight.leading(key):
                answer = await ask_gemini()
                cache.put(key, answer)
                inflight.finish(key, answer)
        else:
            hit = await inflight.wait(key, timeout=30)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cachetools import TTLCache


class CachedAnswer:
    """A complete answer as the client would have received it.

    One read from the cache parses the stored JSON only when `completion` or `usage` is read:
    a hit whose body is already in `renders` needs neither. `renders` is shared by every read of
    one entry (what hits made of it, see core/bodytemplate.py); the dicts are fresh per read, so a
    caller that rewrites `id`/`created` in them cannot corrupt the entry."""

    __slots__ = ("_completion", "_usage", "_payload", "created_at", "renders")

    def __init__(
        self, completion: dict[str, Any] | None, usage: dict[str, Any] | None, created_at: float, *, payload: bytes | None = None
    ) -> None:
        self._completion = completion
        self._usage = usage
        self._payload = payload  # set (and completion None) for an answer read from the cache
        self.created_at = created_at  # timer() value when the answer was stored
        self.renders: dict[Any, Any] = {}

    @property
    def completion(self) -> dict[str, Any]:
        """The OpenAI chat.completion JSON, complete (or the model's answer, core/cachedanswer.py)."""
        if self._completion is None:
            self._parse()
        assert self._completion is not None
        return self._completion

    @property
    def usage(self) -> dict[str, Any] | None:
        """The OpenAI usage block."""
        if self._completion is None:
            self._parse()
        return self._usage

    def _parse(self) -> None:
        data = json.loads(self._payload or b"null")
        self._completion, self._usage = data["completion"], data["usage"]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CachedAnswer):
            return NotImplemented
        return (self.completion, self.usage, self.created_at) == (other.completion, other.usage, other.created_at)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    def __repr__(self) -> str:
        return f"CachedAnswer(completion={self.completion!r}, usage={self.usage!r}, created_at={self.created_at!r})"


@dataclass(frozen=True)
class _Stored:
    """Serialized form: each `get` returns fresh dicts, so a caller that
    rewrites `id`/`created` in a replayed answer cannot corrupt the entry."""

    payload: bytes
    created_at: float
    renders: dict[Any, Any] = field(default_factory=dict, compare=False)


class ResponseCache:
    """LRU + TTL cache with an entry bound and a byte bound.

    Entry size is the length of the answer's compact UTF-8 JSON: an
    approximation of memory, good enough for a budget. When either bound
    would be exceeded, expired entries go first, then least recently used
    ones (cachetools' `TTLCache` order; `get` counts as a use).
    """

    def __init__(
        self,
        *,
        max_entries: int,
        max_bytes: int,
        ttl_seconds: float,
        timer: Callable[[], float],
    ) -> None:
        if max_entries < 1 or max_bytes < 1 or ttl_seconds <= 0:
            raise ValueError("max_entries, max_bytes and ttl_seconds must be positive")
        self._max_entries = max_entries
        self._timer = timer
        # The byte budget is TTLCache's own maxsize, so cachetools evicts for
        # it; the entry bound is enforced in `put`.
        self._cache: TTLCache[str, _Stored] = TTLCache(maxsize=max_bytes, ttl=ttl_seconds, timer=timer, getsizeof=_size)

    def get(self, key: str) -> CachedAnswer | None:
        stored = self._cache.get(key)
        if stored is None:
            return None
        answer = CachedAnswer(None, None, stored.created_at, payload=stored.payload)
        answer.renders = stored.renders
        return answer

    def put(self, key: str, answer: CachedAnswer) -> bool:
        """Store `answer`; False (and nothing stored) if it alone exceeds the
        byte budget. Replaces an existing entry under the same key."""
        payload = answer_to_bytes(answer)
        if not self.fits(payload):
            return False
        # The leader's own renders (none yet, or its followers') serve the entry's later hits.
        self._cache[key] = _Stored(payload, answer.created_at, answer.renders)
        while len(self._cache) > self._max_entries:
            self._cache.popitem()
        return True

    def fits(self, payload: bytes) -> bool:
        """Whether an entry of this serialized size may be kept at all (the byte budget bounds
        one entry too, here and in Redis)."""
        return len(payload) <= self._cache.maxsize

    def __len__(self) -> int:
        self._cache.expire()
        return len(self._cache)

    @property
    def bytes_used(self) -> int:
        self._cache.expire()
        return int(self._cache.currsize)


def answer_to_bytes(answer: CachedAnswer) -> bytes:
    """An entry's serialized form: what the budget counts and what routers sharing Redis store."""
    payload = {"completion": answer.completion, "usage": answer.usage}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass")


def answer_from_bytes(payload: bytes, created_at: float) -> CachedAnswer | None:
    """The answer `answer_to_bytes` wrote; None for anything else (a value another version wrote)."""
    try:
        data = json.loads(payload)
        completion, usage = data["completion"], data["usage"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(completion, dict) or not (usage is None or isinstance(usage, dict)):
        return None
    return CachedAnswer(completion, usage, created_at)


def _size(stored: _Stored) -> int:
    return len(stored.payload)


class InFlight:
    """Coalesces identical requests while the first is still upstream.

    The first caller of `begin(key)` becomes the leader and must call
    `finish(key, answer_or_None)` exactly once, also on failure;
    `leading(key)` guarantees that. Later callers are followers and
    `await wait(key, timeout)`, which returns the leader's answer, or None if
    the leader failed or the timeout passed (the follower then asks upstream
    itself). Followers must call `wait` right after `begin` with no `await`
    in between; otherwise the leader may already be done and `wait` returns
    None at once.

    The dict only holds unfinished leaders, so nothing accumulates.
    """

    def __init__(self) -> None:
        self._pending: dict[str, asyncio.Future[CachedAnswer | None]] = {}

    def begin(self, key: str) -> bool:
        """True if the caller is the leader for `key`."""
        if key in self._pending:
            return False
        self._pending[key] = asyncio.get_running_loop().create_future()
        return True

    def finish(self, key: str, answer: CachedAnswer | None) -> None:
        """Release the followers of `key` with `answer` (None = failed).
        Calling it again, or for an unknown key, does nothing."""
        future = self._pending.pop(key, None)
        if future is not None and not future.done():
            future.set_result(answer)

    async def wait(self, key: str, timeout: float | None) -> CachedAnswer | None:
        future = self._pending.get(key)
        if future is None:
            return None
        try:
            # shield: a follower's timeout or cancellation must not cancel
            # the future the leader and the other followers share.
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return None

    @contextlib.contextmanager
    def leading(self, key: str) -> Iterator[None]:
        """Make sure the leader's followers are released even if the leader
        raises or is cancelled. Only touches this leader's own future, so a
        late exit cannot release a newer leader's followers."""
        future = self._pending.get(key)
        try:
            yield
        finally:
            # `finish` pops and resolves together, so a future still in the
            # dict is this leader's and unresolved.
            if future is not None and self._pending.get(key) is future:
                self.finish(key, None)

    def __contains__(self, key: object) -> bool:
        """Whether a leader is asking upstream for `key` right now (a caller
        that must not lead, e.g. one whose answer may not be stored, can
        still follow)."""
        return key in self._pending

    def __len__(self) -> int:
        return len(self._pending)
