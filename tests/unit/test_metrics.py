"""Date windows, account-local days and daily insight rows."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.domain.ids import Platform
from adpilot.domain.metrics import DailyInsight, DateWindow, InsightWindow, local_day
from adpilot.domain.money import Money

JAN1 = date(2024, 1, 1)

# -- DateWindow -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (JAN1, JAN1, 1),
        (JAN1, date(2024, 1, 7), 7),
        (date(2024, 2, 28), date(2024, 3, 1), 3),  # leap year
        (date(2023, 2, 28), date(2023, 3, 1), 2),
        (date(2023, 12, 31), date(2024, 1, 1), 2),
        (JAN1, date(2024, 12, 31), 366),
    ],
)
def test_days_and_iteration(start: date, end: date, days: int) -> None:
    window = DateWindow(start, end)
    assert window.days == days
    listed = list(window)
    assert len(listed) == days
    assert listed[0] == start
    assert listed[-1] == end
    assert all(b - a == timedelta(days=1) for a, b in itertools.pairwise(listed))


def test_end_before_start_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^window: end 2023-12-31 is before start 2024-01-01"):
        DateWindow(JAN1, date(2023, 12, 31))


@pytest.mark.parametrize(
    ("day", "inside"),
    [
        (date(2023, 12, 31), False),
        (JAN1, True),
        (date(2024, 1, 4), True),
        (date(2024, 1, 7), True),
        (date(2024, 1, 8), False),
        ("2024-01-03", False),
        (None, False),
        (20240103, False),
    ],
)
def test_contains(day: object, inside: bool) -> None:
    assert (day in DateWindow(JAN1, date(2024, 1, 7))) is inside


@pytest.mark.parametrize(
    ("days", "max_days", "sizes"),
    [
        (1, 1, [1]),
        (1, 7, [1]),
        (7, 7, [7]),
        (8, 7, [7, 1]),
        (30, 7, [7, 7, 7, 7, 2]),
        (30, 30, [30]),
        (31, 30, [30, 1]),
        (5, 1, [1, 1, 1, 1, 1]),
        (90, 30, [30, 30, 30]),
    ],
)
def test_chunks_examples(days: int, max_days: int, sizes: list[int]) -> None:
    window = DateWindow(JAN1, JAN1 + timedelta(days=days - 1))
    chunks = window.chunks(max_days)
    assert [c.days for c in chunks] == sizes
    assert chunks[0].start == window.start
    assert chunks[-1].end == window.end


@pytest.mark.parametrize("max_days", [0, -1, -30])
def test_chunks_refuses_non_positive_size(max_days: int) -> None:
    with pytest.raises(ValueError, match=r"^max_days: must be at least 1"):
        DateWindow(JAN1, JAN1).chunks(max_days)


@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    length=st.integers(min_value=1, max_value=400),
    max_days=st.integers(min_value=1, max_value=60),
)
def test_chunks_cover_the_window_exactly(start: date, length: int, max_days: int) -> None:
    window = DateWindow(start, start + timedelta(days=length - 1))
    chunks = window.chunks(max_days)
    assert chunks[0].start == window.start
    assert chunks[-1].end == window.end
    for a, b in itertools.pairwise(chunks):
        assert b.start == a.end + timedelta(days=1)
    assert all(1 <= c.days <= max_days for c in chunks)
    # Only the last chunk may be short.
    assert all(c.days == max_days for c in chunks[:-1])
    assert [d for c in chunks for d in c] == list(window)
    assert sum(c.days for c in chunks) == window.days == length


@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
    length=st.integers(min_value=1, max_value=100),
    probe=st.dates(min_value=date(1999, 1, 1), max_value=date(2101, 1, 1)),
)
def test_contains_agrees_with_iteration(start: date, length: int, probe: date) -> None:
    window = DateWindow(start, start + timedelta(days=length - 1))
    assert (probe in window) == (probe in set(window))


# -- local_day ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "tz", "day"),
    [
        (datetime(2024, 3, 1, 3, 0, tzinfo=UTC), "America/Los_Angeles", date(2024, 2, 29)),
        (datetime(2024, 3, 1, 3, 0, tzinfo=UTC), "UTC", date(2024, 3, 1)),
        (datetime(2024, 3, 1, 3, 0, tzinfo=UTC), "Asia/Tokyo", date(2024, 3, 1)),
        (datetime(2024, 2, 29, 15, 0, tzinfo=UTC), "Asia/Tokyo", date(2024, 3, 1)),
        (datetime(2024, 2, 29, 14, 59, tzinfo=UTC), "Asia/Tokyo", date(2024, 2, 29)),
        (datetime(2024, 1, 1, 10, 59, tzinfo=UTC), "Pacific/Kiritimati", date(2024, 1, 2)),  # UTC+14
        (datetime(2024, 1, 1, 10, 59, tzinfo=UTC), "Pacific/Pago_Pago", date(2023, 12, 31)),  # UTC-11
        (datetime(2024, 3, 10, 7, 59, tzinfo=UTC), "America/Los_Angeles", date(2024, 3, 9)),  # PST
        (datetime(2024, 3, 11, 6, 59, tzinfo=UTC), "America/Los_Angeles", date(2024, 3, 10)),  # PDT
        (datetime(2024, 3, 11, 7, 0, tzinfo=UTC), "America/Los_Angeles", date(2024, 3, 11)),
        (datetime(2024, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=9))), "UTC", date(2023, 12, 31)),
    ],
)
def test_local_day(at: datetime, tz: str, day: date) -> None:
    assert local_day(at, tz) == day


def test_local_day_refuses_naive() -> None:
    with pytest.raises(ValueError, match=r"^at: must be timezone-aware"):
        local_day(datetime(2024, 3, 1, 3, 0), "UTC")


# -- InsightWindow --------------------------------------------------------------------------------


def test_insight_window() -> None:
    w = InsightWindow(Platform.X, "18ce54d4x5t", DateWindow(JAN1, JAN1))
    assert w.window.days == 1
    with pytest.raises(ValueError, match=r"^account_id: must be a non-empty string"):
        InsightWindow(Platform.X, "", DateWindow(JAN1, JAN1))


# -- DailyInsight ---------------------------------------------------------------------------------


def insight(**over: Any) -> DailyInsight:
    kw: dict[str, Any] = {
        "platform": Platform.META,
        "account_id": "act_1",
        "campaign_id": "c1",
        "ad_set_id": "s1",
        "ad_id": "a1",
        "day": JAN1,
        "impressions": 1000,
        "clicks": 10,
        "spend": Money("USD", 1234),
        "conversions": Decimal("2.5"),
        "conversion_value": Money("USD", 9999),
    }
    return DailyInsight(**{**kw, **over})


def test_valid_insight() -> None:
    row = insight()
    assert row.currency == "USD"
    assert row.attribution_setting == ""
    zero = insight(
        impressions=0,
        clicks=0,
        spend=Money("JPY", 0),
        conversions=Decimal(0),
        conversion_value=Money("JPY", 0),
    )
    assert zero.currency == "JPY"
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.clicks = 1  # type: ignore[misc]


@pytest.mark.parametrize("field", ["account_id", "campaign_id", "ad_set_id", "ad_id"])
def test_empty_ids_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: must be a non-empty string"):
        insight(**{field: ""})


@pytest.mark.parametrize("field", ["impressions", "clicks"])
@pytest.mark.parametrize("value", [-1, True, False, 1.0, "10", None, Decimal(1)])
def test_counts_must_be_non_negative_ints(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"^{field}: must be a non-negative int"):
        insight(**{field: value})


@pytest.mark.parametrize("value", [Decimal("-0.5"), Decimal(-1), 1, 1.5, "1", None])
def test_conversions_must_be_a_non_negative_decimal(value: object) -> None:
    with pytest.raises(ValueError, match=r"^conversions: must be a non-negative Decimal"):
        insight(conversions=value)


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity")])
def test_conversions_must_be_finite(value: Decimal) -> None:
    with pytest.raises(ValueError, match=r"^conversions: "):
        insight(conversions=value)


def test_negative_spend_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^spend: must not be negative"):
        insight(spend=Money("USD", -1))


def test_negative_conversion_value_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^conversion_value: "):
        insight(conversion_value=Money("USD", -1))


def test_conversion_value_currency_must_match_spend() -> None:
    with pytest.raises(ValueError, match=r"^conversion_value: currency differs from spend"):
        insight(conversion_value=Money("EUR", 100))
