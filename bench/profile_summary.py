"""Where a proxy's time goes: a py-spy raw profile summarised as shares of the samples.

Usage:
    py-spy record --pid PID --rate 250 --duration 12 --format raw -o run.raw --nonblocking
    python bench/profile_summary.py run.raw              # leaf groups, router frames, top functions

Each sample is charged to one group by its frames (the first rule that matches wins, see GROUPS),
so the shares add up to 100 %. "inclusive" lists how many samples have a function anywhere on
their stack (a hook's whole cost, callees included).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

# (group, pattern on the sample's stack): the first that matches wins, tested in this order.
GROUPS: list[tuple[str, str]] = [
    ("idle (selector wait)", r"select \(selectors\.py[^;]*\)$"),
    (
        "router: translation (inbound APIs, providers, the internal model)",
        r"hpn_router/(core/(inbound|providers|model|chat_validate|toolids|sse)|addons/(chat|embeddings|translation|native|modelsendpoint|responses|messages))",
    ),
    ("router: cache (lookup, store, keys)", r"hpn_router/(addons/cache|core/(cache|responsecache|cachedanswer))"),
    ("router: metrics (prometheus_client)", r"hpn_router/(addons|core|edge)/metrics|prometheus_client/"),
    (
        "router: key routing, failover, upstream (aiohttp), relay",
        r"hpn_router/(addons/(keyrouting|multiroute|routinglog)|edge/|core/(failover|attempts|fallbacks|keypool|keystates|quotabudgets|poolsaving|quota|classify))|aiohttp/",
    ),
    ("router: cost", r"hpn_router/(addons/cost|core/pricing)"),
    ("router: logging (loguru, redaction)", r"loguru/|hpn_router/(addons/(logredaction|requestlog)|core/redact)"),
    ("router: flow redaction, metadata, client view", r"hpn_router/addons/(flowredaction|contextmetadata|clientview)"),
    ("router: other addons", r"hpn_router/"),
    ("mitmproxy hook dispatch (AddonManager, traverse, safecall)", r"mitmproxy/addonmanager\.py|contextlib\.py|mitmproxy/hooks\.py"),
    ("mitmproxy: HTTP/1 and proxy layers", r"mitmproxy/proxy/"),
    ("mitmproxy: other", r"mitmproxy/"),
    ("asyncio (loop, transports, tasks)", r"asyncio/"),
]


def parse(path: Path) -> list[tuple[list[str], int]]:
    samples = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            samples.append((stack.split(";"), int(count)))
    return samples


# The lean runner's entry frames sit under every sample; the hook table is mitmproxy's dispatch.
ENTRY = re.compile(r"\((hpn_router/__main__\.py|hpn_router/edge/runner\.py)(:\d+)?\)$")
HOOK_TABLE = re.compile(r"^(HookTable\.|_owners |_args |_log_like_mitmproxy )")  # the lean runner's, and mitmdump's once the router loads
HOOK_TABLE_FILE = re.compile(r"hpn_router/edge/(runner|hooktable)\.py")


# The lean runner's reverse front sits under every request's samples, as mitmproxy's layers do
# under mitmdump's: a sample is the front's own when no router frame lies above the front's.
FRONT = re.compile(r"hpn_router/edge/(reversefront|frontconnection|frontexchange)\.py")
FRONT_GROUP = "reverse front (lean runner: HTTP/1 in and out)"
HOOK_DISPATCH = re.compile(r"mitmproxy/addonmanager\.py|mitmproxy/hooks\.py")


def group_of(frames: list[str]) -> str:
    frames = [HOOK_TABLE_FILE.sub("mitmproxy/addonmanager.py", f) if HOOK_TABLE.match(f) else f for f in frames]
    leaf = frames[-1]
    fronts = [i for i, f in enumerate(frames) if FRONT.search(f)]
    if fronts and not re.search(GROUPS[0][1], leaf):
        above = frames[fronts[-1] + 1 :]
        if not any("hpn_router/" in f or HOOK_DISPATCH.search(f) for f in above):
            return FRONT_GROUP
    stack = ";".join(f for f in frames if not ENTRY.search(f) and not FRONT.search(f))
    for name, pattern in GROUPS:
        target = leaf if name.startswith("idle") else stack
        if re.search(pattern, target):
            return name
    return "other"


def summary(samples: list[tuple[list[str], int]], top: int) -> str:
    total = sum(c for _, c in samples)
    groups: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for frames, count in samples:
        groups[group_of(frames)] += count
        leaves[frames[-1]] += count
        for name in {re.sub(r":\d+\)$", ")", f) for f in frames}:
            inclusive[name] += count
    busy = total - groups["idle (selector wait)"]
    lines = [f"{total} samples, {busy} busy", "", "| where (busy samples) | share |", "|---|---:|"]
    for name, count in groups.most_common():
        if not name.startswith("idle"):
            lines.append(f"| {name} | {100 * count / max(busy, 1):.1f} % |")
    lines += ["", f"Top {top} functions, inclusive (share of busy samples):", ""]
    for name, count in inclusive.most_common(top * 3):
        if "hpn_router" in name or "addonmanager" in name or "pipeline" in name:
            lines.append(f"- {100 * count / max(busy, 1):5.1f} %  {name}")
    lines += ["", f"Top {top} leaf frames:", ""]
    for name, count in leaves.most_common(top):
        lines.append(f"- {100 * count / max(total, 1):5.1f} %  {name}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("raw", type=Path, help="py-spy --format raw output")
    p.add_argument("--top", type=int, default=15)
    args = p.parse_args()
    print(summary(parse(args.raw), args.top))


if __name__ == "__main__":
    main()
