"""FX: daily rates into one reporting currency, latest-on-or-before lookup, half-to-even conversion."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.domain.fx import FxRate, FxRateMissing, FxTable
from adpilot.domain.money import CurrencyError, Money

D1 = date(2024, 1, 1)
D5 = date(2024, 1, 5)
D10 = date(2024, 1, 10)


def usd_table() -> FxTable:
    return FxTable.build(
        "USD",
        [
            FxRate(D1, "EUR", "USD", Decimal("1.10")),
            FxRate(D5, "EUR", "USD", Decimal("1.20")),
            FxRate(D10, "EUR", "USD", Decimal("1.30")),
            FxRate(D1, "JPY", "USD", Decimal("0.0066")),
            FxRate(D1, "KWD", "USD", Decimal("3.25")),
            # Inverse quote: 1 USD = 0.80 GBP, so 1 GBP = 1.25 USD.
            FxRate(D1, "USD", "GBP", Decimal("0.80")),
        ],
    )


# -- FxRate ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [Decimal(0), Decimal("-1.5"), Decimal("NaN"), Decimal("Infinity")])
def test_fx_rate_refuses_non_positive_or_non_finite(rate: Decimal) -> None:
    with pytest.raises(ValueError, match=r"rate: EUR/USD on 2024-01-01 must be a positive Decimal"):
        FxRate(D1, "EUR", "USD", rate)


@pytest.mark.parametrize("rate", [1.1, 1, "1.1", None])
def test_fx_rate_refuses_non_decimal(rate: object) -> None:
    with pytest.raises(ValueError, match=r"rate"):
        FxRate(D1, "EUR", "USD", rate)  # type: ignore[arg-type]


@pytest.mark.parametrize(("base", "quote"), [("XYZ", "USD"), ("EUR", "XYZ")])
def test_fx_rate_refuses_unknown_currency(base: str, quote: str) -> None:
    with pytest.raises(CurrencyError, match=r"XYZ"):
        FxRate(D1, base, quote, Decimal(1))


def test_build_refuses_unknown_reporting_currency() -> None:
    with pytest.raises(CurrencyError, match=r"XYZ"):
        FxTable.build("XYZ", [])


# -- rate lookup ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "day", "rate"),
    [
        ("EUR", D1, Decimal("1.10")),
        ("EUR", date(2024, 1, 4), Decimal("1.10")),
        ("EUR", D5, Decimal("1.20")),
        ("EUR", date(2024, 1, 9), Decimal("1.20")),
        ("EUR", D10, Decimal("1.30")),
        ("EUR", date(2030, 1, 1), Decimal("1.30")),
        ("JPY", date(2024, 6, 1), Decimal("0.0066")),
        ("GBP", D1, Decimal("1.25")),
        ("USD", date(1999, 1, 1), Decimal(1)),
    ],
)
def test_rate_is_latest_on_or_before_day(currency: str, day: date, rate: Decimal) -> None:
    assert usd_table().rate(currency, day) == rate


def test_rates_given_out_of_order_are_sorted() -> None:
    table = FxTable.build(
        "USD",
        [
            FxRate(D10, "EUR", "USD", Decimal("1.30")),
            FxRate(D1, "EUR", "USD", Decimal("1.10")),
            FxRate(D5, "EUR", "USD", Decimal("1.20")),
        ],
    )
    assert [table.rate("EUR", d) for d in (D1, date(2024, 1, 6), date(2024, 2, 1))] == [
        Decimal("1.10"),
        Decimal("1.20"),
        Decimal("1.30"),
    ]


@pytest.mark.parametrize(
    ("currency", "day"),
    [
        ("EUR", date(2023, 12, 31)),  # before the first rate
        ("CHF", D5),  # no rate at all
        ("JPY", date(2023, 1, 1)),
    ],
)
def test_missing_rate_names_currency_and_day(currency: str, day: date) -> None:
    table = usd_table()
    with pytest.raises(FxRateMissing, match=f"{currency}->USD.*{day.isoformat()}"):
        table.rate(currency, day)
    with pytest.raises(FxRateMissing, match=f"{currency}.*{day.isoformat()}"):
        table.convert(Money(currency, 100), day)


def test_fx_rate_missing_is_a_lookup_error() -> None:
    assert issubclass(FxRateMissing, LookupError)


def test_rates_not_touching_the_reporting_currency_are_ignored() -> None:
    table = FxTable.build("USD", [FxRate(D1, "EUR", "GBP", Decimal("0.85"))])
    for ccy in ("EUR", "GBP"):
        with pytest.raises(FxRateMissing):
            table.rate(ccy, D1)


@pytest.mark.parametrize("direct_first", [True, False])
def test_direct_quote_wins_over_inverse_on_the_same_day(direct_first: bool) -> None:
    direct = FxRate(D1, "EUR", "USD", Decimal("1.10"))
    inverse = FxRate(D1, "USD", "EUR", Decimal("0.5"))  # would mean 1 EUR = 2 USD
    rates = [direct, inverse] if direct_first else [inverse, direct]
    assert FxTable.build("USD", rates).rate("EUR", D1) == Decimal("1.10")


def test_inverse_quote_is_the_reciprocal() -> None:
    table = FxTable.build("EUR", [FxRate(D1, "EUR", "USD", Decimal("1.25"))])
    assert table.rate("USD", D1) == Decimal("0.8")


def test_empty_table_converts_only_the_reporting_currency() -> None:
    table = FxTable.build("EUR", [])
    assert table.convert(Money("EUR", 123), D1) == Money("EUR", 123)
    with pytest.raises(FxRateMissing, match=r"USD->EUR"):
        table.convert(Money("USD", 123), D1)


# -- conversion -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "day", "expected"),
    [
        (Money("EUR", 1000), D1, Money("USD", 1100)),
        (Money("EUR", 1000), D5, Money("USD", 1200)),
        (Money("EUR", 1000), date(2024, 1, 7), Money("USD", 1200)),
        (Money("EUR", 1000), D10, Money("USD", 1300)),
        (Money("EUR", -1000), D1, Money("USD", -1100)),
        (Money("EUR", 5), D1, Money("USD", 6)),  # 5.5 cents -> 6 (even)
        (Money("EUR", 15), D1, Money("USD", 16)),  # 16.5 cents -> 16 (even)
        (Money("EUR", 1), D1, Money("USD", 1)),  # 1.1 cents -> 1
        # JPY (0 decimals) -> USD (2 decimals)
        (Money("JPY", 1000), D1, Money("USD", 660)),  # 6.60 USD
        (Money("JPY", 1), D1, Money("USD", 1)),  # 0.66 cents -> 1
        (Money("JPY", 75), D1, Money("USD", 50)),  # 49.5 cents -> 50 (even)
        (Money("JPY", 25), D1, Money("USD", 16)),  # 16.5 cents -> 16 (even)
        # KWD (3 decimals) -> USD
        (Money("KWD", 1000), D1, Money("USD", 325)),
        (Money("KWD", 2), D1, Money("USD", 1)),  # 0.65 cents -> 1
        (Money("KWD", 30), D1, Money("USD", 10)),  # 9.75 cents -> 10
        # inverse quote
        (Money("GBP", 1000), D1, Money("USD", 1250)),
        (Money("GBP", 2), D1, Money("USD", 2)),  # 2.5 cents -> 2 (even)
        (Money("GBP", 6), D1, Money("USD", 8)),  # 7.5 cents -> 8 (even)
    ],
)
def test_convert_into_usd(amount: Money, day: date, expected: Money) -> None:
    assert usd_table().convert(amount, day) == expected


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Money("USD", 1234), Money("JPY", 1857)),  # 12.34 * 150.5 = 1857.17
        (Money("USD", 100), Money("JPY", 150)),  # 150.5 -> 150 (even)
        (Money("USD", 300), Money("JPY", 452)),  # 451.5 -> 452 (even)
        (Money("USD", 1), Money("JPY", 2)),  # 1.505 -> 2
        (Money("KWD", 1), Money("JPY", 0)),  # 0.001 * 490 = 0.49 -> 0
        (Money("KWD", 3), Money("JPY", 1)),  # 1.47 -> 1
        (Money("KWD", 1000), Money("JPY", 490)),
        (Money("EUR", 100), Money("JPY", 156)),  # inverse quote: 1 EUR = 156.25 JPY
        (Money("EUR", 200), Money("JPY", 312)),  # 312.5 -> 312 (even)
    ],
)
def test_convert_into_jpy(amount: Money, expected: Money) -> None:
    table = FxTable.build(
        "JPY",
        [
            FxRate(D1, "USD", "JPY", Decimal("150.5")),
            FxRate(D1, "KWD", "JPY", Decimal("490")),
            FxRate(D1, "JPY", "EUR", Decimal("0.0064")),  # 1 JPY = 0.0064 EUR, 1 EUR = 156.25 JPY
        ],
    )
    assert table.convert(amount, D1) == expected


def test_convert_into_kwd() -> None:
    table = FxTable.build("KWD", [FxRate(D1, "USD", "KWD", Decimal("0.3075"))])
    # 10.01 USD * 0.3075 = 3.078075 KWD -> 3.078
    assert table.convert(Money("USD", 1001), D1) == Money("KWD", 3078)
    # 5 JPY * 0.0021 = 0.0105 KWD = 10.5 fils -> 10 (even)
    table = FxTable.build("KWD", [FxRate(D1, "JPY", "KWD", Decimal("0.0021"))])
    assert table.convert(Money("JPY", 5), D1) == Money("KWD", 10)


@pytest.mark.parametrize("currency", ["USD", "JPY", "KWD"])
def test_reporting_currency_converts_to_itself_unchanged(currency: str) -> None:
    table = FxTable.build(currency, [])
    m = Money(currency, 123_456_789)
    assert table.convert(m, D1) == m
    assert table.rate(currency, D1) == Decimal(1)


def test_inverse_quote_rounds_exact_halves_once() -> None:
    table = FxTable.build("USD", [FxRate(D1, "USD", "KWD", Decimal(3))])
    assert table.convert(Money("KWD", 225), D1) == Money("USD", 8)


@given(
    minor=st.integers(min_value=-(10**12), max_value=10**12),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(1000), places=4),
)
def test_convert_is_rate_times_amount_rounded_half_even(minor: int, rate: Decimal) -> None:
    table = FxTable.build("USD", [FxRate(D1, "EUR", "USD", rate)])
    got = table.convert(Money("EUR", minor), D1)
    assert got.currency == "USD"
    assert got == Money.of_major(Money("EUR", minor).to_major() * rate, "USD")
    # Within half a cent of the exact value.
    assert abs(Decimal(got.minor) - Decimal(minor) * rate) <= Decimal("0.5")
