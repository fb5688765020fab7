"""Conversion to a reporting currency from a table of daily rates."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from adpilot.domain.money import Money, check_currency


class FxRateMissing(LookupError):
    """No rate is known for a currency on or before a day."""


@dataclass(frozen=True, slots=True)
class FxRate:
    """On ``day``, one unit of ``base`` is worth ``rate`` units of ``quote``."""

    day: date
    base: str
    quote: str
    rate: Decimal

    def __post_init__(self) -> None:
        check_currency(self.base)
        check_currency(self.quote)
        if not isinstance(self.rate, Decimal) or not self.rate.is_finite() or self.rate <= 0:
            raise ValueError(f"rate: {self.base}/{self.quote} on {self.day} must be a positive Decimal")


@dataclass(frozen=True)
class FxTable:
    """Rates into one reporting currency; each day uses the latest rate on or before it."""

    reporting: str
    _days: dict[str, list[date]] = field(default_factory=dict, repr=False)
    # (rate, inverse): an inverse quote says how many units of the currency one reporting unit buys;
    # conversion divides by it instead of multiplying by a rounded reciprocal.
    _rates: dict[str, list[tuple[Decimal, bool]]] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, reporting: str, rates: Iterable[FxRate]) -> FxTable:
        check_currency(reporting)
        by_ccy: dict[str, dict[date, tuple[Decimal, bool]]] = {}
        for r in rates:
            if r.quote == reporting:
                by_ccy.setdefault(r.base, {})[r.day] = (r.rate, False)
            elif r.base == reporting:
                # An inverse quote is usable too (1 reporting = rate units); a direct quote wins.
                by_ccy.setdefault(r.quote, {}).setdefault(r.day, (r.rate, True))
        table = cls(reporting)
        for ccy, series in by_ccy.items():
            days = sorted(series)
            table._days[ccy] = days
            table._rates[ccy] = [series[d] for d in days]
        return table

    def _quote(self, currency: str, day: date) -> tuple[Decimal, bool]:
        days = self._days.get(currency)
        if days:
            i = bisect.bisect_right(days, day)
            if i:
                return self._rates[currency][i - 1]
        raise FxRateMissing(f"fx: no {currency}->{self.reporting} rate on or before {day.isoformat()}")

    def rate(self, currency: str, day: date) -> Decimal:
        """Units of the reporting currency per unit of ``currency`` on ``day`` (for display)."""
        if currency == self.reporting:
            return Decimal(1)
        rate, inverse = self._quote(currency, day)
        return Decimal(1) / rate if inverse else rate

    def convert(self, amount: Money, day: date) -> Money:
        """``amount`` in the reporting currency at ``day``'s rate, rounded half-to-even to minor units."""
        if amount.currency == self.reporting:
            return amount
        target = Money.zero(self.reporting)
        rate, inverse = self._quote(amount.currency, day)
        with localcontext() as ctx:
            ctx.prec = 60  # exact for any realistic amount and rate: one rounding, below
            major = amount.to_major() / rate if inverse else amount.to_major() * rate
            minor = major.scaleb(target.exponent).to_integral_value(rounding=ROUND_HALF_EVEN)
        return Money(self.reporting, int(minor))
