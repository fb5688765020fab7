"""Delivery statuses normalized across platforms, keeping each platform's own value beside."""

from __future__ import annotations

from enum import StrEnum

from adpilot.domain.ids import Platform


class Status(StrEnum):
    """What a person needs to know: is it running, stopped by someone, or stopped by the platform."""

    ACTIVE = "active"
    PAUSED = "paused"
    PENDING = "pending"  # in review, processing, not started yet
    REJECTED = "rejected"  # disapproved by the platform's review
    LIMITED = "limited"  # stopped by the platform: budget, billing, issues, parent paused
    ARCHIVED = "archived"
    DELETED = "deleted"
    DRAFT = "draft"
    UNKNOWN = "unknown"


_META = {
    "ACTIVE": Status.ACTIVE,
    "PAUSED": Status.PAUSED,
    "DELETED": Status.DELETED,
    "ARCHIVED": Status.ARCHIVED,
    "IN_PROCESS": Status.PENDING,
    "PENDING_REVIEW": Status.PENDING,
    "PREAPPROVED": Status.PENDING,
    "WITH_ISSUES": Status.LIMITED,
    "PENDING_BILLING_INFO": Status.LIMITED,
    "CAMPAIGN_PAUSED": Status.LIMITED,
    "ADSET_PAUSED": Status.LIMITED,
    "DISAPPROVED": Status.REJECTED,
}

_X = {
    "ACTIVE": Status.ACTIVE,
    "PAUSED": Status.PAUSED,
    "DRAFT": Status.DRAFT,
    "DELETED": Status.DELETED,  # X marks deletion with `deleted: true`; adapters pass "DELETED"
}

_TIKTOK = {
    "ENABLE": Status.ACTIVE,
    "DISABLE": Status.PAUSED,
    "DELETE": Status.DELETED,
    "FROZEN": Status.LIMITED,
}

# TikTok's read-only secondary_status adds what the platform itself is doing.
_TIKTOK_SECONDARY_SUFFIX = {
    "DELIVERY_OK": Status.ACTIVE,
    "ENABLE": Status.ACTIVE,
    "DISABLE": Status.PAUSED,
    "DELETE": Status.DELETED,
    "AUDIT": Status.PENDING,
    "REAUDIT": Status.PENDING,
    "NOT_START": Status.PENDING,
    "AUDIT_DENY": Status.REJECTED,
    "BUDGET_EXCEED": Status.LIMITED,
    "CAMPAIGN_DISABLE": Status.LIMITED,
    "ADGROUP_DISABLE": Status.LIMITED,
    "TIME_DONE": Status.LIMITED,
}

_BY_PLATFORM = {Platform.META: _META, Platform.X: _X, Platform.TIKTOK: _TIKTOK}


def normalize_status(platform: Platform, raw: str) -> Status:
    """Map a platform's status string to :class:`Status`; unknown values map to ``UNKNOWN``.

    Accepts Meta ``status``/``effective_status``, X ``entity_status``, TikTok ``operation_status``
    and TikTok ``secondary_status`` (``ADGROUP_STATUS_DELIVERY_OK``).
    """
    value = raw.strip().upper()
    found = _BY_PLATFORM[platform].get(value)
    if found is not None:
        return found
    if platform is Platform.TIKTOK and "_STATUS_" in value:
        return _TIKTOK_SECONDARY_SUFFIX.get(value.split("_STATUS_", 1)[1], Status.UNKNOWN)
    return Status.UNKNOWN


def platform_status_for(platform: Platform, status: Status) -> str:
    """The value to write to a platform to reach ``status`` (only ACTIVE and PAUSED are writable)."""
    writable = {
        Platform.META: {Status.ACTIVE: "ACTIVE", Status.PAUSED: "PAUSED"},
        Platform.X: {Status.ACTIVE: "ACTIVE", Status.PAUSED: "PAUSED"},
        Platform.TIKTOK: {Status.ACTIVE: "ENABLE", Status.PAUSED: "DISABLE"},
    }[platform]
    try:
        return writable[status]
    except KeyError:
        raise ValueError(f"status: {status} cannot be written to {platform}") from None
