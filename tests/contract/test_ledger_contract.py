"""The action ledger's contract: every engine (DuckDB, PostgreSQL) keeps records the same way.

Insert-if-absent makes re-proposing a decision a no-op; the compare-and-set transition makes "applied
exactly once" hold when two executors (threads, or two PostgreSQL connections) race for one record.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from adpilot.domain.actions import Action, LaunchAd, Pause, SetBid, SetBudget, idempotency_key
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.ledger import ActionRecord, ActionState, ApprovalMode, new_record
from adpilot.domain.money import Money
from adpilot.warehouse._sql import SqlWarehouse
from adpilot.warehouse.postgres import PostgresWarehouse
from tests.conftest import open_engine

T0 = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
AD_SET = EntityRef(Platform.META, "act_1", Level.AD_SET, "as1")
AD = EntityRef(Platform.TIKTOK, "adv9", Level.AD, "ad7")


def budget(n: int = 0, minor: int = 5000) -> SetBudget:
    return SetBudget(
        target=AD_SET, new_budget=Money("USD", minor), reason="CPA under target", idempotency_key=idempotency_key(n)
    )


def record(action: Action, mode: ApprovalMode = ApprovalMode.AUTO, at: datetime = T0, **kw: Any) -> ActionRecord:
    return new_record(action, cycle_id="c1", policy="budget", mode=mode, now=at, **kw)


def test_records_round_trip_every_field(warehouse: SqlWarehouse) -> None:
    launch = LaunchAd(
        target=AD_SET,
        name="Spring – ünïcode",
        asset_ids=("sha256:ab", "sha256:cd"),
        headline="Save 20%",
        body="Today only",
        call_to_action="SHOP_NOW",
        link_url="https://example.com/x?a=1",
        start_paused=True,
        reason="a fresh creative",
        idempotency_key="launch-1",
    )
    rec = record(
        launch,
        ApprovalMode.APPROVE,
        evidence={"posterior_mean": 0.031, "n": 12, "arms": [1, 2], "nested": {"k": None}},
        expected_impact="+4 conversions/day",
        approval_ttl=timedelta(hours=6),
    )
    assert warehouse.record_actions([rec]) == 1
    got = warehouse.get_action("launch-1")
    assert got == rec
    assert got is not None and got.expires_at == T0 + timedelta(hours=6) and got.state is ActionState.PENDING
    assert warehouse.get_action("nope") is None


def test_decimal_and_numpy_evidence_is_stored_as_json(warehouse: SqlWarehouse) -> None:
    import numpy as np

    rec = record(budget(), evidence={"cpa": Decimal("12.50"), "roas": np.float64(2.5), "days": np.int64(7)})
    warehouse.record_actions([rec])
    got = warehouse.get_action(rec.action_id)
    assert got is not None and dict(got.evidence) == {"cpa": "12.50", "roas": 2.5, "days": 7}


def test_insert_if_absent_leaves_the_existing_record_untouched(warehouse: SqlWarehouse) -> None:
    first = record(budget(1))
    assert warehouse.record_actions([first, record(budget(2))]) == 2
    applied = warehouse.transition_action(first.action_id, [ActionState.APPROVED], ActionState.APPLYING)
    assert applied is not None
    again = record(budget(1), ApprovalMode.APPROVE, at=T0 + timedelta(days=1), evidence={"other": 1})
    assert warehouse.record_actions([again, record(budget(3))]) == 1
    kept = warehouse.get_action(first.action_id)
    assert kept is not None and kept.state is ActionState.APPLYING and kept.mode is ApprovalMode.AUTO
    assert kept.created_at == T0 and dict(kept.evidence) == {}
    assert warehouse.record_actions([]) == 0


def test_a_record_cannot_be_born_applied(warehouse: SqlWarehouse) -> None:
    import dataclasses

    bad = dataclasses.replace(record(budget()), state=ActionState.APPLIED)
    with pytest.raises(ValueError, match="cannot be created as applied"):
        warehouse.record_actions([bad])
    assert warehouse.list_actions() == []


def test_transition_sets_fields_and_appends_an_audit_line(warehouse: SqlWarehouse) -> None:
    rec = record(budget(), ApprovalMode.APPROVE)
    warehouse.record_actions([rec])
    t1 = T0 + timedelta(minutes=5)
    approved = warehouse.transition_action(
        rec.action_id,
        [ActionState.PENDING],
        ActionState.APPROVED,
        actor="person:ana",
        at=t1,
        decided_by="person:ana",
        reason="looks right",
    )
    assert approved is not None and approved.state is ActionState.APPROVED
    assert (approved.decided_by, approved.reason, approved.updated_at) == ("person:ana", "looks right", t1)
    before = {"status": "active", "daily_budget": {"minor": 4000, "currency": "USD"}}
    warehouse.transition_action(rec.action_id, [ActionState.APPROVED], ActionState.APPLYING, at=t1, before=before)
    after = {"status": "active", "daily_budget": {"minor": 5000, "currency": "USD"}}
    t2 = t1 + timedelta(seconds=3)
    done = warehouse.transition_action(rec.action_id, [ActionState.APPLYING], ActionState.APPLIED, at=t2, after=after)
    assert done is not None and done.before == before and done.after == after and done.applied_at == t2
    trail = warehouse.action_events(rec.action_id)
    assert [e.kind for e in trail] == ["action.pending", "action.approved", "action.applying", "action.applied"]
    assert trail[1].actor == "person:ana" and trail[1].details["reason"] == "looks right"
    assert trail[1].details["from"] == "pending" and trail[1].details["to"] == "approved"
    assert trail[2].details["before"] == before and trail[3].details["after"] == after
    assert trail[3].at == t2


def test_transition_only_from_the_named_states(warehouse: SqlWarehouse) -> None:
    rec = record(budget(), ApprovalMode.APPROVE)
    warehouse.record_actions([rec])
    assert warehouse.transition_action(rec.action_id, [ActionState.APPROVED], ActionState.APPLYING) is None
    assert warehouse.transition_action("missing", [ActionState.PENDING], ActionState.APPROVED) is None
    got = warehouse.get_action(rec.action_id)
    assert got is not None and got.state is ActionState.PENDING
    assert [e.kind for e in warehouse.action_events(rec.action_id)] == ["action.pending"]


@pytest.mark.parametrize(
    ("sources", "to"),
    [
        ([ActionState.PENDING], ActionState.APPLIED),
        ([ActionState.APPLIED], ActionState.APPROVED),
        ([ActionState.APPROVED, ActionState.REJECTED], ActionState.APPLYING),
        ([ActionState.SKIPPED], ActionState.ROLLED_BACK),
    ],
)
def test_transitions_the_state_machine_forbids_are_refused(
    warehouse: SqlWarehouse, sources: list[ActionState], to: ActionState
) -> None:
    rec = record(budget(), ApprovalMode.APPROVE)
    warehouse.record_actions([rec])
    with pytest.raises(ValueError, match=rf"cannot go from \w+ to {to}"):
        warehouse.transition_action(rec.action_id, sources, to)
    with pytest.raises(ValueError, match="cannot set colour"):
        warehouse.transition_action(rec.action_id, [ActionState.PENDING], ActionState.APPROVED, colour="red")
    got = warehouse.get_action(rec.action_id)
    assert got is not None and got.state is ActionState.PENDING


def race(n: int, call: Callable[[int], object]) -> list[object]:
    """Run ``call`` in ``n`` threads released at the same instant."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = call(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def test_compare_and_set_has_one_winner_among_racing_threads(warehouse: SqlWarehouse) -> None:
    recs = [record(budget(i)) for i in range(5)]
    warehouse.record_actions(recs)
    for rec in recs:
        results = race(
            6,
            lambda i, rec=rec: warehouse.transition_action(
                rec.action_id, [ActionState.APPROVED], ActionState.APPLYING, actor=f"executor-{i}"
            ),
        )
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        trail = warehouse.action_events(rec.action_id)
        assert [e.kind for e in trail] == ["action.approved", "action.applying"]
        assert trail[1].actor == f"executor-{results.index(winners[0])}"


