"""InsightBatch: domain rows and column arrays end in the same validated Arrow table."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.domain.ids import Platform
from adpilot.domain.metrics import DailyInsight, DateWindow, InsightWindow
from adpilot.domain.money import Money
from adpilot.errors import AdpilotError, InvalidRows, WarehouseError
from adpilot.ports.insight_batch import INSIGHT_COLUMNS, INSIGHT_SCHEMA, InsightBatch

JAN1 = date(2024, 1, 1)
JAN7 = date(2024, 1, 7)
WINDOW = InsightWindow(Platform.META, "act_1", DateWindow(JAN1, JAN7))


def row(i: int = 0, **over: Any) -> DailyInsight:
    kw: dict[str, Any] = {
        "platform": Platform.META,
        "account_id": "act_1",
        "campaign_id": "c1",
        "ad_set_id": f"s{i % 2}",
        "ad_id": f"a{i}",
        "day": JAN1 + timedelta(days=i % 7),
        "impressions": 1000 + i,
        "clicks": 10 + i,
        "spend": Money("USD", 1234 + i),
        "conversions": Decimal("2.5") + i,
        "conversion_value": Money("USD", 9999 - i),
        "attribution_setting": "7d_click",
    }
    return DailyInsight(**{**kw, **over})


def columns(n: int = 3, **over: list[Any]) -> dict[str, Any]:
    """Column arrays equal to ``[row(0), ..., row(n - 1)]``, with some columns replaced."""
    rows = [row(i) for i in range(n)]
    cols: dict[str, Any] = {
        "platform": [str(r.platform) for r in rows],
        "account_id": [r.account_id for r in rows],
        "campaign_id": [r.campaign_id for r in rows],
        "ad_set_id": [r.ad_set_id for r in rows],
        "ad_id": [r.ad_id for r in rows],
        "day": [r.day for r in rows],
        "impressions": [r.impressions for r in rows],
        "clicks": [r.clicks for r in rows],
        "spend_minor": [r.spend.minor for r in rows],
        "currency": [r.spend.currency for r in rows],
        "conversions": [r.conversions for r in rows],
        "conversion_value_minor": [r.conversion_value.minor for r in rows],
        "attribution_setting": [r.attribution_setting for r in rows],
    }
    return {**cols, **over}


def set_at(values: list[Any], index: int, value: Any) -> list[Any]:
    out = list(values)
    out[index] = value
    return out


def refuse(column_prefix: str, cols: dict[str, Any], window: InsightWindow = WINDOW) -> str:
    with pytest.raises(InvalidRows) as info:
        InsightBatch.from_columns(window, cols)
    message = str(info.value)
    assert message.startswith(f"{column_prefix}: "), message
    return message


# -- the same table both ways ---------------------------------------------------------------------


def test_from_insights_and_from_columns_produce_the_same_table() -> None:
    rows = [row(i) for i in range(5)]
    a = InsightBatch.from_insights(WINDOW, rows)
    b = InsightBatch.from_columns(WINDOW, columns(5))
    assert a.table.equals(b.table, check_metadata=True)
    assert a.table.schema.equals(INSIGHT_SCHEMA)
    assert a.table.column_names == list(INSIGHT_COLUMNS)
    assert len(a) == len(b) == 5
    assert a.window == b.window == WINDOW


def test_table_content() -> None:
    batch = InsightBatch.from_insights(WINDOW, [row(0)])
    assert batch.table.to_pylist() == [
        {
            "platform": "meta",
            "account_id": "act_1",
            "campaign_id": "c1",
            "ad_set_id": "s0",
            "ad_id": "a0",
            "day": JAN1,
            "impressions": 1000,
            "clicks": 10,
            "spend_minor": 1234,
            "currency": "USD",
            "conversions": Decimal("2.500000"),
            "conversion_value_minor": 9999,
            "attribution_setting": "7d_click",
        }
    ]


def test_from_columns_accepts_numpy_and_arrow_arrays() -> None:
    cols = columns(4)
    mixed = {
        **cols,
        "impressions": np.array(cols["impressions"], dtype=np.int64),
        "clicks": np.array(cols["clicks"], dtype=np.int32),
        "spend_minor": pa.array(cols["spend_minor"], type=pa.int64()),
        "ad_id": pa.array(cols["ad_id"]),
        "day": np.array(cols["day"], dtype="datetime64[D]"),
    }
    expected = InsightBatch.from_columns(WINDOW, cols).table
    assert InsightBatch.from_columns(WINDOW, mixed).table.equals(expected)


@pytest.mark.parametrize("platform", list(Platform))
def test_each_platform(platform: Platform) -> None:
    window = InsightWindow(platform, "act_1", DateWindow(JAN1, JAN7))
    batch = InsightBatch.from_insights(window, [row(i, platform=platform) for i in range(3)])
    assert batch.table.column("platform").to_pylist() == [str(platform)] * 3


def test_empty_batch_is_valid() -> None:
    a = InsightBatch.from_insights(WINDOW, [])
    b = InsightBatch.from_columns(WINDOW, columns(0))
    assert len(a) == len(b) == 0
    assert a.table.equals(b.table)
    assert a.table.schema.equals(INSIGHT_SCHEMA)


def test_boundary_days_and_zero_values_are_valid() -> None:
    rows = [
        row(0, day=JAN1, impressions=0, clicks=0, spend=Money("USD", 0), conversions=Decimal(0)),
        row(1, day=JAN7, conversion_value=Money("USD", 0)),
    ]
    assert len(InsightBatch.from_insights(WINDOW, rows)) == 2


def test_same_ad_on_different_days_and_different_ads_on_one_day_are_valid() -> None:
    rows = [row(0, ad_id="a", day=JAN1), row(1, ad_id="a", day=JAN7), row(2, ad_id="b", day=JAN1)]
    assert len(InsightBatch.from_insights(WINDOW, rows)) == 3


def test_invalid_rows_is_a_warehouse_error() -> None:
    assert issubclass(InvalidRows, WarehouseError)
    assert issubclass(InvalidRows, AdpilotError)


# -- column set -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", INSIGHT_COLUMNS)
def test_missing_column(name: str) -> None:
    cols = columns()
    del cols[name]
    message = refuse("columns", cols)
    assert f"missing [{name!r}]" in message
    assert "unexpected []" in message


def test_extra_column() -> None:
    message = refuse("columns", {**columns(), "cpm": [1, 2, 3]})
    assert "missing []" in message
    assert "unexpected ['cpm']" in message


def test_missing_and_extra_columns() -> None:
    cols = columns()
    cols["spend"] = cols.pop("spend_minor")
    message = refuse("columns", cols)
    assert "missing ['spend_minor']" in message
    assert "unexpected ['spend']" in message


# -- values ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", INSIGHT_COLUMNS)
def test_null_values(name: str) -> None:
    cols = columns()
    message = refuse(name, {**cols, name: set_at(cols[name], 1, None)})
    assert "1 row(s) are null" in message


@pytest.mark.parametrize("name", ["account_id", "campaign_id", "ad_set_id", "ad_id", "currency"])
def test_empty_strings(name: str) -> None:
    cols = columns()
    message = refuse(name, {**cols, name: set_at(cols[name], 2, "")})
    assert "1 row(s) are empty" in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("impressions", -1),
        ("clicks", -1),
        ("spend_minor", -1),
        ("conversion_value_minor", -5),
        ("conversions", Decimal("-0.000001")),
    ],
)
def test_negative_values(name: str, value: object) -> None:
    cols = columns()
    message = refuse(name, {**cols, name: set_at(cols[name], 0, value)})
    assert "1 row(s) are negative" in message
    assert "'ad_id': 'a0'" in message


def test_negative_values_are_counted() -> None:
    message = refuse("impressions", columns(impressions=[-1, 5, -3]))
    assert "2 row(s) are negative" in message
    assert "'ad_id': 'a0'" in message


@pytest.mark.parametrize("platform", ["x", "tiktok", "META", ""])
def test_wrong_platform(platform: str) -> None:
    cols = columns()
    message = refuse("platform", {**cols, "platform": set_at(cols["platform"], 1, platform)})
    assert "are not meta" in message


def test_wrong_account() -> None:
    cols = columns()
    message = refuse("account_id", {**cols, "account_id": set_at(cols["account_id"], 1, "act_2")})
    assert "are not account act_1" in message


def test_rows_of_another_account_via_insights() -> None:
    with pytest.raises(InvalidRows, match=r"^account_id: "):
        InsightBatch.from_insights(WINDOW, [row(0), row(1, account_id="act_2")])


@pytest.mark.parametrize("day", [date(2023, 12, 31), date(2024, 1, 8), date(1970, 1, 1)])
def test_day_outside_the_window(day: date) -> None:
    cols = columns()
    message = refuse("day", {**cols, "day": set_at(cols["day"], 0, day)})
    assert "fall outside 2024-01-01..2024-01-07" in message


@pytest.mark.parametrize("code", ["XYZ", "usd", "US"])
def test_unknown_currency(code: str) -> None:
    message = refuse("currency", columns(currency=[code] * 3))
    assert repr(code) in message


def test_two_currencies_in_one_batch() -> None:
    message = refuse("currency", columns(currency=["USD", "EUR", "USD"]))
    assert "['EUR', 'USD']" in message


def test_two_currencies_via_insights() -> None:
    rows = [row(0), row(1, spend=Money("EUR", 1), conversion_value=Money("EUR", 1))]
    with pytest.raises(InvalidRows, match=r"^currency: "):
        InsightBatch.from_insights(WINDOW, rows)


def test_duplicate_ad_and_day() -> None:
    message = refuse("ad_id/day", columns(ad_id=["a0", "a1", "a0"], day=[JAN1, JAN7, JAN1]))
    assert "1 duplicate (ad, day) pair(s)" in message
    assert "a0 2024-01-01" in message


def test_duplicate_via_insights() -> None:
    with pytest.raises(InvalidRows, match=r"^ad_id/day: "):
        InsightBatch.from_insights(WINDOW, [row(0), row(0, campaign_id="c2")])


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("impressions", ["10", "11", "12"]),
        ("impressions", np.array([1.5, 2.0, 3.0])),
        ("clicks", [True, False, True]),
        ("conversions", [1.5, 2.0, 3.0]),  # floats are not exact
        ("conversions", [Decimal("0.0000001")] * 3),  # more than 6 decimals
        ("day", ["2024-01-01", "2024-01-02", "2024-01-03"]),
        ("ad_id", [1, 2, 3]),
    ],
)
def test_values_of_the_wrong_type(name: str, values: Any) -> None:
    refuse(name, columns(**{name: values}))


def test_fractional_minor_units_are_refused() -> None:
    refuse("spend_minor", columns(spend_minor=[12.34, 5.0, 6.0]))


def test_int64_overflow_is_invalid_rows() -> None:
    refuse("impressions", columns(impressions=[2**63, 1, 2]))


# -- property -------------------------------------------------------------------------------------


@st.composite
def insight_rows(draw: st.DrawFn) -> list[DailyInsight]:
    currency = draw(st.sampled_from(["USD", "JPY", "KWD"]))
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(["a1", "a2", "a3", "ad_ü"]), st.integers(min_value=0, max_value=6)),
            unique=True,
            max_size=12,
        )
    )
    counts = st.integers(min_value=0, max_value=2**40)
    out = []
    for ad_id, offset in keys:
        out.append(
            DailyInsight(
                platform=Platform.META,
                account_id="act_1",
                campaign_id=draw(st.sampled_from(["c1", "c2"])),
                ad_set_id="s1",
                ad_id=ad_id,
                day=JAN1 + timedelta(days=offset),
                impressions=draw(counts),
                clicks=draw(counts),
                spend=Money(currency, draw(counts)),
                conversions=draw(
                    st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False, allow_infinity=False)
                ),
                conversion_value=Money(currency, draw(counts)),
                attribution_setting=draw(st.sampled_from(["", "7d_click", "1d_view"])),
            )
        )
    return out


@given(rows=insight_rows())
def test_both_ways_agree_and_round_trip(rows: list[DailyInsight]) -> None:
    batch = InsightBatch.from_insights(WINDOW, rows)
    assert len(batch) == len(rows)
    cols = {name: batch.table.column(name).to_pylist() for name in INSIGHT_COLUMNS}
    assert InsightBatch.from_columns(WINDOW, cols).table.equals(batch.table)
    back = [
        DailyInsight(
            platform=Platform(r["platform"]),
            account_id=r["account_id"],
            campaign_id=r["campaign_id"],
            ad_set_id=r["ad_set_id"],
            ad_id=r["ad_id"],
            day=r["day"],
            impressions=r["impressions"],
            clicks=r["clicks"],
            spend=Money(r["currency"], r["spend_minor"]),
            conversions=r["conversions"],
            conversion_value=Money(r["currency"], r["conversion_value_minor"]),
            attribution_setting=r["attribution_setting"],
        )
        for r in batch.table.to_pylist()
    ]
    assert back == rows
