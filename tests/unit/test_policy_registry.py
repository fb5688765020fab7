"""Policy sets by name, and the guardrails' launch cap reaching the policies that plan launches."""

from __future__ import annotations

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


@pytest.mark.parametrize("name", POLICY_SETS)
def test_every_named_set_builds(name: str) -> None:
    assert policy_set(name)
    with pytest.raises(ValueError, match="unknown policy set"):
        policy_set("nope")
