"""The cycle's pure steps between policies and the ledger: conflicts, order, the last active ad."""

from __future__ import annotations

from datetime import UTC, date, datetime

from adpilot.actions.guardrails import Approved, Rejected
from adpilot.agent.cycle import combine, cuts_first, keep_one_active, plain
from adpilot.domain.actions import LaunchAd, Pause, Resume, SetBudget
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.money import Money
from adpilot.domain.snapshot import AdSetView, AdView, Goal, Proposal, Snapshot
from adpilot.domain.status import Status

SET = EntityRef(Platform.META, "act_1", Level.AD_SET, "s1")
OTHER = EntityRef(Platform.META, "act_1", Level.AD_SET, "s2")
ADS = [EntityRef(Platform.META, "act_1", Level.AD, f"a{i}") for i in range(3)]


def view(ref: EntityRef, budget: int, active_ads: int = 2) -> AdSetView:
    ads = tuple(
        AdView(a, ref, a.entity_id, Status.ACTIVE if i < active_ads else Status.PAUSED, a.entity_id)
        for i, a in enumerate(ADS if ref == SET else [])
    )
    return AdSetView(ref, EntityRef(Platform.META, "act_1", Level.CAMPAIGN, "c"), ref.entity_id, Status.ACTIVE, "USD",
                     ref, Money("USD", budget), 1.0, ads=ads)  # fmt: skip


SNAP = Snapshot(
    datetime(2026, 3, 10, 9, tzinfo=UTC), date(2026, 3, 9), 0, "USD", Goal(), (view(SET, 10_000), view(OTHER, 10_000))
)


def proposal(action: object, policy: str) -> Proposal:
    return Proposal(action, policy)  # type: ignore[arg-type]


def budget(ref: EntityRef, minor: int) -> SetBudget:
    return SetBudget(target=ref, new_budget=Money("USD", minor), reason="r", idempotency_key=f"b{ref}{minor}")


def test_one_change_per_entity_by_priority() -> None:
    rule = Pause(target=ADS[0], reason="r", idempotency_key="k1")
    fatigue = Pause(target=ADS[0], reason="f", idempotency_key="k2")
    creative = Resume(target=ADS[0], reason="c", idempotency_key="k3")
    kept = combine([proposal(creative, "creative"), proposal(fatigue, "fatigue"), proposal(rule, "rule:cut")])
    assert [p.policy for p in kept] == ["rule:cut"]


def test_cuts_come_before_raises() -> None:
    raise_, cut = proposal(budget(SET, 11_000), "budget"), proposal(budget(OTHER, 9_000), "budget")
    assert cuts_first(SNAP, [raise_, cut]) == [cut, raise_]


def test_pauses_that_would_empty_a_running_ad_set_are_refused() -> None:
    p0 = Pause(target=ADS[0], reason="r", idempotency_key="p0")
    p1 = Pause(target=ADS[1], reason="r", idempotency_key="p1")
    resume = Resume(target=ADS[2], reason="r", idempotency_key="r2")
    both = keep_one_active(SNAP, [Approved(p0), Approved(p1)])
    assert [type(v).__name__ for v in both] == ["Rejected", "Rejected"]
    assert isinstance(both[0], Rejected) and both[0].rule == "last_ad"
    replaced = keep_one_active(SNAP, [Approved(p0), Approved(p1), Approved(resume)])
    assert all(isinstance(v, Approved) for v in replaced)
    refused_resume = keep_one_active(SNAP, [Approved(p0), Approved(p1), Rejected(resume, "cooldown", "x")])
    assert [type(v).__name__ for v in refused_resume] == ["Rejected", "Rejected", "Rejected"]
    launch = LaunchAd(target=SET, reason="refresh", idempotency_key="k-launch", name="new", asset_ids=("sha256:x",))
    # a launch does not keep the ad set running: the new ad may take days to pass review and deliver
    with_launch = keep_one_active(SNAP, [Approved(p0), Approved(p1), Approved(launch)])
    assert [type(v).__name__ for v in with_launch] == ["Rejected", "Rejected", "Approved"]


def test_evidence_becomes_plain_json() -> None:
    import numpy as np

    assert plain({"x": np.float64(1.5), "d": date(2026, 1, 2), "t": (1, 2)}) == {
        "x": 1.5,
        "d": "2026-01-02",
        "t": [1, 2],
    }