def test_concurrent_recording_of_one_decision_counts_it_once(warehouse: SqlWarehouse) -> None:
    rec = record(budget(42))
    counts: list[int] = []
    lock = threading.Lock()

    def call(i: int) -> None:
        n = warehouse.record_actions([rec])
        with lock:
            counts.append(n)

    race(4, lambda i: call(i))
    assert sorted(counts) == [0, 0, 0, 1]
    assert len(warehouse.action_events(rec.action_id)) == 1


@pytest.fixture
def postgres_warehouse(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SqlWarehouse]:
    yield from open_engine("postgres", tmp_path, request)


@pytest.mark.postgres
def test_postgres_compare_and_set_waits_for_the_other_connection(
    postgres_url: str, postgres_warehouse: SqlWarehouse
) -> None:
    """A second connection holds the row: the CAS waits for its commit, then sees the state moved on."""
    warehouse = postgres_warehouse
    assert isinstance(warehouse, PostgresWarehouse)
    rec = record(budget())
    warehouse.record_actions([rec])
    schema = warehouse._schema
    other = PostgresWarehouse(postgres_url, schema=schema)
    try:
        with psycopg.connect(postgres_url, options=f"-c search_path={schema}") as holder:
            holder.execute(
                "UPDATE agent_actions SET state = 'applying' WHERE action_id = %s AND state = 'approved'",
                (rec.action_id,),
            )  # row locked, not committed
            result: list[ActionRecord | None] = []
            t = threading.Thread(
                target=lambda: result.append(
                    other.transition_action(rec.action_id, [ActionState.APPROVED], ActionState.APPLYING)
                )
            )
            t.start()
            t.join(timeout=1.0)
            assert t.is_alive(), "the second connection did not wait for the row lock"
            holder.commit()
            t.join(timeout=30)
        assert result == [None]
        got = warehouse.get_action(rec.action_id)
        assert got is not None and got.state is ActionState.APPLYING
    finally:
        other.close()


