"""Guardrails: each rule with its reason, and a property: nothing approved ever breaks a cap."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adpilot.actions.guardrails import Approved, Change, GuardContext, GuardrailConfig, Rejected, guard
from adpilot.domain import (
    EntityRef,
    FxRate,
    FxTable,
    LaunchAd,
    Level,
    Money,
    Pause,
    Platform,
    SetBid,
    SetBudget,
)

NOW = datetime(2026, 3, 10, 9, tzinfo=UTC)
TODAY = date(2026, 3, 10)
FX = FxTable.build("USD", [FxRate(date(2026, 1, 1), "EUR", "USD", Decimal("1.10"))])
A = EntityRef(Platform.META, "act_1", Level.AD_SET, "a")
B = EntityRef(Platform.TIKTOK, "7100", Level.AD_SET, "b")
C = EntityRef(Platform.X, "x1", Level.CAMPAIGN, "c")


def ctx(**kw: object) -> GuardContext:
    base: dict[str, object] = {
        "now": NOW,
        "today": TODAY,
        "fx": FX,
        "budgets": {A: Money("USD", 10_000), B: Money("EUR", 10_000), C: Money("USD", 5_000)},
    }
    base.update(kw)
    return GuardContext(**base)  # type: ignore[arg-type]


def budget(ref: EntityRef, minor: int, cur: str = "USD", key: str = "k") -> SetBudget:
    return SetBudget(target=ref, new_budget=Money(cur, minor), reason="test", idempotency_key=key)


def rule_of(verdict: object) -> str:
    return verdict.rule if isinstance(verdict, Rejected) else "approved"


def test_within_the_cap_is_approved() -> None:
    (v,) = guard([budget(A, 12_000)], GuardrailConfig(), ctx())
    assert isinstance(v, Approved)


def test_each_rule_names_itself() -> None:
    cfg = GuardrailConfig(budget_floor=Decimal("50"), budget_ceiling=Decimal("130"))
    cases = [
        (budget(A, 12_001), "change_cap"),
        (budget(A, 8_000 - 1), "change_cap"),
        (budget(C, 4_900), "floor"),
        (budget(B, 11_000, "EUR"), "approved"),
        (budget(B, 12_000, "EUR"), "ceiling"),  # 120 EUR = 132 USD
        (budget(A, 11_000, "EUR"), "currency"),
        (budget(EntityRef(Platform.META, "act_1", Level.AD_SET, "zz"), 100), "unknown_budget"),
    ]
    for action, expected in cases:
        (v,) = guard([action], cfg, ctx())
        assert rule_of(v) == expected, (action, v)


def test_kill_switch_allowlist_learning_cooldown_and_count() -> None:
    assert rule_of(guard([budget(A, 11_000)], GuardrailConfig(kill_switch=True), ctx())[0]) == "kill_switch"
    allow = GuardrailConfig(allowed_accounts=frozenset({"7100"}))
    assert rule_of(guard([budget(A, 11_000)], allow, ctx())[0]) == "allowlist"
    still = GuardrailConfig(learning_max_change=Decimal(0))
    assert rule_of(guard([budget(A, 11_000)], still, ctx(learning=frozenset({A})))[0]) == "learning"
    pause = Pause(target=A, reason="waste", idempotency_key="p")
    assert isinstance(guard([pause], GuardrailConfig(), ctx(learning=frozenset({A})))[0], Approved)
    recent = [Change(A, NOW - timedelta(hours=3), "set_budget")]
    assert rule_of(guard([budget(A, 11_000)], GuardrailConfig(), ctx(applied=recent))[0]) == "cooldown"
    many = [
        Change(EntityRef(Platform.META, "act_1", Level.AD, str(i)), NOW - timedelta(hours=1), "pause") for i in range(3)
    ]
    assert rule_of(guard([budget(A, 11_000)], GuardrailConfig(max_changes_per_day=3), ctx(applied=many))[0]) == (
        "daily_count"
    )


def test_learning_protection_refuses_only_edits_that_would_restart_the_phase() -> None:
    """On an ad set still learning, an edit beyond ``learning_max_change`` (default 20 %, where the platforms
    count a budget edit as significant) is refused even where the per-change cap would allow it; smaller
    edits, pauses and other ad sets pass; 0 freezes a learning ad set's budget and bid."""
    cfg = GuardrailConfig(max_change=Decimal("0.5"))
    learning = ctx(learning=frozenset({A}), bids={A: Money("USD", 100)})
    assert rule_of(guard([budget(A, 11_900)], cfg, learning)[0]) == "approved"  # +19 %
    assert rule_of(guard([budget(A, 8_000)], cfg, learning)[0]) == "approved"  # -20 %: at the limit
    assert rule_of(guard([budget(A, 12_500)], cfg, learning)[0]) == "learning"  # +25 %
    assert rule_of(guard([budget(A, 7_900)], cfg, learning)[0]) == "learning"
    assert rule_of(guard([budget(B, 12_500, "EUR")], cfg, learning)[0]) == "approved"  # not learning
    bid = SetBid(target=A, new_bid=Money("USD", 130), reason="t", idempotency_key="b")
    assert rule_of(guard([bid], cfg, learning)[0]) == "learning"
    small_bid = SetBid(target=A, new_bid=Money("USD", 115), reason="t", idempotency_key="b2")
    assert rule_of(guard([small_bid], cfg, learning)[0]) == "approved"
    frozen = GuardrailConfig(max_change=Decimal("0.5"), learning_max_change=Decimal(0))
    assert rule_of(guard([budget(A, 10_100)], frozen, learning)[0]) == "learning"
    assert isinstance(guard([Pause(target=A, reason="waste", idempotency_key="p")], frozen, learning)[0], Approved)
    unprotected = GuardrailConfig(max_change=Decimal("0.5"), protect_learning=False)
    assert rule_of(guard([budget(A, 14_000)], unprotected, learning)[0]) == "approved"
    with pytest.raises(ValueError, match="learning_max_change"):
        GuardrailConfig(learning_max_change=Decimal("1.5"))


