"""Policy sets by name, and the guardrails' launch cap reaching the policies that plan launches."""

from __future__ import annotations

import re

import pytest

from adpilot.actions.guardrails import GuardrailConfig
from adpilot.agent.service import agent_config
from adpilot.config import AgentSettings
from adpilot.policies._stats import CandidatePrior
from adpilot.policies.creative import CreativePolicy
from adpilot.policies.fatigue import FatiguePolicy
from adpilot.policies.registry import POLICY_SETS, policy_set


def _caps(policies: list[object]) -> set[int]:
    caps = set()
    for p in policies:
        if isinstance(p, FatiguePolicy):
            caps.add(p.params.candidates.launch_cap)
        if isinstance(p, CreativePolicy):
            caps.add(p.params.candidates.launch_cap)
            assert p.fatigue is not None
            caps.add(p.fatigue.params.candidates.launch_cap)
    return caps


def test_the_default_launch_cap_is_the_guardrails_default() -> None:
    assert CandidatePrior().launch_cap == GuardrailConfig().max_launches_per_ad_set_per_week
    assert _caps(policy_set("adpilot")) == {GuardrailConfig().max_launches_per_ad_set_per_week}


def test_the_configured_launch_cap_reaches_the_creative_and_fatigue_policies() -> None:
    config = agent_config(AgentSettings(max_launches_per_ad_set_per_week=1))
    assert config.guardrails.max_launches_per_ad_set_per_week == 1
    assert _caps(config.policies) == {1}


def test_a_stricter_learning_guardrail_makes_the_budget_policy_hold_learning_ad_sets() -> None:
    """The budget policy moves ad sets still learning by its step (19 %) when the guardrails let such an edit
    through (``learning_max_change``, default 20 %); below that, or with the protection on and the limit at 0,
    it holds them instead of proposing edits the guardrails would refuse."""
    from adpilot.policies.budget import BudgetParams, BudgetPolicy
    from adpilot.policies.registry import parse_overrides

    def moves(settings: AgentSettings) -> bool:
        config = agent_config(settings)
        return next(p for p in config.policies if isinstance(p, BudgetPolicy)).params.move_learning

    assert moves(AgentSettings())
    assert float(agent_config(AgentSettings(learning_max_change=0.1)).guardrails.learning_max_change) == 0.1
    assert not moves(AgentSettings(learning_max_change=0.1))
    assert not moves(AgentSettings(learning_max_change=0))
    assert moves(AgentSettings(learning_max_change=0, protect_learning=False))

    def budget_params(overrides: list[str], learning_step: float) -> BudgetParams:
        policies = policy_set("adpilot", overrides=parse_overrides(overrides), learning_step=learning_step)
        return next(p for p in policies if isinstance(p, BudgetPolicy)).params

    # judged against the step in force: a smaller overridden step passes a 15 % limit, the default does not
    assert budget_params(["budget.max_step=0.1"], 0.15).move_learning
    assert not budget_params([], 0.15).move_learning
    assert not budget_params(["budget.move_learning=false"], 1.0).move_learning


@pytest.mark.parametrize("name", POLICY_SETS)
def test_every_named_set_builds(name: str) -> None:
    assert policy_set(name)
    with pytest.raises(ValueError, match="unknown policy set"):
        policy_set("nope")


def test_overrides_reach_every_tunable_policy_and_keep_the_launch_cap() -> None:
    from adpilot.policies.budget import BudgetPolicy
    from adpilot.policies.registry import parse_overrides

    over = parse_overrides(["budget.max_step=0.1", "creative.min_gain=0.05", "fatigue.drop=0.4", "budget.ceiling=900"])
    assert over == {
        "budget": {"max_step": 0.1, "ceiling": 900},
        "creative": {"min_gain": 0.05},
        "fatigue": {"drop": 0.4},
    }
    policies = policy_set("adpilot", overrides=over, launch_cap=1)
    fatigue = next(p for p in policies if isinstance(p, FatiguePolicy))
    creative = next(p for p in policies if isinstance(p, CreativePolicy))
    budget = next(p for p in policies if isinstance(p, BudgetPolicy))
    assert (budget.params.max_step, budget.params.ceiling) == (0.1, 900)
    assert creative.params.min_gain == 0.05
    assert creative.fatigue is not None
    assert fatigue.params.drop == creative.fatigue.params.drop == 0.4  # the creative test reads fatigue alike
    assert _caps(policies) == {1}
    defaults = policy_set("adpilot")
    assert [getattr(p, "params", None) for p in policy_set("adpilot", overrides={})] == [
        getattr(p, "params", None) for p in defaults
    ]


