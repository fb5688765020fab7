"""The platform port's contract: every adapter (Meta, X, TikTok) against the sandbox, exactly."""

from __future__ import annotations

from typing import Any

import pytest

from adpilot.domain import (
    AdAccount,
    DateWindow,
    EntityRef,
    Level,
    Money,
    Pause,
    Platform,
    Resume,
    SetBudget,
    Status,
    idempotency_key,
)
from adpilot.domain.entities import LearningStatus
from adpilot.platforms.errors import AccountFatal
from adpilot.ports.platform import RawPage
from adpilot_sandbox.entities import exponent
from tests.harness import PLATFORMS, Harness

pytestmark = pytest.mark.parametrize("platform", PLATFORMS)


def account_of(h: Harness, platform: Platform) -> AdAccount:
    adapter = h.adapter(platform)
    (acc,) = h.run(adapter.accounts())
    return acc


def truth_by_key(h: Harness, platform: Platform) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["ad_id"], r["date"]): r for r in h.sandbox.market.truth(str(platform))}


def test_accounts_carry_currency_and_time_zone(harness: Harness, platform: Platform) -> None:
    acc = account_of(harness, platform)
    native = next(a for a in harness.sandbox.market.accounts.values() if a.platform == str(platform))
    assert acc.account_id.removeprefix("act_") == native.id
    assert (acc.currency, acc.timezone) == (native.currency, native.timezone)


def test_entities_match_the_platform(harness: Harness, platform: Platform) -> None:
    m = harness.sandbox.market
    acc = account_of(harness, platform)
    pages: list[RawPage] = []
    snap = harness.run(harness.adapter(platform).entities(acc, pages.append))
    native_id = acc.account_id.removeprefix("act_")
    assert {c.campaign_id for c in snap.campaigns} == {c.id for c in m.campaigns_of(str(platform), native_id)}
    assert {s.ad_set_id for s in snap.ad_sets} == {s.id for s in m.ad_sets_of(str(platform), native_id)}
    assert {a.ad_id for a in snap.ads} == {a.id for a in m.ads_of(str(platform), native_id)}
    assert pages and not snap.skipped
    unit_currency = acc.currency
    window = m.spec(str(platform)).learning_window_days
    for s in snap.ad_sets:
        native = m.ad_sets[s.ad_set_id]
        assert s.status is Status.ACTIVE
        if platform is Platform.META:  # only Meta reports the learning phase (learning_stage_info)
            limited = m.day - native.learning_since >= window
            phase = LearningStatus.LIMITED if limited else LearningStatus.LEARNING
            assert s.learning is (phase if native.learning else LearningStatus.LEARNED)
        else:
            assert s.learning is None
        if platform is not Platform.X:  # X keeps budgets on campaigns
            assert s.daily_budget == Money(unit_currency, native.daily_budget_minor)
    if platform is Platform.X:
        for c in snap.campaigns:
            assert c.daily_budget == Money(unit_currency, m.campaigns[c.campaign_id].daily_budget_minor or 0)


def test_insights_equal_the_ground_truth(harness: Harness, platform: Platform) -> None:
    m = harness.sandbox.market
    acc = account_of(harness, platform)
    window = DateWindow(m.date_of(m.day - 20), m.date_of(m.day - 1))
    batch = harness.run(harness.adapter(platform).insights(acc, window, lambda p: None))
    truth = {k: v for k, v in truth_by_key(harness, platform).items() if m.date_of(0) <= m.date_of(m.day - 20)}
    expected = {k: v for k, v in truth.items() if window.start.isoformat() <= k[1] <= window.end.isoformat()}
    got = {(r["ad_id"], r["day"].isoformat()): r for r in batch.table.to_pylist()}
    assert set(got) == set(expected)
    for key, row in got.items():
        t = expected[key]
        assert (row["impressions"], row["clicks"], row["spend_minor"]) == (
            t["impressions"],
            t["clicks"],
            t["spend_minor"],
        )
        assert (int(row["conversions"]), row["conversion_value_minor"]) == (
            t["reported_conversions"],
            t["reported_value_minor"],
        )


def test_writes_apply_and_read_back(harness: Harness, platform: Platform) -> None:
    m = harness.sandbox.market
    adapter = harness.adapter(platform)
    acc = account_of(harness, platform)
    native_id = acc.account_id.removeprefix("act_")
    if platform is Platform.X:
        camp = m.campaigns_of("x", native_id)[0]
        ref = EntityRef(platform, acc.account_id, Level.CAMPAIGN, camp.id)
        old = camp.daily_budget_minor or 0
    else:
        ad_set = m.ad_sets_of(str(platform), native_id)[0]
        ref = EntityRef(platform, acc.account_id, Level.AD_SET, ad_set.id)
        old = ad_set.daily_budget_minor
    new = Money(acc.currency, old + 10 ** exponent(acc.currency) * 5)
    result = harness.run(
        adapter.apply(SetBudget(target=ref, new_budget=new, reason="test", idempotency_key=idempotency_key("t", ref)))
    )
    assert result.applied and result.after["daily_budget"] == new.minor
    state = harness.run(adapter.live_state(ref))
    assert state.daily_budget == new
    ad = m.ads_of(str(platform), native_id)[0]
    ad_ref = EntityRef(platform, acc.account_id, Level.AD, ad.id)
    harness.run(adapter.apply(Pause(target=ad_ref, reason="test", idempotency_key="p1")))
    assert m.ads[ad.id].status == "PAUSED"
    assert harness.run(adapter.live_state(ad_ref)).status is Status.PAUSED
    harness.run(adapter.apply(Resume(target=ad_ref, reason="test", idempotency_key="r1")))
    assert m.ads[ad.id].status == "ACTIVE"
    fields = [(w["id"], w["field"]) for w in m.write_log if w["platform"] == str(platform)]
    assert (ref.entity_id, "daily_budget") in fields and (ad.id, "status") in fields


def test_revoked_token_is_account_fatal(harness: Harness, platform: Platform) -> None:
    harness.sandbox.auth.set_revoked(str(platform), True)
    with pytest.raises(AccountFatal):
        harness.run(harness.adapter(platform).accounts())


def test_faults_do_not_change_the_numbers(harness: Harness, platform: Platform) -> None:
    m = harness.sandbox.market
    acc = account_of(harness, platform)
    window = DateWindow(m.date_of(m.day - 14), m.date_of(m.day - 1))
    clean = harness.run(harness.adapter(platform).insights(acc, window, lambda p: None))
    harness.sandbox.faults.spec(str(platform)).update(
        {"server_error": 0.2, "throttle": 0.2, "truncate": 0.3, "repeat": 0.2, "async_fail": 0.3}
    )
    adapter = harness.adapter(platform)
    faulty = harness.run(adapter.insights(acc, window, lambda p: None))
    assert faulty.table.sort_by([("ad_id", "ascending"), ("day", "ascending")]).equals(
        clean.table.sort_by([("ad_id", "ascending"), ("day", "ascending")])
    )
    assert adapter.stats.retries > 0  # type: ignore[attr-defined]


def test_image_upload(harness: Harness, platform: Platform) -> None:
    from adpilot_sandbox.entities import synthetic_png

    acc = account_of(harness, platform)
    ref = harness.run(harness.adapter(platform).upload_image(acc, synthetic_png("contract"), "contract.png"))
    native_id = acc.account_id.removeprefix("act_")
    assert harness.sandbox.market.image(str(platform), native_id, ref)