def test_one_call_counts_its_own_approvals() -> None:
    cfg = GuardrailConfig(total_daily_cap=Decimal("270"))  # now: 100 + 110 + 50 = 260 USD
    verdicts = guard([budget(A, 10_900), budget(C, 5_400)], cfg, ctx())
    assert [rule_of(v) for v in verdicts] == ["approved", "total_cap"]
    twice = guard([budget(A, 11_000, key="1"), budget(A, 12_000, key="2")], GuardrailConfig(), ctx())
    assert [rule_of(v) for v in twice] == ["approved", "cooldown"]


def test_cuts_pass_even_above_the_total_cap() -> None:
    cfg = GuardrailConfig(total_daily_cap=Decimal("100"))  # already at 260 USD
    assert [rule_of(v) for v in guard([budget(A, 9_000), budget(C, 5_500)], cfg, ctx())] == ["approved", "total_cap"]


def test_bids_and_launches() -> None:
    bid = SetBid(target=A, new_bid=Money("USD", 200), reason="t", idempotency_key="b")
    assert rule_of(guard([bid], GuardrailConfig(), ctx(bids={A: Money("USD", 100)}))[0]) == "change_cap"
    launch = LaunchAd(target=A, name="n", asset_ids=("sha256:" + "0" * 64,), reason="t", idempotency_key="l")
    week = [Change(A, NOW - timedelta(days=d), "launch_ad") for d in (1, 3)]
    assert rule_of(guard([launch], GuardrailConfig(), ctx(applied=week))[0]) == "launch_cap"
    assert isinstance(guard([launch], GuardrailConfig(), ctx(applied=week[:1]))[0], Approved)


@settings(max_examples=200, deadline=None)
@given(
    proposals=st.lists(st.tuples(st.sampled_from([A, B, C]), st.integers(1, 40_000)), min_size=1, max_size=12),
    cap=st.decimals(Decimal("0.05"), Decimal("1"), places=2),
    total=st.one_of(st.none(), st.decimals(Decimal("100"), Decimal("600"), places=2)),
    floor=st.decimals(Decimal("0"), Decimal("80"), places=0),
)
def test_nothing_approved_ever_breaks_a_cap(
    proposals: list[tuple[EntityRef, int]], cap: Decimal, total: Decimal | None, floor: Decimal
) -> None:
    cfg = GuardrailConfig(max_change=cap, total_daily_cap=total, budget_floor=floor, cooldown_hours=0)
    context = ctx()
    actions = [budget(ref, minor, "EUR" if ref == B else "USD", key=str(i)) for i, (ref, minor) in enumerate(proposals)]
    budgets = dict(context.budgets)
    for verdict in guard(actions, cfg, context):
        if not isinstance(verdict, Approved):
            continue
        action = verdict.action
        assert isinstance(action, SetBudget)
        old = budgets[action.target]
        assert abs(action.new_budget.minor - old.minor) <= cap * old.minor
        assert FX.convert(action.new_budget, TODAY).to_major() >= floor
        budgets[action.target] = action.new_budget
        if total is not None and action.new_budget.minor > old.minor:
            assert sum(FX.convert(m, TODAY).to_major() for m in budgets.values()) <= total


def test_a_budget_below_the_platforms_minimum_is_refused_before_it_fails_on_write() -> None:
    from adpilot.domain.platform_limits import min_daily_budget

    least = min_daily_budget(Platform.TIKTOK, Level.AD_SET, "EUR")
    assert least == Money("EUR", 2_000)
    assert min_daily_budget(Platform.TIKTOK, Level.AD_SET, "JPY") == Money("JPY", 2_000)
    assert min_daily_budget(Platform.META, Level.AD_SET, "USD") is None
    small = ctx(budgets={B: Money("EUR", 2_200)}, minimums={B: least})
    (v,) = guard([budget(B, 1_900, "EUR")], GuardrailConfig(budget_floor=None), small)
    assert rule_of(v) == "platform_min" and "minimum daily budget of 20.00 EUR" in v.reason  # type: ignore[union-attr]
    (ok,) = guard([budget(B, 2_000, "EUR")], GuardrailConfig(budget_floor=None), small)
    assert isinstance(ok, Approved)
