"""The creative-testing policy: winners, losers, lag, cooldowns, churn, launches, and well-formed proposals."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adpilot.domain.actions import LaunchAd, Pause, Resume
from adpilot.domain.ids import Level, Platform
from adpilot.domain.snapshot import AdSetView, PastAction, Proposal, Snapshot
from adpilot.domain.status import Status
from adpilot.policies._stats import (
    CandidateChoice,
    CandidatePrior,
    conversions_per_day,
    launch_worth,
    launches_left,
)
from adpilot.policies.creative import CreativeParams, CreativePolicy, _learning_cost, creative_posteriors
from tests.unit.policy_fixtures import (
    AS_OF,
    LAG,
    AdTruth,
    Market,
    ad_set,
    candidate,
    now_for,
    random_snapshots,
    simulated_set,
    snapshot,
)

POLICY = CreativePolicy()


def run(snap: Snapshot, seed: int = 0) -> list[Proposal]:
    return POLICY(snap, np.random.default_rng(seed))


def paused(props: list[Proposal]) -> set[str]:
    return {p.action.target.entity_id for p in props if isinstance(p.action, Pause)}


def clear_winner_set(seed: int) -> AdSetView:
    rng = np.random.default_rng(seed)
    m = Market(n_days=28, impressions_per_day=150_000, ctr_sigma=0.1, cvr_sigma=0.15)
    ads = [AdTruth("Hero", cvr=0.030), AdTruth("Lifestyle", cvr=0.018), AdTruth("Promo", cvr=0.018)]
    return simulated_set(rng, m, ads)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clear_winner_is_found_and_losers_paused(seed: int) -> None:
    s = clear_winner_set(seed)
    snap = snapshot([s])
    post = creative_posteriors(snap, np.random.default_rng(seed))[s.ref]
    hero = s.ads[0].ref
    assert post.winner == hero
    assert post.of(hero).p_best >= 0.95
    props = run(snap, seed)
    assert paused(props) == {"s1-1", "s1-2"}
    assert all(p.action.target != hero for p in props)
    for p in props:
        ev = p.evidence["ad"]
        assert ev["p_best"] < 0.02 and ev["expected_loss"] > 0.1
        # one batch, one reset: the pair's pause is judged as a change of the ad set's active ads
        assert p.evidence["change_gain_probability"] >= 0.9 and p.evidence["change_gain_expected"] > 0.03
        assert "other ad(s) paused in the same change" in p.action.reason
        assert ev["conversions_lag_adjusted"] >= ev["conversions_reported"] > 0
        assert "Hero" in p.action.reason and p.expected_impact
        json.dumps(dict(p.evidence))


def test_a_winner_is_named_among_everything_tested_paused_ads_included() -> None:
    """The agent paused the two losers a week ago; the hero runs alone. The test still weighs the paused
    ads' evidence (the hero is best of the three, not of one), and does not bring them back: the agent
    paused them too recently to resume them."""
    rng = np.random.default_rng(3)
    m = Market(n_days=28, impressions_per_day=150_000, ctr_sigma=0.1, cvr_sigma=0.15)
    ads = [
        AdTruth("Hero", cvr=0.030),
        AdTruth("Lifestyle", cvr=0.018, last=20, status=Status.PAUSED),
        AdTruth("Promo", cvr=0.018, last=20, status=Status.PAUSED),
    ]
    s = simulated_set(rng, m, ads)
    pauses = [PastAction(a.ref, "pause", "creative", now_for(AS_OF) - timedelta(days=7)) for a in s.ads[1:]]
    snap = snapshot([s], applied=pauses)
    post = creative_posteriors(snap, np.random.default_rng(3))[s.ref]
    assert {a.name for a in post.ads} == {"Hero", "Lifestyle", "Promo"}
    assert post.winner == s.ads[0].ref
    assert [a.resumable for a in post.ads] == [True, False, False]
    assert not any(isinstance(p.action, Resume) for p in run(snap, 3))


def test_equal_ads_declare_no_winner_and_rarely_lose_one() -> None:
    """Three equal ads in 16 markets: never a winner; an ad paused (P(best) under 5 % by chance, the gain
    then looking likely) in at most one market in eight, and never two. Such a pause costs a learning reset
    and nothing in expectation; the stricter threshold that avoids it (2 %) cost 4 points of the oracle in
    the creative bake-off and 1.4 in the full stack (8 and 4 seeds)."""
    pausing = 0
    for seed in range(16):
        rng = np.random.default_rng(100 + seed)
        m = Market(n_days=28, impressions_per_day=150_000, ctr_sigma=0.1, cvr_sigma=0.15)
        s = simulated_set(rng, m, [AdTruth(n, cvr=0.024) for n in ("A", "B", "C")])
        snap = snapshot([s])
        assert creative_posteriors(snap, np.random.default_rng(seed))[s.ref].winner is None
        lost = paused(run(snap, seed))
        assert len(lost) <= 1
        pausing += bool(lost)
    assert pausing <= 2


def late_starter(seed: int) -> AdSetView:
    """Three equally good ads; B started eight days ago, so many of its conversions are not reported yet."""
    rng = np.random.default_rng(seed)
    m = Market(n_days=28, impressions_per_day=300_000, ctr_sigma=0.1, cvr_sigma=0.15, completeness=LAG)
    ads = [AdTruth("A", cvr=0.025), AdTruth("B", cvr=0.025, first=20, weight=2.0), AdTruth("C", cvr=0.025)]
    return simulated_set(rng, m, ads)


def test_recent_days_collapse_from_reporting_lag_does_not_pause() -> None:
    """Over 12 markets, B (as good as the others, but young) is rarely paused when the lag is known.

    Lag handling alone is enough (without the shared day effects, which also absorb part of the lag), and
    necessary: the same data read as complete make B look clearly worse.
    """
    lag_only = CreativePolicy(CreativeParams(cvr_common_sigma=0.0))
    aware_default = aware_lag_only = naive = 0
    for seed in range(12):
        s = late_starter(seed)
        aware = snapshot([s], completeness={Platform.META: LAG})
        aware_default += "s1-1" in paused(run(aware, seed))
        aware_lag_only += "s1-1" in paused(lag_only(aware, np.random.default_rng(seed)))
        naive += "s1-1" in paused(lag_only(snapshot([s], completeness={}), np.random.default_rng(seed)))
    assert aware_default <= 2 and aware_lag_only <= 2
    assert naive >= 10


def test_same_seed_same_proposals() -> None:
    s = clear_winner_set(3)
    snap = snapshot([s], candidates=[candidate("k1"), candidate("k2"), candidate("k3")])
    a = run(snap, 42)
    b = run(snap, 42)
    assert a == b and a
    assert creative_posteriors(snap, np.random.default_rng(7)) == creative_posteriors(snap, np.random.default_rng(7))


def test_an_ad_set_changed_lately_is_left_alone() -> None:
    s = clear_winner_set(0)
    recent = PastAction(s.ads[2].ref, "resume", "creative", now_for(AS_OF) - timedelta(days=2))
    assert run(snapshot([s], applied=[recent])) == []
    old = PastAction(s.ads[2].ref, "resume", "creative", now_for(AS_OF) - timedelta(days=10))
    budget = PastAction(s.ref, "set_budget", "budget", now_for(AS_OF) - timedelta(days=1))
    assert paused(run(snapshot([s], applied=[old, budget]))) == {"s1-1", "s1-2"}


def test_winner_gets_one_challenger_from_an_eligible_candidate() -> None:
    s = clear_winner_set(1)
    hero_key = s.ads[0].creative_key
    cands = [
        candidate("tiktok-only", platforms=frozenset({Platform.TIKTOK})),
        candidate(hero_key),  # already live in this ad set
        candidate("child-a", parent=hero_key),
        candidate("child-b", parent=hero_key),
    ]
    props = run(snapshot([s], candidates=cands), 5)
    launches = [p for p in props if isinstance(p.action, LaunchAd)]
    assert len(launches) == 1
    launch = launches[0]
    assert launch.action.target == s.ref
    assert launch.evidence["candidate"]["candidate"] in {"child-a", "child-b"}
    assert launch.action.asset_ids and "winner" in launch.action.reason
    # both pauses ride in the same batch as the launch
    assert paused(props) == {"s1-1", "s1-2"}


def test_no_candidate_no_launch_and_never_below_one_active_ad() -> None:
    s = clear_winner_set(2)
    props = run(snapshot([s], candidates=[candidate("x-only", platforms=frozenset({Platform.X}))]))
    assert not any(isinstance(p.action, LaunchAd) for p in props)
    assert len([a for a in s.ads if a.active]) - len(paused(props)) >= 1


def human_paused_star(seed: int) -> AdSetView:
    rng = np.random.default_rng(seed)
    m = Market(n_days=28, impressions_per_day=150_000, ctr_sigma=0.1, cvr_sigma=0.15)
    ads = [
        AdTruth("Star", cvr=0.040, last=22, status=Status.PAUSED),
        AdTruth("A", cvr=0.022),
        AdTruth("B", cvr=0.022),
    ]
    return simulated_set(rng, m, ads)


def test_a_paused_ad_that_is_plausibly_best_is_resumed_unless_adpilot_paused_it_lately() -> None:
    s = human_paused_star(9)
    props = run(snapshot([s]))
    resumed = [p for p in props if isinstance(p.action, Resume)]
    assert [p.action.target for p in resumed] == [s.ads[0].ref]
    assert resumed[0].evidence["ad"]["p_best"] >= 0.5
    lately = PastAction(s.ads[0].ref, "pause", "fatigue", now_for(AS_OF) - timedelta(days=7))
    assert not any(isinstance(p.action, Resume) for p in run(snapshot([s], applied=[lately])))
    long_ago = PastAction(s.ads[0].ref, "pause", "fatigue", now_for(AS_OF) - timedelta(days=20))
    assert any(isinstance(p.action, Resume) for p in run(snapshot([s], applied=[long_ago])))


def test_posterior_summary_covers_only_active_ad_sets_with_two_ads_in_test() -> None:
    rng = np.random.default_rng(0)
    m = Market(n_days=14)
    one = simulated_set(rng, m, [AdTruth("solo")], set_id="solo")
    off = ad_set(
        "off", [(a.name and AdTruth(a.name), a.history) for a in clear_winner_set(0).ads], status=Status.PAUSED
    )
    two = simulated_set(rng, m, [AdTruth("a"), AdTruth("b")], set_id="two")
    out = creative_posteriors(snapshot([one, off, two]), rng)
    assert set(out) == {two.ref}
    assert sum(a.p_best for a in out[two.ref].ads) == pytest.approx(1.0)


# -- properties --------------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snap=random_snapshots(), seed=st.integers(0, 1000))
def test_proposals_are_well_formed(snap: Snapshot, seed: int) -> None:
    props = CreativePolicy(CreativeParams(draws=500))(snap, np.random.default_rng(seed))
    ads = {a.ref: a for s in snap.ad_sets for a in s.ads}
    sets = {s.ref: s for s in snap.ad_sets}
    keys = [p.action.idempotency_key for p in props]
    assert len(keys) == len(set(keys))
    launches_per_set: dict[object, int] = {}
    for p in props:
        assert p.policy == "creative" and p.action.reason.strip() and p.expected_impact
        json.dumps(dict(p.evidence))
        a = p.action
        if isinstance(a, Pause):
            assert a.target.level is Level.AD and ads[a.target].status is Status.ACTIVE
            # out of contention, or nearly and leaving with a change that pays a learning reset anyway
            assert p.evidence["ad"]["p_best"] < CreativeParams().batch_p_best
        elif isinstance(a, Resume):
            assert a.target.level is Level.AD and ads[a.target].status is Status.PAUSED
        else:
            assert isinstance(a, LaunchAd)
            s = sets[a.target]
            assert s.active
            launches_per_set[a.target] = launches_per_set.get(a.target, 0) + 1
            key = p.evidence["candidate"]["candidate"]
            c = next(c for c in snap.candidates if c.key == key)
            assert s.platform in c.platforms and key not in {x.creative_key for x in s.ads}
    assert all(n == 1 for n in launches_per_set.values())
    for s in snap.ad_sets:
        before = sum(a.active for a in s.ads)
        targets = {p.action.target for p in props}
        after = sum(
            (a.active and a.ref not in targets) or (not a.active and a.ref in targets and a.status is Status.PAUSED)
            for a in s.ads
        )
        if before:
            assert after >= 1, "an ad set was left without an active ad"


def test_a_starved_loser_is_not_worth_a_learning_reset() -> None:
    """The platform already gives C ~2 % of impressions: pausing it gains less than relearning costs."""
    rng = np.random.default_rng(0)
    m = Market(n_days=28, impressions_per_day=150_000, ctr_sigma=0.1, cvr_sigma=0.15)
    ads = [AdTruth("A", cvr=0.03), AdTruth("B", cvr=0.03), AdTruth("C", cvr=0.012, weight=0.05)]
    snap = snapshot([simulated_set(rng, m, ads)])
    assert run(snap) == []
    free_learning = CreativePolicy(CreativeParams(learning_penalty=0.0, min_gain=0.0))
    assert paused(free_learning(snap, np.random.default_rng(0))) == {"s1-2"}


def test_a_lone_ad_gets_a_challenger_once_it_has_a_track_record() -> None:
    rng = np.random.default_rng(1)
    s = simulated_set(rng, Market(n_days=14), [AdTruth("Solo")])
    props = run(snapshot([s], candidates=[candidate("new")]))
    assert [p.action.kind.value for p in props] == ["launch_ad"]
    assert "single ad" in props[0].action.reason
    young = simulated_set(rng, Market(n_days=3), [AdTruth("Solo")])
    assert run(snapshot([young], candidates=[candidate("new")])) == []


def test_no_launch_is_proposed_once_the_weekly_launch_cap_is_used() -> None:
    s = clear_winner_set(1)
    hero_key = s.ads[0].creative_key
    cands = [candidate("child-a", parent=hero_key), candidate("child-b", parent=hero_key)]
    now = now_for(AS_OF)
    two = [PastAction(s.ref, "launch_ad", "creative", now - timedelta(days=d)) for d in (6, 8.5)]
    props = run(snapshot([s], candidates=cands, applied=two[1:]), 5)  # one launch 8.5 days ago: outside the week
    assert any(isinstance(p.action, LaunchAd) for p in props)
    capped = CreativePolicy(CreativeParams(candidates=CandidatePrior(launch_cap=1)))
    props = capped(snapshot([s], candidates=cands, applied=two), np.random.default_rng(5))
    assert not any(isinstance(p.action, LaunchAd) for p in props)
    assert launches_left(snapshot([s], applied=two), s, 2) == 1


def test_a_launch_must_pay_for_its_trial_and_the_reset() -> None:
    rng = np.random.default_rng(0)
    unknown = CandidateChoice(candidate("new"), "no history", 1.0, 1.0, shape=1 / 0.36**2, rate=1 / 0.36**2)
    net_even, p_even = launch_worth(unknown, 1.0, 0.0, rng)
    assert net_even > 0 and 0.4 < p_even < 0.6  # as likely better as worse: the upside is kept, the trial is short
    net_strong, p_strong = launch_worth(unknown, 1.6, 0.0, rng)
    assert net_strong < 0 and p_strong < 0.15  # against a clear winner, a random newcomer rarely pays
    assert launch_worth(unknown, 1.0, 0.2, rng)[0] < net_even - 0.19  # the learning reset is charged in full


def rested_and_runner(
    seed: int,
    n_days: int,
    runner_path: Callable[[int], float] | None = None,
    *,
    rested_ctr: float = 0.012,
    learning: bool = False,
) -> AdSetView:
    """'Rested' ran the first 14 days and was paused; 'Runner' (CTR 1.2 %) has run throughout, its CTR
    following ``runner_path`` (days since its start); ``learning``: the ad set's learning phase."""
    rng = np.random.default_rng(seed)
    m = Market(n_days=n_days, impressions_per_day=150_000, ctr_sigma=0.05, cvr_sigma=0.1)
    ads = [
        AdTruth("Rested", ctr=rested_ctr, last=13, status=Status.PAUSED),
        AdTruth("Runner", ctr=0.012, ctr_path=runner_path),
    ]
    return replace(simulated_set(rng, m, ads), learning=learning)


