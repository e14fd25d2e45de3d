"""Config reloads across routers sharing a Redis: `announce` tells the other routers that an
operator reloaded this one (`/admin/reload`, SIGHUP), and each of them reloads its own config
(SharedPoolState.peer_reload, which Admin sets) once per notice, without announcing it again
(core/sharedreload.py decides who announces and who follows).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from loguru import logger

from hpn_router.config.readers import redacted_redis_url
from hpn_router.core.sharedreload import NoticeFilter, ReloadNotice, announces, siblings_of
from hpn_router.edge.sharedstate import StoreError

if TYPE_CHECKING:
    from hpn_router.addons.sharedstate import SharedPoolState


class SharedReloads:
    def __init__(self, shared: SharedPoolState) -> None:
        self.shared = shared
        self.notices = NoticeFilter(shared.supervisor)

    async def announce(self, trigger: str) -> int | None:
        """Tell the other routers an operator reloaded this one; how many routers got the notice,
        0 when this reload is not told (a peer's, or a SIGHUP another worker tells), None when
        Redis is down (logged: the others keep their config until reloaded)."""
        shared, store = self.shared, self.shared.store
        if store is None or not announces(trigger, shared.worker):
            return 0
        if shared.state.redis == "up":
            try:
                return await store.channel.publish_reload(shared.name, siblings_of(trigger, shared.worker, shared.supervisor or ""))
            except StoreError as e:
                shared.redis_failed(e)
        logger.bind(event="config_reload_not_shared", trigger=trigger).warning(
            "Redis is down: the other routers were not told to reload; reload each of them", redis=redacted_redis_url(shared.url or "")
        )
        return None

    def take_notice(self, notice: ReloadNotice) -> None:
        """Another router was reloaded by an operator: reload this one too, once, outside the
        listener (a reload may replace the Redis connection it reads from)."""
        store, reload = self.shared.store, self.shared.peer_reload
        if store is None or reload is None or not self.notices.follows(notice, store.sender):
            return
        asyncio.get_running_loop().call_soon(reload, notice.origin)
