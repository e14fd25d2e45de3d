"""The bench's report: the machine, the rows summarised over the rounds, the targets judged on
their medians, and the markdown tables."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import rounds
import wrkload
from rounds import Spread
from rows import (
    BARE,
    BASELINE,
    BASELINE_HIT,
    CONCURRENCY,
    HIT,
    HPN,
    HPN_INFO,
    LEAN,
    LEAN_GOAL,
    LEAN_HIT,
    ONCE,
    ONE_WORKER,
    STREAM_BARE,
    STREAM_BASELINE,
    STREAM_DELAY_MS,
    STREAM_DIRECT,
    STREAM_FAILOVER,
    STREAM_HPN,
    TWO_WORKERS,
    WORKERS_GOAL,
    LoadRow,
    StreamRow,
    Target,
)

if TYPE_CHECKING:
    from bench import Bench


def machine() -> dict[str, Any]:
    try:
        from mitmproxy import version as mitmproxy_version

        mitm = mitmproxy_version.VERSION
    except ImportError:
        mitm = "?"
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "mitmproxy": mitm,
        "aiohttp": aiohttp.__version__,
        "platform": platform.platform(),
        "loadavg_at_start": os.getloadavg(),
    }


def by_round(rows: list[Any], config: str, attr: str, c: int | None = None) -> dict[int, float]:
    """round -> this configuration's figure (at concurrency c, for throughput rows), where it has one."""
    out: dict[int, float] = {}
    for r in rows:
        value = getattr(r, attr)
        if r.config == config and (c is None or r.concurrency == c) and value is not None:
            out[r.round] = value
    return out


def _target(name: str, values: list[float], goal: str | None = None, limit: float | None = None) -> Target | None:
    """A figure over the rounds; with a goal (">=" / "<=" limit) judged on its median."""
    summary = rounds.spread(values)
    if summary is None:
        return None
    ok = None if goal is None or limit is None else rounds.meets(summary, goal, limit)
    return Target(
        name,
        round(summary.median, 3),
        f"{goal} {limit:g}" if goal else "",
        ok,
        round(summary.low, 3),
        round(summary.high, 3),
        summary.rounds,
    )


def targets(b: Bench) -> tuple[list[Target], list[Target]]:
    """(targets, reference numbers): each a per-round figure (a cell over the base cell of the
    same round and concurrency), summarised over the rounds; targets are judged on the median."""
    goals: list[Target] = []
    refs: list[Target] = []

    def add(name: str, values: list[float], goal: str | None = None, limit: float | None = None) -> None:
        found = _target(name, values, goal, limit)
        if found is not None:
            (goals if goal else refs).append(found)

    load, streams = b.load_rows, b.stream_rows
    ratio, difference, paired = rounds.ratio, rounds.difference, rounds.paired
    for c in CONCURRENCY:

        def rps(config: str, c: int = c) -> dict[int, float]:
            return by_round(load, config, "rps", c)

        def cpu(config: str, c: int = c) -> dict[int, float]:
            return by_round(load, config, "proxy_cpu_ms_per_request", c)

        bare = rps(BARE)
        add(f"HPN req/s / bare req/s, c={c}", paired(rps(HPN), bare, ratio), ">=", 0.9)
        add(f"bare CPU/req / HPN CPU/req, c={c} (the req/s ratio a quiet box would show)", paired(cpu(BARE), cpu(HPN), ratio))
        add(f"HPN (log info) req/s / bare req/s, c={c}", paired(rps(HPN_INFO), bare, ratio))
        for config in (BASELINE, BASELINE_HIT):
            add(f"{config} req/s / bare req/s, c={c}", paired(rps(config), bare, ratio))
        hit_goal = (">=", 1.2) if c in (1, 10) else (None, None)
        add(f"cache hit req/s / bare req/s, c={c}", paired(rps(HIT), bare, ratio), *hit_goal)
        workers_goal = (">=", WORKERS_GOAL) if c == 50 else (None, None)
        add(f"2 workers req/s / 1 worker req/s, c={c}", paired(rps(TWO_WORKERS), rps(ONE_WORKER), ratio), *workers_goal)
        # The lean runner by req/s, and by CPU per request (the ratio a quiet machine would show
        # as req/s, since both are CPU-bound).
        for config, goal in ((LEAN, LEAN_GOAL), (LEAN_HIT, None)):
            op = ">=" if goal else None
            add(f"{config} req/s / bare req/s, c={c}", paired(rps(config), bare, ratio), op, goal)
            add(f"bare CPU/req / {config} CPU/req, c={c}", paired(cpu(BARE), cpu(config), ratio), op, goal)
    p50_at_1 = {config: by_round(load, config, "p50_ms", 1) for config in ("direct", HPN, BARE)}
    add("added p50 at c=1: HPN - direct (ms)", paired(p50_at_1[HPN], p50_at_1["direct"], difference))
    add("added p50 at c=1: bare - direct (ms)", paired(p50_at_1[BARE], p50_at_1["direct"], difference))

    def first(config: str) -> dict[int, float]:
        return by_round(streams, config, "ttfc_p50_ms")

    add("first chunk p50: HPN - streaming bare mitmdump (ms)", paired(first(STREAM_HPN), first(STREAM_BARE), difference), "<=", 1)
    add("first chunk p50: baseline - streaming bare mitmdump (ms)", paired(first(STREAM_BASELINE), first(STREAM_BARE), difference))
    add("first chunk p50: lean runner - streaming bare mitmdump (ms)", paired(first(LEAN), first(STREAM_BARE), difference))
    add("first chunk p50: HPN - direct (ms)", paired(first(STREAM_HPN), first(STREAM_DIRECT), difference))
    # The failover row is measured once: against the direct stream of every round.
    failover = first(STREAM_FAILOVER).get(ONCE)
    if failover is not None:
        after_429 = [failover - d for d in first(STREAM_DIRECT).values()]
        add("first chunk p50: HPN after one 429 - direct (ms)", after_429, "<=", 50)
    return goals, refs


