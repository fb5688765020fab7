"""Platforms, entity levels and references shared by every layer."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Platform(StrEnum):
    """The three ad platforms adpilot manages."""

    META = "meta"
    X = "x"
    TIKTOK = "tiktok"


class Level(StrEnum):
    """Levels of the ad hierarchy. ``ad_set`` is Meta's ad set, X's line item, TikTok's ad group."""

    ACCOUNT = "account"
    CAMPAIGN = "campaign"
    AD_SET = "ad_set"
    AD = "ad"
    CREATIVE = "creative"


# What each platform calls each level, for messages and docs.
PLATFORM_LEVEL_NAMES: dict[Platform, dict[Level, str]] = {
    Platform.META: {Level.AD_SET: "ad set", Level.AD: "ad", Level.CREATIVE: "ad creative"},
    Platform.X: {Level.AD_SET: "line item", Level.AD: "promoted tweet", Level.CREATIVE: "card/tweet"},
    Platform.TIKTOK: {Level.AD_SET: "ad group", Level.AD: "ad", Level.CREATIVE: "ad creative"},
}


@dataclass(frozen=True, slots=True)
class EntityRef:
    """Points at one entity on one platform: ``meta/act_1/ad_set/238...``."""

    platform: Platform
    account_id: str
    level: Level
    entity_id: str

    def __post_init__(self) -> None:
        for name in ("account_id", "entity_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name}: must be a non-empty string")

    def __str__(self) -> str:
        return f"{self.platform}/{self.account_id}/{self.level}/{self.entity_id}"
