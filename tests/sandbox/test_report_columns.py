"""The report builders' column paths give exactly the rows of the row-by-row computation they replace.

Meta keeps its row loop for overlapping ``time_ranges`` and TikTok for hourly reports; on every other query the
columns must produce the same rows (same fields, same order, same values) and the same totals.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import orjson
import pytest

from adpilot_sandbox import tiktok_reports
from adpilot_sandbox.meta_objects import Graph
from adpilot_sandbox.meta_reports import INSIGHT_FIELDS, Insights, parse_query
from adpilot_sandbox.sandbox import Sandbox
from adpilot_sandbox.scenario import load_scenario
from adpilot_sandbox.tiktok_core import Params

ADPILOT_FIELDS = (
    "account_id,campaign_id,adset_id,ad_id,date_start,date_stop,impressions,clicks,spend,actions,action_values,"
    "account_currency,attribution_setting"
)


@pytest.fixture(scope="module", params=["demo", "delays-shocks"])
def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    return Sandbox(load_scenario(request.param))


def meta_queries(sandbox: Sandbox) -> list[tuple[str, dict[str, Any]]]:
    m = sandbox.market
    acc = next(a for a in m.accounts.values() if a.platform == "meta")
    day = lambda k: m.date_of(m.day - k).isoformat()  # noqa: E731
    span = json.dumps({"since": day(40), "until": day(1)})
    campaign = m.campaigns_of("meta", acc.id)[0].id
    out: list[tuple[str, dict[str, Any]]] = []
    for level in ("ad", "adset", "campaign", "account"):
        for increment in ("1", "7", "monthly", "all_days"):
            for fields in (ADPILOT_FIELDS, ",".join(INSIGHT_FIELDS)):
                params = {"level": level, "time_increment": increment, "fields": fields, "time_range": span,
                          "action_attribution_windows": '["7d_click","1d_view","28d_click","dda"]'}  # fmt: skip
                out.append(("account", params))
    out += [
        ("account", {"level": "ad", "time_increment": "1", "fields": ",".join(INSIGHT_FIELDS), "date_preset": "last_7d",
                     "action_breakdowns": '["action_type","action_target_id","action_destination"]',
                     "default_summary": "true"}),
        ("account", {"level": "campaign", "fields": ",".join(INSIGHT_FIELDS), "date_preset": "last_30d",
                     "filtering": '[{"field":"spend","operator":"GREATER_THAN","value":1000}]',
                     "default_summary": "true"}),
        ("account", {"level": "ad", "time_increment": "3", "fields": ADPILOT_FIELDS, "date_preset": "last_14d",
                     "filtering": orjson.dumps([{"field": "campaign.id", "operator": "IN", "value": [campaign]},
                                                {"field": "clicks", "operator": "LESS_THAN", "value": 50}]).decode()}),
        ("account", {"level": "ad", "fields": ADPILOT_FIELDS, "date_preset": "last_14d", "time_increment": "1",
                     "filtering": '[{"field":"ad.effective_status","operator":"IN","value":["ACTIVE","DELETED"]}]'}),
        ("campaign", {"level": "ad", "time_increment": "1", "fields": ADPILOT_FIELDS, "time_range": span}),
        ("account", {"fields": "spend,impressions", "date_preset": "maximum", "level": "adset"}),
    ]  # fmt: skip
    return out


def test_meta_columns_equal_the_row_loop(sandbox: Sandbox) -> None:
    m = sandbox.market
    acc = next(a for a in m.accounts.values() if a.platform == "meta")
    g = Graph(sandbox)
    insights = Insights(g)
    campaign = m.campaigns_of("meta", acc.id)[0].id
    for scope_kind, params in meta_queries(sandbox):
        scope = (scope_kind, acc.id if scope_kind == "account" else campaign)
        q = parse_query(g, scope_kind, params)
        assert not q.overlapping
        columns = insights.compute(acc, scope, q)
        loop = insights.compute(acc, scope, dataclasses.replace(q, overlapping=True))  # the row loop, one bucket a day
        assert orjson.dumps(columns) == orjson.dumps(loop), params
        assert columns[0] or params.get("filtering"), params  # the queries do return rows


def tiktok_specs(sandbox: Sandbox) -> list[dict[str, Any]]:
    m = sandbox.market
    day = lambda k: m.date_of(m.day - k).isoformat()  # noqa: E731
    base = {"report_type": "BASIC", "service_type": "AUCTION", "start_date": day(29), "end_date": day(1)}
    every = [*tiktok_reports.NUMERIC_METRICS, "currency"]
    ids = {"AUCTION_AD": "ad_id", "AUCTION_ADGROUP": "adgroup_id", "AUCTION_CAMPAIGN": "campaign_id",
           "AUCTION_ADVERTISER": "advertiser_id"}  # fmt: skip
    out = []
    for level, dim in ids.items():
        attributes = [k for k, levels in tiktok_reports.ATTRIBUTES.items() if level in levels]
        for dims in ([dim, "stat_time_day"], [dim], ["stat_time_day"]):
            metrics = every + (attributes if dim in dims else [])
            out.append(
                {**base, "data_level": level, "dimensions": dims, "metrics": metrics, "enable_total_metrics": True}
            )
    out += [
        {**base, "data_level": "AUCTION_AD", "dimensions": ["ad_id", "stat_time_day"], "metrics": every,
         "order_field": "cost_per_conversion", "order_type": "ASC"},
        {**base, "data_level": "AUCTION_AD", "dimensions": ["ad_id", "stat_time_day"], "metrics": ["spend", "ad_name"],
         "filtering": [{"field_name": "ad_status", "filter_type": "IN", "filter_value": '["STATUS_ALL"]'}]},
        {**base, "data_level": "AUCTION_ADGROUP", "dimensions": ["adgroup_id"], "metrics": ["spend"],
         "order_field": "spend"},
    ]  # fmt: skip
    return out


def test_tiktok_columns_equal_the_row_loop(sandbox: Sandbox) -> None:
    m = sandbox.market
    acc = next(a for a in m.accounts.values() if a.platform == "tiktok")
    for raw in tiktok_specs(sandbox):
        spec = tiktok_reports.parse_spec(Params({**raw, "advertiser_id": acc.id}), m)
        columns = tiktok_reports.compute(m, acc, spec)
        assert orjson.dumps(columns) == orjson.dumps(tiktok_reports._compute_rows(m, acc, spec)), raw
        assert columns[0], raw
