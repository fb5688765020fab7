"""The ledger's state machine and records: forward-only steps, refusals that name both states."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from adpilot.domain.actions import Pause, idempotency_key
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.ledger import (
    INITIAL_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    ActionRecord,
    ActionState,
    ApprovalMode,
    can_transition,
    check_transition,
    new_record,
)

S = ActionState
T0 = datetime(2026, 3, 10, tzinfo=UTC)
PAUSE = Pause(target=EntityRef(Platform.X, "a1", Level.AD, "p1"), reason="CTR fell", idempotency_key=idempotency_key(1))

ALLOWED = {
    (S.PENDING, S.APPROVED),
    (S.PENDING, S.REJECTED),
    (S.PENDING, S.EXPIRED),
    (S.APPROVED, S.APPLYING),
    (S.APPROVED, S.REJECTED),
    (S.APPROVED, S.FAILED),
    (S.APPLYING, S.APPLIED),
    (S.APPLYING, S.SKIPPED),
    (S.APPLYING, S.FAILED),
    (S.APPLIED, S.ROLLED_BACK),
}


@pytest.mark.parametrize(("a", "b"), list(itertools.product(S, S)))
def test_exactly_the_listed_steps_are_allowed(a: ActionState, b: ActionState) -> None:
    assert can_transition(a, b) is ((a, b) in ALLOWED)
    if (a, b) in ALLOWED:
        check_transition(a, b)
    else:
        with pytest.raises(ValueError, match=rf"cannot go from {a} to {b}"):
            check_transition(a, b)


def test_every_state_has_a_row_and_no_state_returns_to_itself() -> None:
    assert set(TRANSITIONS) == set(S)
    assert all(s not in nxt for s, nxt in TRANSITIONS.items())
    terminal = {S.SKIPPED, S.FAILED, S.REJECTED, S.DRY_RUN, S.EXPIRED, S.ROLLED_BACK}
    assert terminal == TERMINAL_STATES


def test_no_path_leads_back_to_applying_once_applied() -> None:
    """Forward only: from applied, nothing can make the same record write again."""
    seen, frontier = set(), {S.APPLIED}
    while frontier:
        seen |= frontier
        frontier = {n for s in frontier for n in TRANSITIONS[s]} - seen
    assert S.APPLYING not in seen and S.APPROVED not in seen


def test_approval_modes_are_their_cli_words() -> None:
    assert [str(m) for m in ApprovalMode] == ["auto", "approve", "dry-run"]


@pytest.mark.parametrize(
    ("mode", "state"),
    [(ApprovalMode.AUTO, S.APPROVED), (ApprovalMode.APPROVE, S.PENDING), (ApprovalMode.DRY_RUN, S.DRY_RUN)],
)
def test_new_record_is_born_by_mode(mode: ApprovalMode, state: ActionState) -> None:
    rec = new_record(PAUSE, cycle_id="c", policy="rules", mode=mode, now=T0, approval_ttl=timedelta(hours=4))
    assert rec.state is state and rec.state in INITIAL_STATES
    assert rec.action_id == PAUSE.idempotency_key and rec.target == PAUSE.target
    assert rec.expires_at == (T0 + timedelta(hours=4) if state is S.PENDING else None)


def test_a_guardrail_rejection_is_recorded_with_its_rule() -> None:
    rec = new_record(
        PAUSE, cycle_id="c", policy="rules", mode=ApprovalMode.AUTO, now=T0, rejected=("cooldown", "changed 2 h ago")
    )
    assert (rec.state, rec.rule, rec.reason, rec.decided_by) == (S.REJECTED, "cooldown", "changed 2 h ago", "guardrail")


def test_record_invariants() -> None:
    good = new_record(PAUSE, cycle_id="c", policy="rules", mode=ApprovalMode.AUTO, now=T0)
    with pytest.raises(ValueError, match="action_id: must be the action's idempotency key"):
        ActionRecord(**{**_fields(good), "action_id": "other"})
    with pytest.raises(ValueError, match="created_at: must be timezone-aware"):
        ActionRecord(**{**_fields(good), "created_at": datetime(2026, 3, 10)})
    with pytest.raises(ValueError, match="policy"):
        ActionRecord(**{**_fields(good), "policy": ""})


def _fields(rec: ActionRecord) -> dict[str, object]:
    return {name: getattr(rec, name) for name in ActionRecord.__dataclass_fields__}
