"""Policy sets by name: the agent's own (``adpilot``) and the baselines it is measured against."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adpilot.policies import Policy

BASELINES = ("uniform", "seed-rules", "seed-bandit", "thompson")
POLICY_SETS = ("adpilot", *BASELINES)


def policy_set(name: str, *, rules: Sequence[Any] = (), launch_cap: int | None = None) -> list[Policy]:
    """The policies run together under ``name``; user rules (if any) run first in every set. ``launch_cap``:
    the guardrails' launches per ad set per week, which the ``adpilot`` policies plan within (None: the
    default of ``CandidatePrior``, equal to the guardrails' default)."""
    from adpilot.policies import baselines
    from adpilot.policies.rules import RulesPolicy

    out: list[Policy] = [RulesPolicy(tuple(rules))] if rules else []
    if name == "adpilot":
        from adpilot.policies._stats import CandidatePrior
        from adpilot.policies.budget import BudgetPolicy
        from adpilot.policies.creative import CreativeParams, CreativePolicy
        from adpilot.policies.fatigue import FatigueParams, FatiguePolicy

        candidates = CandidatePrior() if launch_cap is None else CandidatePrior(launch_cap=launch_cap)
        fatigue = FatigueParams(candidates=candidates)
        creative = CreativeParams(candidates=candidates)
        return [*out, FatiguePolicy(fatigue), CreativePolicy(creative, fatigue=fatigue), BudgetPolicy()]
    classes = {
        "uniform": baselines.UniformPolicy,
        "seed-rules": baselines.SeedRulesPolicy,
        "seed-bandit": baselines.SeedBanditPolicy,
        "thompson": baselines.ThompsonPolicy,
    }
    if name not in classes:
        raise ValueError(f"policies: unknown policy set {name!r} (known: {', '.join(POLICY_SETS)})")
    return [*out, classes[name]()]
