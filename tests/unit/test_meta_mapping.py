"""Meta's ad-set wire format to the domain: the learning phase (``learning_stage_info``)."""

from __future__ import annotations

from typing import Any

import pytest

from adpilot.domain import AdAccount, Platform
from adpilot.domain.entities import LearningStatus
from adpilot.platforms.meta import mapping
from adpilot.platforms.meta.settings import ADSET_FIELDS

ACC = AdAccount(Platform.META, "act_1", "Shop", "USD", "America/New_York")


def row(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "120210000000007",
        "name": "Broad",
        "campaign_id": "120210000000001",
        "status": "ACTIVE",
        "effective_status": "ACTIVE",
        "daily_budget": "40000",
        "optimization_goal": "OFFSITE_CONVERSIONS",
    }
    return {**base, **over}


def stage(status: Any) -> dict[str, Any]:
    return {"status": status, "conversions": 12, "last_sig_edit_ts": 1777885200, "attribution_windows": ["7d_click"]}


def test_the_ad_set_listing_asks_for_the_learning_stage() -> None:
    assert "learning_stage_info" in ADSET_FIELDS.split(",")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("LEARNING", LearningStatus.LEARNING),
        ("FAIL", LearningStatus.LIMITED),
        ("SUCCESS", LearningStatus.LEARNED),
    ],
)
def test_learning_stage_status_maps_to_the_domain(status: str, expected: LearningStatus) -> None:
    assert mapping.ad_set(row(learning_stage_info=stage(status)), ACC).learning is expected


@pytest.mark.parametrize(
    "info",
    [
        pytest.param(None, id="null"),
        pytest.param(stage("WAITING"), id="unknown status"),
        pytest.param(stage("learning"), id="lower case"),
        pytest.param(stage(3), id="not a string"),
        pytest.param({"conversions": 3}, id="no status"),
        pytest.param("LEARNING", id="not an object"),
        pytest.param([stage("LEARNING")], id="a list"),
    ],
)
def test_anything_else_is_no_learning_status_and_the_ad_set_still_maps(info: Any) -> None:
    mapped = mapping.ad_set(row(learning_stage_info=info), ACC)
    assert mapped.learning is None and mapped.ad_set_id == "120210000000007"


def test_absent_for_paused_ad_sets_is_none() -> None:
    """Graph sends ``learning_stage_info`` for active ad sets only."""
    assert mapping.ad_set(row(status="PAUSED", effective_status="PAUSED"), ACC).learning is None
