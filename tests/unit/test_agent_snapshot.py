"""The snapshot builder: windows in account time, reporting-currency series, status reduction, learning."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest

from adpilot.agent.snapshot import SnapshotInputs, build_snapshot, last_complete_day
from adpilot.domain.entities import Ad, AdAccount, AdSet, Campaign, Creative, LearningStatus
from adpilot.domain.fx import FxRate, FxTable
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.money import Money
from adpilot.domain.snapshot import Goal, PastAction
from adpilot.domain.status import Status

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
FX = FxTable.build("USD", [FxRate(date(2026, 1, 1), "EUR", "USD", Decimal("1.10"))])


def _flat(_sets: object, _as_of: date) -> dict[Platform, tuple[float, ...]]:
    return {}


def _inputs(
    *,
    set_status: Status = Status.ACTIVE,
    campaign_status: Status = Status.ACTIVE,
    campaign_budget: Money | None = None,
    rows: list[tuple[str, date, int, int, int, float, int]] | None = None,
    applied: tuple[PastAction, ...] = (),
    currency: str = "EUR",
) -> SnapshotInputs:
    acc = AdAccount(Platform.META, "act_1", "a", currency, "America/Los_Angeles")
    camp = Campaign(Platform.META, "act_1", "c1", "camp", campaign_status, "X", currency, "", campaign_budget)
    ad_set = AdSet(
        Platform.META, "act_1", "c1", "s1", "set", set_status, "X", currency, Money(currency, 10_000), None, ""
    )
    ads = [
        Ad(Platform.META, "act_1", "c1", "s1", f"a{i}", f"ad {i}", Status.ACTIVE, "ACTIVE", f"cr{i}") for i in (1, 2)
    ]
    creatives = [
        Creative(Platform.META, "act_1", f"cr{i}", headline=f"h{i}", call_to_action="SHOP_NOW") for i in (1, 2)
    ]
    rows = rows or []
    table = pa.table(
        {
            "platform": pa.array(["meta"] * len(rows), pa.string()),
            "account_id": pa.array(["act_1"] * len(rows), pa.string()),
            "ad_id": pa.array([r[0] for r in rows], pa.string()),
            "day": pa.array([r[1] for r in rows], pa.date32()),
            "impressions": pa.array([r[2] for r in rows], pa.int64()),
            "clicks": pa.array([r[3] for r in rows], pa.int64()),
            "spend_minor": pa.array([r[4] for r in rows], pa.int64()),
            "conversions": pa.array([r[5] for r in rows], pa.float64()),
            "value_minor": pa.array([r[6] for r in rows], pa.int64()),
            "currency": pa.array([currency] * len(rows), pa.string()),
        }
    )
    return SnapshotInputs(NOW, [acc], [camp], [ad_set], ads, creatives, table, FX, Goal(), applied=applied)


def test_last_complete_day_is_the_latest_account_local_yesterday() -> None:
    la = AdAccount(Platform.META, "act_1", "a", "USD", "America/Los_Angeles")
    tokyo = AdAccount(Platform.TIKTOK, "2", "b", "USD", "Asia/Tokyo")
    assert last_complete_day(NOW, [la]) == date(2026, 3, 9)  # 01:00 in Los Angeles
    assert last_complete_day(NOW, [la, tokyo]) == date(2026, 3, 9)
    late = NOW + timedelta(hours=14)  # 23:00 UTC: already the 11th in Tokyo
    assert last_complete_day(late, [tokyo]) == date(2026, 3, 10)


def test_series_are_in_reporting_currency_and_the_window_excludes_today() -> None:
    rows = [
        ("a1", date(2026, 3, 8), 1000, 20, 12_345, 2.0, 50_000),
        ("a1", date(2026, 3, 9), 900, 18, 10_000, 1.0, 20_000),
        ("a1", date(2026, 3, 10), 10, 1, 100, 0.0, 0),  # today, still running: not in the snapshot
    ]
    snap = build_snapshot(_inputs(rows=rows), completeness=_flat)
    (s,) = snap.ad_sets
    a1 = next(a for a in s.ads if a.ref.entity_id == "a1")
    assert a1.history.days == (date(2026, 3, 8), date(2026, 3, 9))
    assert a1.history.spend == pytest.approx((123.45 * 1.10, 100.0 * 1.10))
    assert a1.history.value == pytest.approx((500.0 * 1.10, 200.0 * 1.10))
    assert s.history.conversions == (2.0, 1.0)
    assert s.budget_reporting == pytest.approx(110.0)
    assert s.budget_from_reporting(110.0) == Money("EUR", 10_000)
    assert a1.headline == "h1" and a1.call_to_action == "SHOP_NOW"
    assert snap.as_of == date(2026, 3, 9) and snap.fx is FX


def test_a_paused_campaign_makes_its_ad_sets_and_ads_not_active() -> None:
    snap = build_snapshot(_inputs(campaign_status=Status.PAUSED), completeness=_flat)
    (s,) = snap.ad_sets
    assert not s.active and s.status is Status.LIMITED
    assert all(a.status is Status.LIMITED for a in s.ads)


def test_a_campaign_budget_makes_the_campaign_the_budget_holder() -> None:
    snap = build_snapshot(_inputs(campaign_budget=Money("EUR", 50_000)), completeness=_flat)
    (s,) = snap.ad_sets
    assert s.budget_holder.level is Level.CAMPAIGN and s.daily_budget == Money("EUR", 50_000)


def test_learning_after_a_recent_reset_until_fifty_conversions() -> None:
    days = [date(2026, 3, 1) + timedelta(days=i) for i in range(9)]
    few = [("a1", d, 1000, 30, 5000, 3.0, 0) for d in days]
    pause = PastAction(
        Ad(Platform.META, "act_1", "c1", "s1", "a2", "", Status.PAUSED, "").ref,
        "pause",
        "creative",
        NOW - timedelta(days=2),
    )
    assert build_snapshot(_inputs(rows=few, applied=(pause,)), completeness=_flat).ad_sets[0].learning
    assert not build_snapshot(_inputs(rows=few), completeness=_flat).ad_sets[0].learning  # no reset this week
    many = [("a1", d, 1000, 30, 5000, 30.0, 0) for d in days]
    assert not build_snapshot(_inputs(rows=many, applied=(pause,)), completeness=_flat).ad_sets[0].learning


def test_an_ad_set_that_cannot_get_fifty_conversions_a_week_is_limited_after_its_window() -> None:
    """Learning does not end by the calendar: 3 conversions a day never make 50 a week, so a week after its
    start the ad set is limited (still converting below its full rate), every day of it spent learning."""
    days = [date(2026, 2, 24) + timedelta(days=i) for i in range(14)]  # to the last complete day
    few = [("a1", d, 1000, 30, 5000, 3.0, 0) for d in days]
    (s,) = build_snapshot(_inputs(rows=few), completeness=_flat).ad_sets
    assert s.learning_limited and not s.learning
    assert s.learning_days == frozenset(days)


def test_learning_ends_on_the_day_the_week_reaches_fifty_and_restarts_at_a_reset() -> None:
    days = [date(2026, 2, 24) + timedelta(days=i) for i in range(14)]  # to the last complete day
    rows = [("a1", d, 1000, 30, 5000, 10.0, 0) for d in days]  # 50 by the fifth day
    (s,) = build_snapshot(_inputs(rows=rows), completeness=_flat).ad_sets
    assert not s.learning and not s.learning_limited
    assert s.learning_days == frozenset(days[:5])
    launch = PastAction(EntityRef(Platform.META, "act_1", Level.AD, "a2"), "launch_ad", "creative", NOW)
    (again,) = build_snapshot(_inputs(rows=rows, applied=(launch,)), completeness=_flat).ad_sets
    assert again.learning and not again.learning_limited  # today's launch restarts it


def test_the_platforms_word_on_learning_overrides_the_estimate() -> None:
    days = [date(2026, 2, 24) + timedelta(days=i) for i in range(14)]  # to the last complete day
    rows = [("a1", d, 1000, 30, 5000, 3.0, 0) for d in days]
    for status, learning, limited in (
        (LearningStatus.LEARNED, False, False),
        (LearningStatus.LEARNING, True, False),
        (LearningStatus.LIMITED, False, True),
    ):
        inputs = _inputs(rows=rows)
        inputs = replace(inputs, ad_sets=[replace(inputs.ad_sets[0], learning=status)])
        (s,) = build_snapshot(inputs, completeness=_flat).ad_sets
        assert (s.learning, s.learning_limited) == (learning, limited), status
