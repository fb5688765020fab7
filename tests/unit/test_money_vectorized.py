"""Whole-column unit conversions give exactly what the scalar Money constructors give, element by element."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from adpilot.domain.money import CurrencyError, Money, minor_from_major_strings, minor_from_micros

currencies = st.sampled_from(["USD", "JPY", "KWD", "EUR", "CLP", "BHD"])

# Plain major-unit strings as platforms send them, with every number of decimals (sub-minor ones round),
# leading zeros, a sign, and sizes up to and beyond what int64 holds.
plain = st.builds(
    lambda sign, whole, frac: f"{sign}{whole}{'.' + frac if frac is not None else ''}",
    st.sampled_from(["", "", "", "-"]),
    st.one_of(st.integers(0, 10**6).map(str), st.text("0123456789", min_size=1, max_size=22)),
    st.one_of(st.none(), st.text("0123456789", min_size=1, max_size=8)),
)
# Anything else a malformed page could hold: exponents, blanks, signs, Unicode digits, NULs, separators.
odd = st.one_of(
    st.text(alphabet="0123456789.,-+eE _\x00 \u0663\u00b2", max_size=8),
    st.sampled_from(
        ["-", "", ".5", "5.", "--1", "+1", "1e3", "NaN", "Infinity", "1_000", "12.34\x00", "\u0661\u0662", "1,23", ","]
    ),
)
strings = st.lists(st.one_of(plain, plain, plain, odd), max_size=40)
# Columns as platforms send them: every amount with exactly the currency's minor digits.
exact = st.sampled_from([0, 2, 3]).flatmap(
    lambda exp: st.tuples(
        st.just({0: "JPY", 2: "USD", 3: "KWD"}[exp]),
        st.lists(
            st.builds(
                lambda whole, frac: f"{whole}.{frac}" if exp else str(whole),
                st.integers(0, 10**12),
                st.text("0123456789", min_size=exp, max_size=exp),
            ),
            max_size=40,
        ),
    )
)


def scalar_or_error(convert: Callable[[Any], int], values: Sequence[Any]) -> list[int] | tuple[type, str]:
    try:
        return [convert(v) for v in values]
    except (CurrencyError, ValueError, TypeError) as exc:
        return type(exc), str(exc)


def vector_or_error(convert: Callable[[], list[int]]) -> list[int] | tuple[type, str]:
    try:
        return convert()
    except (CurrencyError, ValueError, TypeError) as exc:
        return type(exc), str(exc)


@settings(deadline=None)  # the scalar reference itself is slow on huge exponents ("1E70000")
@given(strings, currencies)
@example(["12.345", "-0.005", "1.235", "2.5", "0012.340"], "USD")
@example(["0.5", "1.5", "2.5", "-0.5", "-1.5"], "JPY")
@example(["1.0005", "1.0015", "9" * 18, "9" * 19, "-" + "9" * 16 + ".99"], "KWD")
def test_major_strings_equal_the_scalar_conversion(values: list[str], currency: str) -> None:
    expected = scalar_or_error(lambda v: Money.of_major(v, currency).minor, values)
    assert vector_or_error(lambda: minor_from_major_strings(values, currency)) == expected


@settings(deadline=None)
@given(exact)
@example(("JPY", ["12", "1,2"]))
@example(("USD", ["0.01", "12.34", "1,2.34"]))
def test_amounts_with_exactly_the_minor_digits(case: tuple[str, list[str]]) -> None:
    currency, values = case
    expected = scalar_or_error(lambda v: Money.of_major(v, currency).minor, values)
    assert vector_or_error(lambda: minor_from_major_strings(values, currency)) == expected


@given(
    st.lists(
        st.one_of(
            st.integers(-(10**12), 10**12),
            st.integers(-(2**63), 2**63 - 1),
            st.integers(-(10**30), 10**30),
            st.sampled_from([5_000, 15_000, 25_000, -5_000, -15_000, 500, 1_500, 2_500]),
        ),
        max_size=40,
    ),
    currencies,
)
def test_micros_equal_the_scalar_conversion(values: list[int], currency: str) -> None:
    expected = [Money.of_micros(v, currency).minor for v in values]
    assert minor_from_micros(values, currency) == expected


@pytest.mark.parametrize("values", [[1, True], [1, "12"], [1, 1.5], [None]])
def test_micros_of_other_types_behave_as_the_scalar_conversion(values: list[Any]) -> None:
    expected = scalar_or_error(lambda v: Money.of_micros(v, "USD").minor, values)
    assert vector_or_error(lambda: minor_from_micros(values, "USD")) == expected


@pytest.mark.parametrize("values", [["1.00", 5], ["1.00", None], ["2", 2.5]])
def test_major_values_of_other_types_behave_as_the_scalar_conversion(values: list[Any]) -> None:
    expected = scalar_or_error(lambda v: Money.of_major(v, "EUR").minor, values)
    assert vector_or_error(lambda: minor_from_major_strings(values, "EUR")) == expected


def test_half_even_at_the_minor_unit() -> None:
    assert minor_from_major_strings(["0.125", "0.135", "-0.125", "0.1251"], "USD") == [12, 14, -12, 13]
    assert minor_from_micros([5_000, 15_000, -5_000, 5_001], "USD") == [0, 2, 0, 1]


def test_unknown_currency_names_the_code() -> None:
    with pytest.raises(CurrencyError, match="'XYZ'"):
        minor_from_major_strings(["1.00"], "XYZ")
    with pytest.raises(CurrencyError, match="'XYZ'"):
        minor_from_micros([1], "XYZ")
    assert minor_from_major_strings([], "USD") == [] and minor_from_micros([], "USD") == []
