"""Status normalization across Meta, X and TikTok, and the values written back."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adpilot.domain.ids import Platform
from adpilot.domain.status import Status, normalize_status, platform_status_for

META, X, TIKTOK = Platform.META, Platform.X, Platform.TIKTOK


@pytest.mark.parametrize(
    ("platform", "raw", "expected"),
    [
        # Meta status / effective_status
        (META, "ACTIVE", Status.ACTIVE),
        (META, "PAUSED", Status.PAUSED),
        (META, "DELETED", Status.DELETED),
        (META, "ARCHIVED", Status.ARCHIVED),
        (META, "IN_PROCESS", Status.PENDING),
        (META, "PENDING_REVIEW", Status.PENDING),
        (META, "PREAPPROVED", Status.PENDING),
        (META, "WITH_ISSUES", Status.LIMITED),
        (META, "PENDING_BILLING_INFO", Status.LIMITED),
        (META, "CAMPAIGN_PAUSED", Status.LIMITED),
        (META, "ADSET_PAUSED", Status.LIMITED),
        (META, "DISAPPROVED", Status.REJECTED),
        # X entity_status
        (X, "ACTIVE", Status.ACTIVE),
        (X, "PAUSED", Status.PAUSED),
        (X, "DRAFT", Status.DRAFT),
        (X, "DELETED", Status.DELETED),
        # TikTok operation_status
        (TIKTOK, "ENABLE", Status.ACTIVE),
        (TIKTOK, "DISABLE", Status.PAUSED),
        (TIKTOK, "DELETE", Status.DELETED),
        (TIKTOK, "FROZEN", Status.LIMITED),
        # TikTok secondary_status
        (TIKTOK, "ADGROUP_STATUS_DELIVERY_OK", Status.ACTIVE),
        (TIKTOK, "AD_STATUS_DELIVERY_OK", Status.ACTIVE),
        (TIKTOK, "CAMPAIGN_STATUS_ENABLE", Status.ACTIVE),
        (TIKTOK, "CAMPAIGN_STATUS_DISABLE", Status.PAUSED),
        (TIKTOK, "ADGROUP_STATUS_DISABLE", Status.PAUSED),
        (TIKTOK, "CAMPAIGN_STATUS_DELETE", Status.DELETED),
        (TIKTOK, "AD_STATUS_AUDIT", Status.PENDING),
        (TIKTOK, "AD_STATUS_REAUDIT", Status.PENDING),
        (TIKTOK, "ADGROUP_STATUS_NOT_START", Status.PENDING),
        (TIKTOK, "AD_STATUS_AUDIT_DENY", Status.REJECTED),
        (TIKTOK, "CAMPAIGN_STATUS_BUDGET_EXCEED", Status.LIMITED),
        (TIKTOK, "ADGROUP_STATUS_BUDGET_EXCEED", Status.LIMITED),
        (TIKTOK, "ADGROUP_STATUS_CAMPAIGN_DISABLE", Status.LIMITED),
        (TIKTOK, "AD_STATUS_ADGROUP_DISABLE", Status.LIMITED),
        (TIKTOK, "ADGROUP_STATUS_TIME_DONE", Status.LIMITED),
        (TIKTOK, "ADGROUP_STATUS_SOMETHING_NEW", Status.UNKNOWN),
    ],
)
def test_normalize_status(platform: Platform, raw: str, expected: Status) -> None:
    assert normalize_status(platform, raw) is expected


@pytest.mark.parametrize(
    ("platform", "raw"),
    [
        (META, ""),
        (META, "RUNNING"),
        (META, "ENABLE"),  # TikTok's word, not Meta's
        (META, "ADGROUP_STATUS_DELIVERY_OK"),  # secondary statuses are TikTok's only
        (X, "ENABLE"),
        (X, "WITH_ISSUES"),
        (X, "AD_STATUS_AUDIT_DENY"),
        (TIKTOK, "ACTIVE"),
        (TIKTOK, "PAUSED"),
        (TIKTOK, "_STATUS_"),
        (TIKTOK, "GARBAGE"),
    ],
)
def test_unknown_values_map_to_unknown(platform: Platform, raw: str) -> None:
    assert normalize_status(platform, raw) is Status.UNKNOWN


@pytest.mark.parametrize(
    ("platform", "raw", "expected"),
    [
        (META, "active", Status.ACTIVE),
        (META, "Paused", Status.PAUSED),
        (META, "  with_issues  ", Status.LIMITED),
        (X, "draft", Status.DRAFT),
        (X, "\tActive\n", Status.ACTIVE),
        (TIKTOK, "enable", Status.ACTIVE),
        (TIKTOK, "adgroup_status_delivery_ok", Status.ACTIVE),
        (TIKTOK, "Ad_Status_Audit_Deny", Status.REJECTED),
    ],
)
def test_normalize_status_is_case_insensitive_and_strips(platform: Platform, raw: str, expected: Status) -> None:
    assert normalize_status(platform, raw) is expected


@given(platform=st.sampled_from(list(Platform)), raw=st.text(max_size=40))
def test_normalize_status_is_total(platform: Platform, raw: str) -> None:
    assert isinstance(normalize_status(platform, raw), Status)


KNOWN = [
    (META, "PENDING_REVIEW"),
    (META, "CAMPAIGN_PAUSED"),
    (X, "DRAFT"),
    (TIKTOK, "DISABLE"),
    (TIKTOK, "CAMPAIGN_STATUS_BUDGET_EXCEED"),
    (TIKTOK, "AD_STATUS_AUDIT_DENY"),
]


@given(
    known=st.sampled_from(KNOWN),
    flips=st.lists(st.booleans(), min_size=40, max_size=40),
    left=st.sampled_from(["", " ", "\t", "\n "]),
    right=st.sampled_from(["", " ", "\t", " \r\n"]),
)
def test_case_and_padding_do_not_matter(known: tuple[Platform, str], flips: list[bool], left: str, right: str) -> None:
    platform, raw = known
    mixed = "".join(c.lower() if flip else c for c, flip in zip(raw, flips, strict=False))
    assert normalize_status(platform, left + mixed + right) is normalize_status(platform, raw)
    assert normalize_status(platform, raw) is not Status.UNKNOWN


@pytest.mark.parametrize(
    ("platform", "status", "value"),
    [
        (META, Status.ACTIVE, "ACTIVE"),
        (META, Status.PAUSED, "PAUSED"),
        (X, Status.ACTIVE, "ACTIVE"),
        (X, Status.PAUSED, "PAUSED"),
        (TIKTOK, Status.ACTIVE, "ENABLE"),
        (TIKTOK, Status.PAUSED, "DISABLE"),
    ],
)
def test_platform_status_for_round_trips(platform: Platform, status: Status, value: str) -> None:
    assert platform_status_for(platform, status) == value
    assert normalize_status(platform, platform_status_for(platform, status)) is status


@pytest.mark.parametrize("platform", list(Platform))
@pytest.mark.parametrize("status", [s for s in Status if s not in (Status.ACTIVE, Status.PAUSED)])
def test_platform_status_for_refuses_unwritable(platform: Platform, status: Status) -> None:
    with pytest.raises(ValueError, match=f"status: {status} cannot be written to {platform}"):
        platform_status_for(platform, status)


def test_status_values_are_lowercase_strings() -> None:
    assert {str(s) for s in Status} == {
        "active",
        "paused",
        "pending",
        "rejected",
        "limited",
        "archived",
        "deleted",
        "draft",
        "unknown",
    }
