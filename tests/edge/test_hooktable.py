"""HookTable: each event only on the addons that handle it, in mitmproxy's order, with its guard;
adopt: mitmdump's own manager turned into one in place, its addons and their hooks unchanged."""

from __future__ import annotations

from hpn_router.edge.hooktable import HookTable, adopt
from mitmproxy import addonmanager, io, master, options
from mitmproxy.exceptions import AddonHalt
from mitmproxy.hooks import UpdateHook
from mitmproxy.proxy.layers.http import HttpRequestHook, HttpResponseHook
from mitmproxy.proxy.layers.tcp import TcpMessageHook
from mitmproxy.proxy.server_hooks import ClientConnectedHook
from mitmproxy.test import tflow
from mitmproxy.tools.dump import DumpMaster


class Calls:
    def __init__(self, name: str, log: list[str], *, halt: bool = False) -> None:
        self.name, self.log, self.halt = name, log, halt

    def request(self, flow: object) -> None:
        self.log.append(self.name)
        if self.halt:
            raise AddonHalt


class Idle:
    def __init__(self) -> None:
        self.addons: list[object] = []  # children, like mitmproxy's ScriptLoader holds scripts


async def test_the_hook_table_calls_only_the_addons_that_handle_the_event_in_order():
    table = HookTable(master.Master(options.Options()))
    log: list[str] = []
    first, idle, halting, after = Calls("first", log), Idle(), Calls("halting", log, halt=True), Calls("after", log)
    table.add(first, idle, halting, after)
    event = HttpRequestHook(tflow.tflow())
    assert table.handlers(event) == [first, halting, after]
    await table.trigger_event(event)
    assert log == ["first", "halting"]  # AddonHalt stops the chain, as in mitmproxy

    child = Calls("child", log)  # a script loaded later: registered, so the table is looked up again
    idle.addons.append(child)
    table.register(child)
    assert table.handlers(event) == [first, idle, halting, after]
    table.remove(halting)
    log.clear()
    await table.trigger_event(event)
    assert log == ["first", "child", "after"]


class Failing:
    async def request(self, flow: object) -> None:
        raise RuntimeError("addon bug")


async def test_the_hook_table_guards_each_addon_as_mitmproxy_does(caplog):
    table = HookTable(master.Master(options.Options()))
    log: list[str] = []
    table.add(Failing(), Calls("after", log))
    await table.trigger_event(HttpRequestHook(tflow.tflow()))
    assert log == ["after"]  # the next addon still runs
    assert "Addon error: addon bug" in caplog.text


async def test_the_hook_table_looks_each_handler_up_when_it_calls_it():
    table = HookTable(master.Master(options.Options()))
    log: list[str] = []
    addon = Calls("first", log)
    table.add(addon)
    event = HttpRequestHook(tflow.tflow())
    await table.trigger_event(event)
    addon.request = lambda flow: log.append("replaced")  # type: ignore[method-assign]  # e.g. a Pipeline rebuilt
    await table.trigger_event(event)
    assert log == ["first", "replaced"]


async def test_clearing_the_hook_table_forgets_the_handlers():
    table = HookTable(master.Master(options.Options()))
    calls = Calls("one", [])
    table.add(calls)
    event = HttpRequestHook(tflow.tflow())
    assert table.handlers(event) == [calls]
    table.clear()
    assert table.handlers(event) == []


async def test_changed_options_renew_the_table():
    """The script loader reorders its scripts in `configure`, registering nothing."""
    table = HookTable(master.Master(options.Options()))
    log: list[str] = []
    loader, first, second = Idle(), Calls("first", log), Calls("second", log)
    loader.addons += [first, second]
    table.add(loader)
    event = HttpRequestHook(tflow.tflow())
    await table.trigger_event(event)
    loader.addons.reverse()
    table.master.options.update(listen_port=9999)
    log.clear()
    await table.trigger_event(event)
    assert log == ["second", "first"]


async def test_adopted_mitmdump_manager_keeps_its_addons_and_their_hooks(tmp_path):
    dump = DumpMaster(options.Options(), with_termlog=False, with_dumper=False)
    manager, chain, lookup = dump.addons, list(dump.addons.chain), dict(dump.addons.lookup)
    assert adopt(manager) and isinstance(manager, HookTable)
    assert dump.addons is manager and manager.chain == chain and manager.lookup == lookup
    assert adopt(manager)  # a second router script (a reload) finds it done

    saved = tmp_path / "flows"
    dump.options.update(save_stream_file=str(saved))  # -w: mitmdump's Save addon, reached through the table
    flow = tflow.tflow(resp=True)
    await manager.handle_lifecycle(HttpRequestHook(flow))
    await manager.handle_lifecycle(HttpResponseHook(flow))
    dump.options.update(save_stream_file=None)  # closes the file
    with saved.open("rb") as f:
        assert [f.id for f in io.FlowReader(f).stream()] == [flow.id]

    log: list[str] = []
    manager.add(Calls("script", log))  # a script loaded later
    await manager.trigger_event(HttpRequestHook(flow))
    assert log == ["script"]


async def test_a_manager_of_another_kind_keeps_its_dispatch():
    class Custom(addonmanager.AddonManager):
        pass

    custom = Custom(master.Master(options.Options()))
    assert not adopt(custom)
    assert type(custom) is Custom


class Seen:
    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def client_connected(self, client: object) -> None:
        self.calls.append(("client", client))

    def tcp_message(self, flow: object) -> None:
        self.calls.append(("tcp", flow))

    def update(self, flows: object) -> None:
        self.calls.append(("update", flows))


async def test_each_event_passes_its_own_fields_to_the_handlers():
    # The field names are kept per hook class: each event still passes its own values.
    table = HookTable(master.Master(options.Options()))
    seen = Seen()
    table.add(seen)
    one, two = tflow.tclient_conn(), tflow.tclient_conn()
    tcp = tflow.ttcpflow()
    for event in (ClientConnectedHook(one), ClientConnectedHook(two), TcpMessageHook(tcp), UpdateHook([tcp])):
        await table.trigger_event(event)
    assert seen.calls == [("client", one), ("client", two), ("tcp", tcp), ("update", [tcp])]


class Updates:
    def __init__(self) -> None:
        self.seen: list[list[object]] = []

    def update(self, flows: list[object]) -> None:
        self.seen.append(flows)


async def test_a_flow_event_is_followed_by_update_only_where_an_addon_handles_it():
    table = HookTable(master.Master(options.Options()))
    log: list[str] = []
    table.add(Calls("first", log))
    flow = tflow.tflow()
    await table.handle_lifecycle(HttpRequestHook(flow))  # nobody handles update: nothing to build
    assert log == ["first"]

    updates = Updates()  # mitmweb's view refreshes on update
    table.add(updates)
    await table.handle_lifecycle(HttpRequestHook(flow))
    await table.handle_lifecycle(ClientConnectedHook(flow.client_conn))  # not a flow: no update
    assert updates.seen == [[flow]]
    assert log == ["first", "first"]
