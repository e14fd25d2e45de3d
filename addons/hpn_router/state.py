"""Router-wide counters shared by the addons that router.py wires together."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from hpn_router.core.keypool import KeyPool


@dataclass
class RouterState:
    pool: KeyPool | None = None
    total_requests: int = 0  # client requests answered (never upstream attempts)
    total_saved: Decimal = field(default_factory=lambda: Decimal("0"))

    def active_keys(self) -> int:
        return self.pool.active_count() if self.pool else 0
