"""Rebuilding from the lake: committed Meta pages back into warehouse writes, without the network."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from adpilot.domain.entities import AdAccount
from adpilot.domain.ids import Platform
from adpilot.domain.metrics import DailyInsight, InsightWindow
from adpilot.platforms.meta import mapping
from adpilot.ports.insight_batch import InsightBatch
from adpilot.ports.lake import LakeCommit, LakePage, Replay

_ENTITY_MAPPERS: dict[str, Callable[[dict[str, Any], AdAccount], Any]] = {
    "campaigns": mapping.campaign,
    "adsets": mapping.ad_set,
    "ads": mapping.ad,
    "adcreatives": mapping.creative,
}


def _account(commit: LakeCommit) -> AdAccount:
    ctx = commit.context
    return AdAccount(Platform.META, commit.account_id, ctx.get("name", ""), ctx["currency"], ctx["timezone"])


def _rows(page: LakePage) -> list[dict[str, Any]]:
    body = page.body
    data = body.get("data") if isinstance(body, dict) else None
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def entities(commit: LakeCommit, pages: Sequence[LakePage]) -> Replay:
    account = _account(commit)
    found: list[Any] = [account]
    for page in pages:
        mapper = _ENTITY_MAPPERS.get(page.key.stream)
        if mapper is not None:
            found.extend(mapper(row, account) for row in _rows(page))
    return Replay(entities=found)


def insights(commit: LakeCommit, pages: Sequence[LakePage]) -> Replay:
    account = _account(commit)
    assert commit.window is not None
    rows: dict[tuple[str, Any], DailyInsight] = {}
    for page in pages:
        for raw in _rows(page):
            row = mapping.insight(raw, account)
            rows[(row.ad_id, row.day)] = row
    window = InsightWindow(Platform.META, commit.account_id, commit.window)
    return Replay(insights=InsightBatch.from_insights(window, list(rows.values())))
