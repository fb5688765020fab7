"""The executor against the in-process sandbox: every write lands once, in the sandbox's own write log.

Each platform (Meta, X, TikTok) gets a budget change, a pause, a resume and a launch; applying twice,
racing executors and crashes before or after the platform write all end with exactly one write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adpilot.agent.executor import Executor, LedgerError, launch_tag
from adpilot.domain.actions import Action, LaunchAd, Pause, Resume, SetBid, SetBudget, idempotency_key
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.ledger import ActionRecord, ActionState, ApprovalMode, new_record
from adpilot.domain.money import Money
from adpilot.ports.platform import ApplyResult, PlatformAdapter
from adpilot.warehouse.duckdb import DuckDBWarehouse
from adpilot_sandbox.entities import exponent, synthetic_png
from adpilot_sandbox.market import Market
from tests.harness import PLATFORMS, Harness

pytestmark = pytest.mark.parametrize("platform", PLATFORMS)


class Crash(BaseException):
    """A process dying mid-apply: not an Exception, so nothing in the executor records it."""


class CrashingAdapter:
    """The real adapter, but the process 'dies' just before or just after the platform write."""

    def __init__(self, inner: PlatformAdapter, when: str) -> None:
        self.inner, self.when = inner, when
        self.platform = inner.platform

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def apply(self, action: Action) -> ApplyResult:
        if self.when == "before":
            raise Crash
        await self.inner.apply(action)
        raise Crash


@dataclass
class Rig:
    harness: Harness
    ledger: DuckDBWarehouse
    platform: Platform
    account_id: str
    currency: str
    adapter: PlatformAdapter

    @property
    def market(self) -> Market:
        return self.harness.sandbox.market

    @property
    def native(self) -> str:
        return self.account_id.removeprefix("act_")

    def executor(self, adapter: Any = None) -> Executor:
        return Executor(self.ledger, lambda p, a: adapter or self.adapter, lambda: self.market.now)

    def ref(self, level: Level, entity_id: str) -> EntityRef:
        return EntityRef(self.platform, self.account_id, level, entity_id)

    def budget_holder(self) -> tuple[EntityRef, int]:
        """X keeps budgets on campaigns; Meta and TikTok on ad sets here."""
        p = str(self.platform)
        if self.platform is Platform.X:
            camp = self.market.campaigns_of(p, self.native)[0]
            return self.ref(Level.CAMPAIGN, camp.id), camp.daily_budget_minor or 0
        ad_set = self.market.ad_sets_of(p, self.native)[0]
        return self.ref(Level.AD_SET, ad_set.id), ad_set.daily_budget_minor

    def ad(self, i: int = 0) -> EntityRef:
        return self.ref(Level.AD, self.market.ads_of(str(self.platform), self.native)[i].id)

    def ad_set(self, i: int = 0) -> EntityRef:
        return self.ref(Level.AD_SET, self.market.ad_sets_of(str(self.platform), self.native)[i].id)

    def set_budget(self, step: int = 5, key: str = "b") -> SetBudget:
        ref, old = self.budget_holder()
        new = Money(self.currency, old + step * 10 ** exponent(self.currency))
        return SetBudget(target=ref, new_budget=new, reason="more budget", idempotency_key=idempotency_key(key, ref))

    def launch(self, key: str = "l") -> LaunchAd:
        return LaunchAd(
            target=self.ad_set(),
            name="Spring sale",
            asset_ids=("sha256:" + "ab" * 32,),
            headline="Spring sale",
            body="Twenty percent off everything",
            call_to_action="SHOP_NOW" if self.platform is not Platform.X else "",
            link_url="https://example.com/spring",
            reason="a new creative to test",
            idempotency_key=idempotency_key(key, self.ad_set()),
        )

    def record(self, action: Action, mode: ApprovalMode = ApprovalMode.AUTO, **kw: Any) -> str:
        rec = new_record(action, cycle_id="c1", policy="test", mode=mode, now=self.market.now, **kw)
        self.ledger.record_actions([rec])
        return rec.action_id

    def run(self, coro: Any) -> Any:
        return self.harness.run(coro)

    def writes(self, entity_id: str | None = None, field: str | None = None) -> list[dict[str, Any]]:
        return [
            w
            for w in self.market.write_log
            if w["platform"] == str(self.platform)
            and (entity_id is None or w["id"] == entity_id)
            and (field is None or w["field"] == field)
        ]

    def ads_created(self) -> list[dict[str, Any]]:
        return [w for w in self.writes(field="created") if w["entity"] == "ad"]

    def get(self, action_id: str) -> ActionRecord:
        rec = self.ledger.get_action(action_id)
        assert rec is not None
        return rec


@pytest.fixture
def rig(harness: Harness, platform: Platform, tmp_path: Path) -> Iterator[Rig]:
    adapter = harness.adapter(platform, asset_bytes=synthetic_png)
    (account,) = harness.run(adapter.accounts())
    ledger = DuckDBWarehouse(tmp_path / "ledger.duckdb")
    ledger.migrate()
    try:
        yield Rig(harness, ledger, platform, account.account_id, account.currency, adapter)
    finally:
        ledger.close()


def test_budget_pause_resume_and_launch_each_write_once(rig: Rig) -> None:
    budget = rig.set_budget()
    ad = rig.ad()
    pause = Pause(target=ad, reason="CPA too high", idempotency_key="pause-1")
    resume = Resume(target=ad, reason="recovered", idempotency_key="resume-1")
    launch = rig.launch()
    ex = rig.executor()
    for action in (budget, pause, resume, launch):
        action_id = rig.record(action)
        first = rig.run(ex.apply(action_id))
        assert first.state is ActionState.APPLIED, first.error
        again = rig.run(ex.apply(action_id))
        assert again == first  # a second apply is a no-op
    assert rig.run(rig.adapter.live_state(budget.target)).daily_budget == budget.new_budget
    assert len(rig.writes(budget.target.entity_id, "daily_budget")) == 1
    assert [w["new"] for w in rig.writes(ad.entity_id, "status")] == ["PAUSED", "ACTIVE"]
    (created,) = rig.ads_created()
    assert launch_tag(launch.idempotency_key) in created["new"]
    new_ad = rig.market.ads[created["id"]]
    assert new_ad.ad_set_id == launch.target.entity_id
    rec = rig.get(launch.idempotency_key)
    assert rec.after["ad_id"] == created["id"]
    budget_rec = rig.get(budget.idempotency_key)
    assert budget_rec.before["daily_budget"]["minor"] == budget.new_budget.minor - 5 * 10 ** exponent(rig.currency)
    assert budget_rec.after["daily_budget"] == {"minor": budget.new_budget.minor, "currency": rig.currency}
    assert [e.kind for e in rig.ledger.action_events(budget.idempotency_key)] == [
        "action.approved",
        "action.applying",
        "action.applied",
    ]


def test_a_bid_change_writes_once(rig: Rig) -> None:
    ref = rig.ad_set()
    bid = SetBid(target=ref, new_bid=Money(rig.currency, 137), reason="cheaper", idempotency_key="bid-1")
    rec = rig.run(rig.executor().apply(rig.record(bid)))
    assert rec.state is ActionState.APPLIED, rec.error
    assert rig.run(rig.adapter.live_state(ref)).bid == bid.new_bid
    assert len(rig.writes(ref.entity_id, "bid")) == 1


def test_racing_executors_write_once(rig: Rig) -> None:
    budget = rig.set_budget()
    launch = rig.launch()
    ids = [rig.record(budget), rig.record(launch)]
    a, b = rig.executor(), rig.executor()

    async def both() -> list[ActionRecord]:
        return list(await asyncio.gather(*(ex.apply(i, actor=n) for i in ids for ex, n in ((a, "a"), (b, "b")))))

    results = rig.run(both())
    assert {r.state for r in results} <= {ActionState.APPLIED, ActionState.APPLYING}
    assert all(rig.get(i).state is ActionState.APPLIED for i in ids)
    assert len(rig.writes(budget.target.entity_id, "daily_budget")) == 1
    assert len(rig.ads_created()) == 1


@pytest.mark.parametrize("when", ["before", "after"])
@pytest.mark.parametrize("kind", ["budget", "pause", "launch"])
def test_a_crash_mid_apply_is_recovered_without_a_second_write(rig: Rig, when: str, kind: str) -> None:
    action: Action = {
        "budget": rig.set_budget,
        "pause": lambda: Pause(target=rig.ad(), reason="CPA too high", idempotency_key="pause-crash"),
        "launch": rig.launch,
    }[kind]()
    action_id = rig.record(action)
    with pytest.raises(Crash):
        rig.run(rig.executor(CrashingAdapter(rig.adapter, when)).apply(action_id))
    assert rig.get(action_id).state is ActionState.APPLYING
    written = len(rig.market.write_log)

    # a later cycle (or a second executor) calling apply does not touch a claimed record
    assert rig.run(rig.executor().apply(action_id)).state is ActionState.APPLYING
    # while the record is younger than the grace another executor may still be writing it: left alone
    assert rig.run(rig.executor().recover(older_than=timedelta(minutes=5))) == []
    rig.market.advance(hours=1)
    (done,) = rig.run(rig.executor().recover(older_than=timedelta(minutes=5)))
    assert done.state is ActionState.APPLIED, done.error
    if kind == "launch":
        assert len(rig.ads_created()) == 1
        assert done.after["ad_id"] == rig.ads_created()[0]["id"]
    else:
        field = "daily_budget" if kind == "budget" else "status"
        assert len(rig.writes(action.target.entity_id, field)) == 1
    if when == "after":
        assert len(rig.market.write_log) == written  # nothing more was written by the recovery
    assert rig.run(rig.executor().recover()) == []


def test_a_recovery_that_cannot_read_the_platform_keeps_the_claim(rig: Rig) -> None:
    """Whether the crashed attempt wrote is unknown while the platform is down: the record stays claimed."""
    action = rig.set_budget()
    action_id = rig.record(action)
    with pytest.raises(Crash):
        rig.run(rig.executor(CrashingAdapter(rig.adapter, "after")).apply(action_id))
    faults = rig.harness.sandbox.faults.spec(str(rig.platform))
    faults.update({"server_error": 1.0})
    assert rig.run(rig.executor().recover()) == []
    assert rig.get(action_id).state is ActionState.APPLYING
    faults.update({"server_error": 0.0})
    (done,) = rig.run(rig.executor().recover())
    assert done.state is ActionState.APPLIED
    assert len(rig.writes(action.target.entity_id, "daily_budget")) == 1


def test_the_live_value_already_at_target_is_skipped_without_a_write(rig: Rig) -> None:
    ad = rig.ad()
    rig.run(rig.adapter.apply(Pause(target=ad, reason="by hand", idempotency_key="manual")))
    written = len(rig.market.write_log)
    ref, old = rig.budget_holder()
    same = SetBudget(target=ref, new_budget=Money(rig.currency, old), reason="no change", idempotency_key="same-budget")
    ex = rig.executor()
    for action in (Pause(target=ad, reason="CPA too high", idempotency_key="pause-again"), same):
        rec = rig.run(ex.apply(rig.record(action)))
        assert rec.state is ActionState.SKIPPED and rec.before == rec.after
    assert len(rig.market.write_log) == written
    assert rig.ledger.applied_changes(rig.market.now - timedelta(days=1)) == []


def test_rollback_restores_the_before_values(rig: Rig) -> None:
    ex = rig.executor()
    budget = rig.set_budget()
    ad = rig.ad(1)
    launch = rig.launch()
    ref, old = rig.budget_holder()
    for action in (budget, Pause(target=ad, reason="CPA too high", idempotency_key="pause-rb"), launch):
        assert rig.run(ex.apply(rig.record(action))).state is ActionState.APPLIED
    launched = rig.get(launch.idempotency_key).after["ad_id"]

    undo = rig.run(ex.rollback(budget.idempotency_key, "person:ana"))
    assert undo.state is ActionState.APPLIED and undo.rollback_of == budget.idempotency_key
    assert undo.decided_by == "person:ana" and isinstance(undo.action, SetBudget)
    assert rig.run(rig.adapter.live_state(ref)).daily_budget == Money(rig.currency, old)
    original = rig.get(budget.idempotency_key)
    assert original.state is ActionState.ROLLED_BACK and original.decided_by == "person:ana"

    assert isinstance(rig.run(ex.rollback("pause-rb", "person:ana")).action, Resume)
    assert rig.market.ads[ad.entity_id].status == "ACTIVE"
    undo_launch = rig.run(ex.rollback(launch.idempotency_key, "person:ana"))
    assert isinstance(undo_launch.action, Pause) and undo_launch.action.target.entity_id == launched
    assert rig.market.ads[launched].status == "PAUSED"

    with pytest.raises(LedgerError, match="only an applied action can be rolled back; it is rolled_back"):
        rig.run(ex.rollback(budget.idempotency_key, "person:ana"))
    assert len(rig.writes(ref.entity_id, "daily_budget")) == 2


def test_an_interrupted_rollback_finishes_on_retry(rig: Rig) -> None:
    ex = rig.executor()
    budget = rig.set_budget()
    ref, old = rig.budget_holder()
    rig.run(ex.apply(rig.record(budget)))
    with pytest.raises(Crash):
        rig.run(rig.executor(CrashingAdapter(rig.adapter, "after")).rollback(budget.idempotency_key, "ops"))
    assert rig.get(budget.idempotency_key).state is ActionState.APPLIED
    rig.run(ex.recover())
    undo = rig.run(ex.rollback(budget.idempotency_key, "ops"))
    assert undo.state is ActionState.APPLIED
    assert rig.get(budget.idempotency_key).state is ActionState.ROLLED_BACK
    assert rig.run(rig.adapter.live_state(ref)).daily_budget == Money(rig.currency, old)
    assert len(rig.writes(ref.entity_id, "daily_budget")) == 2


def test_a_platform_error_fails_the_record_and_the_batch_goes_on(rig: Rig) -> None:
    deleted = rig.ad(0)
    rig.market.set_status(deleted.entity_id, "DELETED")
    missing = rig.ref(Level.AD, "999999999999")
    bad_write = rig.record(Pause(target=deleted, reason="stop it", idempotency_key="pause-deleted"))
    bad_read = rig.record(Pause(target=missing, reason="stop it", idempotency_key="pause-missing"))
    good = rig.record(rig.set_budget())
    results = rig.run(rig.executor().apply_many([bad_write, bad_read, good]))
    assert [r.state for r in results] == [ActionState.FAILED, ActionState.FAILED, ActionState.APPLIED]
    assert str(rig.platform) in (results[0].error or "")
    secrets = rig.harness.sandbox.auth.credentials()[str(rig.platform)]
    for r in results[:2]:
        assert r.error and all(str(v) not in r.error for k, v in secrets.items() if k != "accounts")
    trail = [e.kind for e in rig.ledger.action_events(bad_write)]
    assert trail == ["action.approved", "action.applying", "action.failed"]
    assert [e.kind for e in rig.ledger.action_events(bad_read)] == ["action.approved", "action.failed"]


def test_pending_records_expire_and_are_never_applied(rig: Rig) -> None:
    ex = rig.executor()
    stale = rig.record(rig.set_budget(), ApprovalMode.APPROVE, approval_ttl=timedelta(hours=2))
    fresh = rig.record(rig.launch(), ApprovalMode.APPROVE, approval_ttl=timedelta(hours=30))
    rig.market.advance(days=1)
    assert [r.action_id for r in ex.expire()] == [stale]
    assert rig.get(fresh).state is ActionState.PENDING
    assert rig.run(ex.apply(stale)).state is ActionState.EXPIRED
    assert rig.writes(field="daily_budget") == []
