"""The executor: applies approved ledger records to the platforms exactly once, and undoes them.

Exactly once rests on three things:

* a claim: ``approved → applying`` is a compare-and-set in the warehouse, so of two executors (or a
  cycle and its resumption) only one proceeds;
* a re-read: before writing, the live value is read again; if it already is the wanted value nothing is
  written (``skipped``), and the value seen at claim time is kept as ``before``;
* recovery: a record left in ``applying`` by a crash is finished by re-reading and comparing with
  ``before``: the wanted value there now, but not at claim time, means the crashed attempt wrote it
  (``applied``, no second write); otherwise the write is made now.

An ad launch is not idempotent by value, so a launched ad's name carries a short form of the action's
key, and the target ad set is searched for that tag before anything is created.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from adpilot.domain.actions import (
    Action,
    LaunchAd,
    Pause,
    Resume,
    SetBid,
    SetBudget,
    idempotency_key,
    money_from_dict,
    money_to_dict,
)
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.ledger import ActionRecord, ActionState, ApprovalMode, new_record
from adpilot.domain.status import Status
from adpilot.errors import AdpilotError
from adpilot.platforms.errors import PlatformError, RetryableError
from adpilot.ports.platform import LiveState, PlatformAdapter
from adpilot.ports.warehouse import ActionLedger

AdapterFor = Callable[[Platform, str], PlatformAdapter]
Clock = Callable[[], datetime]

LAUNCH_NAME_MAX = 80  # the shortest name limit among the platforms' ad objects (X cards)
_ERROR_MAX = 500
_SECRET_VALUE = re.compile(
    r"((?:access[_-]?token|token|secret|password|signature|api[_-]?key|oauth_[a-z_]+)[\"']?\s*[=:]\s*[\"']?)"
    r"[^&\s\"',}]+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(Bearer|OAuth)\s+[^\s,]+", re.IGNORECASE)


class LedgerError(AdpilotError):
    """A ledger request that cannot be carried out (unknown action, wrong state); the message says why."""


def describe_error(exc: BaseException) -> str:
    """One line for the ledger: the platform's own message, with anything that looks like a secret masked."""
    text = str(exc) if isinstance(exc, PlatformError) else f"{type(exc).__name__}: {exc}"
    text = _BEARER.sub(r"\1 ***", _SECRET_VALUE.sub(r"\1***", " ".join(text.split())))
    return text[:_ERROR_MAX]


def launch_tag(action_id: str) -> str:
    """The short form of an action's key that a launched ad's name carries: ``[ap:3f9a0c12de]``."""
    short = action_id[:10] if re.fullmatch(r"[0-9a-f]{10,}", action_id) else idempotency_key(action_id)[:10]
    return f"[ap:{short}]"


def tagged_launch(action: LaunchAd) -> LaunchAd:
    """The launch with its tag at the end of the name (kept within every platform's length limit)."""
    tag = launch_tag(action.idempotency_key)
    if action.name.endswith(tag):
        return action
    base = action.name[: LAUNCH_NAME_MAX - len(tag) - 1].rstrip()
    return dataclasses.replace(action, name=f"{base} {tag}" if base else tag)


def state_dict(live: LiveState) -> dict[str, Any]:
    """The live values the ledger keeps as ``before``/``after``: exact money, both status spellings."""
    return {
        "status": str(live.status),
        "platform_status": live.platform_status,
        "daily_budget": None if live.daily_budget is None else money_to_dict(live.daily_budget),
        "bid": None if live.bid is None else money_to_dict(live.bid),
    }


def reached(action: Action, state: Mapping[str, Any]) -> bool:
    """Whether ``state`` (a :func:`state_dict`, or a launch's ``{"ad_id": ...}``) already is what ``action`` wants."""
    if not state:
        return False
    if isinstance(action, LaunchAd):
        return bool(state.get("ad_id"))
    if isinstance(action, Pause | Resume):
        return state.get("status") == str(action.new_status)
    field, wanted = ("daily_budget", action.new_budget) if isinstance(action, SetBudget) else ("bid", action.new_bid)
    current = state.get(field)
    return current is not None and money_from_dict(current) == wanted


