"""``adpilot bench policies``: the closed loop per policy set against the sandbox market, scored on truth.

For each scenario, policy set and seed, a fresh market runs day by day: the agent's full cycle (snapshot,
policies, guardrails, ledger, executor) decides once per simulated morning, then the market delivers the
day. Every policy meets the same noise for the same seed (common random numbers), so differences are the
policies'. Scores come from the market's truth, never from what the agent saw:

- conversions, value and spend actually delivered (reporting currency), CPA and ROAS;
- ``pct_oracle``: noise-free expected conversions (or value) of what happened ÷ the dynamic oracle's;
- ``headroom``: (policy − uniform) ÷ (oracle − uniform), paired by seed;
- ``pct_clairvoyant``: noise-free expected outcome ÷ the clairvoyant reference's, paired by seed
  (``adpilot.bench.clairvoyant``: the truth known, the platforms' mechanics paid; run as policy
  ``clairvoyant``);
- guardrail rejections and learning-phase resets caused by the agent's writes;
- creative scenarios: the day the creative policy first names the truly best creative with ≥ 95 %;
- fatigue: days from a creative's true 30 % CTR drop to its detection, and detections of creatives still
  within 10 % of their fresh CTR (false alarms). For ``adpilot`` detection is the day its fatigue policy
  first flags the creative as worn (what it does next, a refresh and the creative test's pause, is scored
  in the totals); for a baseline, the day it pauses the creative;
- the regime figures: allocation efficiency (the agent's budgets on the true curves with each ad set's
  best creative, vs the oracle), creative efficiency (what the ads and learning phases made of that), days
  after a CPM shift until the allocation is back within 5 % of the oracle's for 3 days, and the budget
  moved off a platform during a tracking outage.

By default the loop reads and writes the market directly (``adpilot.bench.market_feed``); ``--path
adapters`` goes through the real adapters over HTTP (in-process) and the warehouse, ~10x slower. A test
shows both make identical decisions.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np

from adpilot.actions.guardrails import GuardrailConfig
from adpilot.agent.cycle import Agent, AgentConfig, Runtime
from adpilot.agent.snapshot import build_snapshot
from adpilot.bench.clairvoyant import clairvoyant_morning
from adpilot.bench.market_feed import MarketAdapter, market_inputs
from adpilot.domain.fx import FxRate, FxTable
from adpilot.domain.ids import Platform
from adpilot.domain.ledger import ActionState
from adpilot.domain.snapshot import Goal, Objective, PastAction
from adpilot.policies.budget import BudgetParams
from adpilot.policies.registry import Overrides, policy_set
from adpilot.ports.platform import PlatformAdapter

ALL_POLICIES = ("adpilot", "uniform", "seed-rules", "seed-bandit", "thompson")
CLAIRVOYANT = "clairvoyant"  # the reference that knows the truth and pays the mechanics (bench.clairvoyant)


@dataclass(frozen=True)
class RunResult:
    scenario: str
    policy: str
    generation: bool
    seed: int
    days: int
    eval_from: int
    conversions: float
    value: float
    spend: float
    expected: float
    oracle: float
    rejections: int
    applied: int
    learning_resets: int
    winner_day: int | None
    fatigue_delays: tuple[int, ...]
    false_retirements: int
    retirements: int
    failed: int = 0  # actions the executor could not apply
    launches: int = 0  # new ads launched
    allocation: float = 0.0  # the agent's budgets on the true curves with each ad set's best creative
    recovery_days: tuple[int | None, ...] = ()  # per CPM regime shift: days until allocation is back near the oracle
    outage_moved: tuple[float, ...] = ()  # per tracking outage: largest share of total budget moved off its platform

    @property
    def label(self) -> str:
        return f"{self.policy}+generation" if self.generation else self.policy

    @property
    def pct_oracle(self) -> float | None:
        return 100 * self.expected / self.oracle if self.oracle else None

    @property
    def allocation_pct_oracle(self) -> float | None:
        return 100 * self.allocation / self.oracle if self.oracle else None


def _fx(market: Any) -> FxTable:
    sc = market.scenario
    day = market.date_of(0) - timedelta(days=1)
    rates = [FxRate(day, c, sc.reporting_currency, _dec(r)) for c, r in sc.fx_rates.items()]
    return FxTable.build(sc.reporting_currency, rates)


def _dec(x: float) -> Any:
    from decimal import Decimal

    return Decimal(repr(float(x)))


def _goal(market: Any) -> Goal:
    """The owner's goal: the oracle's total budget, and as targets what the history achieved (blended
    CPA and ROAS over the days before the run, attributed), as a marketer would set them."""
    sc = market.scenario
    objective = Objective.VALUE if sc.objective == "value" else Objective.CONVERSIONS
    spend = value = conversions = 0.0
    unit = reporting_per_minor(market)
    for t in range(market.day):
        rec = market.records[t]
        per_minor = unit[: len(rec.spend)]
        spend += float((rec.spend * per_minor).sum())
        value += float((rec.attributed_value * per_minor).sum())
        conversions += float(rec.attributed.sum())
    return Goal(
        objective=objective,
        total_daily_budget=float(market.oracle_budget()),
        target_cpa=spend / conversions if conversions and spend else None,
        target_roas=value / spend if value and spend else None,
    )


def reporting_per_minor(m: Any) -> Any:
    """Per ad slot of market ``m``: reporting-currency major units per minor unit of its account currency."""
    from adpilot.domain.money import currency_exponent

    def one(ad: Any) -> float:
        currency = m.currency_of(ad.platform, ad.account_id)
        return float(m.fx(currency)) / float(10 ** currency_exponent(currency))

    return np.array([one(a) for a in m.slots], dtype=np.float64)


def _best_creative(market: Any, ad_set_id: str) -> str | None:
    ads = [a for a in market.ads.values() if a.ad_set_id == ad_set_id and a.status != "DELETED"]
    if not ads:
        return None
    best = max(ads, key=lambda a: market.creatives[a.creative_id].m_ctr * market.creatives[a.creative_id].m_cvr)
    return str(best.id)


def _generated(m: Any, snapshot: Any, store: dict[str, bytes], seed: int) -> list[Any]:
    """What the agent's generation offers: copy variants of each running ad set's best ad, and the untried
    element combinations the element model proposes from them and the live ads (as in production)."""
    import hashlib

    from adpilot.creative.candidates import SourceAd, best_ad_sources, variant_candidates, with_element_model

    def source_of(view: Any) -> SourceAd:
        ad = m.ads[view.ref.entity_id]
        cr = m.creatives[ad.creative_id]
        image_id = None
        if cr.image_hash:
            data = m.image(ad.platform, ad.account_id, cr.image_hash).data
            image_id = "sha256:" + hashlib.sha256(data).hexdigest()
            store[image_id] = data
        return SourceAd(view.ref.platform, view.creative_key, cr.headline, cr.body, cr.cta, cr.link_url, image_id)

    taken = [(c.headline, c.body) for c in m.creatives.values()]
    variants = variant_candidates(
        best_ad_sources(snapshot, source_of), per_source=2, seed=seed + snapshot.cycle, taken=taken
    )
    return with_element_model(snapshot, variants, source_of, np.random.default_rng([seed, snapshot.cycle]))


def run_one(
    scenario_name: str,
    policy: str,
    seed: int,
    *,
    days: int | None = None,
    eval_from: int | None = None,
    generation: bool = False,
    observe: Callable[[Any, int], None] | None = None,
    overrides: Overrides | None = None,
) -> RunResult:
    """One closed-loop run on the fast path; meant to run in a worker process. ``observe(market, k)``, if
    given, sees the market each run day ``k`` after the agent acted and before the day is delivered
    (``adpilot.bench.trace``). ``overrides``: parameters of the ``adpilot`` set (``registry.parse_overrides``),
    ignored by the other sets."""
    from langgraph.checkpoint.memory import InMemorySaver

    from adpilot.warehouse.duckdb import DuckDBWarehouse
    from adpilot_sandbox.sandbox import Sandbox
    from adpilot_sandbox.scenario import load_scenario

    base = load_scenario(scenario_name)
    scenario = base.model_copy(update={"seed": base.seed + seed})
    sandbox = Sandbox(scenario, rate_limits=False)
    m = sandbox.market
    n_days = days or scenario.benchmark_days or min(scenario.horizon_days, 60)
    first_eval = eval_from or scenario.benchmark_eval_from or 1
    fx, goal = _fx(m), _goal(m)
    with tempfile.TemporaryDirectory(prefix="adpilot-bench-policies-") as tmp:
        wh = DuckDBWarehouse(Path(tmp) / "ledger.duckdb")
        wh.migrate()
        store: dict[str, bytes] = {}
        adapters = {p: MarketAdapter(m, p, asset_bytes=store.__getitem__) for p in Platform}

        def inputs(cycle: int, applied: Sequence[PastAction]) -> Any:
            base = market_inputs(m, fx=fx, goal=goal, cycle=cycle, applied=applied)
            if not generation:
                return base
            return replace(base, candidates=tuple(_generated(m, build_snapshot(base), store, seed)))

        # The executor needs only live_state and apply, which MarketAdapter has.
        runtime = Runtime(
            warehouse=wh,
            inputs=inputs,
            adapter_for=lambda p, _: cast(PlatformAdapter, adapters[p]),
            clock=lambda: m.now,
        )
        guardrails = GuardrailConfig(total_daily_cap=_dec(goal.total_daily_budget or 0) or None)
        config = AgentConfig(
            policies=[]
            if policy == CLAIRVOYANT
            else policy_set(
                policy,
                launch_cap=guardrails.max_launches_per_ad_set_per_week,
                overrides=overrides if policy == "adpilot" else None,
                seed=seed,
                learning_step=guardrails.learning_edit_limit,
                max_change=float(guardrails.max_change),
            ),
            guardrails=guardrails,
            seed=seed,
        )
        agent = Agent(config, runtime, InMemorySaver())
        start = m.day
        resets = 0
        creative_probe = _creative_probe(policy)
        winner_day: int | None = None
        truth_best = {s.id: _best_creative(m, s.id) for s in m.ad_sets.values()}
        drop_day: dict[str, int] = {}
        # ad -> (run day, CTR vs fresh) when first flagged worn (adpilot) or paused (a baseline)
        detected: dict[str, tuple[int, float]] = {}
        for k in range(n_days):
            learning_before = {s.id: (s.learning, s.learning_since) for s in m.ad_sets.values()}
            state_before = {a.id: a.status for a in m.ads.values()}
            if policy == CLAIRVOYANT:
                clairvoyant_morning(m, BudgetParams().max_step)  # the agent's step, under the cap
            else:
                asyncio.run(agent.run(f"run-{k}"))
            resets += sum(
                1
                for s in m.ad_sets.values()
                if s.learning and learning_before.get(s.id, (False, -1)) != (True, s.learning_since)
            )
            if creative_probe is not None and winner_day is None:
                snap = agent.last_snapshot
                if snap is not None:
                    for set_id, ad_id in creative_probe(snap).items():
                        if ad_id is not None and ad_id == truth_best.get(set_id):
                            winner_day = k + 1
            flagged = _worn(agent.last_snapshot) if policy == "adpilot" else set()
            st = m.live_state()
            ctr = m.ad_ctr_today(st, m.day)
            # A creative's peak is its fresh CTR (no exposure, age 0): the fatigue in the sandbox only wears.
            fresh = st["ctr"][st["ad_set_of"]] * st["m_ctr"]
            for i, ad in enumerate(m.slots):
                rel = float(ctr[i] / fresh[i]) if fresh[i] > 0 else 1.0
                if ad.id not in drop_day and rel <= 0.7:
                    drop_day[ad.id] = k
                if ad.id in detected or policy == CLAIRVOYANT:  # it knows the truth: it detects nothing
                    continue
                if policy == "adpilot":  # detection: the day the fatigue policy first flags the ad as worn
                    if ad.id in flagged:
                        detected[ad.id] = (k, rel)
                elif state_before.get(ad.id) == "ACTIVE" and ad.status == "PAUSED":  # a baseline: its pause
                    detected[ad.id] = (k, rel)
            if observe is not None:
                observe(m, k)
            m.advance(1)
        records = wh.list_actions(limit=None)
        # Delay: from the day the true CTR fell 30 % below fresh (or the run's start, if before) to detection;
        # a detection before that day is premature, and "false" while the CTR is within 10 % of fresh.
        delays = tuple(day - drop_day[a] for a, (day, _) in detected.items() if a in drop_day and drop_day[a] <= day)
        false_ret = sum(1 for _, rel in detected.values() if rel > 0.9)
        first, last = start + first_eval - 1, start + n_days - 1
        summary = m.oracle_summary(first, last)
        allocation = [_allocation_value(m, t) for t in range(start, last + 1)]
        conv = value = spend = 0.0
        unit_fx = reporting_per_minor(m)
        for t in range(first, last + 1):
            rec = m.records[t]
            n = len(rec.spend)
            conv += float(rec.conversions.sum())
            value += float((rec.value * unit_fx[:n]).sum())
            spend += float((rec.spend * unit_fx[:n]).sum())
        wh.close()
    return RunResult(
        scenario=scenario_name,
        policy=policy,
        generation=generation,
        seed=seed,
        days=n_days,
        eval_from=first_eval,
        conversions=conv,
        value=value,
        spend=spend,
        expected=float(summary["actual_expected"]),
        oracle=float(summary["oracle_expected"]),
        rejections=sum(1 for r in records if r.state is ActionState.REJECTED),
        applied=sum(1 for r in records if r.state is ActionState.APPLIED),
        learning_resets=resets,
        winner_day=winner_day,
        fatigue_delays=delays,
        false_retirements=false_ret,
        retirements=len(detected),
        failed=sum(1 for r in records if r.state is ActionState.FAILED),
        launches=sum(1 for r in records if r.state is ActionState.APPLIED and r.action.kind == "launch_ad"),
        allocation=sum(allocation[first - start :]),
        recovery_days=_recoveries(m, start, allocation),
        outage_moved=_outage_moves(m, start, last),
    )


RECOVERY_SHARE = 0.95  # "back within 5 % of the oracle"
RECOVERY_HOLD = 3  # ... and staying there for this many days


def _allocation_value(m: Any, t: int) -> float:
    """Expected outcome on day ``t`` of the budgets the agent set, on the true curves, had each ad set run its
    best creative without a learning penalty: the agent's allocation scored apart from its creative choices."""
    o = m.records[t].oracle_inputs
    return float(true_values(m, t, m.records[t].set_budget[: len(o["v"])]).sum())


