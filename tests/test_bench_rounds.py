"""bench/rounds.py (rotation, medians, per-round pairing, judgement) and how bench/bench.py reads
its rounds back: summaries, per-round ratios against bare mitmdump, targets on the median.
Pure: no process is started."""

from pathlib import Path

import pytest
from benchmodules import load, load_bench

rounds = load("rounds")


@pytest.fixture(scope="module")
def bench():
    return load_bench()


# -- rounds.py ----------------------------------------------------------------------------


def test_every_configuration_goes_first_once_in_as_many_rounds_as_there_are_configurations():
    configs = ["bare", "hpn", "hit", "lean"]
    orders = [rounds.rotated(configs, r) for r in range(len(configs))]
    assert orders[0] == configs
    assert orders[1] == ["hpn", "hit", "lean", "bare"]
    assert sorted(order[0] for order in orders) == sorted(configs)
    assert all(sorted(order) == sorted(configs) for order in orders)  # each round measures them all
    assert rounds.rotated(configs, 5) == orders[1]
    assert rounds.rotated([], 2) == []


def test_median_of_odd_and_even_counts_and_of_nothing():
    assert rounds.median([727.0, 544.0, 612.0]) == 612.0
    assert rounds.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    with pytest.raises(ValueError):
        rounds.median([])


def test_a_spread_holds_median_min_max_and_the_count():
    assert rounds.spread([0.8, 1.1, 0.95]) == rounds.Spread(0.95, 0.8, 1.1, 3)
    assert rounds.spread([]) is None


def test_pairs_are_taken_within_a_round_only():
    # Round 1 of the router has no bare cell (it failed): it is left out, not paired with another round.
    router = {0: 500.0, 1: 700.0, 2: 600.0}
    bare = {0: 550.0, 2: 800.0, 3: 900.0}
    assert rounds.paired(router, bare, rounds.ratio) == [500.0 / 550.0, 600.0 / 800.0]
    assert rounds.paired(router, bare, rounds.difference) == [-50.0, -200.0]
    assert rounds.paired({0: 5.0}, {0: 0.0}, rounds.ratio) == []  # no ratio over a zero base


def test_the_per_round_ratio_is_not_the_ratio_of_the_medians():
    # The box slows down between rounds: both configurations move together.
    router = {0: 450.0, 1: 600.0, 2: 750.0}
    bare = {0: 500.0, 1: 800.0, 2: 750.0}
    per_round = rounds.spread(rounds.paired(router, bare, rounds.ratio))
    assert per_round == rounds.Spread(0.9, 0.75, 1.0, 3)
    assert rounds.median(list(router.values())) / rounds.median(list(bare.values())) == 0.8


def test_targets_are_judged_on_the_median_not_on_the_best_or_worst_round():
    summary = rounds.Spread(0.92, 0.7, 1.4, 3)
    assert rounds.meets(summary, ">=", 0.9)
    assert not rounds.meets(rounds.Spread(0.85, 0.8, 0.95, 3), ">=", 0.9)
    assert rounds.meets(rounds.Spread(0.8, -0.2, 2.5, 3), "<=", 1)
    assert not rounds.meets(rounds.Spread(1.2, 0.1, 1.3, 3), "<=", 1)


def test_a_spread_prints_its_median_then_min_max():
    assert rounds.fmt_spread(rounds.Spread(612.0, 544.0, 727.0, 3)) == "612.0 (544.0–727.0)"
    assert rounds.fmt_spread(rounds.Spread(0.93, 0.88, 0.97, 3)) == "0.93 (0.88–0.97)"
    assert rounds.fmt_spread(rounds.Spread(0.93, 0.93, 0.93, 1)) == "0.93"
    assert rounds.fmt_spread(None) == "–"
    assert rounds.fmt_spread(rounds.Spread(-4.7, -12.81, 3.34, 2)) == "-4.70 (-12.81 to 3.34)"


# -- bench.py: rounds read back ----------------------------------------------------------


def _row(bench, config, c, rps, *, round_index, p50=2.0, cpu_ms=1.0):
    return bench.LoadRow(config, c, 100, 0, 2.0, rps, p50, 2 * p50, 0.5, cpu_ms, 0.5, 0.1, 0.0, round=round_index, idle_cpu=0.01)


