"""Rebuilding from the lake: committed TikTok pages back into warehouse writes, without the network."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from adpilot.domain.entities import AdAccount
from adpilot.domain.ids import Platform
from adpilot.domain.metrics import DailyInsight, InsightWindow
from adpilot.platforms.tiktok import mapping
from adpilot.platforms.tiktok import settings as S
from adpilot.ports.insight_batch import InsightBatch
from adpilot.ports.lake import LakeCommit, LakePage, Replay


def _account(commit: LakeCommit) -> AdAccount:
    ctx = commit.context
    return AdAccount(Platform.TIKTOK, commit.account_id, ctx.get("name", ""), ctx["currency"], ctx["timezone"])


def _rows(page: LakePage) -> list[dict[str, Any]]:
    """The rows a page carried: a report CSV (task download) or an envelope with ``data.list``."""
    if isinstance(page.body, str):
        try:
            return mapping.report_csv(page.body, S.REPORT_DIMENSIONS, S.REPORT_METRICS)
        except mapping.ReportFormatError:
            return []  # a layout the adapter did not use either (it fell back to the synchronous report)
    try:
        data = mapping.envelope(page.body)
    except mapping.MappingError:
        return []  # an error answer the client retried past
    listed = data.get("list")
    return [r for r in listed if isinstance(r, dict)] if isinstance(listed, list) else []


def entities(commit: LakeCommit, pages: Sequence[LakePage]) -> Replay:
    account = _account(commit)
    by_stream: dict[str, dict[str, dict[str, Any]]] = {"campaigns": {}, "adgroups": {}, "ads": {}}
    id_field = {"campaigns": "campaign_id", "adgroups": "adgroup_id", "ads": "ad_id"}
    for page in pages:
        if page.key.stream in by_stream:
            for row in _rows(page):
                by_stream[page.key.stream][str(row.get(id_field[page.key.stream]))] = row  # repeats collapse
    found: list[Any] = [account]
    found.extend(mapping.campaign(r, account) for r in by_stream["campaigns"].values())
    found.extend(mapping.ad_set(r, account) for r in by_stream["adgroups"].values())
    for row in by_stream["ads"].values():
        found.extend((mapping.ad(row, account), mapping.creative(row, account)))
    return Replay(entities=found)


def insights(commit: LakeCommit, pages: Sequence[LakePage]) -> Replay:
    account = _account(commit)
    assert commit.window is not None
    rows: dict[tuple[str, date], DailyInsight] = {}
    for page in pages:
        for raw in _rows(page):
            if mapping.report_key(raw) is None:
                continue
            row = mapping.insight(raw, account)
            if row.day in commit.window:
                rows[(row.ad_id, row.day)] = row
    window = InsightWindow(Platform.TIKTOK, commit.account_id, commit.window)
    return Replay(insights=InsightBatch.from_insights(window, list(rows.values())))
