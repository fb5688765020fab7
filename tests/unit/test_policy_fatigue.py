"""Fatigue detection: timely retirements of decaying ads, few false alarms, safe refreshes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpilot.domain.actions import LaunchAd, Pause
from adpilot.domain.ids import Level
from adpilot.domain.snapshot import AdSetView, PastAction, Proposal, Snapshot
from adpilot.domain.status import Status
from adpilot.policies.creative import CreativeParams, CreativePolicy
from adpilot.policies.fatigue import FatigueParams, FatiguePolicy
from tests.unit.policy_fixtures import (
    AS_OF,
    AdTruth,
    Market,
    ad_set,
    candidate,
    now_for,
    random_snapshots,
    simulate,
    snapshot,
    truncate,
)

POLICY = FatiguePolicy(FatigueParams(retire_alone=True))  # pauses worn ads itself, as the tests below check
DETECT_AND_REFRESH = FatiguePolicy()  # the default: detects wear and launches refreshes, never pauses
Path = Callable[[int], float]

# CTR multipliers by days since launch, shaped like the reference's fatigue models (market-science §3.1)
FREQUENCY: Path = lambda t: (1 + 0.05 * t) ** -0.45  # noqa: E731  frequency power law, beta 0.45
AGE: Path = lambda t: 0.3 + 0.7 * 2 ** (-t / 14)  # noqa: E731  age decay to a floor, half-life 14 days
FLAT: Path = lambda t: 1.0  # noqa: E731


def crossing(path: Path) -> int:
    """The first day the true CTR is 30 % below its launch value."""
    return next(t for t in range(1000) if path(t) <= 0.7)


def history(seed: int, path: Path, n_days: int, sigma: float) -> list[AdSetView]:
    """One ad set per day (as seen that morning): a decaying ad "F" beside a steady one "G"."""
    rng = np.random.default_rng(seed)
    m = Market(n_days=n_days, impressions_per_day=100_000, ctr_sigma=sigma, cvr_sigma=0.15)
    truths = [AdTruth("F", ctr_path=path), AdTruth("G")]
    series = simulate(rng, m, truths)
    out = []
    for t in range(n_days):
        day = AS_OF - timedelta(days=n_days - 1 - t)
        out.append(ad_set("s1", [(a, truncate(h, day)) for a, h in zip(truths, series, strict=True)]))
    return out


def first_retirement(seed: int, path: Path, n_days: int, sigma: float) -> int | None:
    for t, s in enumerate(history(seed, path, n_days, sigma)):
        day = AS_OF - timedelta(days=n_days - 1 - t)
        props = POLICY(snapshot([s], as_of=day), np.random.default_rng(0))
        if any(isinstance(p.action, Pause) and p.action.target == s.ads[0].ref for p in props):
            return t
    return None


@pytest.mark.parametrize(("path", "sigma"), [(FREQUENCY, 0.1), (AGE, 0.1), (FREQUENCY, 0.15), (AGE, 0.15)])
def test_a_steady_decline_is_retired_within_days_of_crossing_30_percent(path: Path, sigma: float) -> None:
    c = crossing(path)
    delays, at_retirement = [], []
    for seed in range(12):
        t = first_retirement(seed, path, c + 20, sigma)
        assert t is not None, f"seed {seed}: never retired"
        delays.append(t - c)
        at_retirement.append(path(t))
    assert float(np.median(delays)) <= 3.0, delays
    assert max(at_retirement) < 0.9, "retired while still within 10 % of its peak"


def test_a_flat_noisy_ad_is_rarely_retired() -> None:
    alarms = sum(first_retirement(seed, FLAT, 60, 0.15) is not None for seed in range(40))
    assert alarms <= 2, f"{alarms}/40 flat ads retired"


def decayed_set(seed: int, *, alone: bool) -> AdSetView:
    """An ad well past 30 % fatigue (and, unless ``alone``, a healthy sibling)."""
    rng = np.random.default_rng(seed)
    m = Market(n_days=40, impressions_per_day=100_000, ctr_sigma=0.1, cvr_sigma=0.15)
    truths = [AdTruth("Tired", ctr_path=AGE, creative_key="tired")]
    if not alone:
        truths.append(AdTruth("Fresh"))
    return ad_set("s1", list(zip(truths, simulate(rng, m, truths), strict=True)))


def kinds(props: list[Proposal]) -> list[str]:
    return [p.action.kind.value for p in props]


def test_evidence_and_reason_of_a_retirement() -> None:
    s = decayed_set(1, alone=False)
    props = POLICY(snapshot([s]), np.random.default_rng(0))
    assert kinds(props) == ["pause"]
    p = props[0]
    assert p.action.target == s.ads[0].ref and p.policy == "fatigue"
    ev = p.evidence["fatigue"]
    assert ev["metric"] == "ctr" and ev["recent"] < 0.7 * ev["baseline"]
    assert ev["z"] > 2 and ev["days_since_decline_began"] >= 3
    assert "fatigue" in p.action.reason and "Tired" in p.action.reason and p.expected_impact
    json.dumps(dict(p.evidence))


def test_the_last_active_ad_keeps_running_while_its_replacement_launches() -> None:
    s = decayed_set(2, alone=True)
    assert POLICY(snapshot([s]), np.random.default_rng(0)) == []
    cands = [candidate("unrelated"), candidate("child", parent="tired"), candidate("other")]
    props = POLICY(snapshot([s], candidates=cands), np.random.default_rng(0))
    # the new ad may take days to pass review and deliver: the worn one runs until then
    assert kinds(props) == ["launch_ad"]
    launch = props[0]
    assert isinstance(launch.action, LaunchAd) and launch.action.target == s.ref
    assert launch.evidence["candidate"]["candidate"] == "child"  # derived from the fatigued ad
    assert launch.evidence["replaces"] == []
    assert launch.evidence["fatigue"][0]["ad"] == str(s.ads[0].ref)


def test_refresh_falls_back_to_any_eligible_candidate_and_respects_the_launch_cooldown() -> None:
    s = decayed_set(3, alone=False)
    props = POLICY(snapshot([s], candidates=[candidate("c1")]), np.random.default_rng(0))
    assert kinds(props) == ["pause", "launch_ad"]
    launched = PastAction(s.ref, "launch_ad", "fatigue", now_for(AS_OF) - timedelta(days=2))
    props = POLICY(snapshot([s], candidates=[candidate("c1")], applied=[launched]), np.random.default_rng(0))
    assert kinds(props) == ["pause"]  # a sibling stays active, so retiring without a new launch is safe
    alone = decayed_set(3, alone=True)
    launched = PastAction(alone.ref, "launch_ad", "fatigue", now_for(AS_OF) - timedelta(days=2))
    assert POLICY(snapshot([alone], candidates=[candidate("c1")], applied=[launched]), np.random.default_rng(0)) == []


def test_an_ad_the_agent_just_resumed_is_not_judged() -> None:
    s = decayed_set(4, alone=False)
    resumed = PastAction(s.ads[0].ref, "resume", "creative", now_for(AS_OF) - timedelta(days=1))
    assert POLICY(snapshot([s], applied=[resumed]), np.random.default_rng(0)) == []


def cvr_set(seed: int, *, own_drop: float, outage: float) -> AdSetView:
    """Flat CTRs; ad "A"'s CVR falls by ``own_drop`` for its last 10 days; ``outage`` hits every ad's last 3."""
    rng = np.random.default_rng(seed)
    m = Market(n_days=35, impressions_per_day=200_000, ctr_sigma=0.05, cvr_sigma=0.1)
    truths = [AdTruth("A", cvr=0.04), AdTruth("B", cvr=0.04), AdTruth("C", cvr=0.04)]
    series = simulate(rng, m, truths)
    out = []
    for k, h in enumerate(series):
        conv = list(h.conversions)
        for i in range(len(conv)):
            age = len(conv) - 1 - i
            factor = (1 - own_drop if k == 0 and age < 10 else 1.0) * (1 - outage if age < 3 else 1.0)
            conv[i] = float(rng.binomial(int(conv[i]), factor))
        out.append(type(h)(h.days, h.spend, h.impressions, h.clicks, tuple(conv), h.value))
    return ad_set("s1", list(zip(truths, out, strict=True)))


def test_a_relative_cvr_collapse_is_retired_but_a_tracking_outage_is_not() -> None:
    props = POLICY(snapshot([cvr_set(5, own_drop=0.6, outage=0.0)]), np.random.default_rng(0))
    assert kinds(props) == ["pause"] and props[0].evidence["fatigue"]["metric"] == "cvr"
    assert props[0].action.target.entity_id == "s1-0"
    assert POLICY(snapshot([cvr_set(5, own_drop=0.0, outage=0.6)]), np.random.default_rng(0)) == []


def test_paused_ad_sets_and_paused_ads_are_not_touched() -> None:
    s = decayed_set(6, alone=False)
    off = ad_set("s1", [(AdTruth(a.name), a.history) for a in s.ads], status=Status.PAUSED)
    assert POLICY(snapshot([off]), np.random.default_rng(0)) == []
    paused_ad = ad_set(
        "s1",
        [(AdTruth(a.name, status=Status.PAUSED if k == 0 else Status.ACTIVE), a.history) for k, a in enumerate(s.ads)],
    )
    assert POLICY(snapshot([paused_ad]), np.random.default_rng(0)) == []


def test_params_are_validated() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        FatigueParams(drop=0.1, tolerance=0.2)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snap=random_snapshots(), seed=st.integers(0, 1000))
def test_proposals_are_well_formed(snap: Snapshot, seed: int) -> None:
    props = FatiguePolicy(FatigueParams(alpha=0.2, drop=0.15, tolerance=0.05))(snap, np.random.default_rng(seed))
    ads = {a.ref: a for s in snap.ad_sets for a in s.ads}
    keys = [p.action.idempotency_key for p in props]
    assert len(keys) == len(set(keys))
    launched = [p.action.target for p in props if isinstance(p.action, LaunchAd)]
    assert len(launched) == len(set(launched))
    for p in props:
        assert p.policy == "fatigue" and p.action.reason.strip() and p.expected_impact
        json.dumps(dict(p.evidence))
        if isinstance(p.action, Pause):
            assert p.action.target.level is Level.AD and ads[p.action.target].active
        else:
            assert isinstance(p.action, LaunchAd)
    for s in snap.ad_sets:
        retired = {p.action.target for p in props if isinstance(p.action, Pause)}
        left = [a for a in s.ads if a.active and a.ref not in retired]
        if any(a.active for a in s.ads):
            assert left or s.ref in launched, "the last active ad was retired without a replacement"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snap=random_snapshots(), seed=st.integers(0, 1000))
def test_fatigue_and_creative_together_never_empty_an_ad_set_or_launch_twice(snap: Snapshot, seed: int) -> None:
    loose = FatigueParams(alpha=0.2, drop=0.15, tolerance=0.05)  # retires often, to exercise the overlap
    props = FatiguePolicy(loose)(snap, np.random.default_rng(seed)) + CreativePolicy(
        CreativeParams(draws=500), fatigue=loose
    )(snap, np.random.default_rng(seed))
    keys = [p.action.idempotency_key for p in props]
    assert len(keys) == len(set(keys))
    launched = [p.action.target for p in props if isinstance(p.action, LaunchAd)]
    assert len(launched) == len(set(launched))
    targets = {p.action.target for p in props}
    for s in snap.ad_sets:
        left = [a for a in s.ads if (a.active and a.ref not in targets) or (not a.active and a.ref in targets)]
        if any(a.active for a in s.ads):
            assert left or s.ref in launched


def test_creative_leaves_fatigued_ads_to_a_retiring_fatigue_policy() -> None:
    s = decayed_set(7, alone=False)
    cands = [candidate("c1"), candidate("c2")]
    retiring = FatigueParams(retire_alone=True)
    creative = CreativePolicy(fatigue=retiring)(snapshot([s], candidates=cands), np.random.default_rng(0))
    assert creative == []  # the tired ad is fatigue's to retire and refresh
    alone = CreativePolicy(fatigue=None)(snapshot([s], candidates=cands), np.random.default_rng(0))
    assert kinds(alone)[0] == "pause"  # on its own, the creative test would have paused it
    fatigue = POLICY(snapshot([s], candidates=cands), np.random.default_rng(0))
    assert kinds(fatigue) == ["pause", "launch_ad"]


def test_by_default_fatigue_refreshes_and_the_creative_test_decides_what_runs() -> None:
    s = decayed_set(7, alone=False)
    cands = [candidate("c1"), candidate("c2")]
    fatigue = DETECT_AND_REFRESH(snapshot([s], candidates=cands), np.random.default_rng(0))
    assert kinds(fatigue) == ["launch_ad"]  # detected: a refresh, no pause
    assert fatigue[0].evidence["fatigue"][0]["ad"] == str(s.ads[0].ref)
    creative = CreativePolicy()(snapshot([s], candidates=cands), np.random.default_rng(0))
    assert kinds(creative) == ["pause"]  # the worn ad is now the weakest: the test pauses it, and launches nothing
    assert creative[0].action.target == s.ads[0].ref


def test_ads_that_wore_out_alike_keep_running_without_a_replacement() -> None:
    """Retiring one of several equally worn ads only moves traffic to ads just as tired, at a reset's cost."""
    rng = np.random.default_rng(7)
    m = Market(n_days=40, impressions_per_day=100_000, ctr_sigma=0.1, cvr_sigma=0.15)
    truths = [AdTruth(name, ctr_path=AGE, creative_key=name.lower()) for name in ("One", "Two", "Three")]
    s = ad_set("s1", list(zip(truths, simulate(rng, m, truths), strict=True)))
    assert POLICY(snapshot([s]), np.random.default_rng(0)) == []
    refreshed = POLICY(snapshot([s], candidates=[candidate("child", parent="one")]), np.random.default_rng(0))
    assert kinds(refreshed) == ["launch_ad"]  # the replacement comes; the worn ads run until it delivers