def _stream(bench, config, p50, *, round_index):
    return bench.StreamRow(config, 20, 0, p50, p50 + 1, p50 + 2, 100.0, 5.0, round=round_index, idle_cpu=0.0)


def _bench_with(bench, tmp_path, load=(), stream=()):
    b = bench.Bench(bench.parse_args(["--quick"]), tmp_path)
    b.load_rows = list(load)
    b.stream_rows = list(stream)
    return b


def test_rounds_default_to_three_and_quick_to_one(bench):
    assert bench.parse_args([]).rounds is None
    assert bench.Bench(bench.parse_args([]), Path("/tmp")).rounds == 3
    assert bench.Bench(bench.parse_args(["--quick"]), Path("/tmp")).rounds == 1
    assert bench.Bench(bench.parse_args(["--quick", "--rounds", "4"]), Path("/tmp")).rounds == 4
    with pytest.raises(SystemExit):
        bench.parse_args(["--rounds", "0"])


def test_the_router_target_uses_the_median_of_per_round_ratios(bench, tmp_path):
    # Bare mitmdump moves 30 % between rounds; the router follows it at 0.95, 0.92, 0.80.
    rows = []
    for r, (bare, hpn) in enumerate(((700.0, 665.0), (540.0, 496.8), (600.0, 480.0))):
        rows += [_row(bench, bench.BARE, 10, bare, round_index=r), _row(bench, bench.HPN, 10, hpn, round_index=r)]
    goals, _refs = bench.targets(_bench_with(bench, tmp_path, rows))
    (target,) = [t for t in goals if t.name == "HPN req/s / bare req/s, c=10"]
    assert (target.value, target.low, target.high, target.rounds) == (0.92, 0.8, 0.95, 3)
    assert target.ok is True and target.limit == ">= 0.9"
    rows[5] = _row(bench, bench.HPN, 10, 300.0, round_index=2)
    rows[3] = _row(bench, bench.HPN, 10, 486.0, round_index=1)  # 0.9 in round 1; rounds 0.95, 0.9, 0.5 -> median 0.9
    goals, _refs = bench.targets(_bench_with(bench, tmp_path, rows))
    (target,) = [t for t in goals if t.name == "HPN req/s / bare req/s, c=10"]
    assert target.value == 0.9 and target.ok is True
    rows[3] = _row(bench, bench.HPN, 10, 480.0, round_index=1)  # 0.889: the median misses
    goals, _refs = bench.targets(_bench_with(bench, tmp_path, rows))
    (target,) = [t for t in goals if t.name == "HPN req/s / bare req/s, c=10"]
    assert target.ok is False


def test_the_first_chunk_target_is_the_median_of_per_round_differences(bench, tmp_path):
    stream = []
    for r, (bare, hpn) in enumerate(((3.5, 4.1), (5.0, 5.4), (4.0, 6.0))):
        stream += [_stream(bench, bench.STREAM_BARE, bare, round_index=r), _stream(bench, bench.STREAM_HPN, hpn, round_index=r)]
    goals, _refs = bench.targets(_bench_with(bench, tmp_path, stream=stream))
    (target,) = [t for t in goals if t.name.startswith("first chunk p50: HPN - streaming bare")]
    assert (target.value, target.low, target.high) == (0.6, 0.4, 2.0)
    assert target.ok is True  # the median difference is within 1 ms although round 2 was 2 ms off


def test_the_failover_row_measured_once_is_compared_with_every_rounds_direct_stream(bench, tmp_path):
    stream = [_stream(bench, bench.STREAM_DIRECT, d, round_index=r) for r, d in enumerate((20.0, 30.0, 25.0))]
    stream.append(_stream(bench, bench.STREAM_FAILOVER, 60.0, round_index=bench.ONCE))
    goals, _refs = bench.targets(_bench_with(bench, tmp_path, stream=stream))
    (target,) = [t for t in goals if "after one 429" in t.name]
    assert (target.value, target.low, target.high, target.rounds) == (35.0, 30.0, 40.0, 3)
    assert target.ok is True