def test_a_paused_ads_evidence_does_not_fade_while_it_rests() -> None:
    """Idle days add nothing: two and four weeks after its pause, with steady siblings, a paused ad's
    posterior is the same (it used to shrink toward the ad set's mean and widen as it rested)."""
    p = CreativeParams(window_days=60)
    posts = []
    for n_days in (28, 42):
        s = rested_and_runner(4, n_days)
        posts.append(creative_posteriors(snapshot([s]), np.random.default_rng(0), p)[s.ref].ads[0])
    short, long = posts
    assert short.name == long.name == "Rested"
    # the steady sibling's CTR moved by noise only, so little of the rate is discounted for it
    assert 0.95 <= long.rest_factor <= 1.0
    assert long.rate / long.rest_factor == pytest.approx(short.rate, rel=0.02)
    width = [a.rate_high - a.rate_low for a in posts]
    assert width[1] == pytest.approx(width[0], rel=0.05)  # the old reading widened it by a fifth


def test_a_rested_ad_comes_back_when_the_running_one_wears_out() -> None:
    """The running ad's CTR halves every 10 days; the paused one was spared that exposure. Its rate is
    discounted by part of the decline (it may have aged too), and it is still clearly worth resuming."""
    s = rested_and_runner(5, 42, runner_path=lambda t: 0.5 ** (t / 10))
    props = run(snapshot([s]))
    resumed = [p for p in props if isinstance(p.action, Resume)]
    assert [p.action.target for p in resumed] == [s.ads[0].ref]
    factor = resumed[0].evidence["ad"]["rested_rate_factor"]
    assert 0.1 < factor < 0.9  # some of the siblings' decline is charged to the rested ad, not all
    steady = rested_and_runner(5, 42)
    assert not any(isinstance(p.action, Resume) for p in run(snapshot([steady])))