def test_list_filters_by_state_time_and_prefix_newest_first(warehouse: SqlWarehouse) -> None:
    recs = [
        record(budget(i), ApprovalMode.APPROVE if i % 2 else ApprovalMode.AUTO, at=T0 + timedelta(hours=i))
        for i in range(6)
    ]
    warehouse.record_actions(recs)
    listed = warehouse.list_actions()
    assert [r.action_id for r in listed] == [r.action_id for r in reversed(recs)]
    pending = warehouse.list_actions(states=[ActionState.PENDING])
    assert {r.action_id for r in pending} == {recs[i].action_id for i in (1, 3, 5)}
    assert len(warehouse.list_actions(limit=2)) == 2 and len(warehouse.list_actions(limit=None)) == 6
    late = warehouse.list_actions(since=T0 + timedelta(hours=4))
    assert [r.action_id for r in late] == [recs[5].action_id, recs[4].action_id]
    assert warehouse.list_actions(states=[]) == []
    target = recs[2].action_id
    assert [r.action_id for r in warehouse.list_actions(id_prefix=target[:10])] == [target]
    assert warehouse.list_actions(id_prefix="zz") == []


def test_applied_changes_since(warehouse: SqlWarehouse) -> None:
    pause = Pause(target=AD, reason="CTR collapsed", idempotency_key="pause-1")
    bid = SetBid(target=AD_SET, new_bid=Money("USD", 150), reason="bid down", idempotency_key="bid-1")
    warehouse.record_actions([record(budget()), record(pause), record(bid)])
    t1, t2 = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    for action_id, at in ((pause.idempotency_key, t2), (budget().idempotency_key, t1)):
        warehouse.transition_action(action_id, [ActionState.APPROVED], ActionState.APPLYING, at=at)
        warehouse.transition_action(action_id, [ActionState.APPLYING], ActionState.APPLIED, at=at)
    warehouse.transition_action("bid-1", [ActionState.APPROVED], ActionState.APPLYING, at=t1)
    warehouse.transition_action("bid-1", [ActionState.APPLYING], ActionState.SKIPPED, at=t1)
    # a rolled-back change still happened: cooldowns count it
    warehouse.transition_action("pause-1", [ActionState.APPLIED], ActionState.ROLLED_BACK, at=t2 + timedelta(hours=1))
    changes = warehouse.applied_changes(T0)
    assert [(c.target, c.kind, c.policy, c.at) for c in changes] == [
        (AD_SET, "set_budget", "budget", t1),
        (AD, "pause", "budget", t2),
    ]
    assert [c.target for c in warehouse.applied_changes(t2)] == [AD]
