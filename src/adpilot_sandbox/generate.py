"""Scenarios built in code: large synthetic markets for benchmarks, drawn from realistic ranges."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from adpilot_sandbox.scenario import Scenario, parse_scenario

# (currency, timezone, CPM-ish cost scale, CTR, CVR) per platform, from the reference ranges.
_PLATFORM_DEFAULTS = {
    "meta": ("USD", "America/Los_Angeles", 14.0, 0.012, 0.025),
    "tiktok": ("EUR", "Europe/Berlin", 7.5, 0.009, 0.018),
    "x": ("USD", "America/New_York", 2.5, 0.006, 0.010),
}


def synthetic_scenario(
    *,
    ads_per_platform: int = 5000,
    ads_per_ad_set: int = 5,
    ad_sets_per_campaign: int = 20,
    history_days: int = 90,
    seed: int = 7,
    start: date = date(2026, 1, 5),
) -> Scenario:
    """One account per platform with ``ads_per_platform`` ads, parameters drawn from a seeded RNG."""
    rng = np.random.default_rng(seed)
    accounts: list[dict[str, Any]] = []
    n_sets = max(1, ads_per_platform // ads_per_ad_set)
    for p_index, (platform, (currency, tz, cpm, ctr, cvr)) in enumerate(_PLATFORM_DEFAULTS.items()):
        campaigns: list[dict[str, Any]] = []
        for s in range(n_sets):
            if s % ad_sets_per_campaign == 0:
                campaigns.append({"name": f"{platform} campaign {s // ad_sets_per_campaign + 1}", "ad_sets": []})
            budget = float(np.round(rng.uniform(20, 400), 2))
            k = budget * rng.uniform(1.0, 2.5)
            campaigns[-1]["ad_sets"].append(
                {
                    "name": f"{platform} ad set {s + 1}",
                    "daily_budget": budget,
                    "curve": {"i_max": float(2 * k / cpm * 1000), "k": float(k), "alpha": float(rng.uniform(0.8, 1.6))},
                    "ctr": float(ctr * rng.lognormal(0, 0.2)),
                    "cvr": float(cvr * rng.lognormal(0, 0.2)),
                    "aov": float(rng.uniform(40, 160)),
                    "audience": float(rng.uniform(2e5, 2e6)),
                    "ads": [
                        {
                            "name": f"ad {s + 1}.{a + 1}",
                            "headline": f"Headline {a} of set {s}",
                            "image": f"img-{p_index}-{s}-{a}",
                        }
                        for a in range(ads_per_ad_set)
                    ],
                }
            )
        accounts.append(
            {
                "platform": platform,
                "id": {"meta": "100200300", "x": "18ce54d4x5t", "tiktok": "7000000000000000001"}[platform],
                "name": f"Bench {platform}",
                "currency": currency,
                "timezone": tz,
                "campaigns": campaigns,
            }
        )
    return parse_scenario(
        {
            "name": f"synthetic-{ads_per_platform}",
            "seed": seed,
            "start_date": start.isoformat(),
            "history_days": history_days,
            "horizon_days": 30,
            "reporting_currency": "USD",
            "fx_rates": {"EUR": 1.08},
            "accounts": accounts,
        },
        source="synthetic",
    )
