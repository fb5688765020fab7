"""The benchmark's fast path: the in-process sandbox market read and written without HTTP.

``market_inputs`` gives the same ``SnapshotInputs`` that a sync through the real adapters followed by
``inputs_from_warehouse`` gives (the same entities as domain values, the same reported daily rows), and
``MarketAdapter`` applies actions to the market as the adapters' writes would. It exists only because
hundreds of closed-loop runs through HTTP would take hours; ``tests/integration/test_bench_fast_path.py``
shows both paths make identical decisions on a scenario, day after day.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

from adpilot.accounts import normalize_account_id
from adpilot.agent.snapshot import INSIGHT_FIELDS, SnapshotInputs, window_of
from adpilot.domain.actions import Action, LaunchAd, Pause, Resume, SetBid, SetBudget
from adpilot.domain.entities import Ad, AdAccount, AdSet, Campaign, Creative, LearningStatus
from adpilot.domain.fx import FxTable
from adpilot.domain.ids import EntityRef, Level, Platform
from adpilot.domain.money import Money
from adpilot.domain.snapshot import CreativeCandidate, Goal, PastAction
from adpilot.domain.status import Status
from adpilot.platforms.meta.mapping import learning_status
from adpilot.ports.platform import ApplyResult, EntitySnapshot, LiveState
from adpilot_sandbox.meta_objects import learning_stage_info

_STATUS = {
    "ACTIVE": Status.ACTIVE,
    "PAUSED": Status.PAUSED,
    "ARCHIVED": Status.ARCHIVED,
    "DELETED": Status.DELETED,
}


def _status(raw: str) -> Status:
    return _STATUS.get(raw, Status.UNKNOWN)


def _money(minor: int | None, currency: str) -> Money | None:
    return None if not minor else Money(currency, int(minor))


def _our_id(acc: Any) -> str:
    return normalize_account_id(Platform(acc.platform), acc.id)


def _their_id(account_id: str) -> str:
    return account_id.removeprefix("act_")


def _learning(market: Any, ad_set: Any) -> LearningStatus | None:
    """What the platform's adapter reads of an ad set's learning phase: Meta's ``learning_stage_info`` as the
    sandbox serves it, through the Meta mapping; nothing on X and TikTok, which do not report it."""
    return learning_status(learning_stage_info(market, ad_set)) if ad_set.platform == "meta" else None


def _entities(market: Any, account: AdAccount, acc: Any) -> EntitySnapshot:
    """An account's entities as domain values, as the platform adapters map them."""
    p, cur, our_id = account.platform, acc.currency, account.account_id
    campaigns = [
        Campaign(p, our_id, c.id, c.name, _status(c.status), c.status, cur, c.objective,
                 _money(c.daily_budget_minor, cur))
        for c in market.campaigns_of(acc.platform, acc.id)
    ]  # fmt: skip
    ad_sets = [
        AdSet(p, our_id, s.campaign_id, s.id, s.name, _status(s.status), s.status, cur,
              _money(s.daily_budget_minor, cur), _money(s.bid_minor, cur), s.optimization_goal,
              _learning(market, s))
        for s in market.ad_sets_of(acc.platform, acc.id)
    ]  # fmt: skip
    ads = [
        Ad(p, our_id, a.campaign_id, a.ad_set_id, a.id, a.name, _status(a.status), a.status, a.creative_id)
        for a in market.ads_of(acc.platform, acc.id)
    ]
    creatives = [
        Creative(p, our_id, cr.id, cr.name, None, cr.headline, cr.body, cr.cta, cr.link_url)
        for cr in market.creatives_of(acc.platform, acc.id)
    ]
    return EntitySnapshot(account, campaigns, ad_sets, ads, creatives)


def _account(acc: Any) -> AdAccount:
    return AdAccount(Platform(acc.platform), _our_id(acc), acc.name, acc.currency, acc.timezone)


