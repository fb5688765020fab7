"""Changes the agent (or a person) can make, as plain values with an idempotency key and a reason."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.money import Money
from adpilot.domain.status import Status


class ActionKind(StrEnum):
    SET_BUDGET = "set_budget"
    SET_BID = "set_bid"
    PAUSE = "pause"
    RESUME = "resume"
    LAUNCH_AD = "launch_ad"


def idempotency_key(*parts: object) -> str:
    """A stable key from the parts that identify one decision (cycle, kind, target, value).

    Parts are joined by their ``str()`` (stable across processes, unlike many ``repr()``s), so callers
    pass the same kinds of value for the same decision.
    """
    text = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Action:
    target: EntityRef
    reason: str
    idempotency_key: str

    # Which levels an action may target, and how to say so when it does not.
    levels: ClassVar[tuple[Level, ...]] = tuple(Level)
    wrong_level: ClassVar[str] = ""

    def __post_init__(self) -> None:
        if not self.idempotency_key:
            raise ValueError("idempotency_key: must be a non-empty string")
        if not self.reason.strip():
            raise ValueError("reason: every action must say why")
        if self.target.level not in self.levels:
            raise ValueError(f"target: {self.wrong_level}, not {self.target.level}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SetBudget(_Action):
    """Set the daily budget of a campaign or ad set."""

    kind: ActionKind = field(default=ActionKind.SET_BUDGET, init=False)
    new_budget: Money
    levels: ClassVar[tuple[Level, ...]] = (Level.CAMPAIGN, Level.AD_SET)
    wrong_level: ClassVar[str] = "budgets live on campaigns and ad sets"

    def __post_init__(self) -> None:
        super(SetBudget, self).__post_init__()
        if self.new_budget.minor <= 0:
            raise ValueError("new_budget: must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class SetBid(_Action):
    """Set the bid (or cost cap) of an ad set."""

    kind: ActionKind = field(default=ActionKind.SET_BID, init=False)
    new_bid: Money
    levels: ClassVar[tuple[Level, ...]] = (Level.AD_SET,)
    wrong_level: ClassVar[str] = "bids live on ad sets"

    def __post_init__(self) -> None:
        super(SetBid, self).__post_init__()
        if self.new_bid.minor <= 0:
            raise ValueError("new_bid: must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class Pause(_Action):
    kind: ActionKind = field(default=ActionKind.PAUSE, init=False)
    levels: ClassVar[tuple[Level, ...]] = (Level.CAMPAIGN, Level.AD_SET, Level.AD)
    wrong_level: ClassVar[str] = "only campaigns, ad sets and ads are paused and resumed"

    @property
    def new_status(self) -> Status:
        return Status.PAUSED


@dataclass(frozen=True, slots=True, kw_only=True)
class Resume(_Action):
    kind: ActionKind = field(default=ActionKind.RESUME, init=False)
    levels: ClassVar[tuple[Level, ...]] = (Level.CAMPAIGN, Level.AD_SET, Level.AD)
    wrong_level: ClassVar[str] = "only campaigns, ad sets and ads are paused and resumed"

    @property
    def new_status(self) -> Status:
        return Status.ACTIVE


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchAd(_Action):
    """Create an ad in the target ad set from assets (an image or video plus copy)."""

    kind: ActionKind = field(default=ActionKind.LAUNCH_AD, init=False)
    name: str
    asset_ids: tuple[str, ...]
    headline: str = ""
    body: str = ""
    call_to_action: str = ""
    link_url: str = ""
    start_paused: bool = False
    levels: ClassVar[tuple[Level, ...]] = (Level.AD_SET,)
    wrong_level: ClassVar[str] = "ads launch into ad sets"

    def __post_init__(self) -> None:
        super(LaunchAd, self).__post_init__()
        if not self.asset_ids:
            raise ValueError("asset_ids: an ad needs at least one asset")


Action = SetBudget | SetBid | Pause | Resume | LaunchAd


# -- serialization (the ledger stores actions as JSON) -------------------------------------------------


def money_to_dict(money: Money) -> dict[str, object]:
    """Exact money as JSON: integer minor units and the currency, never a float."""
    return {"minor": money.minor, "currency": money.currency}


def money_from_dict(d: Mapping[str, Any]) -> Money:
    minor = d.get("minor")
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise ValueError(f"minor: expected integer minor units, got {minor!r}")
    return Money(str(d.get("currency", "")), minor)


def _ref_to_dict(ref: EntityRef) -> dict[str, str]:
    return {
        "platform": str(ref.platform),
        "account_id": ref.account_id,
        "level": str(ref.level),
        "entity_id": ref.entity_id,
    }


def _ref_from_dict(d: Mapping[str, Any]) -> EntityRef:
    return EntityRef(Platform(d["platform"]), str(d["account_id"]), Level(d["level"]), str(d["entity_id"]))


def action_to_dict(action: Action) -> dict[str, Any]:
    """A JSON-able dict of ``action`` that :func:`action_from_dict` turns back into an equal action."""
    out: dict[str, Any] = {
        "kind": str(action.kind),
        "target": _ref_to_dict(action.target),
        "reason": action.reason,
        "idempotency_key": action.idempotency_key,
    }
    if isinstance(action, SetBudget):
        out["new_budget"] = money_to_dict(action.new_budget)
    elif isinstance(action, SetBid):
        out["new_bid"] = money_to_dict(action.new_bid)
    elif isinstance(action, LaunchAd):
        out |= {
            "name": action.name,
            "asset_ids": list(action.asset_ids),
            "headline": action.headline,
            "body": action.body,
            "call_to_action": action.call_to_action,
            "link_url": action.link_url,
            "start_paused": action.start_paused,
        }
    return out


def action_from_dict(d: Mapping[str, Any]) -> Action:
    """The action :func:`action_to_dict` wrote; a missing or unknown field raises ``ValueError`` naming it."""
    try:
        kind = ActionKind(d["kind"])
        common: dict[str, Any] = {
            "target": _ref_from_dict(d["target"]),
            "reason": str(d["reason"]),
            "idempotency_key": str(d["idempotency_key"]),
        }
        if kind is ActionKind.SET_BUDGET:
            return SetBudget(**common, new_budget=money_from_dict(d["new_budget"]))
        if kind is ActionKind.SET_BID:
            return SetBid(**common, new_bid=money_from_dict(d["new_bid"]))
        if kind is ActionKind.PAUSE:
            return Pause(**common)
        if kind is ActionKind.RESUME:
            return Resume(**common)
        return LaunchAd(
            **common,
            name=str(d["name"]),
            asset_ids=tuple(str(a) for a in d["asset_ids"]),
            headline=str(d.get("headline", "")),
            body=str(d.get("body", "")),
            call_to_action=str(d.get("call_to_action", "")),
            link_url=str(d.get("link_url", "")),
            start_paused=bool(d.get("start_paused", False)),
        )
    except KeyError as exc:
        raise ValueError(f"action: missing field {exc.args[0]!r}") from None
