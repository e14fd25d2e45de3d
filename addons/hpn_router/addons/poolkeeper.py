"""PoolKeeper: builds the key pool from each config and keeps its state in the state file.

On every config (start-up or reload) a new `KeyPool` replaces `RouterState.pool`; keys whose
value stays keep their state (cooldowns, disabled, daily counts) under whatever name or position
they have now. The state file (key_pool.state_file) is locked for this process, read at start-up
(all or nothing), written at most once a second after requests that went upstream, and at
shutdown. KeyRouting only reads the pool.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from loguru import logger
from mitmproxy import http

from hpn_router.addons.flowcontext import context
from hpn_router.config import RouterConfig
from hpn_router.core.keypool import KeyPool
from hpn_router.core.poolsnapshot import SnapshotError
from hpn_router.core.quota import Limits
from hpn_router.core.state import RouterState
from hpn_router.edge.statefile import StateFileInUse, StateLock, load_state, save_state

SAVE_INTERVAL_SECONDS = 1.0


class PoolKeeper:
    def __init__(self, state: RouterState, *, keeps_state_file: bool = True, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        # Under `server.workers` > 1 only worker 0 keeps the state file (edge/workers.py).
        self.keeps_state_file = keeps_state_file
        self.clock = clock
        self._saved_at = 0.0
        self._state_lock: StateLock | None = None  # held while this process owns the state file

    def apply(self, config: RouterConfig) -> None:
        """A new config (start-up or reload): keys whose value stays keep their state, under
        whatever name or position they have now; a changed value starts fresh."""
        settings = config.key_pool
        state_file = settings.state_file if self.keeps_state_file else ""
        limits = {(q.project, q.model): Limits(q.rpm, q.rpd, q.tpm) for q in settings.limits}
        pool = KeyPool(config.pool_keys(), cooldown_seconds=settings.cooldown_seconds, limits=limits)
        if self.state.pool is not None:
            pool.restore(self.state.pool.snapshot(self.clock()), self.clock())
            pool.carry_over(self.state.pool, self.clock())
            self._move_state_file(state_file)
        elif self._own_state_file(state_file):
            self._restore_saved(pool, state_file)
        else:
            return  # refused at start-up (logged as an error, so mitmdump exits)
        self.state.pool = pool

    def response(self, flow: http.HTTPFlow) -> None:
        # Persist at most once a second, after requests that went upstream.
        if context(flow).attempts and self.clock() - self._saved_at >= SAVE_INTERVAL_SECONDS:
            self.save_state()

    def done(self) -> None:
        self.save_state()
        if self._state_lock:
            self._state_lock.release()
            self._state_lock = None

    def save_state(self) -> None:
        if self.state.pool and self._state_lock:
            snapshot = self.state.pool.snapshot(self.clock())
            totals = {"total_saved": str(self.state.total_saved), "total_charged": str(self.state.total_charged)}
            save_state(self._state_lock.path, {**snapshot, **totals})
            self._saved_at = self.clock()

    def _own_state_file(self, path: str) -> bool:
        """Lock the state file for this process; False when another router holds it."""
        if not path:
            return True
        try:
            self._state_lock = StateLock.acquire(path)
        except StateFileInUse as e:
            # Through stdlib logging, which mitmproxy's ErrorCheck watches: at start-up an
            # error makes mitmdump exit non-zero instead of sharing another router's state.
            logging.getLogger("hpn.state").error("%s", e)
            return False
        except OSError as e:
            logger.warning("Cannot lock the state file; pool state is not kept", path=path, error=type(e).__name__)
            return True
        return True

    def _move_state_file(self, path: str) -> None:
        """A reload naming another state file: take it if it is free, else keep the old one."""
        held = self._state_lock.path if self._state_lock else ""
        if path == held:
            return
        previous = self._state_lock
        try:
            self._state_lock = StateLock.acquire(path) if path else None
        except (StateFileInUse, OSError) as e:
            logger.error("Keeping the previous state file: {}", e if isinstance(e, StateFileInUse) else type(e).__name__)
            return
        if previous:
            previous.release()

    def _restore_saved(self, pool: KeyPool, path: str) -> None:
        """The state file's pool state and savings total, all or nothing: a file of any
        unexpected shape starts the router fresh, with a warning, rather than failing."""
        saved = load_state(path) if self._state_lock else {}
        if not saved:
            return
        try:
            total = _saved_total(saved)
            charged = _saved_total(saved, "total_charged") if "total_charged" in saved else Decimal(0)  # older files have none
            pool.restore(saved, self.clock())
        except SnapshotError as e:
            logger.warning("State file has an unexpected shape; starting fresh", path=path, problem=str(e))
            return
        self.state.total_saved = total
        self.state.total_charged = charged


def _saved_total(saved: dict[str, object], name: str = "total_saved") -> Decimal:
    """A total of a state file (`total_saved`, `total_charged`): a decimal string, finite and not negative."""
    text = saved.get(name)
    try:
        total = Decimal(text) if isinstance(text, str) else None
    except InvalidOperation:
        total = None
    if total is None or not total.is_finite() or total < 0:
        raise SnapshotError(f'{name}: expected a decimal string such as "0.0123"')
    return total
