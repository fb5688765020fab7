"""Money: exact integer minor units, conversions from each platform's dialect, arithmetic, allocation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.domain.money import (
    MICROS_PER_UNIT,
    CurrencyError,
    Money,
    check_currency,
    currency_exponent,
    known_currencies,
    sum_money,
)

# Keep amounts well inside Decimal's default 28-digit context and int64 (the warehouse type).
BOUND = 10**15
minor_units = st.integers(min_value=-BOUND, max_value=BOUND)
currencies = st.sampled_from(["USD", "JPY", "KWD", "EUR", "CLP", "BHD"])


# -- exponents and currency codes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3)],
)
def test_currency_exponent(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent
    assert check_currency(code) == code
    assert code in known_currencies()


@pytest.mark.parametrize("code", ["XYZ", "usd", "", "US", "USDX", "EURO"])
def test_unknown_currency_is_refused_naming_the_code(code: str) -> None:
    with pytest.raises(CurrencyError, match=f"currency: unknown ISO 4217 code {code!r}"):
        currency_exponent(code)
    with pytest.raises(CurrencyError, match=repr(code)):
        check_currency(code)
    with pytest.raises(CurrencyError, match=repr(code)):
        Money(code, 1)
    with pytest.raises(CurrencyError, match=repr(code)):
        Money.of_major("1", code)
    with pytest.raises(CurrencyError, match=repr(code)):
        Money.of_micros(1_000_000, code)
    with pytest.raises(CurrencyError, match=repr(code)):
        Money.zero(code)


def test_currency_error_is_a_value_error() -> None:
    assert issubclass(CurrencyError, ValueError)


def test_of_minor_unknown_currency_names_the_code() -> None:
    with pytest.raises(CurrencyError, match=r"'XYZ'"):
        Money.of_minor(5000, "XYZ")


# -- construction ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [1.0, Decimal(1), "1", True, None])
def test_minor_must_be_an_int(bad: object) -> None:
    with pytest.raises(TypeError, match=r"minor"):
        Money("USD", bad)  # type: ignore[arg-type]


def test_zero() -> None:
    assert Money.zero("JPY") == Money("JPY", 0)


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [
        ("5000", "USD", 5000),
        (5000, "USD", 5000),
        ("-250", "USD", -250),
        ("1000", "JPY", 1000),
        ("1234", "KWD", 1234),
        (" 42 ", "USD", 42),
    ],
)
def test_of_minor(minor: int | str, currency: str, expected: int) -> None:
    m = Money.of_minor(minor, currency)
    assert m == Money(currency, expected)


@pytest.mark.parametrize("minor", ["12.5", "abc", "", "1e3"])
def test_of_minor_refuses_non_whole_strings(minor: str) -> None:
    with pytest.raises(CurrencyError, match=r"minor"):
        Money.of_minor(minor, "USD")


@pytest.mark.parametrize(
    ("amount", "currency", "expected_minor"),
    [
        # USD: two decimals
        ("12.34", "USD", 1234),
        ("12.3", "USD", 1230),
        ("12", "USD", 1200),
        ("-12.34", "USD", -1234),
        ("0", "USD", 0),
        (50, "USD", 5000),
        (50.1, "USD", 5010),
        (0.1, "USD", 10),
        (19.99, "USD", 1999),
        (1.005, "USD", 100),  # repr "1.005": exactly half a cent, rounds to even
        (Decimal("50.10"), "USD", 5010),
        (Decimal("1E+2"), "USD", 10000),
        # JPY: no decimals
        ("1000", "JPY", 1000),
        (1000, "JPY", 1000),
        (1000.0, "JPY", 1000),
        ("1000.4", "JPY", 1000),
        ("1000.5", "JPY", 1000),
        ("1001.5", "JPY", 1002),
        # KWD: three decimals
        ("1.234", "KWD", 1234),
        ("1.2", "KWD", 1200),
        (1.234, "KWD", 1234),
        ("1.2345", "KWD", 1234),
        ("1.2355", "KWD", 1236),
        (Decimal("0.001"), "KWD", 1),
    ],
)
def test_of_major(amount: str | int | float | Decimal, currency: str, expected_minor: int) -> None:
    m = Money.of_major(amount, currency)
    assert m.currency == currency
    assert m.minor == expected_minor
    assert type(m.minor) is int


@pytest.mark.parametrize(
    ("amount", "expected_minor"),
    [
        ("0.125", 12),  # half: to the even neighbour (down)
        ("0.135", 14),  # half: to the even neighbour (up)
        ("0.145", 14),
        ("0.155", 16),
        ("0.1251", 13),  # above half: up
        ("0.1249", 12),  # below half: down
        ("-0.125", -12),
        ("-0.135", -14),
        ("0.005", 0),
        ("0.015", 2),
        ("2.5E-3", 0),
    ],
)
def test_of_major_rounds_sub_minor_digits_half_to_even(amount: str, expected_minor: int) -> None:
    assert Money.of_major(amount, "USD").minor == expected_minor


@pytest.mark.parametrize("value", [50.1, 0.1, 0.2, 0.3, 1.1, 2.675, 1234.56, 99.99, 0.07])
def test_of_major_floats_have_no_binary_noise(value: float) -> None:
    assert Money.of_major(value, "USD") == Money.of_major(repr(value), "USD")


@pytest.mark.parametrize("amount", ["abc", "", "12,34", "1.2.3"])
def test_of_major_refuses_non_numbers(amount: str) -> None:
    with pytest.raises(CurrencyError, match=r"amount"):
        Money.of_major(amount, "USD")


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", Decimal("NaN"), float("inf"), float("nan"), "sNaN"])
def test_of_major_refuses_non_finite(amount: str | float | Decimal) -> None:
    with pytest.raises(CurrencyError, match=r"amount"):
        Money.of_major(amount, "USD")


@pytest.mark.parametrize(
    ("micros", "currency", "expected_minor"),
    [
        (12_345_678, "USD", 1235),  # 1234.5678 cents
        ("12345678", "USD", 1235),
        (1_000_000, "USD", 100),
        (5_000, "USD", 0),  # exactly half a cent: even (0)
        (15_000, "USD", 2),  # 1.5 cents: even (2)
        (25_000, "USD", 2),  # 2.5 cents: even (2)
        (25_001, "USD", 3),
        (-12_345_678, "USD", -1235),
        (1_000_000, "JPY", 1),
        (1_500_000, "JPY", 2),
        (2_500_000, "JPY", 2),
        (2_500_001, "JPY", 3),
        (999_999, "JPY", 1),
        (1_234_500, "KWD", 1234),  # 1234.5 fils: even
        (1_235_500, "KWD", 1236),
        (1_234_000, "KWD", 1234),
        (0, "KWD", 0),
    ],
)
def test_of_micros(micros: int | str, currency: str, expected_minor: int) -> None:
    assert Money.of_micros(micros, currency) == Money(currency, expected_minor)


# -- views ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("money", "major", "micros"),
    [
        (Money("USD", 1234), Decimal("12.34"), 12_340_000),
        (Money("USD", -5), Decimal("-0.05"), -50_000),
        (Money("JPY", 1000), Decimal("1000"), 1_000_000_000),
        (Money("KWD", 1234), Decimal("1.234"), 1_234_000),
        (Money("KWD", 0), Decimal("0"), 0),
    ],
)
def test_to_major_and_to_micros(money: Money, major: Decimal, micros: int) -> None:
    assert money.to_major() == major
    assert isinstance(money.to_major(), Decimal)
    assert money.to_micros() == micros
    assert money.exponent == currency_exponent(money.currency)


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money("USD", 1234), "12.34 USD"),
        (Money("USD", 5), "0.05 USD"),
        (Money("USD", 0), "0.00 USD"),
        (Money("USD", 1200), "12.00 USD"),
        (Money("USD", -1234), "-12.34 USD"),
        (Money("JPY", 1000), "1000 JPY"),
        (Money("JPY", 0), "0 JPY"),
        (Money("KWD", 1234), "1.234 KWD"),
        (Money("KWD", 1), "0.001 KWD"),
        (Money("KWD", -1000), "-1.000 KWD"),
    ],
)
def test_str(money: Money, text: str) -> None:
    assert str(money) == text


def test_money_is_frozen() -> None:
    m = Money("USD", 1)
    with pytest.raises(AttributeError):
        m.minor = 2  # type: ignore[misc]


# -- arithmetic -----------------------------------------------------------------------------------


def test_add_sub_neg() -> None:
    a, b = Money("USD", 1234), Money("USD", 66)
    assert a + b == Money("USD", 1300)
    assert a - b == Money("USD", 1168)
    assert b - a == Money("USD", -1168)
    assert -a == Money("USD", -1234)


@pytest.mark.parametrize("op", ["add", "sub"])
def test_arithmetic_across_currencies_raises(op: str) -> None:
    usd, eur = Money("USD", 100), Money("EUR", 100)
    with pytest.raises(CurrencyError, match=r"USD.*EUR"):
        if op == "add":
            usd + eur
        else:
            usd - eur


def test_arithmetic_with_non_money_raises_type_error() -> None:
    with pytest.raises(TypeError, match=r"int"):
        Money("USD", 1) + 1  # type: ignore[operator]


@pytest.mark.parametrize(
    ("money", "factor", "expected"),
    [
        (Money("USD", 1000), Decimal("1.2"), Money("USD", 1200)),
        (Money("USD", 1000), "0.5", Money("USD", 500)),
        (Money("USD", 1000), 3, Money("USD", 3000)),
        (Money("USD", 1000), 0, Money("USD", 0)),
        (Money("USD", 5), Decimal("0.5"), Money("USD", 2)),  # 2.5 -> 2
        (Money("USD", 7), Decimal("0.5"), Money("USD", 4)),  # 3.5 -> 4
        (Money("USD", 3), Decimal("0.5"), Money("USD", 2)),  # 1.5 -> 2
        (Money("USD", -5), Decimal("0.5"), Money("USD", -2)),
        (Money("JPY", 333), Decimal("1.1"), Money("JPY", 366)),  # 366.3
        (Money("KWD", 1001), Decimal("0.8"), Money("KWD", 801)),  # 800.8
    ],
)
def test_scale_rounds_half_to_even(money: Money, factor: Decimal | int | str, expected: Money) -> None:
    assert money.scale(factor) == expected


@pytest.mark.parametrize(
    ("money", "weights", "expected"),
    [
        (Money("USD", 100), [1, 1, 1], [34, 33, 33]),
        (Money("USD", 100), [1, 1], [50, 50]),
        (Money("USD", 5), [1, 1], [3, 2]),
        (Money("USD", 10), [1, 0, 1], [5, 0, 5]),
        (Money("USD", 1), [0, 0, 3], [0, 0, 1]),
        (Money("USD", 10), [3, 7], [3, 7]),
        (Money("USD", -100), [1, 1, 1], [-34, -33, -33]),
        (Money("JPY", 0), [1, 2], [0, 0]),
        (Money("USD", 2), [1, 1, 1], [1, 1, 0]),
    ],
)
def test_allocate_examples(money: Money, weights: list[int], expected: list[int]) -> None:
    parts = money.allocate(weights)
    assert [p.minor for p in parts] == expected
    assert all(p.currency == money.currency for p in parts)


@pytest.mark.parametrize("weights", [[], [0], [0, 0], [1, -1], [-1]])
def test_allocate_refuses_bad_weights(weights: list[int]) -> None:
    with pytest.raises(ValueError, match=r"weights"):
        Money("USD", 100).allocate(weights)


def test_sum_money() -> None:
    assert sum_money([], "JPY") == Money("JPY", 0)
    assert sum_money([Money("USD", 1), Money("USD", 2), Money("USD", -5)], "USD") == Money("USD", -2)
    with pytest.raises(CurrencyError):
        sum_money([Money("USD", 1), Money("EUR", 2)], "USD")
    with pytest.raises(CurrencyError):
        sum_money([Money("EUR", 1)], "USD")


# -- properties -----------------------------------------------------------------------------------


@given(
    minor=minor_units,
    weights=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=12).filter(
        lambda ws: sum(ws) > 0
    ),
)
def test_allocate_sums_exactly_and_is_proportional(minor: int, weights: list[int]) -> None:
    money = Money("USD", minor)
    parts = money.allocate(weights)
    assert len(parts) == len(weights)
    assert sum(p.minor for p in parts) == minor
    total = sum(weights)
    for part, w in zip(parts, weights, strict=True):
        # Each part is within one minor unit of its exact share, and has the amount's sign.
        assert abs(part.minor * total - minor * w) < total
        assert part.minor * minor >= 0
        if w == 0:
            assert part.minor == 0


@given(a=minor_units, b=minor_units, c=minor_units, currency=currencies)
def test_add_is_associative_and_commutative(a: int, b: int, c: int, currency: str) -> None:
    x, y, z = Money(currency, a), Money(currency, b), Money(currency, c)
    assert (x + y) + z == x + (y + z)
    assert x + y == y + x
    assert x - y == x + (-y)
    assert x + Money.zero(currency) == x


@given(minor=minor_units, currency=currencies)
def test_to_major_round_trips_through_of_major(minor: int, currency: str) -> None:
    m = Money.of_minor(minor, currency)
    assert Money.of_major(m.to_major(), currency) == m
    assert Money.of_major(str(m.to_major()), currency) == m
    assert Money.of_minor(str(minor), currency) == m


@given(minor=minor_units, currency=currencies)
def test_to_micros_round_trips_through_of_micros(minor: int, currency: str) -> None:
    m = Money(currency, minor)
    micros = m.to_micros()
    assert micros == m.to_major() * MICROS_PER_UNIT
    assert Money.of_micros(micros, currency) == m
    assert Money.of_micros(str(micros), currency) == m


@given(minor=minor_units, currency=currencies)
def test_str_parses_back(minor: int, currency: str) -> None:
    m = Money(currency, minor)
    amount, code = str(m).split(" ")
    assert code == currency
    assert Money.of_major(amount, code) == m


@given(cents=st.integers(min_value=-(10**9), max_value=10**9))
def test_of_major_float_matches_decimal_string(cents: int) -> None:
    text = f"{cents / 100:.2f}"
    assert Money.of_major(float(text), "USD") == Money("USD", cents)
