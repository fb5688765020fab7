"""Money as integer minor units plus an ISO 4217 code, and the one place platform units are converted.

Platforms speak three dialects of money:

* Meta: budgets and bids as minor-unit strings (``"5000"`` = 50.00 USD); insight ``spend`` as a
  major-unit decimal string (``"12.34"``).
* X: integers in micros (1 USD = 1,000,000).
* TikTok: major-unit floats on entities (``50.0``) and major-unit strings in reports (``"10.50"``).

Every conversion below is exact or rounds half-to-even at a single documented point.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

import numpy as np
from numpy.typing import NDArray

# ISO 4217 minor-unit exponents of active currencies; anything not listed has two decimals only
# if it is listed here, otherwise it is refused (an unknown code is almost always a typo).
_TWO_DECIMALS = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD "
    "CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD "
    "GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KYD KZT LAK LBP LKR LRD LSL MAD MDL "
    "MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR "
    "PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SYP SZL THB TJS TMT TOP "
    "TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWL"
)
_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF"
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND"

# ISO 4217 minor-unit exponents of active currencies. An unknown code is refused: it is almost
# always a typo, and guessing two decimals would silently scale money by 100.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_TWO_DECIMALS.split(" "), 2),
    **dict.fromkeys(_ZERO_DECIMALS.split(" "), 0),
    **dict.fromkeys(_THREE_DECIMALS.split(" "), 3),
}

MICROS_PER_UNIT = 1_000_000
_PLAIN_DECIMAL = re.compile(r"(-?)(\d+)(?:\.(\d+))?\Z")
_POW10 = (1, 10, 100, 1000)


class CurrencyError(ValueError):
    """An unknown currency code, or arithmetic across two currencies."""


def currency_exponent(code: str) -> int:
    """Number of minor-unit digits of an ISO 4217 currency (2 for USD, 0 for JPY, 3 for KWD)."""
    try:
        return _EXPONENTS[code]
    except KeyError:
        raise CurrencyError(f"currency: unknown ISO 4217 code {code!r}") from None


def check_currency(code: str) -> str:
    """Return ``code`` if it is a known ISO 4217 currency, else raise naming it."""
    currency_exponent(code)
    return code


def known_currencies() -> frozenset[str]:
    """All currency codes adpilot accepts."""
    return frozenset(_EXPONENTS)


def _round_to_int(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: integer minor units (cents, yen, fils) of one currency."""

    currency: str
    minor: int

    def __post_init__(self) -> None:
        check_currency(self.currency)
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise TypeError(f"minor: expected int minor units, got {type(self.minor).__name__}")

    # -- construction from each platform's unit -----------------------------------------------------
    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(currency, 0)

    @classmethod
    def of_minor(cls, minor: int | str, currency: str) -> Money:
        """From minor units, as Meta sends budgets (``"5000"`` USD = 50.00)."""
        check_currency(currency)
        if isinstance(minor, bool) or not isinstance(minor, int | str):
            raise CurrencyError(f"minor: {minor!r} is not a whole number of minor units")
        try:
            return cls(currency, int(minor))
        except ValueError:
            raise CurrencyError(f"minor: {minor!r} is not a whole number of minor units") from None

    @classmethod
    def of_major(cls, amount: str | int | float | Decimal, currency: str) -> Money:
        """From major units (``"12.34"``), as Meta insights and TikTok send money.

        Floats are read through their shortest decimal repr (``50.1`` → ``"50.1"``) so that
        TikTok's JSON numbers convert without binary noise. Sub-minor digits round half-to-even.
        """
        exp = currency_exponent(currency)
        if isinstance(amount, str):
            plain = _PLAIN_DECIMAL.match(amount)
            if plain is not None and len(plain.group(3) or "") <= exp:
                # The common case ("12.34"): exact integer arithmetic on the digits, no rounding needed.
                sign, whole, frac = plain.groups()
                minor = int(whole + (frac or "").ljust(exp, "0"))
                return cls(currency, -minor if sign else minor)
        try:
            dec = Decimal(repr(amount)) if isinstance(amount, float) else Decimal(amount)
        except InvalidOperation:
            raise CurrencyError(f"amount: {amount!r} is not a decimal number") from None
        if not dec.is_finite():
            raise CurrencyError(f"amount: {amount!r} is not finite")
        return cls(currency, _round_to_int(dec.scaleb(exp)))

    @classmethod
    def of_micros(cls, micros: int | str, currency: str) -> Money:
        """From micros (X's ``*_local_micro``); sub-minor remainders round half-to-even."""
        exp = currency_exponent(currency)
        if isinstance(micros, bool) or not isinstance(micros, int | str):
            raise CurrencyError(f"micros: {micros!r} is not a whole number of micros")
        try:
            whole = int(micros)
        except ValueError:
            raise CurrencyError(f"micros: {micros!r} is not a whole number of micros") from None
        return cls(currency, _round_to_int(Decimal(whole).scaleb(exp - 6)))

    # -- views ----------------------------------------------------------------------------------------
    @property
    def exponent(self) -> int:
        return currency_exponent(self.currency)

    def to_major(self) -> Decimal:
        """The exact major-unit amount (``Decimal('12.34')``)."""
        return Decimal(self.minor).scaleb(-self.exponent)

    def to_micros(self) -> int:
        return self.minor * (MICROS_PER_UNIT // _POW10[self.exponent])

    def __str__(self) -> str:
        return f"{self.to_major():.{self.exponent}f} {self.currency}"

    # -- arithmetic (same currency only) --------------------------------------------------------------
    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyError(f"currency: cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.currency, self.minor + other.minor)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.currency, self.minor - other.minor)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.minor >= other.minor

    def __neg__(self) -> Money:
        return Money(self.currency, -self.minor)

    def scale(self, factor: Decimal | int | str) -> Money:
        """Multiply by an exact factor (``Decimal('1.2')`` for +20 %), rounding half-to-even."""
        return Money(self.currency, _round_to_int(Decimal(self.minor) * Decimal(factor)))

    def allocate(self, weights: list[int]) -> list[Money]:
        """Split into parts proportional to ``weights`` that add up exactly (largest remainder)."""
        if not weights or any(w < 0 for w in weights) or sum(weights) == 0:
            raise ValueError("weights: need at least one positive weight and no negative ones")
        total = sum(weights)
        sign = -1 if self.minor < 0 else 1
        amount = abs(self.minor)
        shares = [amount * w // total for w in weights]
        order = sorted(range(len(weights)), key=lambda i: (amount * weights[i]) % total, reverse=True)
        for i in order[: amount - sum(shares)]:
            shares[i] += 1
        return [Money(self.currency, sign * s) for s in shares]


def sum_money(items: list[Money], currency: str) -> Money:
    """Sum amounts of one currency; an empty list is zero."""
    total = Money.zero(currency)
    for m in items:
        total = total + m
    return total


# -- whole columns at once ---------------------------------------------------------------------------------
# A sync maps hundreds of thousands of report rows; these give exactly what the scalar constructors above
# give, element by element, without building a Money per row. Values outside the fast path (signs, exponents,
# whitespace, non-ASCII digits, more than 18 digits, non-strings...) go through the scalar constructor one by
# one, so every result, and every error, is the scalar one.
_INT64_DIGITS = 18  # any 18-digit number fits int64; scaling stays within it


def _minor_digits_pattern(exp: int) -> re.Pattern[str]:
    """Comma-joined unsigned amounts with exactly ``exp`` decimals ("12.34,0.50" for USD), 18 digits at most."""
    one = f"[0-9]{{1,{_INT64_DIGITS - exp}}}" + (f"\\.[0-9]{{{exp}}}" if exp else "")
    return re.compile(f"{one}(?:,{one})*")


_MINOR_DIGITS = {exp: _minor_digits_pattern(exp) for exp in sorted(set(_EXPONENTS.values()))}
_POW10_INT64 = np.array([10**k for k in range(_INT64_DIGITS + 1)], dtype=np.int64)


def _round_half_even_div(n: NDArray[np.int64], d: NDArray[np.int64]) -> NDArray[np.int64]:
    """n / d rounded half to even, exactly, for positive ``d`` (floor division keeps it right for n < 0)."""
    q, r = np.divmod(n, d)
    twice = 2 * r  # r < d <= 10**18: 2 * r fits int64
    up = (twice > d) | ((twice == d) & (q % 2 == 1))
    return np.asarray(q + up, dtype=np.int64)


def minor_from_major_strings(values: Sequence[str], currency: str) -> list[int]:
    """``[Money.of_major(v, currency).minor for v in values]`` for major-unit decimal strings (``"12.34"``).

    Plain ``-?digits[.digits]`` strings of at most 18 digits convert as whole columns; sub-minor digits round
    half to even, as :meth:`Money.of_major` does.
    """
    exp = currency_exponent(currency)
    n = len(values)
    if n == 0:
        return []
    try:
        joined = ",".join(values)
    except TypeError:  # not all strings: the scalar constructor decides about each
        return [Money.of_major(v, currency).minor for v in values]
    if _MINOR_DIGITS[exp].fullmatch(joined):  # the usual shape ("12.34" for USD): exactly the minor digits
        numbers = joined.replace(".", "").split(",")
        if len(numbers) == n:  # no value held a comma of its own
            return list(map(int, numbers))
    if not joined.isascii() or "\x00" in joined:  # NumPy byte strings would drop trailing NULs
        return [Money.of_major(v, currency).minor for v in values]
    raw = np.array(values, dtype=np.bytes_)
    parts = np.char.partition(raw, b".")  # (n, 3): before, separator, after
    whole, dot, frac = parts[:, 0], parts[:, 1], parts[:, 2]
    digits = np.char.lstrip(whole, b"-")
    negative = np.char.str_len(whole) - np.char.str_len(digits)  # 1 for "-12.3", 2 for "--1" (refused)
    whole_len, frac_len = np.char.str_len(digits), np.char.str_len(frac)
    has_dot = np.char.str_len(dot) > 0
    ok = (
        (negative <= 1)
        & np.char.isdigit(digits)
        & (~has_dot | np.char.isdigit(frac))
        & (whole_len + np.maximum(frac_len, exp) <= _INT64_DIGITS)
    )
    out = np.zeros(n, dtype=np.int64)
    if ok.any():
        number = np.char.add(digits[ok], frac[ok]).astype(np.int64)  # all digits, the point removed
        shift = exp - frac_len[ok]  # > 0: too few decimals, pad; < 0: sub-minor digits, round
        scaled = number * _POW10_INT64[np.maximum(shift, 0)]
        rounded = _round_half_even_div(number, _POW10_INT64[np.maximum(-shift, 0)])
        magnitude = np.where(shift >= 0, scaled, rounded)
        out[ok] = np.where(negative[ok] == 1, -magnitude, magnitude)
    result: list[int] = out.tolist()
    if not ok.all():
        for i in np.flatnonzero(~ok).tolist():
            result[i] = Money.of_major(values[i], currency).minor
    return result


def minor_from_micros(values: Sequence[int], currency: str) -> list[int]:
    """``[Money.of_micros(v, currency).minor for v in values]`` for X's integer micros.

    Sub-minor remainders round half to even, as :meth:`Money.of_micros` does.
    """
    exp = currency_exponent(currency)
    if not values:
        return []
    if not set(map(type, values)) <= {int}:  # bools, strings: the scalar constructor decides
        return [Money.of_micros(v, currency).minor for v in values]
    try:
        micros = np.array(values, dtype=np.int64)
    except OverflowError:
        return [Money.of_micros(v, currency).minor for v in values]
    divisor = np.full(len(micros), MICROS_PER_UNIT // _POW10[exp], dtype=np.int64)
    minor: list[int] = _round_half_even_div(micros, divisor).tolist()
    return minor