def test_ads_nearly_out_of_contention_leave_with_a_change_that_pays_a_reset() -> None:
    """C is clearly worse and its pause starts a learning reset; B (P(best) ~12 %, still in contention) leaves
    in the same batch rather than start a second reset days later. Where a reset costs nothing (a learning
    penalty of 0), nothing is saved by batching and B stays in the test."""
    rng = np.random.default_rng(0)
    m = Market(n_days=14, impressions_per_day=150_000, ctr_sigma=0.1, cvr_sigma=0.15)
    s = simulated_set(rng, m, [AdTruth("A", cvr=0.030), AdTruth("B", cvr=0.027), AdTruth("C", cvr=0.015)])
    snap = snapshot([s])
    post = creative_posteriors(snap, np.random.default_rng(0))[s.ref]
    assert 0.05 < post.of(s.ads[1].ref).p_best < 0.15
    assert paused(run(snap)) == {"s1-1", "s1-2"}
    unbatched = CreativePolicy(CreativeParams(batch_p_best=0.05))
    assert paused(unbatched(snap, np.random.default_rng(0))) == {"s1-2"}
    free_reset = CreativePolicy(CreativeParams(learning_penalty=0.0))
    assert paused(free_reset(snap, np.random.default_rng(0))) == {"s1-2"}


