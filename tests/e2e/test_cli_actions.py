"""`adpilot actions` as a person runs it: a real process against a served sandbox, the ledger on DuckDB."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from adpilot.domain.actions import Action, Pause, SetBudget
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.ledger import ApprovalMode, new_record
from adpilot.domain.money import Money
from adpilot.warehouse.duckdb import DuckDBWarehouse
from adpilot_sandbox.sandbox import Sandbox
from tests.cli import run_cli, succeeded


def run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, data_dir=data_dir, columns=240)


def ok(data_dir: Path, *args: str) -> str:
    return succeeded(run(data_dir, *args))


def show(data_dir: Path, action_id: str) -> dict[str, Any]:
    view: dict[str, Any] = orjson.loads(ok(data_dir, "actions", "show", action_id, "--format", "json"))
    return view


class World:
    """A workspace connected to the served sandbox, with the ledger seeded the way the agent would."""

    def __init__(self, url: str, sandbox: Sandbox, data_dir: Path) -> None:
        self.sandbox, self.data_dir = sandbox, data_dir
        ok(data_dir, "init")
        ok(data_dir, "accounts", "use-sandbox", url)
        m = sandbox.market
        self.meta_account = next(a for a in m.accounts.values() if a.platform == "meta")
        self.ad_set = m.ad_sets_of("meta", self.meta_account.id)[0]
        self.ads = m.ads_of("meta", self.meta_account.id)

    def ref(self, level: Level, entity_id: str) -> EntityRef:
        return EntityRef(Platform.META, f"act_{self.meta_account.id}", level, entity_id)

    def seed(self, *items: tuple[Action, timedelta]) -> None:
        """Record pending actions expiring ``ttl`` after the sandbox's now (negative: already expired)."""
        now = self.sandbox.market.now
        wh = DuckDBWarehouse(self.data_dir / "warehouse.duckdb")
        try:
            wh.record_actions(
                [
                    new_record(
                        action,
                        cycle_id="cycle-e2e",
                        policy="budget_pacing",
                        mode=ApprovalMode.APPROVE,
                        now=now - timedelta(hours=2),
                        evidence={"cpa": 12.5, "target_cpa": 20.0},
                        expected_impact="+3 conversions/day",
                        approval_ttl=ttl + timedelta(hours=2),
                    )
                    for action, ttl in items
                ]
            )
        finally:
            wh.close()

    def budget_writes(self) -> list[dict[str, Any]]:
        return [w for w in self.sandbox.market.write_log if w["id"] == self.ad_set.id and w["field"] == "daily_budget"]


@pytest.fixture
def world(served_demo: tuple[str, Sandbox], tmp_path: Path) -> Iterator[World]:
    url, sandbox = served_demo
    yield World(url, sandbox, tmp_path / "ws")