def true_values(m: Any, t: int, budgets: Any) -> Any:
    """Each ad set's expected outcome on day ``t`` at ``budgets`` (reporting currency, creation order), on
    its true curve with its best creative and no learning penalty."""
    from adpilot_sandbox.oracle import curve_value

    o = m.records[t].oracle_inputs
    return curve_value(np.asarray(budgets, dtype=np.float64), o["v"], o["c"], o["i_max"], o["k"], o["alpha"])


def _recoveries(m: Any, start: int, allocation: Sequence[float]) -> tuple[int | None, ...]:
    """For each CPM regime shift inside the run: days from the shift until the agent's allocation is worth
    ≥ 95 % of the oracle's for 3 days running (None if it never is)."""
    out: list[int | None] = []
    for ev in m.scenario.events:
        if ev.kind != "cpm_shift" or not start <= ev.day < start + len(allocation):
            continue
        share = [allocation[t - start] / m.oracle(t)["expected"] for t in range(ev.day, start + len(allocation))]
        hit = next(
            (d for d in range(len(share) - RECOVERY_HOLD + 1) if min(share[d : d + RECOVERY_HOLD]) >= RECOVERY_SHARE),
            None,
        )
        out.append(hit)
    return tuple(out)


def _platform_budget(m: Any, t: int, on: Any) -> float:
    b = m.records[t].set_budget
    return float(b[on[: len(b)]].sum())