def test_batch_threshold_is_validated() -> None:
    with pytest.raises(ValueError, match="batch_p_best"):
        CreativeParams(batch_p_best=0.01)


def worn_runner_and_rested(runner_path: Callable[[int], float], *, learning: bool) -> AdSetView:
    """Rested (CTR 1.0 %) beside Runner (1.2 %) for 14 days, then paused; 42 days in all."""
    return rested_and_runner(11, 42, runner_path, rested_ctr=0.010, learning=learning)


def wears_after_pause(t: int) -> float:
    """Runner's CTR: steady while Rested ran, then halving every 14 days."""
    return 1.0 if t <= 13 else 0.5 ** ((t - 13) / 14)


def _trials(s: AdSetView, params: CreativeParams | None = None, draws: int = 200) -> list[int | None]:
    policy = CreativePolicy(params)
    snap = snapshot([s])
    post = creative_posteriors(snap, np.random.default_rng(0), policy.params)[s.ref]
    out = []
    for seed in range(draws):
        trial = policy._rested_trial(snap, s, post, np.random.default_rng(seed))
        out.append(None if trial is None else trial[0])
    return out


def test_a_rested_ad_is_tried_again_when_the_running_one_has_worn_down() -> None:
    """Runner's CTR falls to a quarter over the 4 weeks after Rested's pause: Rested, 0.83x Runner when it
    last ran, now beats it unless nearly all of the fall was the market's (the draw of that share decides:
    a trial in most draws, never in all), and only while the ad set learns anyway."""

    tried = _trials(worn_runner_and_rested(wears_after_pause, learning=True))
    rested = 0  # Rested's index among the posterior's ads
    assert {t for t in tried if t is not None} == {rested}
    assert 0.6 < sum(t is not None for t in tried) / len(tried) < 0.98
    out_of_learning = _trials(worn_runner_and_rested(wears_after_pause, learning=False), draws=50)
    assert all(t is None for t in out_of_learning)  # (index 0 is Rested: `not any(...)` could not fail)
    steady = _trials(worn_runner_and_rested(lambda t: 1.0, learning=True), draws=50)
    assert all(t is None for t in steady)  # nothing wore: the better ad is the one running