def test_the_summary_reports_medians_spreads_and_per_round_ratios_to_bare(bench):
    rows = []
    for r, (bare, hit) in enumerate(((500.0, 700.0), (800.0, 960.0), (600.0, 780.0))):
        rows += [
            _row(bench, bench.BARE, 1, bare, round_index=r, p50=1.0 + r),
            _row(bench, bench.HIT, 1, hit, round_index=r, p50=0.5 + r, cpu_ms=0.4 + r),
        ]
    summaries = {(s.config, s.concurrency): s for s in bench.summarize_load(rows)}
    hit = summaries[(bench.HIT, 1)]
    assert hit.rounds == 3
    assert hit.rps == rounds.Spread(780.0, 700.0, 960.0, 3)
    assert hit.rps_vs_bare == rounds.Spread(1.3, 1.2, 1.4, 3)
    assert hit.p50_ms == rounds.Spread(1.5, 0.5, 2.5, 3)
    assert hit.p50_vs_bare.median == pytest.approx(0.75)  # 0.5/1, 1.5/2, 2.5/3
    assert hit.proxy_cpu_ms_per_request == 1.4
    assert summaries[(bench.BARE, 1)].rps_vs_bare == rounds.Spread(1.0, 1.0, 1.0, 3)


def test_the_stream_summary_gives_the_per_round_difference_to_streaming_bare(bench):
    stream = []
    for r, (bare, lean) in enumerate(((3.0, 3.5), (4.0, 3.8), (6.0, 6.9))):
        stream += [_stream(bench, bench.STREAM_BARE, bare, round_index=r), _stream(bench, bench.LEAN, lean, round_index=r)]
    summaries = {s.config: s for s in bench.summarize_stream(stream)}
    lean = summaries[bench.LEAN]
    assert (lean.rounds, lean.requests) == (3, 60)
    assert lean.vs_streaming_bare_ms.median == pytest.approx(0.5)
    assert lean.vs_streaming_bare_ms.low == pytest.approx(-0.2)
    assert summaries[bench.STREAM_BARE].vs_streaming_bare_ms is None


def test_the_report_shows_rounds_spreads_and_the_idle_column(bench, tmp_path):
    rows = [_row(bench, bench.BARE, 1, 500.0 + 100 * r, round_index=r) for r in range(3)]
    rows += [_row(bench, bench.HPN, 1, 450.0 + 100 * r, round_index=r) for r in range(3)]
    b = _bench_with(bench, tmp_path, rows)
    b.rounds = 3
    text = bench.markdown(b, bench.machine(), {})
    assert "**3 rounds**" in text
    assert "| HPN Router (log warn) | 1 | 3 | 550.0 (450.0–650.0) | 0.92 (0.90–0.93) |" in text
    assert "| idle CPU | other CPU |" in text
    assert "| HPN req/s / bare req/s, c=1 | 0.92 | 0.90–0.93 | 3 | >= 0.9 | PASS |" in text


def test_idle_processes_are_every_started_process_but_the_measured_one_and_the_emulator(bench, tmp_path):
    class Proc:
        def __init__(self, pid):
            self.proc = type("P", (), {"pid": pid})()

        def stop(self):
            pass

    b = _bench_with(bench, tmp_path)
    emulator, measured, idle_a, idle_b = Proc(1_000_001), Proc(1_000_002), Proc(1_000_003), Proc(1_000_004)
    b.emulator = emulator
    b._procs = [emulator, measured, idle_a, idle_b]
    assert b.idle_pids(measured) == [1_000_003, 1_000_004]
    assert b.idle_pids(None) == [1_000_002, 1_000_003, 1_000_004]  # direct: every proxy is idle


def test_the_summary_lists_configurations_in_the_order_they_were_set_up(bench):
    # hpn-info measured at c=10 only (quick): still listed where it was set up, not after the lean rows.
    rows = [_row(bench, bench.BARE, 1, 500.0, round_index=0), _row(bench, bench.LEAN, 1, 600.0, round_index=0)]
    rows.append(_row(bench, bench.HPN_INFO, 10, 400.0, round_index=0))
    order = [bench.BARE, bench.HPN_INFO, bench.LEAN]
    assert [s.config for s in bench.summarize_load(rows, order)] == order