def test_approve_show_and_roll_back_a_budget_change(world: World) -> None:
    old = world.ad_set.daily_budget_minor
    budget = SetBudget(
        target=world.ref(Level.AD_SET, world.ad_set.id),
        new_budget=Money("USD", old + 500),
        reason="CPA 38% under target over 7 days",
        idempotency_key="a1b2c3d4e5f60718293a4b5c6d7e8f90",
    )
    world.seed((budget, timedelta(hours=20)))
    d = world.data_dir

    listed = orjson.loads(ok(d, "actions", "list", "--format", "json"))
    assert [(r["action_id"], r["state"], r["kind"]) for r in listed] == [
        (budget.idempotency_key, "pending", "set_budget")
    ]
    table = ok(d, "actions", "list")
    assert "a1b2c3d4e5f6" in table and "pending" in table and "budget_pacing" in table

    approved = ok(d, "actions", "approve", "a1b2c3", "--by", "person:ana")
    assert "applied" in approved
    assert world.sandbox.market.ad_sets[world.ad_set.id].daily_budget_minor == old + 500
    assert len(world.budget_writes()) == 1

    again = run(d, "actions", "approve", "a1b2c3")
    assert again.returncode == 1
    assert "only a pending action can be approved; it is applied" in again.stderr
    assert len(world.budget_writes()) == 1

    view = show(d, "a1b2")
    assert view["state"] == "applied" and view["decided_by"] == "person:ana"
    assert view["before"]["daily_budget"] == {"minor": old, "currency": "USD"}
    assert view["after"]["daily_budget"] == {"minor": old + 500, "currency": "USD"}
    assert view["evidence"] == {"cpa": 12.5, "target_cpa": 20.0}
    assert [e["event"] for e in view["audit"]] == [
        "action.pending",
        "action.approved",
        "action.applying",
        "action.applied",
    ]
    assert view["audit"][1]["actor"] == "person:ana"
    pretty = ok(d, "actions", "show", "a1b2")
    assert "audit trail" in pretty and "CPA 38% under target" in pretty and "+3 conversions/day" in pretty

    rolled = ok(d, "actions", "rollback", "a1b2c3d4", "--by", "person:ana")
    assert "applied" in rolled and "original a1b2c3d4e5f6: rolled_back" in rolled
    assert world.sandbox.market.ad_sets[world.ad_set.id].daily_budget_minor == old
    assert len(world.budget_writes()) == 2
    states = {r["action_id"]: r for r in orjson.loads(ok(d, "actions", "list", "--format", "json"))}
    (inverse,) = [r for r in states.values() if r["rollback_of"] == budget.idempotency_key]
    assert inverse["state"] == "applied" and inverse["kind"] == "set_budget"
    assert states[budget.idempotency_key]["state"] == "rolled_back"
    applied_only = orjson.loads(ok(d, "actions", "list", "--state", "applied", "--format", "json"))
    assert [r["action_id"] for r in applied_only] == [inverse["action_id"]]


def test_reject_expiry_failures_and_bad_ids(world: World) -> None:
    ads = world.ads
    world.sandbox.market.set_status(ads[1].id, "DELETED")
    world.seed(
        (Pause(target=world.ref(Level.AD, ads[0].id), reason="CTR fell 60%", idempotency_key="dup-1"), timedelta(1)),
        (Pause(target=world.ref(Level.AD, ads[2].id), reason="CTR fell 50%", idempotency_key="dup-2"), timedelta(1)),
        (Pause(target=world.ref(Level.AD, ads[3].id), reason="stale", idempotency_key="old-1"), -timedelta(hours=1)),
        (Pause(target=world.ref(Level.AD, ads[1].id), reason="gone", idempotency_key="deleted-1"), timedelta(1)),
    )
    d = world.data_dir
    writes = len(world.sandbox.market.write_log)

    rejected = ok(d, "actions", "reject", "dup-1", "--reason", "seasonal dip, keep it")
    assert "rejected" in rejected
    view = show(d, "dup-1")
    assert (view["state"], view["rule"], view["reason"]) == ("rejected", "person", "seasonal dip, keep it")

    ambiguous = run(d, "actions", "show", "dup-")
    assert ambiguous.returncode == 1 and "matches several actions" in ambiguous.stderr
    unknown = run(d, "actions", "approve", "zzzz")
    assert unknown.returncode == 1 and "zzzz: no action has this id or id prefix" in unknown.stderr

    expired = run(d, "actions", "approve", "old-")
    assert expired.returncode == 1 and "expired at" in expired.stderr
    assert show(d, "old-1")["state"] == "expired"

    failed = run(d, "actions", "approve", "deleted")
    assert failed.returncode == 1 and "failed" in failed.stdout and "deleted" in failed.stdout
    assert show(d, "deleted-1")["state"] == "failed"
    assert len(world.sandbox.market.write_log) == writes  # nothing was written by any of these

    bad_state = run(d, "actions", "list", "--state", "done")
    assert bad_state.returncode == 2 and "unknown state done" in bad_state.stderr
    nothing = run(d, "actions", "rollback", "dup-2")
    assert nothing.returncode == 1 and "only an applied action can be rolled back; it is pending" in nothing.stderr
