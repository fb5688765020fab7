"""The action ledger's values: every proposed change as a record whose state only moves forward.

A record's id is its action's idempotency key, so the same decision proposed twice is one record. The
state machine below is the only way a record changes; the warehouse applies each step as a
compare-and-set, which is what makes "applied exactly once" hold with two executors or a resumed cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from adpilot.domain.actions import Action
from adpilot.domain.ids import EntityRef


class ActionState(StrEnum):
    PENDING = "pending"  # waits for a person
    APPROVED = "approved"  # to apply
    APPLYING = "applying"  # claimed by an executor
    APPLIED = "applied"
    SKIPPED = "skipped"  # the live value already matched
    FAILED = "failed"
    REJECTED = "rejected"  # by a guardrail or a person
    DRY_RUN = "dry_run"
    EXPIRED = "expired"
    ROLLED_BACK = "rolled_back"


class ApprovalMode(StrEnum):
    AUTO = "auto"  # guardrail-approved changes apply at once
    APPROVE = "approve"  # a person approves each change
    DRY_RUN = "dry-run"  # record what would be done, change nothing


# The states a record may be born in.
INITIAL_STATES = frozenset({ActionState.PENDING, ActionState.APPROVED, ActionState.REJECTED, ActionState.DRY_RUN})

_S = ActionState
TRANSITIONS: Mapping[ActionState, frozenset[ActionState]] = {
    _S.PENDING: frozenset({_S.APPROVED, _S.REJECTED, _S.EXPIRED}),
    # approved → failed: the live value could not be read before the claim.
    _S.APPROVED: frozenset({_S.APPLYING, _S.REJECTED, _S.FAILED}),
    _S.APPLYING: frozenset({_S.APPLIED, _S.SKIPPED, _S.FAILED}),
    _S.APPLIED: frozenset({_S.ROLLED_BACK}),
    _S.SKIPPED: frozenset(),
    _S.FAILED: frozenset(),
    _S.REJECTED: frozenset(),
    _S.DRY_RUN: frozenset(),
    _S.EXPIRED: frozenset(),
    _S.ROLLED_BACK: frozenset(),
}

TERMINAL_STATES = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)


def can_transition(current: ActionState, to: ActionState) -> bool:
    return to in TRANSITIONS[current]


def check_transition(current: ActionState, to: ActionState) -> None:
    """Refuse a step the state machine does not allow, naming both states."""
    if not can_transition(current, to):
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing (final state)"
        raise ValueError(f"state: an action cannot go from {current} to {to} (from {current}: {allowed})")


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRecord:
    """One change in the ledger: what, why, who decided, what it found and left behind."""

    action_id: str  # = action.idempotency_key
    cycle_id: str
    policy: str
    action: Action
    mode: ApprovalMode
    state: ActionState
    created_at: datetime
    updated_at: datetime
    evidence: Mapping[str, Any] = field(default_factory=dict)  # JSON-able figures
    expected_impact: str = ""
    rule: str | None = None  # the guardrail rule (or "person") behind a rejection
    reason: str | None = None  # why it was rejected, approved by hand, rolled back...
    before: Mapping[str, Any] = field(default_factory=dict)  # live values at claim time
    after: Mapping[str, Any] = field(default_factory=dict)  # live values once applied
    error: str | None = None
    expires_at: datetime | None = None  # a pending record expires unanswered
    decided_by: str | None = None
    rollback_of: str | None = None  # the action id this record undoes
    applied_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.action_id != self.action.idempotency_key:
            raise ValueError("action_id: must be the action's idempotency key")
        if not self.policy:
            raise ValueError("policy: every record names the policy (or person) that proposed it")
        for name in ("created_at", "updated_at", "expires_at", "applied_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name}: must be timezone-aware")

    @property
    def target(self) -> EntityRef:
        return self.action.target


class AppliedChange(NamedTuple):
    """A change the agent made (for cooldowns, daily counts and snapshots)."""

    target: EntityRef
    kind: str  # an ActionKind value
    policy: str
    at: datetime


_BORN_AS = {
    ApprovalMode.AUTO: ActionState.APPROVED,
    ApprovalMode.APPROVE: ActionState.PENDING,
    ApprovalMode.DRY_RUN: ActionState.DRY_RUN,
}


def new_record(
    action: Action,
    *,
    cycle_id: str,
    policy: str,
    mode: ApprovalMode,
    now: datetime,
    evidence: Mapping[str, Any] | None = None,
    expected_impact: str = "",
    rejected: tuple[str, str] | None = None,
    approval_ttl: timedelta | None = None,
) -> ActionRecord:
    """The record of a freshly judged proposal: ``rejected`` is the guardrail's (rule, reason).

    In ``approve`` mode an approved proposal waits for a person until ``now + approval_ttl``.
    """
    state = ActionState.REJECTED if rejected is not None else _BORN_AS[mode]
    expires = now + approval_ttl if state is ActionState.PENDING and approval_ttl is not None else None
    return ActionRecord(
        action_id=action.idempotency_key,
        cycle_id=cycle_id,
        policy=policy,
        action=action,
        mode=mode,
        state=state,
        created_at=now,
        updated_at=now,
        evidence=dict(evidence or {}),
        expected_impact=expected_impact,
        rule=rejected[0] if rejected else None,
        reason=rejected[1] if rejected else None,
        expires_at=expires,
        decided_by="guardrail" if rejected else None,
    )
