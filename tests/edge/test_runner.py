"""The lean runner: what it takes itself and what sends it to mitmdump (its hook table: test_hooktable.py)."""

from __future__ import annotations

import pytest
from hpn_router.edge import reversefront, runner
from hpn_router.edge.runner import (
    UnsupportedArguments,
    builtin_addons,
    mitmdump_options,
    only_in_mitmdump,
    option_names,
    parse_args,
)
from mitmproxy.addons import proxyserver, save, script
from mitmproxy.optmanager import OptManager
from mitmproxy.proxy.mode_specs import ProxyMode

RUN_SH = [
    "-s",
    "/r/addons/router.py",
    "--mode",
    "reverse:https://generativelanguage.googleapis.com@127.0.0.1:8080",
    "--mode",
    "regular@127.0.0.1:8888",
    "--set",
    "confdir=~/.mitmproxy",
    "--set",
    "connection_strategy=lazy",
    "--set",
    "flow_detail=0",
]


def test_run_sh_arguments_are_taken():
    args = parse_args([*RUN_SH, "-s", "/x/extra.py", "-w", "/tmp/flows", "-q"])
    assert args.mode == ["reverse:https://generativelanguage.googleapis.com@127.0.0.1:8080", "regular@127.0.0.1:8888"]
    assert args.scripts == ["/r/addons/router.py", "/x/extra.py"]
    assert args.setoptions == ["confdir=~/.mitmproxy", "connection_strategy=lazy", "flow_detail=0"]
    assert (args.save_stream_file, args.quiet) == ("/tmp/flows", True)


def test_equals_and_short_forms_are_taken():
    args = parse_args(["--mode=regular@127.0.0.1:1", "-m", "reverse:http://a@2", "--set=a=b", "--scripts", "s.py"])
    assert args.mode == ["regular@127.0.0.1:1", "reverse:http://a@2"]
    assert (args.setoptions, args.scripts) == (["a=b"], ["s.py"])


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["-p", "8080"], "-p 8080"),
        (["-v"], "-v"),
        (["--mo", "regular"], "--mo regular"),  # no abbreviations: mitmdump would read it its own way
        (["--web-port", "1"], "--web-port 1"),
        (["-h"], "-h"),
        (["-s"], "incomplete arguments"),
        (["extra-positional"], "extra-positional"),
    ],
)
def test_other_arguments_are_named_for_mitmdump(argv, named):
    with pytest.raises(UnsupportedArguments) as e:
        parse_args([*RUN_SH, *argv])
    assert str(e.value) == named


@pytest.mark.parametrize(
    ("argv", "saves"),
    [(RUN_SH, False), ([*RUN_SH, "-w", "f"], True), ([*RUN_SH, "--set", "save_stream_file=f"], True)],
)
def test_the_save_addon_is_loaded_only_to_save_flows(argv, saves):
    assert runner.saves_flows(parse_args(argv)) is saves
    loaded = [type(a) for a in builtin_addons(save_flows=saves)]
    assert (save.Save in loaded) is saves
    if saves:  # scripts first, as in mitmdump: the router scrubs a flow before -w writes it
        assert loaded.index(script.ScriptLoader) < loaded.index(save.Save)


def _deferred(*specs: str) -> dict:
    options = OptManager()
    options.set(*specs, defer=True)
    return options.deferred


def test_options_only_mitmdumps_addons_know_send_it_to_mitmdump():
    lean = option_names(builtin_addons(save_flows=False))
    dump = mitmdump_options()
    assert {"scripts", "block_global", "body_size_limit", "connection_strategy"} <= lean
    assert {"anticache", "map_local", "flow_detail", "rfile"} <= dump - lean
    deferred = _deferred("anticache=true", "map_local=|a|b", "hpn_config=x.yaml", "no_such_option=1", "flow_detail=0")
    # hpn_config is the router script's own option and a typo is ignored by mitmdump too;
    # flow_detail=0 is what the runner does anyway (it never prints flows).
    assert only_in_mitmdump(deferred, lean, dump) == ["anticache", "map_local"]
    assert only_in_mitmdump(_deferred("flow_detail=2"), lean, dump) == ["flow_detail"]
    assert only_in_mitmdump(_deferred("flow_detail=1", "flow_detail=0"), lean, dump) == []  # the last one counts


