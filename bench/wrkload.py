"""wrk as the benchmark's load generator: the Lua script that makes its requests, its command
line, and the parser of what it prints. Pure functions (no processes, no clock): bench.py runs it.

Why wrk: it is a C event loop that costs a small fraction of a Python client's CPU per request,
so on a 2-core box it leaves the cores to the proxy and the emulator under test.

The script counts every answer whose status is not 200 as an error (wrk's own summary only
counts non-2xx-or-3xx) and keeps the first few such answers as samples; its `done` prints them
as one line that starts with RESULT_MARK, read back with `parse_wrk`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

RESULT_MARK = "HPN-BENCH-WRK "
INSTALL_HINT = "install wrk 4.1 (Debian/Ubuntu: `apt-get install -y wrk`; macOS: `brew install wrk`)"
MAX_SAMPLES = 3
SAMPLE_BYTES = 200


def lua_string(value: str | bytes) -> str:
    """A Lua string literal holding exactly these bytes: printable ASCII as is, everything else
    (quotes, backslash, newlines, UTF-8 bytes) as a decimal escape, which every Lua reads alike."""
    data = value.encode() if isinstance(value, str) else value
    out = []
    for byte in data:
        char = chr(byte)
        if 32 <= byte < 127 and char not in '"\\':
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def wrk_script(body: bytes, headers: dict[str, str], method: str = "POST") -> str:
    """The Lua script for `wrk -s`: every request is `method` with this body and these headers;
    a non-200 answer is an error, counted per thread and summed in `done`."""
    header_lines = "\n".join(f"wrk.headers[{lua_string(name)}] = {lua_string(value)}" for name, value in headers.items())
    return f"""-- written by bench/bench.py (bench/wrkload.py): one request shape, non-200 answers counted
wrk.method = {lua_string(method)}
wrk.body = {lua_string(body)}
{header_lines}

local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  samples = {{}}
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    if #samples < {MAX_SAMPLES} then
      table.insert(samples, "HTTP " .. status .. ": " .. string.sub(body or "", 1, {SAMPLE_BYTES}))
    end
  end
end

local function quote(s)
  return '"' .. string.gsub(s, '[%c"\\\\\\128-\\255]', function(c) return string.format("\\\\u%04x", string.byte(c)) end) .. '"'
end

function done(summary, latency, requests)
  local total, listed = 0, {{}}
  for _, thread in ipairs(threads) do
    total = total + thread:get("bad")
    for _, sample in ipairs(thread:get("samples")) do
      if #listed < {MAX_SAMPLES} then table.insert(listed, quote(sample)) end
    end
  end
  io.write("{RESULT_MARK}", '{{"non200": ', total, ', "samples": [', table.concat(listed, ", "), "]}}\\n")
end
"""


def wrk_command(wrk: str, url: str, script: str, *, connections: int, threads: int, seconds: float, timeout_s: int = 30) -> list[str]:
    """wrk's arguments for a closed loop of `connections` keep-alive connections over `threads`
    threads (never more threads than connections) for `seconds`, rounded up to whole seconds
    (wrk's -d takes no fractions)."""
    threads = max(1, min(threads, connections))
    return [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{whole_seconds(seconds)}s",
        f"--timeout={timeout_s}s",
        "--latency",
        "-s",
        script,
        url,
    ]


def whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds - 1e-9))


@dataclass
class WrkResult:
    requests: int  # answers wrk read (any status)
    seconds: float  # wrk's measured duration
    non200: int  # answers whose status was not 200 (from the script)
    socket_errors: dict[str, int]  # connect, read, write, timeout
    p50_ms: float | None
    p99_ms: float | None
    samples: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return self.non200 + sum(self.socket_errors.values())

    @property
    def ok(self) -> int:
        return self.requests - self.non200


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = r"([0-9.]+)(us|ms|s|m|h)"


def _ms(number: str, unit: str) -> float:
    return round(float(number) * _UNITS_MS[unit], 3)


def parse_wrk(output: str) -> WrkResult:
    """What `wrk --latency -s <wrk_script>` printed -> WrkResult. Raises ValueError when the
    summary line is missing (wrk failed), so a broken run never reads as 0 req/s."""
    summary = re.search(r"^\s*(\d+) requests in " + _DURATION + r",", output, re.M)
    if summary is None:
        raise ValueError(f"no 'N requests in T' line in wrk's output: {output[-500:]!r}")
    requests, seconds = int(summary.group(1)), _ms(summary.group(2), summary.group(3)) / 1000
    percentiles = {
        int(m.group(1)): _ms(m.group(2), m.group(3))
        for m in re.finditer(r"^\s*(50|75|90|99)(?:\.0+)?%\s+" + _DURATION + r"\s*$", output, re.M)
    }
    sockets = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    found = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if found:
        sockets = dict(zip(sockets, (int(x) for x in found.groups()), strict=True))
    non200, samples = _script_line(output)
    return WrkResult(
        requests=requests,
        seconds=seconds,
        non200=non200,
        socket_errors=sockets,
        p50_ms=percentiles.get(50),
        p99_ms=percentiles.get(99),
        samples=samples,
    )


def _script_line(output: str) -> tuple[int, list[str]]:
    """The script's count of non-200 answers; without its line (another script), wrk's own
    'Non-2xx or 3xx responses' count."""
    for line in output.splitlines():
        if line.startswith(RESULT_MARK):
            data = json.loads(line[len(RESULT_MARK) :])
            return int(data["non200"]), [str(s) for s in data["samples"]]
    found = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return (int(found.group(1)) if found else 0), []