def inverse_of(record: ActionRecord, key: str) -> Action:
    """The action that puts back what ``record`` changed, from its recorded ``before`` (and a launch's ad)."""
    action, before = record.action, record.before
    reason = f"rollback of {record.action_id}"
    if isinstance(action, SetBudget | SetBid):
        field = "daily_budget" if isinstance(action, SetBudget) else "bid"
        if not before.get(field):
            raise LedgerError(f"action {record.action_id}: no {field} was recorded before it, nothing to restore")
        old = money_from_dict(before[field])
        if isinstance(action, SetBudget):
            return SetBudget(target=action.target, new_budget=old, reason=reason, idempotency_key=key)
        return SetBid(target=action.target, new_bid=old, reason=reason, idempotency_key=key)
    if isinstance(action, Pause):
        return Resume(target=action.target, reason=reason, idempotency_key=key)
    if isinstance(action, Resume):
        return Pause(target=action.target, reason=reason, idempotency_key=key)
    ad_id = record.after.get("ad_id")
    if not ad_id:
        raise LedgerError(f"action {record.action_id}: the launched ad's id was not recorded")
    t = action.target
    ad = EntityRef(t.platform, t.account_id, Level.AD, str(ad_id))
    return Pause(target=ad, reason=reason, idempotency_key=key)


