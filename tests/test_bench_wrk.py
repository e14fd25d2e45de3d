"""bench/wrkload.py (wrk's Lua script, command line and output parser) and how bench/bench.py
picks its load generator. Pure: no wrk run here (the benchmark itself runs it)."""

import json
import re
import sys

import pytest
from benchmodules import load, load_bench

wrkload = load("wrkload")

# What wrk 4.1 printed for `wrk -t1 -c2 -d1s --latency -s <wrk_script>` against a server that
# answered 501 to everything (HTML body), trimmed to two samples.
WRK_501 = """Running 1s test @ http://127.0.0.1:18777/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.84ms    2.26ms  12.23ms   78.75%
    Req/Sec   755.50    292.32     1.22k    60.00%
  Latency Distribution
     50%    1.91ms
     75%    4.15ms
     90%    6.19ms
     99%    9.25ms
  752 requests in 1.00s, 407.77KB read
  Non-2xx or 3xx responses: 752
Requests/sec:    750.84
Transfer/sec:    407.14KB
HPN-BENCH-WRK {"non200": 752, "samples": ["HTTP 501: <!DOCTYPE HTML>\\u000a<html lang=\\u0022en\\u0022>", "HTTP 501: x"]}
"""

WRK_SOCKET_ERRORS = """Running 2s test @ http://127.0.0.1:40000/v1/chat/completions
  2 threads and 50 connections
  Latency Distribution
     50%  812.00us
     75%    1.10ms
     90%    1.50ms
     99%     1.20s
  4210 requests in 2.00s, 3.10MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
Requests/sec:   2105.00
Transfer/sec:      1.55MB
HPN-BENCH-WRK {"non200": 5, "samples": ["HTTP 429: {\\u0022error\\u0022: 1}"]}
"""


def lua_decode(literal: str) -> bytes:
    """Read back a Lua string literal as lua_string writes it (printable ASCII and \\ddd escapes)."""
    assert literal[0] == literal[-1] == '"'
    out, body, i = bytearray(), literal[1:-1], 0
    while i < len(body):
        if body[i] == "\\":
            out.append(int(body[i + 1 : i + 4]))
            i += 4
        else:
            assert body[i] not in '"\\\n'
            out.append(ord(body[i]))
            i += 1
    return bytes(out)


@pytest.mark.parametrize(
    "value",
    [
        b'{"model": "gpt-4", "messages": [{"role": "user", "content": "Hello"}]}',
        b'quote " backslash \\ newline \n tab \t cr \r nul \x00',
        "caf\u00e9 \u2603 ]] ]=] [[".encode(),
        bytes(range(256)),
    ],
)
def test_a_lua_string_holds_exactly_the_bytes_given(value):
    literal = wrkload.lua_string(value)
    assert lua_decode(literal) == value
    assert "\n" not in literal and all(32 <= ord(c) < 127 for c in literal)


def test_the_script_sets_method_body_and_every_header():
    body = b'{"model": "gpt-4", "stream": false}'
    script = wrkload.wrk_script(body, {"content-type": "application/json", "authorization": "Bearer sk-x"})
    assert 'wrk.method = "POST"' in script
    (literal,) = re.findall(r"^wrk\.body = (.*)$", script, re.M)
    assert lua_decode(literal) == body
    headers = dict(re.findall(r'^wrk\.headers\["([^"]+)"\] = (.*)$', script, re.M))
    assert {name: lua_decode(value).decode() for name, value in headers.items()} == {
        "content-type": "application/json",
        "authorization": "Bearer sk-x",
    }


def test_the_script_counts_every_status_but_200_as_an_error_and_reports_with_the_mark():
    script = wrkload.wrk_script(b"{}", {})
    assert "if status ~= 200 then" in script  # not wrk's own "non-2xx or 3xx"
    assert "function setup(thread)" in script and 'thread:get("bad")' in script  # summed over threads
    assert f'io.write("{wrkload.RESULT_MARK}"' in script


