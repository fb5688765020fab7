"""DCO: a factor model of element effects learned from launched combinations ranks the untried ones."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.stats import spearmanr

from adpilot.creative.combinations import (
    Combo,
    ComboResult,
    DcoPrior,
    fit_elements,
    propose_combinations,
    score_untried,
)


@dataclass(frozen=True)
class World:
    """Known element effects on CTR and CVR, a headline × image interaction, binomial traffic."""

    headlines: list[str]
    images: list[str]
    ctas: list[str]
    effects: dict[str, tuple[float, float]]  # element -> (log CTR effect, log CVR effect)
    pair: dict[tuple[str, str], float]  # (headline, image) -> log CTR interaction
    base_ctr: float = 0.015
    base_cvr: float = 0.04

    @staticmethod
    def random(rng: np.random.Generator, sizes: tuple[int, int, int] = (6, 5, 3)) -> World:
        names = [[f"{kind}{j}" for j in range(n)] for kind, n in zip("hia", sizes, strict=True)]
        effects = {e: (float(rng.normal(0, 0.25)), float(rng.normal(0, 0.15))) for e in itertools.chain(*names)}
        pair = {(h, i): float(rng.normal(0, 0.1)) for h in names[0] for i in names[1]}
        return World(names[0], names[1], names[2], effects, pair)

    def universe(self) -> list[Combo]:
        return [Combo(h, i, a) for h in self.headlines for i in self.images for a in self.ctas]

    def rates(self, c: Combo) -> tuple[float, float]:
        parts = (c.headline, c.image, c.call_to_action)
        ctr = self.base_ctr * np.exp(sum(self.effects[e][0] for e in parts) + self.pair[(c.headline, c.image)])
        cvr = self.base_cvr * np.exp(sum(self.effects[e][1] for e in parts))
        return float(ctr), float(cvr)

    def value(self, c: Combo) -> float:
        ctr, cvr = self.rates(c)
        return ctr * cvr

    def run(self, c: Combo, impressions: int, rng: np.random.Generator) -> ComboResult:
        ctr, cvr = self.rates(c)
        clicks = int(rng.binomial(impressions, ctr))
        return ComboResult(c, impressions, clicks, int(rng.binomial(clicks, cvr)))


def observed_world(seed: int, launched: int = 20) -> tuple[World, list[ComboResult]]:
    rng = np.random.default_rng(seed)
    world = World.random(rng)
    universe = world.universe()
    tried = [universe[j] for j in rng.choice(len(universe), launched, replace=False)]
    return world, [world.run(c, 30_000, rng) for c in tried]


def test_posterior_ranks_untried_combinations_by_their_true_quality_over_seeds() -> None:
    correlations, lifts, top_hits = [], [], []
    for seed in range(12):
        world, results = observed_world(seed)
        model = fit_elements(results, headlines=world.headlines, images=world.images, calls_to_action=world.ctas)
        rng = np.random.default_rng(1000 + seed)
        scores = score_untried(model, rng, draws=1000)
        assert len(scores) == len(world.universe()) - len(results)
        truth = np.array([world.value(s.combo) for s in scores])
        correlations.append(spearmanr([s.expected_rate for s in scores], truth).statistic)
        proposals = propose_combinations(model, rng, k=8, draws=1000)  # a slot whose draw favours a live combo
        assert all(p.combo not in model.tried for p in proposals)  # proposes nothing, hence "if proposals"
        if proposals:
            lifts.append(np.mean([world.value(p.combo) for p in proposals]) / truth.mean())
        top_quartile = truth >= np.quantile(truth, 0.75)
        by_ei = [s.combo for s in scores[:5]]  # scores come sorted by expected improvement
        top_hits.append(np.mean([top_quartile[[s.combo for s in scores].index(c)] for c in by_ei]))
    # a model that learned nothing would give correlation ~0, lift ~1 and a top-quartile hit rate ~0.25
    assert np.mean(correlations) > 0.6 and sum(c > 0.4 for c in correlations) >= 10, correlations
    assert len(lifts) >= 9 and np.mean(lifts) > 1.25 and sum(x > 1.0 for x in lifts) >= len(lifts) - 1, lifts
    assert np.mean(top_hits) > 0.6, top_hits


def test_element_effects_are_recovered() -> None:
    world, results = observed_world(7, launched=40)
    model = fit_elements(results)
    effects = {e.element: e for e in model.effects()}
    assert set(effects) == set(world.effects)
    estimated = [effects[e].ctr for e in world.effects]
    true = [world.effects[e][0] for e in world.effects]
    assert spearmanr(estimated, true).statistic > 0.8
    for e in effects.values():
        assert e.ctr_sd > 0 and e.cvr_sd > 0


def test_a_headline_image_interaction_seen_with_one_button_carries_to_the_others() -> None:
    """The pair (h1, i1) clicks far better than its elements predict; its untried variants inherit that."""
    world = World(
        ["h0", "h1", "h2"],
        ["i0", "i1", "i2"],
        ["a0", "a1"],
        dict.fromkeys(["h0", "h1", "h2", "i0", "i1", "i2", "a0", "a1"], (0.0, 0.0)),
        {(h, i): (0.6 if (h, i) == ("h1", "i1") else 0.0) for h in ["h0", "h1", "h2"] for i in ["i0", "i1", "i2"]},
    )
    rng = np.random.default_rng(3)
    launched = [Combo(h, i, "a0") for h in world.headlines for i in world.images] + [Combo("h0", "i0", "a1")]
    model = fit_elements([world.run(c, 200_000, rng) for c in launched])
    scores = {s.combo: s for s in score_untried(model, rng, draws=2000)}
    special = scores[Combo("h1", "i1", "a1")].expected_rate
    others = [s.expected_rate for c, s in scores.items() if c != Combo("h1", "i1", "a1")]
    assert special > 1.3 * max(others)
    assert propose_combinations(model, rng, k=1, rule="expected_improvement")[0].combo == Combo("h1", "i1", "a1")


def test_thompson_stops_proposing_when_the_live_combination_is_clearly_best() -> None:
    effects = {"h0": 0.5, "h1": -0.4, "h2": -0.4, "i0": 0.5, "i1": -0.4, "i2": -0.4, "a0": 0.3, "a1": -0.3}
    world = World(
        ["h0", "h1", "h2"],
        ["i0", "i1", "i2"],
        ["a0", "a1"],
        {e: (v, 0.0) for e, v in effects.items()},
        {(h, i): 0.0 for h in ["h0", "h1", "h2"] for i in ["i0", "i1", "i2"]},
    )
    rng = np.random.default_rng(11)
    universe = world.universe()
    launched = [universe[j] for j in rng.choice(len(universe), 10, replace=False)]
    launched.append(Combo("h0", "i0", "a0"))
    model = fit_elements([world.run(c, 300_000, rng) for c in dict.fromkeys(launched)])
    proposals = propose_combinations(model, rng, k=20)
    assert len(proposals) <= 4  # most draws say the live h0 × i0 × a0 is best: no launch for them
    scores = score_untried(model, rng)
    assert all(s.p_best < 0.2 for s in scores)


def test_without_results_every_combination_is_untried_and_proposals_are_distinct() -> None:
    model = fit_elements([], headlines=["a", "b"], images=["x", "y"], calls_to_action=["SHOP_NOW"])
    proposals = propose_combinations(model, np.random.default_rng(0), k=3)
    assert len(proposals) == 3 and len({p.combo for p in proposals}) == 3
    assert sum(s.p_best for s in score_untried(model, np.random.default_rng(0))) == pytest.approx(1.0)


def test_results_of_one_combination_are_summed_and_unknown_elements_join_the_universe() -> None:
    c = Combo("h", "i", "SHOP_NOW")
    split = fit_elements([ComboResult(c, 1000, 20, 1), ComboResult(c, 3000, 40, 3)], headlines=["h", "g"])
    whole = fit_elements([ComboResult(c, 4000, 60, 4)], headlines=["h", "g"])
    np.testing.assert_allclose(split.ctr.mode, whole.ctr.mode)
    assert split.headlines == ("h", "g") and split.images == ("i",)
    assert split.tried == frozenset({c})


def test_same_generator_same_proposals() -> None:
    _, results = observed_world(2)
    model = fit_elements(results)
    first = propose_combinations(model, np.random.default_rng(5), k=4)
    assert first == propose_combinations(model, np.random.default_rng(5), k=4)


def test_the_prior_scale_follows_the_data() -> None:
    """Elements that barely matter shrink the learned spread; elements that matter a lot widen it."""
    scales = {}
    for spread in (0.02, 0.8):
        rng = np.random.default_rng(1)
        world = World.random(rng)
        world = World(
            world.headlines,
            world.images,
            world.ctas,
            {e: (spread * np.sign(v[0]) * (0.5 + abs(v[0])), 0.0) for e, v in world.effects.items()},
            dict.fromkeys(world.pair, 0.0),
        )
        universe = world.universe()
        launched = [universe[j] for j in rng.choice(len(universe), 40, replace=False)]
        scales[spread] = fit_elements([world.run(c, 100_000, rng) for c in launched]).ctr.scale
    assert scales[0.02] < 1.0 < scales[0.8]


def test_invalid_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        ComboResult(Combo("h", "i", "a"), 10, -1, 0)
    with pytest.raises(ValueError, match="need at least one"):
        fit_elements([], headlines=["h"], images=["i"])
    with pytest.raises(ValueError, match="sum < 1"):
        DcoPrior(interaction_share=0.6, residual_share=0.5)