def test_the_runner_loads_far_fewer_addons_than_mitmdump():
    from mitmproxy.addons import default_addons

    assert len(builtin_addons(save_flows=True)) * 2 < len(default_addons())


def test_workers_come_from_the_config_the_router_will_load(tmp_path, monkeypatch):
    config = tmp_path / "config.yaml"
    config.write_text("server: {workers: 3}\nstate: {redis_url: 'redis://127.0.0.1:6379'}\n")
    monkeypatch.setenv("HPN_API_KEYS", "AIzaSyRunnerWorkersKey")
    monkeypatch.delenv("HPN_CONFIG", raising=False)
    count, loaded = runner.worker_count(parse_args([*RUN_SH, "--set", f"hpn_config={config}"]))
    assert count == 3 and loaded.state.redis_url == "redis://127.0.0.1:6379"
    config.write_text("server: {workers: 3}\n")  # refused: the router then reports it, in one process
    assert runner.worker_count(parse_args([*RUN_SH, "--set", f"hpn_config={config}"])) == (1, None)


def test_in_flight_counts_a_request_until_its_answer_or_error():
    from mitmproxy.test import tflow

    in_flight = runner.InFlight()
    answered, failed = tflow.tflow(), tflow.tflow()
    for flow in (answered, failed):
        in_flight.requestheaders(flow)
    assert len(in_flight.flows) == 2
    in_flight.response(answered)
    in_flight.error(failed)
    assert not in_flight.flows


def test_mitmproxy_lines_of_a_worker_say_which_worker_once():
    import logging

    record = logging.LogRecord("mitmproxy", logging.INFO, __file__, 1, "listening at %s", ("127.0.0.1:8080",), None)
    tag = runner.WorkerTag(1)
    assert tag.filter(record) and tag.filter(record)  # a record passes every handler: tagged once
    assert record.getMessage() == "worker 1: listening at 127.0.0.1:8080"


class Exec(Exception):
    """Stands in for os.execv: the test process is not replaced."""


@pytest.fixture
def no_exec(monkeypatch):
    calls: list[tuple[str, list[str]]] = []

    def execv(program, args):
        calls.append((program, args))
        raise Exec

    monkeypatch.setattr(runner.os, "execv", execv)
    return calls


def test_mitmdump_replaces_the_runner_with_the_same_arguments_and_says_why(no_exec, capsys):
    with pytest.raises(Exec):
        runner.run_mitmdump(["-s", "router.py", "--anticache"], "--anticache")
    [(program, args)] = no_exec
    assert str(program).endswith("/mitmdump") and args == [str(program), "-s", "router.py", "--anticache"]
    assert "does not take --anticache; starting mitmdump instead" in capsys.readouterr().err


def test_arguments_the_runner_does_not_take_start_mitmdump(no_exec, monkeypatch):
    monkeypatch.setattr(runner.mitmproxy_main, "run", lambda *a: pytest.fail("the lean master must not start"))
    with pytest.raises(Exec):
        runner.main([*RUN_SH, "--anticache"])
    assert no_exec[0][1][1:] == [*RUN_SH, "--anticache"]


def test_a_worker_shares_its_ports_before_mitmproxy_binds_and_its_master_knows_its_index(monkeypatch):
    order: list[str] = []
    monkeypatch.setenv(runner.workers.WORKER_ENV, "2")
    monkeypatch.setattr(runner.workers, "share_listening_ports", lambda: order.append("shared"))
    monkeypatch.setattr(runner.mitmproxy_main, "run", lambda make_master, make_parser, argv: order.append(("run", make_master, argv)))
    try:
        assert runner.main(RUN_SH) == 0
    finally:
        from loguru import logger

        logger.configure(extra={})
    assert order[0] == "shared" and order[1][0] == "run" and order[1][2] == RUN_SH