class _AllOwnWear:
    """An rng whose one draw says the whole CTR fall was the running ads' own wear."""

    def uniform(self) -> float:
        return 1.0 - 1e-12


def test_a_trial_is_not_held_back_by_the_luckiest_running_ad() -> None:
    """Five running ads with the same truth wear down after Rested's pause; at a few conversions each, the
    raw best of them is luck. The trial compares clicks per impression times each ad's posterior CVR, so
    over 40 markets its estimate of Rested against the best running ad (the draw set to all-own-wear, where
    the truth is known) is within 20 % of the truth on average; on raw conversions per click it was 26 % low."""

    estimates = []
    for seed in range(40):
        m = Market(n_days=42, impressions_per_day=10_000, ctr_sigma=0.05, cvr_sigma=0.1)
        ads = [AdTruth("Rested", last=13, status=Status.PAUSED)]
        ads += [AdTruth(f"Runner {i}", ctr_path=wears_after_pause) for i in range(5)]
        s = replace(simulated_set(np.random.default_rng(seed), m, ads), learning=True)
        snap = snapshot([s])
        policy = CreativePolicy()
        post = creative_posteriors(snap, np.random.default_rng(0), policy.params)[s.ref]
        trial = policy._rested_trial(snap, s, post, _AllOwnWear())  # type: ignore[arg-type]
        assert trial is not None and trial[0] == 0
        estimates.append(trial[1]["relative_rate"])
    truth = 1.0 / float(np.mean([wears_after_pause(t) for t in range(35, 42)]))  # Rested did not wear
    assert 0.8 < float(np.mean(estimates)) / truth < 1.1


