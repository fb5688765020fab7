"""People and the ledger: list, show, approve, reject and roll back the agent's actions.

The entry points (``adpilot actions``, the web UI) stay thin over :class:`ActionsService`. Approving applies
at once through the :class:`~adpilot.agent.executor.Executor`, with adapters built from the stored
connections exactly as ``adpilot sync`` builds them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from adpilot.agent.executor import Executor, LedgerError
from adpilot.domain.actions import Action, action_to_dict
from adpilot.domain.events import AuditEvent
from adpilot.domain.ids import Platform
from adpilot.domain.ledger import ActionRecord, ActionState, ApprovalMode, new_record
from adpilot.ports.platform import Connection, PlatformAdapter
from adpilot.ports.warehouse import ActionLedger
from adpilot.sync.service import adapter_factory

T = TypeVar("T")
PERSON_RULE = "person"  # the rule named on a rejection made by a person
_HTTP_TIMEOUT = httpx.Timeout(120.0)


@dataclass(frozen=True, slots=True)
class ActionDetail:
    record: ActionRecord
    events: list[AuditEvent]


@dataclass(frozen=True, slots=True)
class RollbackOutcome:
    original: ActionRecord
    inverse: ActionRecord

    @property
    def ok(self) -> bool:
        return self.inverse.state in (ActionState.APPLIED, ActionState.SKIPPED)


def record_view(rec: ActionRecord) -> dict[str, Any]:
    """A JSON-able view of a record, for ``--format json`` and the API."""

    def iso(at: datetime | None) -> str | None:
        return None if at is None else at.isoformat()

    return {
        "action_id": rec.action_id,
        "state": str(rec.state),
        "kind": str(rec.action.kind),
        "target": str(rec.target),
        "policy": rec.policy,
        "cycle_id": rec.cycle_id,
        "mode": str(rec.mode),
        "action": action_to_dict(rec.action),
        "evidence": dict(rec.evidence),
        "expected_impact": rec.expected_impact,
        "rule": rec.rule,
        "reason": rec.reason,
        "before": dict(rec.before),
        "after": dict(rec.after),
        "error": rec.error,
        "created_at": iso(rec.created_at),
        "updated_at": iso(rec.updated_at),
        "expires_at": iso(rec.expires_at),
        "applied_at": iso(rec.applied_at),
        "decided_by": rec.decided_by,
        "rollback_of": rec.rollback_of,
    }


def connection_now(conn: Connection | None) -> datetime:
    """The time that governs an account: its sandbox's simulated now when it follows one, else the wall clock."""
    if conn is None or not conn.clock_url:
        return datetime.now(UTC)
    try:
        now = datetime.fromisoformat(httpx.get(conn.clock_url, timeout=10).raise_for_status().json()["now"])
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        raise LedgerError(f"sandbox clock: cannot read {conn.clock_url} ({exc})") from None
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