def _outage_moves(m: Any, start: int, last: int) -> tuple[float, ...]:
    """For each tracking outage inside the run: the largest share of the total daily budget taken off the
    outage platform's ad sets, from the day before the outage to a week after it ends (conversions restate)."""
    out: list[float] = []
    for ev in m.scenario.events:
        if ev.kind != "tracking_outage" or not start < ev.day <= last:
            continue
        on = np.array([s.platform == ev.platform for s in m.ad_sets.values()], dtype=bool)
        end = min(last, ev.day + (ev.days or 1) + 6)
        spent = [_platform_budget(m, t, on) for t in range(ev.day - 1, end + 1)]
        moved = max(spent[0] - x for x in spent[1:])
        out.append(max(moved, 0.0) / m.oracle_budget())
    return tuple(out)


def _worn(snapshot: Any) -> set[str]:
    """Ads the agent's fatigue detection flags as worn in ``snapshot`` (ids)."""
    from adpilot.policies.fatigue import FatiguePolicy

    if snapshot is None:
        return set()
    detector = FatiguePolicy()
    return {
        f.ad.ref.entity_id for s in snapshot.ad_sets if s.active for f in detector.findings(snapshot, s) if f.retire
    }


def _creative_probe(policy: str) -> Any:
    """For the agent's own policy: per ad set id, the ad its creative test declares the winner, if any."""
    if policy != "adpilot":
        return None
    from adpilot.policies.creative import creative_posteriors

    def winners(snapshot: Any) -> dict[str, str | None]:
        posts = creative_posteriors(snapshot, np.random.default_rng(0))
        return {ref.entity_id: (p.winner.entity_id if p.winner else None) for ref, p in posts.items()}

    return winners


