"""Rebuilding from the lake: committed X pages back into warehouse writes, without the network.

An entities run holds the account (with its funding instruments), campaign, line item, promoted tweet,
tweet and card pages; an insights run holds the line item and promoted tweet pages that tie promoted
tweets to their parents, plus one stats document per request or job (its ``request.params`` say which
account-local days it covers). Both go through the same pure mapping the live sync uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from adpilot.domain.entities import AdAccount
from adpilot.domain.ids import Platform
from adpilot.domain.metrics import DailyInsight, InsightWindow
from adpilot.platforms.x import mapping
from adpilot.ports.insight_batch import InsightBatch
from adpilot.ports.lake import LakeCommit, LakePage, Replay


def _rows(page: LakePage) -> list[dict[str, Any]]:
    """The objects of a list page (``data: [...]``) or of a single-object page (``data: {...}``)."""
    body = page.body
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict):
        return [data]
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def _by_stream(pages: Sequence[LakePage]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for page in pages:
        out.setdefault(page.key.stream, []).extend(_rows(page))
    return out


def _account(commit: LakeCommit, rows: dict[str, list[dict[str, Any]]]) -> AdAccount:
    """The account as the live sync mapped it when its pages are in the run, else from the commit context."""
    mine = [r for r in rows.get("accounts", []) if str(r.get("id")) == commit.account_id]
    if mine:
        try:
            return mapping.account(mine[-1], rows.get("funding_instruments", []))
        except mapping.MappingError:
            pass
    ctx = commit.context
    return AdAccount(Platform.X, commit.account_id, ctx.get("name", ""), ctx["currency"], ctx["timezone"])


def entities(commit: LakeCommit, pages: Sequence[LakePage]) -> Replay:
    rows = _by_stream(pages)
    account = _account(commit, rows)
    snap = mapping.snapshot(account, rows)
    return Replay(entities=snap.all())


def insights(commit: LakeCommit, pages: Sequence[LakePage]) -> Replay:
    assert commit.window is not None
    rows = _by_stream(pages)
    account = _account(commit, rows)
    parents = mapping.ad_parents(rows.get("line_items", []), rows.get("promoted_tweets", []))
    found: dict[tuple[str, date], DailyInsight] = {}
    for page in pages:
        if page.key.stream != "stats":
            continue
        params = page.request.get("params") if isinstance(page.request, dict) else None
        window = mapping.stats_window(params if isinstance(params, dict) else {}, account.timezone)
        for row in mapping.stats_rows(page.body, account, window, parents):
            found[(row.ad_id, row.day)] = row
    batch_window = InsightWindow(Platform.X, commit.account_id, commit.window)
    return Replay(insights=InsightBatch.from_insights(batch_window, list(found.values())))
