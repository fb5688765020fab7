"""Actions: plain values with a reason and an idempotency key, valid only on the right level."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from adpilot.domain.actions import (
    ActionKind,
    LaunchAd,
    Pause,
    Resume,
    SetBid,
    SetBudget,
    idempotency_key,
)
from adpilot.domain.entities import asset_id_for_bytes
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.money import Money
from adpilot.domain.status import Status


def ref(level: Level, platform: Platform = Platform.META) -> EntityRef:
    return EntityRef(platform, "act_1", level, f"{level}-1")


COMMON: dict[str, Any] = {"reason": "CPA 40% under target for 7 days", "idempotency_key": "k" * 32}
ASSET = asset_id_for_bytes(b"image")


def set_budget(**over: Any) -> SetBudget:
    kw = {**COMMON, "target": ref(Level.AD_SET), "new_budget": Money("USD", 5000)}
    return SetBudget(**{**kw, **over})


def set_bid(**over: Any) -> SetBid:
    kw = {**COMMON, "target": ref(Level.AD_SET), "new_bid": Money("USD", 250)}
    return SetBid(**{**kw, **over})


def pause(**over: Any) -> Pause:
    return Pause(**{**COMMON, "target": ref(Level.AD), **over})


def resume(**over: Any) -> Resume:
    return Resume(**{**COMMON, "target": ref(Level.AD), **over})


def launch_ad(**over: Any) -> LaunchAd:
    kw = {**COMMON, "target": ref(Level.AD_SET), "name": "New ad", "asset_ids": (ASSET,)}
    return LaunchAd(**{**kw, **over})


FACTORIES = [set_budget, set_bid, pause, resume, launch_ad]


# -- kinds ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "kind", "value"),
    [
        (set_budget, ActionKind.SET_BUDGET, "set_budget"),
        (set_bid, ActionKind.SET_BID, "set_bid"),
        (pause, ActionKind.PAUSE, "pause"),
        (resume, ActionKind.RESUME, "resume"),
        (launch_ad, ActionKind.LAUNCH_AD, "launch_ad"),
    ],
)
def test_kind(factory: Any, kind: ActionKind, value: str) -> None:
    action = factory()
    assert action.kind is kind
    assert action.kind == value


@pytest.mark.parametrize("factory", FACTORIES)
def test_kind_is_not_an_init_argument(factory: Any) -> None:
    with pytest.raises(TypeError):
        factory(kind=ActionKind.PAUSE)


@pytest.mark.parametrize("factory", FACTORIES)
def test_actions_are_frozen_and_keyword_only(factory: Any) -> None:
    action = factory()
    with pytest.raises(dataclasses.FrozenInstanceError):
        action.reason = "other"
    with pytest.raises(TypeError):
        type(action)(ref(Level.AD_SET), "why", "key")


def test_pause_and_resume_statuses() -> None:
    assert pause().new_status is Status.PAUSED
    assert resume().new_status is Status.ACTIVE


@pytest.mark.parametrize("level", [Level.CAMPAIGN, Level.AD_SET, Level.AD])
def test_pause_and_resume_work_on_delivering_levels(level: Level) -> None:
    assert pause(target=ref(level)).target.level is level
    assert resume(target=ref(level)).target.level is level


@pytest.mark.parametrize("level", [Level.ACCOUNT, Level.CREATIVE])
def test_accounts_and_creatives_are_not_paused(level: Level) -> None:
    with pytest.raises(ValueError, match=r"^target: only campaigns, ad sets and ads"):
        pause(target=ref(level))
    with pytest.raises(ValueError, match=r"^target: only campaigns, ad sets and ads"):
        resume(target=ref(level))


# -- shared validation ----------------------------------------------------------------------------


@pytest.mark.parametrize("factory", FACTORIES)
@pytest.mark.parametrize("reason", ["", " ", "\n\t"])
def test_every_action_needs_a_reason(factory: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=r"^reason: every action must say why"):
        factory(reason=reason)


@pytest.mark.parametrize("factory", FACTORIES)
def test_every_action_needs_an_idempotency_key(factory: Any) -> None:
    with pytest.raises(ValueError, match=r"^idempotency_key: must be a non-empty string"):
        factory(idempotency_key="")


# -- SetBudget ------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", [Level.CAMPAIGN, Level.AD_SET])
def test_set_budget_on_campaigns_and_ad_sets(level: Level) -> None:
    action = set_budget(target=ref(level))
    assert action.target.level is level
    assert action.new_budget == Money("USD", 5000)


@pytest.mark.parametrize("level", [Level.AD, Level.ACCOUNT, Level.CREATIVE])
def test_set_budget_refuses_other_levels(level: Level) -> None:
    with pytest.raises(ValueError, match=f"^target: budgets live on campaigns and ad sets, not {level}"):
        set_budget(target=ref(level))


@pytest.mark.parametrize("minor", [0, -1, -5000])
def test_set_budget_must_be_positive(minor: int) -> None:
    with pytest.raises(ValueError, match=r"^new_budget: must be positive"):
        set_budget(new_budget=Money("USD", minor))


# -- SetBid ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", [Level.CAMPAIGN, Level.AD, Level.ACCOUNT, Level.CREATIVE])
def test_set_bid_only_on_ad_sets(level: Level) -> None:
    with pytest.raises(ValueError, match=f"^target: bids live on ad sets, not {level}"):
        set_bid(target=ref(level))


@pytest.mark.parametrize("minor", [0, -1])
def test_set_bid_must_be_positive(minor: int) -> None:
    with pytest.raises(ValueError, match=r"^new_bid: must be positive"):
        set_bid(new_bid=Money("USD", minor))


def test_set_bid_valid() -> None:
    assert set_bid(new_bid=Money("JPY", 1)).new_bid == Money("JPY", 1)


# -- LaunchAd -------------------------------------------------------------------------------------


def test_launch_ad_defaults() -> None:
    action = launch_ad(asset_ids=(ASSET, asset_id_for_bytes(b"copy")))
    assert len(action.asset_ids) == 2
    assert action.start_paused is False
    assert (action.headline, action.body, action.call_to_action, action.link_url) == ("", "", "", "")


def test_launch_ad_needs_assets() -> None:
    with pytest.raises(ValueError, match=r"^asset_ids: an ad needs at least one asset"):
        launch_ad(asset_ids=())


@pytest.mark.parametrize("level", [Level.CAMPAIGN, Level.AD, Level.ACCOUNT])
def test_launch_ad_needs_an_ad_set_target(level: Level) -> None:
    with pytest.raises(ValueError, match=f"^target: ads launch into ad sets, not {level}"):
        launch_ad(target=ref(level))


# -- idempotency keys -----------------------------------------------------------------------------


def test_idempotency_key_is_deterministic() -> None:
    parts = ("cycle-42", ActionKind.SET_BUDGET, ref(Level.AD_SET), Money("USD", 5000))
    key = idempotency_key(*parts)
    assert key == idempotency_key(*parts)
    assert len(key) == 32
    assert all(c in "0123456789abcdef" for c in key)
    # Built from str() of the parts, so equal values give equal keys.
    assert key == idempotency_key("cycle-42", "set_budget", "meta/act_1/ad_set/ad_set-1", Money.of_major("50", "USD"))


BASE = ("cycle-42", ActionKind.SET_BUDGET, ref(Level.AD_SET), Money("USD", 5000))


@pytest.mark.parametrize(
    "other",
    [
        ("cycle-43", ActionKind.SET_BUDGET, ref(Level.AD_SET), Money("USD", 5000)),
        ("cycle-42", ActionKind.SET_BID, ref(Level.AD_SET), Money("USD", 5000)),
        ("cycle-42", ActionKind.SET_BUDGET, ref(Level.CAMPAIGN), Money("USD", 5000)),
        ("cycle-42", ActionKind.SET_BUDGET, ref(Level.AD_SET, Platform.X), Money("USD", 5000)),
        ("cycle-42", ActionKind.SET_BUDGET, ref(Level.AD_SET), Money("USD", 5001)),
        ("cycle-42", ActionKind.SET_BUDGET, ref(Level.AD_SET), Money("EUR", 5000)),
        ("cycle-42", ActionKind.SET_BUDGET, ref(Level.AD_SET)),
        ("cycle-42", ActionKind.SET_BUDGET, ref(Level.AD_SET), Money("USD", 5000), "extra"),
        (ActionKind.SET_BUDGET, "cycle-42", ref(Level.AD_SET), Money("USD", 5000)),
    ],
)
def test_idempotency_key_differs_when_any_part_differs(other: tuple[object, ...]) -> None:
    assert idempotency_key(*other) != idempotency_key(*BASE)


def test_idempotency_key_separates_parts() -> None:
    assert idempotency_key("ab", "c") != idempotency_key("a", "bc")
    assert idempotency_key("a", "") != idempotency_key("a")


no_separator = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x1f"), max_size=12)


@given(
    a=st.lists(no_separator, min_size=1, max_size=4),
    b=st.lists(no_separator, min_size=1, max_size=4),
)
def test_idempotency_key_is_injective_on_parts(a: list[str], b: list[str]) -> None:
    assume(a != b)
    assert idempotency_key(*a) != idempotency_key(*b)
    assert idempotency_key(*a) == idempotency_key(*list(a))