def _shock_figures(runs: Sequence[RunResult]) -> dict[str, Any]:
    shifts = [d for r in runs for d in r.recovery_days]
    if not shifts and not any(r.outage_moved for r in runs):
        return {}
    recovered = [d for d in shifts if d is not None]
    return {
        "shift_recovery_days_median": float(np.median(recovered)) if recovered else None,
        "shifts_recovered_within_7_days": (sum(1 for d in recovered if d <= 7) / len(shifts)) if shifts else None,
        "outage_budget_moved_pct": mean_ci([100 * x for r in runs for x in r.outage_moved]),
    }


def mean_ci(values: Sequence[float]) -> dict[str, float | None]:
    """Mean and a 95 % t-interval half-width."""
    xs = [v for v in values if v is not None and math.isfinite(v)]
    if not xs:
        return {"mean": None, "ci95": None, "n": 0}
    mean = float(np.mean(xs))
    if len(xs) < 2:
        return {"mean": mean, "ci95": None, "n": len(xs)}
    from scipy import stats

    half = float(stats.t.ppf(0.975, len(xs) - 1) * np.std(xs, ddof=1) / math.sqrt(len(xs)))
    return {"mean": mean, "ci95": half, "n": len(xs)}


def summarize(results: Sequence[RunResult]) -> dict[str, Any]:
    """Per scenario and policy: mean and 95 % CI of every figure; headroom is paired with uniform by seed."""
    out: dict[str, Any] = {}
    by_key: dict[tuple[str, str], list[RunResult]] = {}
    for r in results:
        by_key.setdefault((r.scenario, r.label), []).append(r)
    for (scenario, policy), runs in sorted(by_key.items()):
        uniform = {r.seed: r for r in by_key.get((scenario, "uniform"), [])}
        clairvoyant = {r.seed: r for r in by_key.get((scenario, CLAIRVOYANT), [])}
        headroom = [
            (r.expected - uniform[r.seed].expected) / (r.oracle - uniform[r.seed].expected)
            for r in runs
            if r.seed in uniform and r.oracle - uniform[r.seed].expected > 1e-9
        ]
        delays = [d for r in runs for d in r.fatigue_delays]
        retirements = sum(r.retirements for r in runs)
        out.setdefault(scenario, {})[policy] = {
            "runs": len(runs),
            "days": runs[0].days,
            "eval_from_day": runs[0].eval_from,
            "conversions": mean_ci([r.conversions for r in runs]),
            "conversion_value": mean_ci([r.value for r in runs]),
            "spend": mean_ci([r.spend for r in runs]),
            "cpa": mean_ci([r.spend / r.conversions for r in runs if r.conversions]),
            "roas": mean_ci([r.value / r.spend for r in runs if r.spend]),
            "pct_oracle": mean_ci([r.pct_oracle for r in runs if r.pct_oracle is not None]),
            # paired by seed with the clairvoyant reference, when it ran
            "pct_clairvoyant": mean_ci(
                [
                    100 * r.expected / clairvoyant[r.seed].expected
                    for r in runs
                    if r.seed in clairvoyant and clairvoyant[r.seed].expected > 0
                ]
            ),
            "allocation_pct_oracle": mean_ci(
                [r.allocation_pct_oracle for r in runs if r.allocation_pct_oracle is not None]
            ),
            "creative_efficiency_pct": mean_ci([100 * r.expected / r.allocation for r in runs if r.allocation]),
            "headroom_vs_uniform": mean_ci(headroom) if policy != "uniform" else None,
            "guardrail_rejections": mean_ci([float(r.rejections) for r in runs]),
            "applied_changes": mean_ci([float(r.applied) for r in runs]),
            "failed_changes": mean_ci([float(r.failed) for r in runs]),
            "launches": mean_ci([float(r.launches) for r in runs]),
            "learning_resets": mean_ci([float(r.learning_resets) for r in runs]),
            "days_to_correct_winner": mean_ci([float(r.winner_day) for r in runs if r.winner_day is not None]),
            "runs_with_correct_winner": sum(1 for r in runs if r.winner_day is not None),
            "fatigue_delay_median_days": float(np.median(delays)) if delays else None,
            "fatigue_detections": retirements,
            "false_retirement_rate": (sum(r.false_retirements for r in runs) / retirements) if retirements else None,
            **_shock_figures(runs),
            # per run, by seed: what a paired comparison of two variants needs
            "per_seed": {
                str(r.seed): {
                    "pct_oracle": r.pct_oracle,
                    "allocation_pct_oracle": r.allocation_pct_oracle,
                    "expected": r.expected,
                }
                for r in sorted(runs, key=lambda r: r.seed)
            },
        }
        if policy.endswith("+generation"):
            # Generated ads also raise the oracle (it may pick them), so % of oracle understates what they
            # bring: compare the noise-free expected outcome with the same policy without generation.
            off = {r.seed: r for r in by_key.get((scenario, policy.removesuffix("+generation")), [])}
            gains = [
                100 * (r.expected / off[r.seed].expected - 1) for r in runs if r.seed in off and off[r.seed].expected
            ]
            out[scenario][policy]["gain_vs_no_generation_pct"] = mean_ci(gains)
    return out