def test_the_command_keeps_one_connection_per_unit_of_concurrency_and_whole_seconds():
    args = wrkload.wrk_command("/usr/bin/wrk", "http://h/x", "/tmp/s.lua", connections=50, threads=2, seconds=2.0)
    assert args == ["/usr/bin/wrk", "-t2", "-c50", "-d2s", "--timeout=30s", "--latency", "-s", "/tmp/s.lua", "http://h/x"]
    one = wrkload.wrk_command("wrk", "http://h/x", "s.lua", connections=1, threads=2, seconds=0.5)
    assert one[1:4] == ["-t1", "-c1", "-d1s"]  # never more threads than connections; wrk takes no fractions
    assert wrkload.whole_seconds(5.0) == 5 and wrkload.whole_seconds(2.2) == 3


def test_the_parser_reads_counts_latencies_and_the_scripts_errors():
    result = wrkload.parse_wrk(WRK_501)
    assert (result.requests, result.seconds, result.non200, result.ok) == (752, 1.0, 752, 0)
    assert (result.p50_ms, result.p99_ms) == (1.91, 9.25)
    assert result.errors == 752
    assert result.samples == ['HTTP 501: <!DOCTYPE HTML>\n<html lang="en">', "HTTP 501: x"]


def test_the_parser_adds_socket_errors_and_converts_microseconds_and_seconds():
    result = wrkload.parse_wrk(WRK_SOCKET_ERRORS)
    assert result.socket_errors == {"connect": 0, "read": 3, "write": 1, "timeout": 2}
    assert result.errors == 5 + 6
    assert result.ok == 4210 - 5
    assert (result.p50_ms, result.p99_ms) == (0.812, 1200.0)


def test_without_the_scripts_line_wrks_own_non_2xx_count_is_used():
    output = WRK_501.split("HPN-BENCH-WRK")[0]
    assert wrkload.parse_wrk(output).non200 == 752


def test_a_run_without_a_summary_is_an_error_not_zero_requests():
    with pytest.raises(ValueError, match="requests in"):
        wrkload.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_the_marked_line_is_json_even_for_bodies_with_quotes_and_newlines():
    line = WRK_SOCKET_ERRORS.splitlines()[-1]
    assert json.loads(line.removeprefix(wrkload.RESULT_MARK))["samples"] == ['HTTP 429: {"error": 1}']


# -- bench.py: which load generator drives the cells -------------------------------------


@pytest.fixture(scope="module")
def bench():
    return load_bench()


@pytest.fixture(scope="module")
def report(bench):
    return sys.modules["report"]  # bench/report.py, as bench.py imported it from its folder


def _args(bench, *argv):
    return bench.parse_args(["--quick", *argv])


def test_wrk_is_the_default_load_generator(bench, tmp_path):
    args = _args(bench)
    assert (args.loadgen, args.wrk_threads) == ("wrk", 1)
    b = bench.Bench(args, tmp_path)
    if b.wrk:
        assert b.loadgen == "wrk" and not b.notes


def test_without_wrk_the_bench_falls_back_to_aiohttp_and_says_what_to_install(bench, report, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no wrk there
    b = bench.Bench(_args(bench, "--loadgen", "wrk"), tmp_path)
    assert b.loadgen == "aiohttp"
    assert "apt-get install -y wrk" in b.notes[0]
    assert "aiohttp" in report.loadgen_description(b)


def test_wrk_cells_run_whole_seconds_and_the_header_says_so(bench, report, tmp_path):
    b = bench.Bench(_args(bench, "--warmup", "0.5", "--duration", "2.5"), tmp_path)
    b.loadgen = "wrk"
    assert (report.warmup_seconds(b), report.measured_seconds(b)) == (1, 3)
    b.loadgen = "aiohttp"
    assert (report.warmup_seconds(b), report.measured_seconds(b)) == (0.5, 2.5)


def _row(bench, config, c, rps):
    return bench.LoadRow(config, c, 100, 0, 2.0, rps, 1.0, 2.0, 0.5, 1.0, 0.5, 0.1, 0.0)


def test_the_report_says_when_the_emulator_cannot_feed_two_workers(bench, report, tmp_path):
    b = bench.Bench(_args(bench), tmp_path)
    b.load_rows = [
        _row(bench, "direct", 10, 2000.0),
        _row(bench, bench.ONE_WORKER, 10, 600.0),
        _row(bench, "direct", 50, 800.0),
        _row(bench, bench.ONE_WORKER, 50, 600.0),
    ]
    c10, c50 = report.emulator_headroom(b)
    assert "c=10" in c10 and "(enough)" in c10
    assert "c=50" in c50 and "TOO LOW" in c50 and "900 req/s" in c50