def test_a_trial_is_proposed_as_a_resume_with_its_draw_in_the_evidence() -> None:
    """Here the test's own posterior would not bring Rested back (its discount for the fall is too steep):
    every resume is a trial, and none happens with trials switched off."""

    s = worn_runner_and_rested(wears_after_pause, learning=True)
    resumes = [p for seed in range(20) for p in run(snapshot([s]), seed) if isinstance(p.action, Resume)]
    assert 10 <= len(resumes) < 20
    for p in resumes:
        assert p.action.target == s.ads[0].ref
        assert "for a trial" in p.action.reason
        seen = p.evidence["trial"]
        assert 0 <= seen["share_own_wear_drawn"] <= 1 and 0.2 < seen["ctr_level_ratio"] < 0.5
        assert seen["relative_rate"] > 1.0 + CreativeParams().min_gain
        assert p.expected_impact.startswith("A trial") and f"{seen['relative_rate'] - 1:+.0%}" in p.expected_impact
    quiet = CreativePolicy(CreativeParams(rested_trials=False))
    assert not any(
        isinstance(p.action, Resume) for seed in range(20) for p in quiet(snapshot([s]), np.random.default_rng(seed))
    )
    # An ad the agent itself paused 10 days ago stays paused (no pause -> resume churn within 14 days).
    paused_lately = PastAction(s.ads[0].ref, "pause", "creative", now_for(AS_OF) - timedelta(days=10))
    snap = snapshot([s], applied=[paused_lately])
    assert not any(
        isinstance(p.action, Resume) for seed in range(20) for p in POLICY(snap, np.random.default_rng(seed))
    )


@pytest.mark.parametrize("cvr", [0.0036, 0.011])
def test_a_reset_is_costed_at_the_pace_the_ad_set_will_have_while_learning(cvr: float) -> None:
    """Out of learning an ad set converts at its full rate; once reset, at ``1 - penalty`` of it, and that
    pace must reach 50 events in 7 days again. At ~8 a day (56 a week, 45 once penalized) a reset traps it
    and costs the whole penalty; at ~20 a day it costs the days to 50 at the penalized pace. An ad set
    already learning is judged at the pace it has."""
    rng = np.random.default_rng(1)
    m = Market(n_days=21, impressions_per_day=150_000, ctr_sigma=0.03, cvr_sigma=0.05)
    learned = simulated_set(rng, m, [AdTruth("A", ctr=0.012, cvr=cvr)])
    snap = snapshot([learned])
    p = CreativeParams()
    per_day = conversions_per_day(snap, learned)
    paced = per_day * (1 - p.learning_penalty)
    assert per_day * 7 >= p.learning_events  # enough at the full rate either way
    expected = p.learning_penalty if paced * 7 < p.learning_events else p.learning_penalty * (50 / paced) / 14
    assert _learning_cost(snap, learned, p) == pytest.approx(expected)
    assert (expected == p.learning_penalty) == (cvr < 0.005)
    learning = replace(learned, learning=True)
    assert _learning_cost(snapshot([learning]), learning, p) == pytest.approx(p.learning_penalty * (50 / per_day) / 14)
