"""Router-wide counters shared by the addons that router.py wires together."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from hpn_router.core.keypool import KeyPool
from hpn_router.core.pricing import SavingsLedger


@dataclass
class RouterState:
    pool: KeyPool | None = None
    total_requests: int = 0  # client requests answered (never upstream attempts)
    savings: SavingsLedger = field(default_factory=SavingsLedger)  # exact, in USD
    charges: SavingsLedger = field(default_factory=SavingsLedger)  # what the providers charged, exact, in USD
    redis: str | None = None  # shared state (state.redis_url): "up", "down"; None without Redis

    @property
    def total_saved(self) -> Decimal:
        return self.savings.total

    @total_saved.setter
    def total_saved(self, amount: Decimal) -> None:
        """Restore a total (state file); the ledger counts on from it."""
        self.savings = SavingsLedger(amount)

    @property
    def total_charged(self) -> Decimal:
        return self.charges.total

    @total_charged.setter
    def total_charged(self, amount: Decimal) -> None:
        self.charges = SavingsLedger(amount)

    def active_keys(self) -> int:
        return self.pool.active_count() if self.pool else 0
