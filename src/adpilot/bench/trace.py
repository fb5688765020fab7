"""``adpilot bench trace``: one closed-loop run, day by day, set against the market's truth.

Where ``bench policies`` gives a policy's totals, a trace shows where they come from, per ad set:

- **budgets**: the daily budget the policy set, beside the dynamic oracle's, and what each is worth on the
  true curve (each ad set running its best creative, no learning penalty); the gap, in % of the oracle's
  total, is what the allocation lost on that ad set;
- **creatives**: each day, every existing ad's true conversions per impression relative to the best ad
  of its ad set (paused ones included: the policy could resume them) and its share of the ad set's
  impressions; the *mix* is the delivered quality over the best's (1.0: all traffic on the best ad);
- **learning**: the days each ad set spent in its learning phase.

It reads the sandbox's truth, so it is a benchmark tool, never something the agent sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from adpilot.bench.policies import RunResult, run_one, true_values
from adpilot.policies.registry import Overrides


@dataclass(frozen=True, slots=True)
class AdDay:
    name: str
    active: bool
    quality: float  # true conversions per impression ÷ the best existing ad's in its ad set, this day
    share: float  # share of the ad set's impressions this day


@dataclass(frozen=True, slots=True)
class AdSetTrace:
    name: str
    budget: tuple[float, ...]  # per run day, reporting currency (0 when nothing could deliver)
    oracle_budget: tuple[float, ...]
    value: tuple[float, ...]  # the budget's expected outcome on the true curve, best creative, no learning
    oracle_value: tuple[float, ...]
    learning: tuple[bool, ...]  # in its learning phase that morning
    ads: tuple[tuple[AdDay, ...], ...]  # per run day
    mix: tuple[float | None, ...]  # delivered quality ÷ best, None on days without impressions


@dataclass(frozen=True, slots=True)
class Trace:
    result: RunResult
    eval_from: int  # first scored run day (1-based; 1 when the run ends before the scenario's)
    ad_sets: tuple[AdSetTrace, ...]

    @property
    def pct_oracle(self) -> float | None:
        """The run's expected outcome in % of the oracle's over the scenario's scored days (None if the run
        ends before them)."""
        return 100.0 * self.result.expected / self.result.oracle if self.result.oracle else None

    def summary(self) -> list[dict[str, Any]]:
        """Per ad set over the scored days: mean budgets, the allocation's loss in % of the oracle's total,
        days in learning and the mean of the daily creative mixes (days without impressions left out)."""
        first = self.eval_from - 1
        total = sum(sum(s.oracle_value[first:]) for s in self.ad_sets)
        rows = []
        for s in self.ad_sets:
            n = len(s.budget) - first
            known = [m for m in s.mix[first:] if m is not None]
            rows.append(
                {
                    "ad_set": s.name,
                    "budget": float(np.mean(s.budget[first:])) if n else 0.0,
                    "oracle_budget": float(np.mean(s.oracle_budget[first:])) if n else 0.0,
                    "allocation_loss_pct": 100.0 * (sum(s.oracle_value[first:]) - sum(s.value[first:])) / total
                    if total
                    else 0.0,
                    "learning_days": int(sum(s.learning[first:])),
                    "creative_mix": float(np.mean(known)) if known else None,
                }
            )
        return rows


def ad_set_names(scenario: str) -> list[str]:
    """The ad sets of a scenario (the agent creates none), to check a name before a run."""
    from adpilot_sandbox.scenario import load_scenario

    spec = load_scenario(scenario)
    return [s.name for a in spec.accounts for c in a.campaigns for s in c.ad_sets]


def trace_run(
    scenario: str, policy: str, seed: int, *, days: int | None = None, overrides: Overrides | None = None
) -> Trace:
    """Run ``policy`` on ``scenario`` (one seed, the fast path) and record each day against the truth."""
    mornings: list[dict[str, Any]] = []
    market: list[Any] = []

    def observe(m: Any, k: int) -> None:
        if not market:
            market.append(m)
        st = m.live_state()
        theta = m.ad_ctr_today(st, m.day) * st["m_cvr"]
        mornings.append(
            {
                "theta": theta,
                "set_of": st["ad_set_of"][: len(theta)].copy(),
                "exists": st["ad_exists"][: len(theta)].copy(),
                "active": st["ad_live"][: len(theta)].copy(),
                "names": [a.name for a in m.slots],
                "learning": st["learning"].copy(),
            }
        )

    result = run_one(scenario, policy, seed, days=days, observe=observe, overrides=overrides)
    m = market[0]
    start = m.day - result.days
    sets = list(m.ad_sets.values())
    budget, oracle_budget, value, oracle_value = (np.zeros((result.days, len(sets))) for _ in range(4))
    ads: list[list[tuple[AdDay, ...]]] = [[] for _ in sets]
    mix: list[list[float | None]] = [[] for _ in sets]
    for k, morning in enumerate(mornings):
        rec = m.records[start + k]
        o = rec.oracle_inputs
        n = len(o["v"])
        b = np.zeros(len(sets))
        b[:n] = rec.set_budget[:n]
        allocation = m.oracle(start + k)["allocation"]
        ob = np.zeros(len(sets))
        ob[:n] = [allocation.get(i, 0.0) for i in o["ids"]]
        budget[k], oracle_budget[k] = b, ob
        value[k, :n] = true_values(m, start + k, b[:n])
        oracle_value[k, :n] = true_values(m, start + k, ob[:n])
        theta, set_of, impressions = morning["theta"], morning["set_of"], rec.impressions[: len(morning["theta"])]
        for j in range(len(sets)):
            idx = np.flatnonzero((set_of == j) & morning["exists"])
            if not len(idx):
                ads[j].append(())
                mix[j].append(None)
                continue
            best = float(theta[idx].max())
            shown = float(impressions[idx].sum())
            ads[j].append(
                tuple(
                    AdDay(
                        name=morning["names"][i],
                        active=bool(morning["active"][i]),
                        quality=float(theta[i] / best) if best > 0 else 0.0,
                        share=float(impressions[i] / shown) if shown > 0 else 0.0,
                    )
                    for i in idx
                )
            )
            delivered = float((impressions[idx] * theta[idx]).sum())
            mix[j].append(delivered / shown / best if shown > 0 and best > 0 else None)
    return Trace(
        result=result,
        eval_from=result.eval_from if result.eval_from <= result.days else 1,  # a short run scores every day
        ad_sets=tuple(
            AdSetTrace(
                name=s.name,
                budget=tuple(float(x) for x in budget[:, j]),
                oracle_budget=tuple(float(x) for x in oracle_budget[:, j]),
                value=tuple(float(x) for x in value[:, j]),
                oracle_value=tuple(float(x) for x in oracle_value[:, j]),
                learning=tuple(bool(mo["learning"][j]) if j < len(mo["learning"]) else False for mo in mornings),
                ads=tuple(ads[j]),
                mix=tuple(mix[j]),
            )
            for j, s in enumerate(sets)
        ),
    )
