"""HookDispatch: loading the router's script gives the master the hook table."""

from __future__ import annotations

from hpn_router.addons.hookdispatch import HookDispatch
from hpn_router.edge.hooktable import HookTable
from mitmproxy.test import taddons


async def test_loading_it_gives_the_master_the_hook_table():
    with taddons.context() as tctx:
        core = tctx.master.addons.get("core")
        tctx.master.addons.add(HookDispatch())
        assert isinstance(tctx.master.addons, HookTable)
        assert tctx.master.addons.get("core") is core  # the addons loaded before keep their place
