"""Totals (requests answered, USD saved) counted on several routers sharing a Redis: counters
each router increments by what it counted since its last push (`rebase`), so /health shows the
same sum on every router. A router about to show them asks the others to push first (a
`TotalsNotice` on the shared channel: addons/sharedtotals.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

TOTALS_KIND = "totals"  # a message asking every router to push its totals now, or saying it did
PICO = Decimal("1e12")  # saved USD is kept in Redis as an integer of 10^-12 USD (HINCRBY is exact)

N = TypeVar("N", int, Decimal)


@dataclass(frozen=True, slots=True)
class TotalsNotice:
    """A router about to show totals (/health) asks the others to push what they counted since
    their last push (`pushed` False); each answers once it did (`pushed` True), naming the ask."""

    sender: str
    ask: str
    pushed: bool = False


def encode_totals(notice: TotalsNotice) -> str:
    return json.dumps({"kind": TOTALS_KIND, "sender": notice.sender, "ask": notice.ask, "pushed": notice.pushed})


def decode_totals(text: str | bytes) -> TotalsNotice | None:
    """A totals ask or answer; None for anything else."""
    try:
        data: Any = json.loads(text)
        if data.get("kind") != TOTALS_KIND:
            return None
        sender, ask, pushed = data["sender"], data["ask"], data["pushed"]
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if not (isinstance(sender, str) and isinstance(ask, str) and isinstance(pushed, bool)):
        return None
    return TotalsNotice(sender, ask, pushed)


def saved_to_pico(amount: Decimal) -> int:
    """Whole pico-USD of `amount` (rounded down: the rest stays pending for the next push)."""
    return int((amount * PICO).to_integral_value(rounding="ROUND_FLOOR"))


def pico_to_saved(pico: int) -> Decimal:
    return Decimal(pico) / PICO


def rebase(local_now: N, synced: N, pushed: N, shared: N) -> N:
    """The local total once Redis answered `shared` after adding `pushed`: the shared sum plus
    what was counted here meanwhile and not pushed yet (`local_now - synced - pushed`)."""
    return shared + (local_now - synced - pushed)