@dataclass
class LoadSummary:
    """One configuration at one concurrency over the rounds; ratios are per round against bare mitmdump."""

    config: str
    concurrency: int
    rounds: int
    rps: Spread
    rps_vs_bare: Spread | None
    p50_ms: Spread | None
    p50_vs_bare: Spread | None
    p99_ms: float | None  # median over rounds
    errors: int  # all rounds
    proxy_cpu_ms_per_request: float | None  # medians over rounds
    emulator_cpu_ms_per_request: float | None
    client_cpu_ms_per_request: float | None
    idle_cpu: float | None  # the highest over rounds
    other_cpu: float | None  # the highest over rounds


@dataclass
class StreamSummary:
    config: str
    rounds: int
    requests: int  # all rounds
    errors: int
    ttfc_p50_ms: Spread | None
    vs_streaming_bare_ms: Spread | None  # per-round p50 difference to streaming bare mitmdump
    ttfc_p90_ms: float | None  # medians over rounds
    total_p50_ms: float | None
    events_p50: float | None
    idle_cpu: float | None  # the highest over rounds
    other_cpu: float | None
    check: str


def _median_of(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(rounds.median(present), 3) if present else None


def _highest(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _in_order(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def summarize_load(rows: list[LoadRow], order: tuple[str, ...] | list[str] = ()) -> list[LoadSummary]:
    """Per configuration (in `order`, then as measured) and concurrency."""
    out = []
    for config in _in_order([*order, *(r.config for r in rows)]):
        for c in CONCURRENCY:
            cells = [r for r in rows if r.config == config and r.concurrency == c]
            if not cells:
                continue
            rps = by_round(cells, config, "rps")
            p50 = by_round(cells, config, "p50_ms")
            out.append(
                LoadSummary(
                    config=config,
                    concurrency=c,
                    rounds=len(cells),
                    rps=rounds.spread(list(rps.values())) or Spread(0.0, 0.0, 0.0, 0),
                    rps_vs_bare=rounds.spread(rounds.paired(rps, by_round(rows, BARE, "rps", c), rounds.ratio)),
                    p50_ms=rounds.spread(list(p50.values())),
                    p50_vs_bare=rounds.spread(rounds.paired(p50, by_round(rows, BARE, "p50_ms", c), rounds.ratio)),
                    p99_ms=_median_of([r.p99_ms for r in cells]),
                    errors=sum(r.errors for r in cells),
                    proxy_cpu_ms_per_request=_median_of([r.proxy_cpu_ms_per_request for r in cells]),
                    emulator_cpu_ms_per_request=_median_of([r.emulator_cpu_ms_per_request for r in cells]),
                    client_cpu_ms_per_request=_median_of([r.client_cpu_ms_per_request for r in cells]),
                    idle_cpu=_highest([r.idle_cpu for r in cells]),
                    other_cpu=_highest([r.other_cpu for r in cells]),
                )
            )
    return out


def summarize_stream(rows: list[StreamRow]) -> list[StreamSummary]:
    out = []
    bare = by_round(rows, STREAM_BARE, "ttfc_p50_ms")
    for config in _in_order([r.config for r in rows]):
        cells = [r for r in rows if r.config == config]
        first = by_round(cells, config, "ttfc_p50_ms")
        out.append(
            StreamSummary(
                config=config,
                rounds=len(cells),
                requests=sum(r.requests for r in cells),
                errors=sum(r.errors for r in cells),
                ttfc_p50_ms=rounds.spread(list(first.values())),
                vs_streaming_bare_ms=rounds.spread(rounds.paired(first, bare, rounds.difference)) if config != STREAM_BARE else None,
                ttfc_p90_ms=_median_of([r.ttfc_p90_ms for r in cells]),
                total_p50_ms=_median_of([r.total_p50_ms for r in cells]),
                events_p50=_median_of([r.events_p50 for r in cells]),
                idle_cpu=_highest([r.idle_cpu for r in cells]),
                other_cpu=_highest([r.other_cpu for r in cells]),
                check=" ".join(r.check for r in cells if r.check),
            )
        )
    return out


def loadgen_description(b: Bench) -> str:
    if b.loadgen == "wrk":
        return f"wrk ({b.wrk_threads} thread{'s' if b.wrk_threads > 1 else ''}, POST from a Lua script, a separate C process)"
    return "aiohttp (one asyncio client in the bench's own process)"


def warmup_seconds(b: Bench) -> float:
    """wrk runs whole seconds only."""
    return wrkload.whole_seconds(b.warmup) if b.loadgen == "wrk" and b.warmup > 0 else b.warmup


def measured_seconds(b: Bench) -> float:
    return wrkload.whole_seconds(b.duration) if b.loadgen == "wrk" else b.duration


def emulator_headroom(b: Bench) -> list[str]:
    """Can the emulator alone answer what two workers would need (WORKERS_GOAL x one worker)?
    If not, the workers' ratio measures the emulator, not the router. Medians over the rounds."""
    notes = []
    for c in CONCURRENCY:
        direct_rps, one_rps = by_round(b.load_rows, "direct", "rps", c), by_round(b.load_rows, ONE_WORKER, "rps", c)
        if direct_rps and one_rps:
            direct_median, one_median = rounds.median(list(direct_rps.values())), rounds.median(list(one_rps.values()))
            needed = WORKERS_GOAL * one_median
            verdict = "enough" if direct_median >= needed else "TOO LOW: the emulator caps the workers' rows"
            notes.append(
                f"emulator headroom, c={c}: direct {direct_median:.0f} req/s against {needed:.0f} req/s that "
                f"{WORKERS_GOAL:g} x one worker needs ({verdict})"
            )
    return notes


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return rounds.fmt_number(value)
    return str(value)


def _spread(summary: Spread | None, suffix: str = "") -> str:
    return rounds.fmt_spread(summary) + (suffix if summary is not None else "")


def _busiest(names: list[str]) -> str:
    return ": " + ", ".join(names) if names else ""


def markdown(b: Bench, info: dict[str, Any], failures: dict[str, str]) -> str:
    lines = [
        "## HPN Router benchmark",
        "",
        f"Machine: {info['cores']} cores ({info['cpu'] or 'unknown CPU'}), {info['implementation']} {info['python']}, "
        f"mitmproxy {info['mitmproxy']}, aiohttp {info['aiohttp']}; load average at start "
        f"{' / '.join(f'{x:.2f}' for x in info['loadavg_at_start'])}; wall time {info.get('wall_seconds', '?')} s. "
        "Loopback; the load generator, the proxy under test and the emulator share the cores.",
        f"**{b.rounds} round{'s' if b.rounds > 1 else ''}**: every configuration runs side by side for the whole run; each round "
        "measures each concurrency's cells in turn, the order rotated every round. Figures are the **median over the rounds "
        "(min–max)**; `× bare` is taken per round (the cell over the bare mitmdump cell of the same round and concurrency), then "
        "its median (min–max); targets are judged on that median.",
        f"Load generator for the req/s cells: **{loadgen_description(b)}**; its CPU is the client column. "
        f"Each cell: {warmup_seconds(b):g} s warm-up (not counted), then {measured_seconds(b):g} s closed loop on "
        f"keep-alive connections (one per unit of concurrency). CPU ms/req: medians over the rounds. "
        '"idle CPU" = the bench\'s other proxies while this cell ran (should be ~0: they wait their turn); '
        '"other CPU" = everything but the measured proxy, the emulator and the client (idle proxies included), '
        "in cores, the highest over the rounds: above ~0.1 a round was disturbed.",
        "",
    ]
    if b.load_rows:
        lines += [
            "| config | conc | rounds | req/s | × bare | p50 ms | p50 × bare | p99 ms | errors | proxy CPU ms/req "
            "| emulator CPU ms/req | client CPU ms/req | idle CPU | other CPU |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in summarize_load(b.load_rows, [config.name for config in b.load_configs]):
            lines.append(
                f"| {r.config} | {r.concurrency} | {r.rounds} | {_spread(r.rps)} | {_spread(r.rps_vs_bare)} | {_spread(r.p50_ms)} | "
                f"{_spread(r.p50_vs_bare)} | {_fmt(r.p99_ms)} | {r.errors} | {_fmt(r.proxy_cpu_ms_per_request)} | "
                f"{_fmt(r.emulator_cpu_ms_per_request)} | {_fmt(r.client_cpu_ms_per_request)} | {_fmt(r.idle_cpu)} | {_fmt(r.other_cpu)} |"
            )
        lines.append("")
    if b.stream_rows:
        lines += [
            f"Streaming (emulator stream_delay_ms={STREAM_DELAY_MS}): each round, {b.stream_requests} sequential requests per "
            f"configuration after {b.stream_warmup} warm-up, configurations in rotated order; first chunk = first `data:` "
            "event with non-empty content. `- streaming bare` is the per-round difference of the p50s, median (min–max). "
            "The failover row runs once, after the rounds.",
            "",
            "| config | rounds | requests | errors | first chunk p50 ms | − streaming bare ms | p90 ms | whole stream p50 ms "
            "| events | idle CPU | other CPU | check |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for s in summarize_stream(b.stream_rows):
            lines.append(
                f"| {s.config} | {s.rounds} | {s.requests} | {s.errors} | {_spread(s.ttfc_p50_ms)} | {_spread(s.vs_streaming_bare_ms)} | "
                f"{_fmt(s.ttfc_p90_ms)} | {_fmt(s.total_p50_ms)} | {_fmt(s.events_p50)} | {_fmt(s.idle_cpu)} | {_fmt(s.other_cpu)} | "
                f"{s.check} |"
            )
        lines.append("")
    goals, ref = targets(b)
    if goals or ref:
        lines += ["| target | median | min–max | rounds | goal | |", "|---|---:|---:|---:|---|---|"]
        for t in [*goals, *ref]:
            span = rounds.fmt_span(t.low, t.high) if t.rounds > 1 and t.low is not None and t.high is not None else ""
            verdict = ("PASS" if t.ok else "MISS") if t.ok is not None else ""
            lines.append(f"| {t.name} | {_fmt(t.value)} | {span} | {t.rounds} | {t.limit or '(reference)'} | {verdict} |")
        lines.append("")
    total_errors = sum(r.errors for r in b.load_rows) + sum(s.errors for s in b.stream_rows)
    lines.append(f"Errors (non-200 or failed requests) in all rows: **{total_errors}**.")
    for r in [*b.load_rows, *b.stream_rows]:
        for sample in r.error_samples:
            lines.append(f"- {r.config}: {sample}")
    disturbed = [
        f"{r.config} c={r.concurrency} round {r.round + 1} ({r.other_cpu:.2f}{_busiest(r.other_busiest)})"
        for r in b.load_rows
        if r.other_cpu is not None and r.other_cpu > 0.1
    ]
    disturbed += [
        f"{s.config} stream {'once' if s.round == ONCE else f'round {s.round + 1}'} ({s.other_cpu:.2f})"
        for s in b.stream_rows
        if s.other_cpu is not None and s.other_cpu > 0.1
    ]
    if disturbed:
        lines.append(f"- Disturbed by other processes (other CPU > 0.1 core): {'; '.join(disturbed)}.")
    for name, problem in failures.items():
        lines.append(f"- `{name}` FAILED: {problem}")
    for note in [*b.notes, *emulator_headroom(b)]:
        lines.append(f"- {note}")
    return "\n".join(lines)
