"""Scenario files: the market a sandbox simulates, loaded from YAML and validated field by field.

The schema is documented in docs/scenarios.md. Amounts are in the account's currency, major units;
rates are fractions (0.012 = 1.2 % CTR).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PlatformName = Literal["meta", "x", "tiktok"]


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the field path."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Curve(_Model):
    """Hill response: deliverable impressions per day for a spend s (account currency, major units).

    impressions(s) = i_max * s^alpha / (s^alpha + k^alpha), so CPM rises as spend grows.
    """

    i_max: float = Field(gt=0)
    k: float = Field(gt=0)
    alpha: float = Field(default=1.0, ge=0.5, le=3.0)


class AdSpec(_Model):
    name: str
    headline: str = ""
    body: str = ""
    cta: str = "LEARN_MORE"
    image: str = Field(default="", description="A token whose hash stands for the image's content.")
    ctr_mult: float | None = Field(default=None, gt=0, description="Override the element-derived CTR effect.")
    cvr_mult: float | None = Field(default=None, gt=0)
    status: Literal["ACTIVE", "PAUSED"] = "ACTIVE"
    fatigue_beta: float | None = Field(default=None, ge=0, le=2)
    half_life_days: float | None = Field(default=None, gt=0)
    start_day: int = Field(default=0, ge=0, description="Day index the ad was created (0 = history start).")


class AdSetSpec(_Model):
    name: str
    daily_budget: float = Field(gt=0)
    bid: float | None = Field(default=None, gt=0)
    optimization_goal: str = "CONVERSIONS"
    curve: Curve
    ctr: float = Field(gt=0, lt=1)
    cvr: float = Field(gt=0, lt=1)
    aov: float = Field(default=60.0, gt=0, description="Mean value per conversion.")
    audience: float = Field(default=500_000, gt=0, description="Reachable people, for frequency fatigue.")
    status: Literal["ACTIVE", "PAUSED"] = "ACTIVE"
    ads: tuple[AdSpec, ...] = Field(min_length=1)


class CampaignSpec(_Model):
    name: str
    objective: str = "OUTCOME_SALES"
    status: Literal["ACTIVE", "PAUSED"] = "ACTIVE"
    ad_sets: tuple[AdSetSpec, ...] = Field(min_length=1)


class AccountSpec(_Model):
    platform: PlatformName
    id: str = Field(description="Meta: digits (served as act_<id>); X: base-36; TikTok: digits.")
    name: str
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    timezone: str = "America/New_York"
    campaigns: tuple[CampaignSpec, ...] = Field(min_length=1)


class Event(_Model):
    """A dated change of the market: CPM regime shifts, tracking outages, competitor entry."""

    kind: Literal["cpm_shift", "tracking_outage", "competitor"]
    day: int = Field(ge=0)
    days: int | None = Field(default=None, ge=1, description="Duration; None = permanent.")
    platform: PlatformName | None = None
    ad_set: str | None = Field(default=None, description="Ad set name, for competitor entry.")
    factor: float = Field(gt=0, description="CPM multiplier, or the share of conversions still tracked.")


class PlatformSpec(_Model):
    cpm_noise: float = Field(default=0.10, ge=0, le=1, description="Daily lognormal sigma of ad-set CPM shocks.")
    cvr_noise: float = Field(default=0.15, ge=0, le=1, description="Daily lognormal sigma of ad-set CVR.")
    q4_multiplier: float = Field(default=1.4, gt=0, description="CPM multiplier at the Q4 peak (late November).")
    friday_multiplier: float = Field(default=1.05, gt=0)
    lag_profile: tuple[float, ...] = Field(default=(0.6, 0.2, 0.08, 0.04, 0.04, 0.02, 0.02), min_length=1)
    attribution_rate: float = Field(default=1.0, gt=0, le=1, description="Share of conversions the platform sees.")
    learning_events: int = Field(default=50, ge=0)
    learning_window_days: int = Field(default=7, ge=1)
    learning_budget_change: float = Field(default=0.2, ge=0, description="Relative budget edit that resets learning.")
    learning_cvr_penalty: float = Field(default=0.8, gt=0, le=1)
    delivery_sharpness: float = Field(default=2.0, ge=0, description="How strongly delivery favours predicted winners.")
    delivery_noise: float = Field(default=0.3, ge=0)
    fatigue_beta: float = Field(default=0.45, ge=0, le=2)
    half_life_days: float = Field(default=21.0, gt=0, description="Age after which age fatigue halves.")
    fatigue_floor: float = Field(default=0.3, ge=0, le=1, description="Share of CTR age fatigue never takes.")
    element_sigma: float = Field(default=0.25, ge=0, le=2, description="Spread of element effects on CTR.")
    underdelivery: float = Field(default=0.03, ge=0, lt=1, description="Mean share of budget left unspent.")

    @field_validator("lag_profile")
    @classmethod
    def _sums_to_one(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(x < 0 for x in v) or abs(sum(v) - 1) > 1e-6:
            raise ValueError("must be non-negative shares that add up to 1")
        return v


class Scenario(_Model):
    name: str
    description: str = ""
    seed: int = 0
    start_date: date
    history_days: int = Field(default=60, ge=0, le=1000)
    horizon_days: int = Field(default=120, ge=1, le=2000, description="Days the world can run past history.")
    reporting_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    fx_rates: dict[str, float] = Field(default_factory=dict, description="Reporting units per unit of currency.")
    objective: Literal["conversions", "value"] = "conversions"
    total_daily_budget: float | None = Field(default=None, gt=0, description="Oracle budget (reporting currency).")
    platforms: dict[PlatformName, PlatformSpec] = Field(default_factory=dict)
    accounts: tuple[AccountSpec, ...] = Field(min_length=1)
    events: tuple[Event, ...] = ()
    faults: dict[PlatformName, dict[str, float]] = Field(default_factory=dict)
    benchmark_days: int | None = Field(default=None, ge=1, description="Days a policy benchmark runs by default.")
    benchmark_eval_from: int = Field(default=1, ge=1, description="First run day (1-based) that is scored.")

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        for acc in self.accounts:
            if acc.currency != self.reporting_currency and acc.currency not in self.fx_rates:
                raise ValueError(f"fx_rates: no rate for {acc.currency} (account {acc.id})")
        ids = [(a.platform, a.id) for a in self.accounts]
        if len(ids) != len(set(ids)):
            raise ValueError("accounts: two accounts share a platform and id")
        return self

    def platform(self, name: str) -> PlatformSpec:
        spec: PlatformSpec | None = self.platforms.get(name)  # type: ignore[call-overload]
        return spec if spec is not None else PlatformSpec()


def parse_scenario(data: object, *, source: str = "scenario") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ScenarioError(f"{source}: {problems}") from None


def load_scenario(path: str | Path) -> Scenario:
    """Load a scenario file; a bare name ("demo") means a scenario shipped with the sandbox."""
    p = Path(path)
    if not p.is_file() and not p.suffix:
        p = Path(__file__).parent / "scenarios" / f"{path}.yaml"
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML ({exc})") from None
    return parse_scenario(data, source=str(path))