class ActionsService:
    """The ledger as a person uses it. Ids may be given as a unique prefix.

    ``connections`` loads the decrypted connections (``AccountStore.all``) when approving, rejecting or rolling
    back needs them.
    """

    def __init__(
        self,
        ledger: ActionLedger,
        connections: Callable[[], Sequence[Connection]],
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        adapter_options: Mapping[str, Any] | None = None,
        now_for: Callable[[Connection | None], datetime] = connection_now,
    ) -> None:
        self.ledger = ledger
        self._load_connections = connections
        self._connections: dict[tuple[Platform, str], Connection] | None = None
        self.transport = transport
        self.adapter_options = dict(adapter_options or {})
        self.now_for = now_for

    # -- reading ---------------------------------------------------------------------------------------
    def resolve(self, id_or_prefix: str) -> ActionRecord:
        """The record with this id, or the only one whose id starts with it."""
        key = id_or_prefix.strip()
        if not key:
            raise LedgerError("action id: give an action id or a unique prefix of one")
        exact = self.ledger.get_action(key)
        if exact is not None:
            return exact
        found = self.ledger.list_actions(limit=3, id_prefix=key)
        if not found:
            raise LedgerError(f"action {key}: no action has this id or id prefix (see `adpilot actions list`)")
        if len(found) > 1:
            shown = ", ".join(r.action_id[:16] for r in found[:2])
            raise LedgerError(f"action {key}: the prefix matches several actions ({shown}, ...); give more characters")
        return found[0]

    def list_actions(self, states: Iterable[ActionState] | None = None, limit: int = 50) -> list[ActionRecord]:
        return self.ledger.list_actions(states=states, limit=limit)

    def show(self, id_or_prefix: str) -> ActionDetail:
        rec = self.resolve(id_or_prefix)
        return ActionDetail(rec, self.ledger.action_events(rec.action_id))

    # -- deciding --------------------------------------------------------------------------------------
    def approve(self, id_or_prefix: str, actor: str, reason: str | None = None) -> ActionRecord:
        """Pending → approved, then applied at once. The returned record says how the apply ended."""
        rec = self.resolve(id_or_prefix)
        if rec.state is not ActionState.PENDING:
            raise LedgerError(f"action {rec.action_id}: only a pending action can be approved; it is {rec.state}")
        now = self.now_for(self._connection(rec))
        if rec.expires_at is not None and rec.expires_at <= now:
            self.ledger.transition_action(
                rec.action_id, [ActionState.PENDING], ActionState.EXPIRED, actor=actor, at=now
            )
            raise LedgerError(
                f"action {rec.action_id}: expired at {rec.expires_at.isoformat()} unanswered; "
                "the next cycle proposes again from fresh data"
            )
        approved = self.ledger.transition_action(
            rec.action_id,
            [ActionState.PENDING],
            ActionState.APPROVED,
            actor=actor,
            at=now,
            decided_by=actor,
            reason=reason,
        )
        if approved is None:
            raise LedgerError(f"action {rec.action_id}: changed while being approved; it is {self._state(rec)}")
        return self._with_executor(rec, lambda ex: ex.apply(rec.action_id, actor))

    def reject(self, id_or_prefix: str, actor: str, reason: str | None = None) -> ActionRecord:
        """A person says no to a pending (or approved, not yet applied) action."""
        rec = self.resolve(id_or_prefix)
        if rec.state not in (ActionState.PENDING, ActionState.APPROVED):
            raise LedgerError(
                f"action {rec.action_id}: only a pending or approved action can be rejected; it is {rec.state}"
            )
        moved = self.ledger.transition_action(
            rec.action_id,
            [rec.state],
            ActionState.REJECTED,
            actor=actor,
            at=self.now_for(self._connection(rec)),
            decided_by=actor,
            rule=PERSON_RULE,
            reason=reason or f"rejected by {actor}",
        )
        if moved is None:
            raise LedgerError(f"action {rec.action_id}: changed while being rejected; it is {self._state(rec)}")
        return moved

    def rollback(self, id_or_prefix: str, actor: str) -> RollbackOutcome:
        """Undo an applied action through its inverse, applied at once."""
        rec = self.resolve(id_or_prefix)
        if rec.state is not ActionState.APPLIED:
            raise LedgerError(f"action {rec.action_id}: only an applied action can be rolled back; it is {rec.state}")
        inverse = self._with_executor(rec, lambda ex: ex.rollback(rec.action_id, actor))
        original = self.ledger.get_action(rec.action_id) or rec
        return RollbackOutcome(original, inverse)

    def submit(self, action: Action, actor: str, *, evidence: Mapping[str, Any] | None = None) -> ActionRecord:
        """A person's own change (e.g. ``adpilot creatives launch``): recorded under its key, applied at once.

        Submitting the same change again finds the first record and applies nothing twice.
        """
        conn = self.connections.get((action.target.platform, action.target.account_id))
        if conn is None:
            raise LedgerError(
                f"{action.target.platform} account {action.target.account_id}: not connected; "
                "add it with `adpilot accounts add`"
            )
        now = self.now_for(conn)
        rec = new_record(
            action, cycle_id=f"manual-{now:%Y%m%dT%H%M%S}", policy=actor, mode=ApprovalMode.AUTO, now=now,
            evidence=evidence,
        )  # fmt: skip
        self.ledger.record_actions([rec])
        current = self.ledger.get_action(rec.action_id) or rec
        if current.state is not ActionState.APPROVED:
            return current
        return self._with_executor(current, lambda ex: ex.apply(current.action_id, actor))

    # -- plumbing --------------------------------------------------------------------------------------
    @property
    def connections(self) -> dict[tuple[Platform, str], Connection]:
        """Decrypted only when a decision needs them: listing and showing work without the key."""
        if self._connections is None:
            self._connections = {(c.platform, c.account_id): c for c in self._load_connections()}
        return self._connections

    def _state(self, rec: ActionRecord) -> str:
        now = self.ledger.get_action(rec.action_id)
        return str(now.state) if now is not None else "gone"

    def _connection(self, rec: ActionRecord) -> Connection | None:
        return self.connections.get((rec.target.platform, rec.target.account_id))

    def _with_executor(self, rec: ActionRecord, work: Callable[[Executor], Awaitable[T]]) -> T:
        """Run ``work`` with an executor whose adapters share one HTTP client, closed afterwards."""
        now = self.now_for(self._connection(rec))

        async def main() -> T:
            async with httpx.AsyncClient(transport=self.transport, timeout=_HTTP_TIMEOUT) as client:
                adapters: dict[tuple[Platform, str], PlatformAdapter] = {}

                def adapter_for(platform: Platform, account_id: str) -> PlatformAdapter:
                    if (platform, account_id) not in adapters:
                        conn = self.connections.get((platform, account_id))
                        if conn is None:
                            raise LedgerError(
                                f"{platform} account {account_id}: not connected; add it with `adpilot accounts add`"
                            )
                        factory = adapter_factory(platform)
                        adapters[(platform, account_id)] = factory(conn, client, **self.adapter_options)
                    return adapters[(platform, account_id)]

                try:
                    return await work(Executor(self.ledger, adapter_for, lambda: now))
                finally:
                    for adapter in adapters.values():
                        await adapter.aclose()

        return asyncio.run(main())