@pytest.fixture
def untag_logging():
    import logging

    yield
    for handler in logging.getLogger().handlers:
        for tag in [f for f in handler.filters if isinstance(f, runner.WorkerTag)]:
            handler.removeFilter(tag)


def lean_master(worker: int | None):
    from mitmproxy import options

    return runner.LeanMaster(options.Options(), argv=RUN_SH, save_flows=False, worker=worker)


async def settle(seconds: float = 0.3) -> None:
    import asyncio

    for _ in range(int(seconds / 0.05)):
        await asyncio.sleep(0.05)


async def test_a_worker_drains_its_in_flight_requests_before_it_exits(untag_logging):
    import asyncio

    from mitmproxy.test import tflow

    master = lean_master(worker=1)
    assert master.in_flight in master.addons.chain  # it counts the worker's requests
    flow = tflow.tflow()
    master.in_flight.requestheaders(flow)
    master.shutdown()
    master.shutdown()  # Ctrl-C reaches a worker twice (terminal and supervisor): still one drain
    await settle()
    assert not master.should_exit.is_set()  # still answering its request
    master.in_flight.response(flow)
    await asyncio.wait_for(master.should_exit.wait(), 10)


async def test_a_worker_stops_waiting_for_a_request_after_the_drain_time(untag_logging, monkeypatch):
    import asyncio

    from mitmproxy.test import tflow

    monkeypatch.setattr(runner.workers, "DRAIN_SECONDS", 0.1)
    master = lean_master(worker=0)
    master.in_flight.requestheaders(tflow.tflow())  # never answered
    master.shutdown()
    await asyncio.wait_for(master.should_exit.wait(), 10)


async def test_a_router_running_alone_stops_without_draining():
    import asyncio

    from mitmproxy.test import tflow

    master = lean_master(worker=None)
    assert master.in_flight not in master.addons.chain
    master.in_flight.requestheaders(tflow.tflow())
    master.shutdown()
    await asyncio.wait_for(master.should_exit.wait(), 5)  # a drain would wait workers.DRAIN_SECONDS (30 s)


async def test_an_option_only_mitmdump_knows_sends_the_lean_master_to_mitmdump(monkeypatch):
    reasons: list[str] = []

    def run_mitmdump(argv, reason):
        reasons.append(reason)
        raise Exec

    monkeypatch.setattr(runner, "run_mitmdump", run_mitmdump)
    master = lean_master(worker=None)
    master.options.set("anticache=true", "hpn_config=x.yaml", defer=True)
    with pytest.raises(Exec):
        await master.run()
    assert reasons == ["the option anticache"]


async def test_the_reverse_modes_are_the_fronts_unless_hpn_front_says_mitmproxy(monkeypatch):
    master = lean_master(worker=None)
    proxy = master.addons.get("proxyserver")  # still found by mitmproxy's name (Timeouts, the drain)
    assert isinstance(proxy, reversefront.FrontedProxyserver) and proxy.front is master.front
    assert reversefront.serves(ProxyMode.parse("reverse:https://generativelanguage.googleapis.com@127.0.0.1:8080"))
    assert not reversefront.serves(ProxyMode.parse("regular@127.0.0.1:8888"))  # the HTTPS_PROXY listener stays mitmproxy's
    assert not reversefront.serves(ProxyMode.parse("reverse:tcp://127.0.0.1:9000@127.0.0.1:8081"))

    monkeypatch.setenv("HPN_FRONT", "mitmproxy")
    plain = lean_master(worker=None)
    assert plain.front is None and type(plain.addons.get("proxyserver")) is proxyserver.Proxyserver