def market_inputs(
    market: Any,
    *,
    fx: FxTable,
    goal: Goal,
    cycle: int = 0,
    applied: Sequence[PastAction] = (),
    candidates: Sequence[CreativeCandidate] = (),
    window_days: int = 60,
) -> SnapshotInputs:
    """Entities and reported daily rows of every account in ``market`` (an ``adpilot_sandbox`` Market)."""
    accounts: list[AdAccount] = []
    campaigns: list[Campaign] = []
    ad_sets: list[AdSet] = []
    ads: list[Ad] = []
    creatives: list[Creative] = []
    cols: dict[str, list[Any]] = {k: [] for k in INSIGHT_FIELDS}
    now = market.now
    for acc in market.accounts.values():
        accounts.append(_account(acc))
    first, last = window_of(now, accounts, window_days)
    for account, acc in zip(accounts, market.accounts.values(), strict=True):
        snap = _entities(market, account, acc)
        campaigns.extend(snap.campaigns)
        ad_sets.extend(snap.ad_sets)
        ads.extend(snap.ads)
        creatives.extend(snap.creatives)
        cur, our_id = acc.currency, account.account_id
        first_day = max(market.day_of(first), 0) if first >= market.date_of(0) else 0
        rep = market.reported(acc.platform, acc.id, first_day, market.day_of(last))
        for i, ad in enumerate(rep["ads"]):
            day = market.date_of(int(rep["day"][i]))
            if not first <= day <= last:
                continue
            cols["platform"].append(acc.platform)
            cols["account_id"].append(our_id)
            cols["ad_id"].append(ad.id)
            cols["day"].append(day)
            cols["impressions"].append(int(rep["impressions"][i]))
            cols["clicks"].append(int(rep["clicks"][i]))
            cols["spend_minor"].append(int(rep["spend"][i]))
            cols["conversions"].append(float(rep["conversions"][i]))
            cols["value_minor"].append(int(rep["value"][i]))
            cols["currency"].append(cur)
    types = {"day": pa.date32(), "conversions": pa.float64()}
    for k in ("impressions", "clicks", "spend_minor", "value_minor"):
        types[k] = pa.int64()
    table = pa.table({k: pa.array(v, type=types.get(k, pa.string())) for k, v in cols.items()})
    return SnapshotInputs(
        now=now,
        accounts=accounts,
        campaigns=campaigns,
        ad_sets=ad_sets,
        ads=ads,
        creatives=creatives,
        insights=table,
        fx=fx,
        goal=goal,
        cycle=cycle,
        applied=applied,
        candidates=candidates,
        window_days=window_days,
    )


class MarketAdapter:
    """Writes straight to the market, with the adapters' semantics (re-read, apply, report before/after)."""

    def __init__(self, market: Any, platform: Platform, asset_bytes: Callable[[str], bytes] | None = None) -> None:
        self.market = market
        self.platform = platform
        self.asset_bytes = asset_bytes

    async def live_state(self, ref: EntityRef) -> LiveState:
        entity = self.market.find(ref.entity_id)
        if entity is None:
            raise LookupError(f"{ref} does not exist")
        currency = self.market.currency_of(entity.platform, entity.account_id)
        return LiveState(
            ref,
            _status(entity.status),
            entity.status,
            _money(getattr(entity, "daily_budget_minor", None), currency),
            _money(getattr(entity, "bid_minor", None), currency),
        )

    @staticmethod
    def _state(s: LiveState) -> dict[str, Any]:
        return {
            "status": s.platform_status,
            "daily_budget": None if s.daily_budget is None else s.daily_budget.minor,
            "bid": None if s.bid is None else s.bid.minor,
        }

    async def apply(self, action: Action) -> ApplyResult:
        m = self.market
        if isinstance(action, LaunchAd):
            image_hash = None
            if action.asset_ids and self.asset_bytes is not None:
                img = m.upload_image(
                    str(self.platform), _their_id(action.target.account_id), self.asset_bytes(action.asset_ids[0]),
                    name=f"{action.name}.png",
                )  # fmt: skip
                image_hash = img.hash
            creative = m.create_creative(
                str(self.platform), _their_id(action.target.account_id), name=action.name, headline=action.headline,
                body=action.body, cta=action.call_to_action, image_hash=image_hash, link_url=action.link_url,
            )  # fmt: skip
            ad = m.create_ad(
                action.target.entity_id, creative.id, name=action.name,
                status="PAUSED" if action.start_paused else "ACTIVE",
            )  # fmt: skip
            ref = EntityRef(self.platform, action.target.account_id, Level.AD, ad.id)
            return ApplyResult(ref, True, {}, {"creative_id": creative.id}, created_id=ad.id)
        before = await self.live_state(action.target)
        if isinstance(action, SetBudget):
            m.set_budget(action.target.entity_id, action.new_budget.minor)
        elif isinstance(action, SetBid):
            m.set_bid(action.target.entity_id, action.new_bid.minor)
        elif isinstance(action, Pause | Resume):
            m.set_status(action.target.entity_id, "PAUSED" if isinstance(action, Pause) else "ACTIVE")
        after = await self.live_state(action.target)
        return ApplyResult(action.target, True, self._state(before), self._state(after))

    async def accounts(self) -> list[AdAccount]:
        return [_account(acc) for acc in self.market.accounts.values() if acc.platform == str(self.platform)]

    async def entities(self, account: AdAccount, sink: Any) -> EntitySnapshot:
        acc = next(a for a in self.market.accounts.values() if _our_id(a) == account.account_id)
        return _entities(self.market, account, acc)

    async def upload_image(self, account: AdAccount, data: bytes, name: str) -> str:
        return str(self.market.upload_image(str(self.platform), _their_id(account.account_id), data, name=name).hash)

    async def aclose(self) -> None:
        return None