@pytest.mark.parametrize(
    ("item", "named"),
    [
        ("budget", "POLICY.PARAMETER=VALUE"),
        ("budget.max_step", "POLICY.PARAMETER=VALUE"),
        ("bidding.max_step=0.1", "no tunable policy 'bidding'"),
        ("budget.max_stp=0.1", "budget.max_stp: no such parameter"),
        ("budget.max_step=fast", "budget.max_step: expected a number, got 'fast'"),
        ("creative.min_days=3.5", "creative.min_days: expected a whole number"),
        ("fatigue.refresh=1", "fatigue.refresh: expected true or false"),
        ("budget.ceiling=true", "budget.ceiling: expected a number or null"),
        ("budget.ceiling=NaN", "budget.ceiling: expected a number or null"),
        ("budget.lift_horizon_days=soon", "budget.lift_horizon_days: expected a number or null"),
        ("budget.lift_horizon_days=0", "budget: lift_horizon_days"),
        ("budget.max_step=1.5", "budget: max_step"),  # the policy's own check
        ("creative.confidence=0.3", "creative: confidence"),
    ],
)
def test_a_bad_override_is_refused_naming_it(item: str, named: str) -> None:
    from adpilot.policies.registry import parse_overrides

    with pytest.raises(ValueError, match=re.escape(named)):
        parse_overrides([item])


def test_baselines_take_no_overrides() -> None:
    with pytest.raises(ValueError, match="'uniform' baseline follows its specification"):
        policy_set("uniform", overrides={"budget": {"max_step": 0.1}})
    assert policy_set("uniform", overrides={})


def test_an_optional_parameter_takes_null_and_the_agent_seed_salts_the_held_draws() -> None:
    from adpilot.policies.budget import BudgetPolicy
    from adpilot.policies.registry import parse_overrides

    def budget(policies: list[object]) -> BudgetPolicy:
        return next(p for p in policies if isinstance(p, BudgetPolicy))

    over = parse_overrides(["budget.lift_horizon_days=null"])  # a lift held for good, as before
    assert budget(policy_set("adpilot", overrides=over)).params.lift_horizon_days is None
    assert budget(policy_set("adpilot", seed=7)).params.draw_seed == 7
    salted = parse_overrides(["budget.draw_seed=3"])
    assert budget(policy_set("adpilot", overrides=salted, seed=7)).params.draw_seed == 3  # an override wins
    assert budget(agent_config(AgentSettings(seed=5)).policies).params.draw_seed == 5


def test_the_budget_step_stays_under_the_guardrails_per_change_cap() -> None:
    """A user who caps changes at 10 % gets 9.5 % steps, not 19 % proposals the guardrails refuse; the
    default cap (20 %) leaves the default step (19 %); a very strict cap shrinks the dead band with the step;
    an overridden step is taken as given. The learning hold is judged against the step in force."""
    from adpilot.policies.budget import BudgetParams, BudgetPolicy
    from adpilot.policies.registry import parse_overrides

    def budget(settings: AgentSettings) -> BudgetParams:
        config = agent_config(settings)
        return next(p for p in config.policies if isinstance(p, BudgetPolicy)).params

    assert budget(AgentSettings()).max_step == BudgetParams().max_step
    strict = budget(AgentSettings(max_change=0.1))
    assert strict.max_step == pytest.approx(0.095) and strict.dead_band == BudgetParams().dead_band
    assert strict.move_learning  # 9.5 % steps pass the 20 % learning limit
    tiny = budget(AgentSettings(max_change=0.03))
    assert tiny.max_step == pytest.approx(0.0285) and tiny.dead_band == pytest.approx(0.01425)
    assert budget(AgentSettings(max_change=0.5)).max_step == BudgetParams().max_step  # never above its own
    over = policy_set("adpilot", overrides=parse_overrides(["budget.max_step=0.15"]), max_change=0.1)
    assert next(p for p in over if isinstance(p, BudgetPolicy)).params.max_step == 0.15
