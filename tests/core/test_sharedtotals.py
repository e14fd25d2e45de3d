"""Totals counted on several routers: rebased on the shared sum, saved USD as whole pico-dollars."""

from __future__ import annotations

from decimal import Decimal

from hpn_router.core.sharedtotals import pico_to_saved, rebase, saved_to_pico


def test_totals_rebase_keeps_what_was_counted_while_the_push_was_on_its_way():
    # Synced at 10; 3 counted and pushed; 2 more counted meanwhile; Redis says 20 (others counted 7).
    assert rebase(15, 10, 3, 20) == 22
    assert rebase(Decimal("1.5"), Decimal("1"), Decimal("0.5"), Decimal("4")) == Decimal("4")


def test_saved_usd_goes_to_redis_as_whole_pico_dollars_the_rest_stays_pending():
    amount = Decimal("0.0000000375000001")  # 37500.0001 pico-USD
    pico = saved_to_pico(amount)
    assert pico == 37500
    assert amount - pico_to_saved(pico) == Decimal("1E-16")
