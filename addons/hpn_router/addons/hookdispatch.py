"""HookDispatch: mitmdump's (or mitmweb's) addon manager calls each event only where it is handled.

Usage (router.py, before the Pipeline):
    addons = [HookDispatch(), pipeline]

mitmdump walks its ~36 built-in addons for every event of every flow, although most handle two
or three events; under load that walk was a quarter of the router's CPU. When the router's
script loads, this turns the master's manager into the lean runner's HookTable
(edge/hooktable.py): the same addons, called in the same order with the same guard, only those
that handle the event, the table renewed whenever an addon or script is added, removed or
reloaded. Every built-in addon, `-w`, mitmweb and other `-s` scripts see the hooks they saw
(docs/mitmproxy.md#one-registered-addon).
"""

from __future__ import annotations

from typing import Any

from hpn_router.edge.hooktable import adopt


class HookDispatch:
    def load(self, loader: Any) -> None:
        adopt(loader.master.addons)  # a manager of another kind keeps its own dispatch
