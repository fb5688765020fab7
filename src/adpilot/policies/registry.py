"""Policy sets by name: the agent's own (``adpilot``) and the baselines it is measured against."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adpilot.policies import Policy

BASELINES = ("uniform", "seed-rules", "seed-bandit", "thompson")
POLICY_SETS = ("adpilot", *BASELINES)


def policy_set(name: str, *, rules: Sequence[Any] = ()) -> list[Policy]:
    """The policies run together under ``name``; user rules (if any) run first in every set."""
    from adpilot.policies import baselines
    from adpilot.policies.rules import RulesPolicy

    out: list[Policy] = [RulesPolicy(tuple(rules))] if rules else []
    if name == "adpilot":
        from adpilot.policies.budget import BudgetPolicy
        from adpilot.policies.creative import CreativePolicy
        from adpilot.policies.fatigue import FatiguePolicy

        return [*out, FatiguePolicy(), CreativePolicy(), BudgetPolicy()]
    classes = {
        "uniform": baselines.UniformPolicy,
        "seed-rules": baselines.SeedRulesPolicy,
        "seed-bandit": baselines.SeedBanditPolicy,
        "thompson": baselines.ThompsonPolicy,
    }
    if name not in classes:
        raise ValueError(f"policies: unknown policy set {name!r} (known: {', '.join(POLICY_SETS)})")
    return [*out, classes[name]()]
