"""Rounds: how bench/bench.py interleaves its cells and reads them back. Pure functions (no
processes, no clock).

Why rounds: on a 2-core box shared with other work, bare mitmdump itself moves ~30 % between runs
minutes apart, so a ratio of two rows measured minutes apart is noise. The bench keeps every
configuration running side by side and measures them in turn, round after round, with the order
rotated every round (`rotated`); a ratio is taken per round, between cells measured seconds apart
(`paired`), and judged on the median of those ratios (`spread`, `meets`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

GOAL_OPERATORS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le}


def rotated(items: Sequence[T], round_index: int) -> list[T]:
    """The order of the cells in round `round_index`: the list rotated by one more place every
    round, so each configuration goes first in turn (and none is always measured right after the
    same neighbour's load)."""
    if not items:
        return []
    shift = round_index % len(items)
    return [*items[shift:], *items[:shift]]


def median(values: Sequence[float]) -> float:
    """The middle value (the mean of the two middle ones for an even count)."""
    if not values:
        raise ValueError("median of no values")
    data = sorted(values)
    mid = len(data) // 2
    return data[mid] if len(data) % 2 else (data[mid - 1] + data[mid]) / 2


@dataclass(frozen=True)
class Spread:
    """One figure over the rounds: its median, lowest and highest value, and how many rounds gave one."""

    median: float
    low: float
    high: float
    rounds: int


def spread(values: Sequence[float]) -> Spread | None:
    if not values:
        return None
    return Spread(median(values), min(values), max(values), len(values))


def ratio(value: float, base: float) -> float | None:
    return value / base if base else None


def difference(value: float, base: float) -> float | None:
    return value - base


def paired(
    values: Mapping[int, float],
    base: Mapping[int, float],
    combine: Callable[[float, float], float | None],
) -> list[float]:
    """`combine(value, base)` for every round both measured (by round index), in round order: a
    cell is only ever compared with the base cell of its own round."""
    out = []
    for round_index in sorted(values.keys() & base.keys()):
        combined = combine(values[round_index], base[round_index])
        if combined is not None:
            out.append(combined)
    return out


def meets(summary: Spread, goal: str, limit: float) -> bool:
    """A target is judged on the median over the rounds (goal ">=" or "<=")."""
    return GOAL_OPERATORS[goal](summary.median, limit)


def fmt_number(value: float) -> str:
    return f"{value:,.1f}".replace(",", " ") if abs(value) >= 100 else f"{value:.2f}"


def fmt_spread(summary: Spread | None) -> str:
    """'612.0 (544.0–727.0)'; one round: the value alone; none: '–'."""
    if summary is None:
        return "–"
    if summary.rounds == 1:
        return fmt_number(summary.median)
    return f"{fmt_number(summary.median)} ({fmt_span(summary.low, summary.high)})"


def fmt_span(low: float, high: float) -> str:
    """'0.88–0.97'; with a negative end '-2.10 to 0.40' (a dash between minus signs misreads)."""
    dash = " to " if low < 0 or high < 0 else "–"
    return f"{fmt_number(low)}{dash}{fmt_number(high)}"
