"""The bench's CPU and process measuring helpers (Linux /proc): a process tree's CPU, the whole box's,
who else used it, RSS, percentiles; and running wrk to its end with its CPU."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (q in 0..100)."""
    if not values:
        return None
    data = sorted(values)
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def tree_pids(pid: int) -> list[int]:
    """A process and its children (a supervisor's workers)."""
    try:
        return [pid, *(int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    except OSError:
        return [pid]


def tree_cpu_seconds(pid: int) -> float:
    return sum(proc_cpu_seconds(p) for p in tree_pids(pid))


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def system_busy_seconds() -> float:
    """CPU seconds all cores spent busy (not idle/iowait), from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return float("nan")
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def all_process_cpu() -> dict[int, tuple[str, float]]:
    """pid -> (command name, CPU seconds) for every process: who else used the box during a cell."""
    out: dict[int, tuple[str, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            name = text[text.index("(") + 1 : text.rindex(")")]
            fields = text.rsplit(")", 1)[1].split()
            out[int(stat.parent.name)] = (name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
        except (OSError, ValueError, IndexError):
            continue
    return out


def busiest_others(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], ours: set[int], wall: float) -> list[str]:
    """The processes this bench did not start that used >= 0.05 core, busiest first ("pytest:0.93")."""
    used = [(after[p][1] - before.get(p, (None, 0.0))[1], after[p][0], p) for p in after if p not in ours]
    return [f"{name}[{pid}]:{cpu / wall:.2f}" for cpu, name, pid in sorted(used, reverse=True) if cpu / wall >= 0.05][:3]


def per_request_ms(cpu_seconds: float | None, requests: int) -> float | None:
    """CPU seconds spent over a cell -> CPU milliseconds per request."""
    if cpu_seconds is None or not requests:
        return None
    return round(cpu_seconds * 1000 / requests, 3)


async def run_wrk(args: list[str]) -> tuple[str, float]:
    """Run wrk to its end: (what it printed, its CPU seconds from the kernel's accounting of the
    child). Waited for in a thread so the event loop stays free; killed if the bench is interrupted."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def wait() -> tuple[str, float, int]:
        assert proc.stdout is not None
        output = proc.stdout.read().decode(errors="replace")
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        return output, usage.ru_utime + usage.ru_stime, proc.returncode

    try:
        output, cpu, code = await asyncio.to_thread(wait)
    finally:
        if proc.returncode is None:
            proc.kill()
    if code != 0:
        raise RuntimeError(f"{' '.join(args)} exited with {code}: {output[-800:]}")
    return output, cpu


def proc_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None