class Executor:
    """Applies ledger records through the platform adapters; every outcome is a ledger state, not an exception."""

    def __init__(self, ledger: ActionLedger, adapter_for: AdapterFor, clock: Clock) -> None:
        self.ledger = ledger
        self.adapter_for = adapter_for
        self.clock = clock

    def _get(self, action_id: str) -> ActionRecord:
        rec = self.ledger.get_action(action_id)
        if rec is None:
            raise LedgerError(f"action {action_id}: not in the ledger")
        return rec

    def _move(self, rec: ActionRecord, to: ActionState, actor: str, **fields: Any) -> ActionRecord:
        moved = self.ledger.transition_action(rec.action_id, [rec.state], to, actor=actor, at=self.clock(), **fields)
        # None: someone else moved the record first; theirs is the outcome.
        return moved if moved is not None else self._get(rec.action_id)

    # -- applying ----------------------------------------------------------------------------------------
    async def apply(self, action_id: str, actor: str = "agent") -> ActionRecord:
        """Apply one approved record; any other state is returned as it is (applying twice writes once)."""
        rec = self._get(action_id)
        if rec.state is not ActionState.APPROVED:
            return rec
        try:
            adapter = self.adapter_for(rec.target.platform, rec.target.account_id)
            live = await self._observe(adapter, rec.action)
        except Exception as exc:  # the record must end in a state, whatever the platform did
            return self._move(rec, ActionState.FAILED, actor, error=describe_error(exc))
        claimed = self.ledger.transition_action(
            action_id, [ActionState.APPROVED], ActionState.APPLYING, actor=actor, at=self.clock(), before=live
        )
        if claimed is None:
            return self._get(action_id)
        return await self._finish(claimed, adapter, live, actor)

    async def apply_many(self, action_ids: Iterable[str], actor: str = "agent") -> list[ActionRecord]:
        """Apply records one after the other; a failure is recorded on its record and the batch goes on."""
        return [await self.apply(action_id, actor) for action_id in action_ids]

    async def apply_approved(self, actor: str = "agent") -> list[ActionRecord]:
        """Apply every approved record, oldest first."""
        approved = self.ledger.list_actions(states=[ActionState.APPROVED], limit=None)
        return await self.apply_many([r.action_id for r in reversed(approved)], actor)

    async def recover(self, actor: str = "agent", *, older_than: timedelta = timedelta(0)) -> list[ActionRecord]:
        """Finish records a crash left in ``applying``: re-read, compare, write only if the value is not there yet.

        A record whose live value cannot be read for now (a retryable platform error) stays ``applying`` for the
        next recovery: whether the crashed attempt wrote is unknown. Only records claimed at least ``older_than``
        ago are touched. The default suits a process resuming its
        own work; where another executor may be mid-write (several processes on one PostgreSQL warehouse),
        pass a grace longer than a write with its retries takes, or that write could be made twice.
        """
        now = self.clock()
        stuck = [
            r
            for r in self.ledger.list_actions(states=[ActionState.APPLYING], limit=None)
            if now - r.updated_at >= older_than
        ]
        done = []
        for rec in reversed(stuck):
            try:
                adapter = self.adapter_for(rec.target.platform, rec.target.account_id)
                live = await self._observe(adapter, rec.action)
            except RetryableError:
                continue  # the crashed attempt may have written: stay claimed, the next recovery finds out
            except Exception as exc:
                done.append(self._move(rec, ActionState.FAILED, actor, error=describe_error(exc)))
                continue
            done.append(await self._finish(rec, adapter, live, actor))
        return done

    async def _observe(self, adapter: PlatformAdapter, action: Action) -> dict[str, Any]:
        if isinstance(action, LaunchAd):
            return {"ad_id": await self._find_launched(adapter, action)}
        return state_dict(await adapter.live_state(action.target))

    async def _find_launched(self, adapter: PlatformAdapter, action: LaunchAd) -> str | None:
        """The ad an earlier attempt launched: in the target ad set, with the action's tag in its name (or, on
        X where a promoted tweet has no name, in its tweet's)."""
        t = action.target
        account = next((a for a in await adapter.accounts() if a.account_id == t.account_id), None)
        if account is None:
            raise LedgerError(f"{t.platform} account {t.account_id}: not reachable with this connection")
        snap = await adapter.entities(account, lambda page: None)
        tag = launch_tag(action.idempotency_key)
        creative_names = {c.creative_id: c.name for c in snap.creatives}
        for ad in snap.ads:
            if ad.ad_set_id != t.entity_id or ad.status is Status.DELETED:
                continue
            if tag in ad.name or tag in creative_names.get(ad.creative_id or "", ""):
                return ad.ad_id
        return None

    async def _finish(
        self, rec: ActionRecord, adapter: PlatformAdapter, live: dict[str, Any], actor: str
    ) -> ActionRecord:
        """Complete a claimed record: compare the live value with the wanted one, write only if needed."""
        if reached(rec.action, live):
            # Not there at claim time but there now: this record's earlier attempt wrote it.
            state = ActionState.SKIPPED if reached(rec.action, rec.before) else ActionState.APPLIED
            return self._move(rec, state, actor, after=live)
        action = tagged_launch(rec.action) if isinstance(rec.action, LaunchAd) else rec.action
        try:
            result = await adapter.apply(action)
            if isinstance(action, LaunchAd):
                after = {**result.after, "ad_id": result.created_id or result.ref.entity_id, "name": action.name}
            else:
                after = state_dict(await adapter.live_state(action.target))
        except Exception as exc:
            return self._move(rec, ActionState.FAILED, actor, error=describe_error(exc))
        return self._move(rec, ActionState.APPLIED, actor, after=after)

    # -- undoing and expiring ----------------------------------------------------------------------------
    async def rollback(self, action_id: str, actor: str) -> ActionRecord:
        """Undo an applied record: record its inverse (``rollback_of``), apply it, mark the original rolled back.

        Returns the inverse's record. Running it again after an interruption finishes the same rollback.
        """
        rec = self._get(action_id)
        if rec.state is not ActionState.APPLIED:
            raise LedgerError(f"action {action_id}: only an applied action can be rolled back; it is {rec.state}")
        inverse = inverse_of(rec, idempotency_key("rollback", action_id))
        born = new_record(
            inverse,
            cycle_id=rec.cycle_id,
            policy="rollback",
            mode=ApprovalMode.AUTO,
            now=self.clock(),
            evidence={"rollback_of": action_id, "before": dict(rec.before), "after": dict(rec.after)},
            expected_impact=f"restores the state before {action_id}",
        )
        born = dataclasses.replace(
            born, mode=ApprovalMode.APPROVE, decided_by=actor, rollback_of=action_id, reason=f"rollback by {actor}"
        )
        self.ledger.record_actions([born])
        done = await self.apply(born.action_id, actor)
        if done.state in (ActionState.APPLIED, ActionState.SKIPPED):
            self.ledger.transition_action(
                action_id,
                [ActionState.APPLIED],
                ActionState.ROLLED_BACK,
                actor=actor,
                at=self.clock(),
                decided_by=actor,
                reason=f"undone by {born.action_id}",
            )
        return done

    def expire(self, now: datetime | None = None, actor: str = "agent") -> list[ActionRecord]:
        """Pending records past their ``expires_at`` become ``expired``: an unanswered proposal goes stale."""
        at = now or self.clock()
        expired = []
        for rec in self.ledger.list_actions(states=[ActionState.PENDING], limit=None):
            if rec.expires_at is not None and rec.expires_at <= at:
                moved = self.ledger.transition_action(
                    rec.action_id, [ActionState.PENDING], ActionState.EXPIRED, actor=actor, at=at
                )
                if moved is not None:
                    expired.append(moved)
        return expired
