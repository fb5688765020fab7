"""Limits the platforms themselves enforce on writes, so the agent never proposes what they would refuse.

TikTok: an ad group's daily budget is at least 20 and a campaign's at least 50 (account currency, major
units; x100 for zero-decimal currencies), per the Business API's budget rules. Meta and X publish no fixed
floor for daily budgets in the account currency (Meta's depends on the bid strategy and is checked on
write); none is assumed.
"""

from __future__ import annotations

from adpilot.domain.ids import Level, Platform
from adpilot.domain.money import Money, currency_exponent

_TIKTOK_MIN_MAJOR = {Level.AD_SET: 20, Level.CAMPAIGN: 50}


def min_daily_budget(platform: Platform, level: Level, currency: str) -> Money | None:
    """The smallest daily budget the platform accepts for a ``level`` budget holder, if it has one."""
    if platform is Platform.TIKTOK and level in _TIKTOK_MIN_MAJOR:
        exponent = currency_exponent(currency)
        minor = _TIKTOK_MIN_MAJOR[level] * 10**exponent * (100 if exponent == 0 else 1)
        return Money(currency, minor)
    return None
