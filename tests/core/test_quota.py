"""The quota model with an injected clock: minute windows and Pacific days (incl. DST)."""

from __future__ import annotations

from datetime import datetime

import pytest
from hpn_router.core.classify import PACIFIC
from hpn_router.core.quota import Limits, Usage, headroom, next_admission, pacific_day


def at(*args: int) -> float:
    return datetime(*args, tzinfo=PACIFIC).timestamp()


def test_minute_window_slides():
    usage, limits = Usage(), Limits(rpm=2)
    usage.record_request(0.0)
    usage.record_request(30.0)
    assert headroom(usage, limits, 31.0) == 0.0
    assert next_admission(usage, limits, 31.0) == 60.0
    assert headroom(usage, limits, 60.0) == 0.5  # the first request left the window


def test_token_budget():
    usage, limits = Usage(), Limits(tpm=1000)
    usage.record_tokens(0.0, 900)
    assert headroom(usage, limits, 1.0) == pytest.approx(0.1)
    usage.record_tokens(2.0, 200)
    assert headroom(usage, limits, 3.0) == 0.0
    assert headroom(usage, limits, 61.0) == pytest.approx(0.8)


def test_daily_count_resets_at_pacific_midnight():
    usage, limits = Usage(), Limits(rpd=2)
    usage.record_request(at(2026, 11, 26, 23, 0))
    usage.record_request(at(2026, 11, 26, 23, 30))
    assert headroom(usage, limits, at(2026, 11, 26, 23, 59)) == 0.0
    assert next_admission(usage, limits, at(2026, 11, 26, 23, 59)) is None  # only midnight helps
    assert headroom(usage, limits, at(2026, 11, 27, 0, 0)) == 1.0


@pytest.mark.parametrize(
    "before,after",
    [
        ((2026, 3, 7, 23, 59), (2026, 3, 8, 0, 0)),  # the night before spring-forward
        ((2026, 3, 8, 23, 59), (2026, 3, 9, 0, 0)),  # the 23-hour day
        ((2026, 11, 1, 23, 59), (2026, 11, 2, 0, 0)),  # the 25-hour day
    ],
)
def test_pacific_days_across_dst_changes(before, after):
    assert pacific_day(at(*before)) != pacific_day(at(*after))
    assert pacific_day(at(*after)) == f"{after[0]}-{after[1]:02d}-{after[2]:02d}"


def test_no_limits_means_no_headroom_figure():
    assert headroom(Usage(), Limits(), 0.0) is None
    assert headroom(None, Limits(rpm=1), 0.0) == 1.0


def test_configured_limits_win_over_learned():
    assert Limits(rpm=5).merged(Limits(rpm=10, rpd=100)) == Limits(rpm=5, rpd=100)


def test_raise_to_takes_the_shared_counts_and_never_lowers_its_own():
    from hpn_router.core.quota import Usage

    usage = Usage()
    usage.record_request(1000.0)
    usage.raise_to(1010.0, 5, 40, 300)
    assert (usage.minute_requests(), usage.day_requests, usage.minute_tokens()) == (5, 40, 300)
    usage.raise_to(1011.0, 2, 3, 0)  # lower counts: another router's older view
    assert (usage.minute_requests(), usage.day_requests, usage.minute_tokens()) == (5, 40, 300)
    usage.prune(1070.5)  # the shared part slides out of the minute like requests do
    assert usage.minute_requests() == 0 and usage.day_requests == 40
