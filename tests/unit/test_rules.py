"""User rules: the YAML edge (every error names its field) and the pure evaluation."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from adpilot.domain.actions import SetBudget
from adpilot.domain.ids import Level, Platform
from adpilot.domain.money import Money
from adpilot.domain.snapshot import AdSetView, PastAction, Proposal
from adpilot.domain.status import Status
from adpilot.policies.rules import (
    AllOf,
    AnyOf,
    Approval,
    Condition,
    Metric,
    Op,
    PauseEntity,
    ResumeEntity,
    Rule,
    RuleLevel,
    RulesPolicy,
    ScaleBudget,
    Schedule,
    Scope,
    SetBudgetTo,
    metric_value,
)
from adpilot.rules_file import RulesFileError, load_rules, parse_rules
from tests.unit.baseline_fixtures import NOW, ad, ad_set, ref, series, snapshot

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "rules.yaml"
RNG = np.random.default_rng(0)


def yaml_rules(body: str) -> str:
    return "rules:\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ") + "\n"


def problems(text: str) -> list[str]:
    with pytest.raises(RulesFileError) as info:
        parse_rules(text, "r.yaml")
    return [str(p) for p in info.value.problems]


def kinds(props: list[Proposal]) -> list[tuple[str, str]]:
    return [(str(p.action.kind), p.action.target.entity_id) for p in props]


# -- parsing -------------------------------------------------------------------------------------------


def test_the_shipped_example_loads() -> None:
    rules = load_rules(EXAMPLE)
    assert [r.name for r in rules] == [
        "pause-costly-ad-sets",
        "scale-cheap-winners",
        "blended-cpa-brake",
        "pause-weak-ads",
    ]
    costly, winners, brake, weak = rules
    assert costly.when == AllOf((Condition(Metric.CPA, Op.GT, 60, 7), Condition(Metric.CLICKS, Op.GE, 200, 7)))
    assert costly.min_spend == 150 and costly.approval is Approval.APPROVE and isinstance(costly.action, PauseEntity)
    assert winners.platforms == {Platform.META, Platform.TIKTOK} and winners.action == ScaleBudget(0.15)
    assert winners.schedule == Schedule(frozenset(range(5)), 9, 17) and winners.approval is Approval.AUTO
    assert brake.scope is Scope.BLENDED and brake.when == Condition(Metric.CPA, Op.GT, 55, 3)
    assert brake.cooldown_hours == 48
    assert weak.level is RuleLevel.AD and weak.name_contains == "promo" and weak.approval is Approval.DRY_RUN
    assert isinstance(weak.when, AnyOf) and isinstance(weak.when.conditions[1], AllOf)


def test_defaults_aliases_and_window_inheritance() -> None:
    (rule,) = parse_rules(
        yaml_rules(
            """
            - name: r
              window_days: 3
              when:
                any:
                  - {metric: roas, op: "<", value: 1.5}
                  - {metric: cpc, op: lte, value: 2, window_days: 14}
              action: {set_budget: 50}
              schedule: {weekdays: [Monday, SAT]}
            """
        )
    )
    assert rule.when == AnyOf((Condition(Metric.ROAS, Op.LT, 1.5, 3), Condition(Metric.CPC, Op.LE, 2, 14)))
    assert rule.platforms == frozenset(Platform) and rule.level is RuleLevel.AD_SET and rule.scope is Scope.EACH
    assert rule.cooldown_hours == 24 and rule.approval is Approval.APPROVE and rule.min_spend is None
    assert rule.action == SetBudgetTo(50) and rule.schedule == Schedule(frozenset({0, 5}), 0, 24)
    assert rule.policy == "rule:r"


KNOWN_METRICS = "spend, impressions, clicks, conversions, value, ctr, cpc, cpm, cvr, cpa, roas"
OK_WHEN = "{metric: cpa, op: gt, value: 5}"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            f"- name: a\n  when: {OK_WHEN}\n  action: pause\n"
            "- name: b\n  when: {all: [{any: [" + OK_WHEN + "]}, {metric: cpaa, op: gt, value: 1}]}\n  action: pause",
            f"rules[1].when.all[1].metric: unknown metric 'cpaa' (known: {KNOWN_METRICS})",
        ),
        (
            "- name: a\n  when: {metric: cpa, op: bigger, value: 5}\n  action: pause",
            "rules[0].when.op: unknown operator 'bigger' "
            "(known: >, >=, <, <=, ==, !=, gt, gte, ge, lt, lte, le, eq, ne)",
        ),
        (
            "- name: a\n  when:\n    metric: cpa\n    op: >\n    value: 5\n  action: pause",
            "rules[0].when.op: empty operator; in YAML write operators as words (gt, gte, lt, lte, eq, ne) "
            "or quote them: op: '>'",
        ),
        (
            "- name: a\n  when: {any: [{metric: cpa, op: gt}]}\n  action: pause",
            "rules[0].when.any[0]: a comparison needs metric, op and value; missing value",
        ),
        (
            "- name: a\n  when: {metric: cpa, op: gt, value: 5, any: [" + OK_WHEN + "]}\n  action: pause",
            "rules[0].when: a condition is one of: a comparison (metric, op, value), all: [...], any: [...]; "
            "got any, metric, op, value",
        ),
        (
            "- name: a\n  when: {all: []}\n  action: pause",
            "rules[0].when.all: List should have at least 1 item after validation, not 0",
        ),
        (
            "- name: a\n  when: {metric: cpa, op: gt, value: .inf}\n  action: pause",
            "rules[0].when.value: Input should be a finite number",
        ),
        (
            "- name: a\n  when: {metric: cpa, op: gt, value: 5, window_days: 0}\n  action: pause",
            "rules[0].when.window_days: Input should be greater than or equal to 1",
        ),
        (
            f"- name: a\n  when: {OK_WHEN}\n  actoin: pause\n  action: pause",
            "rules[0].actoin: unknown field (known: name, description, platforms, level, scope, name_contains, "
            "window_days, when, min_spend, action, cooldown_hours, schedule, approval)",
        ),
        (
            "- name: a\n  when: {metric: cpa, op: gt, value: 5, windw: 3}\n  action: pause",
            "rules[0].when.windw: unknown field (known: metric, op, value, window_days, all, any)",
        ),
        (f"- when: {OK_WHEN}\n  action: pause", "rules[0].name: required"),
        ("- name: a\n  action: pause", "rules[0].when: required"),
        (f"- name: a\n  when: {OK_WHEN}", "rules[0].action: required"),
        (
            f"- name: a\n  when: {OK_WHEN}\n  action: stop",
            "rules[0].action: unknown action 'stop' (known: pause, resume, {scale_budget: FRACTION}, "
            "{set_budget: AMOUNT})",
        ),
        (
            f"- name: a\n  when: {OK_WHEN}\n  action: {{scale_budget: -1}}",
            "rules[0].action: scale_budget: a non-zero fraction above -1 (0.15 = +15 %), got -1",
        ),
        (
            f"- name: a\n  when: {OK_WHEN}\n  action: {{scale_budget: 0}}",
            "rules[0].action: scale_budget: a non-zero fraction above -1 (0.15 = +15 %), got 0",
        ),
        (
            f"- name: a\n  when: {OK_WHEN}\n  action: {{scale_budget: ten}}",
            "rules[0].action: scale_budget: expected a number, got 'ten'",
        ),
        (
            f"- name: a\n  when: {OK_WHEN}\n  action: {{set_budget: -5}}",
            "rules[0].action: set_budget: a positive amount in the reporting currency, got -5",
        ),
        (
            f"- name: a\n  level: ad\n  when: {OK_WHEN}\n  action: {{set_budget: 5}}",
            "rules[0].action: budgets live on ad sets (or their campaigns): use level: ad_set for budget actions",
        ),
        (f"- name: a\n  level: adset\n  when: {OK_WHEN}\n  action: pause", "rules[0].level: Input should be"),
        (f"- name: a\n  scope: all\n  when: {OK_WHEN}\n  action: pause", "rules[0].scope: Input should be"),
        (
            f"- name: a\n  approval: yes\n  when: {OK_WHEN}\n  action: pause",
            "rules[0].approval: Input should be 'auto', 'approve' or 'dry-run'",
        ),
        (
            f"- name: a\n  platforms: [meta, facebook]\n  when: {OK_WHEN}\n  action: pause",
            "rules[0].platforms[1]: Input should be 'meta', 'x' or 'tiktok'",
        ),
        (
            f"- name: a\n  min_spend: -1\n  when: {OK_WHEN}\n  action: pause",
            "rules[0].min_spend: Input should be greater than or equal to 0",
        ),
        (
            f"- name: a\n  cooldown_hours: -1\n  when: {OK_WHEN}\n  action: pause",
            "rules[0].cooldown_hours: Input should be greater than or equal to 0",
        ),
        (
            f"- name: a\n  schedule: {{weekdays: [mon, funday]}}\n  when: {OK_WHEN}\n  action: pause",
            "rules[0].schedule.weekdays: unknown weekday 'funday' (known: mon, tue, wed, thu, fri, sat, sun)",
        ),
        (
            f"- name: a\n  schedule: {{hours: [9, 25]}}\n  when: {OK_WHEN}\n  action: pause",
            "rules[0].schedule.hours: [start, end): start in 0..23, end in 1..24, not equal; got [9, 25]",
        ),
        (
            f"- name: a/b\n  when: {OK_WHEN}\n  action: pause",
            "rules[0].name: 'a/b': up to 80 letters, digits, spaces, '_', '-' or '.', starting with a letter or digit",
        ),
        (
            f"- name: a\n  when: {OK_WHEN}\n  action: pause\n- name: a\n  when: {OK_WHEN}\n  action: resume",
            "rules[1].name: duplicate rule name 'a' (also rules[0])",
        ),
    ],
)
def test_every_error_names_its_field(body: str, expected: str) -> None:
    found = problems("rules:\n" + textwrap.indent(body, "  ") + "\n")
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "(file): empty; expected a mapping with 'rules:'"),
        ("- name: a\n", "(file): Input should be a valid dictionary"),
        ("rules: []\n", "rules: List should have at least 1 item after validation, not 0"),
        ("version: 2\nrules: []\n", "version: Input should be 1"),
        ("rule: []\n", "rule: unknown field (known: version, rules)"),
        (
            "rules:\n  - name: a\n    when: {metric: cpa, op: >=, value: 5}\n    action: pause\n",
            "line 3, column 29: not valid YAML: found character '>' that cannot start any token (in YAML write "
            "operators as words",
        ),
    ],
)
def test_file_level_errors(text: str, expected: str) -> None:
    found = problems(text)
    assert any(p.startswith(expected) for p in found), found


def test_all_problems_are_reported_at_once_and_files_are_read(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(yaml_rules("- name: a\n  when: {metric: cpaa, op: gt, value: 1}\n  action: stop"))
    with pytest.raises(RulesFileError) as info:
        load_rules(bad)
    assert [p.path for p in info.value.problems] == ["rules[0].when.metric", "rules[0].action"]
    assert str(bad) in str(info.value)
    with pytest.raises(RulesFileError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")


# -- metrics -------------------------------------------------------------------------------------------


def test_derived_metrics_and_division_by_zero() -> None:
    t = {"spend": 200.0, "impressions": 40_000.0, "clicks": 400.0, "conversions": 8.0, "value": 600.0}
    assert {m: metric_value(m, t) for m in Metric} == {
        Metric.SPEND: 200.0,
        Metric.IMPRESSIONS: 40_000.0,
        Metric.CLICKS: 400.0,
        Metric.CONVERSIONS: 8.0,
        Metric.VALUE: 600.0,
        Metric.CTR: 0.01,
        Metric.CPC: 0.5,
        Metric.CPM: 5.0,
        Metric.CVR: 0.02,
        Metric.CPA: 25.0,
        Metric.ROAS: 3.0,
    }
    spent = {**t, "conversions": 0.0}
    assert metric_value(Metric.CPA, spent) == float("inf")
    nothing = dict.fromkeys(t, 0.0)
    assert all(metric_value(m, nothing) is None for m in (Metric.CTR, Metric.CPC, Metric.CPM, Metric.CPA))
    assert metric_value(Metric.SPEND, nothing) == 0.0


def rule(when: Condition | AllOf | AnyOf, **kw: object) -> Rule:
    return Rule(name=str(kw.pop("name", "r")), when=when, action=kw.pop("action", PauseEntity()), **kw)  # type: ignore[arg-type]


def fired(r: Rule, *sets: object, **snap_kw: object) -> list[str]:
    props = RulesPolicy([r])(snapshot(*sets, **snap_kw), RNG)  # type: ignore[arg-type]
    return [p.action.target.entity_id for p in props]


CPA = Metric.CPA


def test_cpa_is_a_ratio_of_sums_not_a_mean_of_daily_cpas() -> None:
    # daily CPAs 10 and 100 (mean 55); over the window 1010 / 11 = 91.8.
    s = ad_set("s", history=series(2, spend=[10.0, 1000.0], conversions=[1.0, 10.0]))
    assert fired(rule(Condition(CPA, Op.GT, 80, 2)), s) == ["s"]
    assert fired(rule(Condition(CPA, Op.LT, 60, 2)), s) == []


def test_windows_end_at_as_of_and_reach_back_window_days() -> None:
    s = ad_set("s", history=series(10, spend=[1000.0] * 7 + [10.0] * 3, conversions=1))
    assert fired(rule(Condition(CPA, Op.LT, 11, 3)), s) == ["s"]
    assert fired(rule(Condition(CPA, Op.LT, 11, 4)), s) == []


@pytest.mark.parametrize(
    ("spend", "conv", "op", "value", "fires"),
    [
        (100, 0, Op.GT, 60, True),  # spend without conversions: CPA = inf
        (100, 0, Op.LT, 60, False),
        (100, 0, Op.NE, 60, True),
        (0, 0, Op.GT, 0, False),  # no data: undefined, no comparison holds
        (0, 0, Op.LT, 1e9, False),
        (0, 0, Op.NE, 5, False),
    ],
)
def test_zero_division_in_conditions(spend: float, conv: float, op: Op, value: float, fires: bool) -> None:
    s = ad_set("s", history=series(7, spend=spend, conversions=conv))
    assert fired(rule(Condition(CPA, op, value)), s) == (["s"] if fires else [])


def test_all_and_any_nest() -> None:
    s = ad_set("s", history=series(7, spend=100, clicks=50, conversions=1))  # 7d: CPA 100, CPC 2, CVR 2 %
    high_cpa = Condition(CPA, Op.GT, 90)
    cheap_click = Condition(Metric.CPC, Op.LT, 1)
    good_cvr = Condition(Metric.CVR, Op.GE, 0.02)
    assert fired(rule(AllOf((high_cpa, good_cvr))), s) == ["s"]
    assert fired(rule(AllOf((high_cpa, cheap_click))), s) == []
    assert fired(rule(AnyOf((cheap_click, high_cpa))), s) == ["s"]
    assert fired(rule(AnyOf((cheap_click, AllOf((high_cpa, Condition(Metric.SPEND, Op.LT, 500)))))), s) == []
    assert fired(rule(AnyOf((cheap_click, AllOf((high_cpa, Condition(Metric.SPEND, Op.GE, 700)))))), s) == ["s"]


def test_min_spend_keeps_a_rule_quiet_on_little_data() -> None:
    s = ad_set("s", history=series(14, spend=10, conversions=0))  # CPA inf
    r = rule(AllOf((Condition(CPA, Op.GT, 50, 3), Condition(Metric.CLICKS, Op.GE, 0, 14))), min_spend=141)
    assert fired(r, s) == []  # 14 days (the longest window): 140 spent
    assert fired(rule(r.when, min_spend=140), s) == ["s"]


def test_each_scope_acts_only_where_it_changes_something() -> None:
    hist = series(7, spend=100, conversions=1)
    sets = [ad_set("on", history=hist), ad_set("off", history=hist, status=Status.PAUSED)]
    when = Condition(CPA, Op.GT, 50)
    assert fired(rule(when), *sets) == ["on"]
    assert fired(rule(when, action=ResumeEntity()), *sets) == ["off"]


def test_ad_level_with_name_filter_and_platforms() -> None:
    bad = series(7, spend=100, impressions=10_000, clicks=10)
    sets = [
        ad_set("m", ads=[ad("m1", name="Promo spring", history=bad), ad("m2", name="Evergreen", history=bad)]),
        ad_set(
            "x",
            platform=Platform.X,
            ads=[ad("x1", platform=Platform.X, name="PROMO summer", history=bad)],
        ),
    ]
    when = Condition(Metric.CTR, Op.LT, 0.002)
    r = rule(when, level=RuleLevel.AD, name_contains="promo")
    assert fired(r, *sets) == ["m1", "x1"]
    assert fired(rule(when, level=RuleLevel.AD, name_contains="promo", platforms=frozenset({Platform.X})), *sets) == [
        "x1"
    ]


def blended_sets(x_conversions: float) -> list[AdSetView]:
    return [
        ad_set("m", platform=Platform.META, history=series(3, spend=100 / 3, conversions=1)),  # CPA 33
        ad_set("x", platform=Platform.X, history=series(3, spend=100 / 3, conversions=x_conversions / 3)),
        ad_set(
            "t",
            platform=Platform.TIKTOK,
            currency="EUR",
            fx_rate=1.08,
            history=series(3, spend=100 / 3, conversions=2 / 3),
        ),
    ]


def test_blended_scope_sums_every_matched_ad_set_across_platforms() -> None:
    r = rule(Condition(CPA, Op.GT, 50, 3), scope=Scope.BLENDED)
    assert fired(r, *blended_sets(1.0)) == []  # 300 / 6 = 50: not above
    assert fired(r, *blended_sets(0.5)) == ["m", "x", "t"]  # 300 / 5.5 = 54.5: every matched ad set
    # Each ad set alone: only x (CPA 200) is above 50.
    assert fired(rule(Condition(CPA, Op.GT, 50, 3)), *blended_sets(0.5)) == ["x"]
    # Meta + TikTok only: 200 / 5 = 40.
    meta_tiktok = rule(
        Condition(CPA, Op.GT, 50, 3), scope=Scope.BLENDED, platforms=frozenset({Platform.META, Platform.TIKTOK})
    )
    assert fired(meta_tiktok, *blended_sets(0.5)) == []
    props = RulesPolicy([r])(snapshot(*blended_sets(0.5)), RNG)  # type: ignore[arg-type]
    ev = props[0].evidence
    assert ev["entities"] == 3 and ev["platforms"] == ["meta", "tiktok", "x"]
    assert ev["figures"]["cpa_3d"] == pytest.approx(300 / 5.5, rel=1e-6)
    assert "blended over 3 ad_sets on meta+tiktok+x" in props[0].action.reason


def test_budget_actions_target_the_holder_once_and_are_not_clamped() -> None:
    hist = series(7, spend=10, conversions=1)
    sets = [
        ad_set("s1", budget=200, campaign_budget="cbo", history=hist),
        ad_set("s2", budget=200, campaign_budget="cbo", history=hist),
        ad_set("eur", budget=100, currency="EUR", fx_rate=1.08, history=hist),
        ad_set("off", status=Status.PAUSED, history=hist),
    ]
    when = Condition(CPA, Op.LT, 20)

    def new_budgets(action: object) -> dict[str, Money]:
        props = RulesPolicy([rule(when, action=action)])(snapshot(*sets), RNG)  # type: ignore[arg-type]
        return {p.action.target.entity_id: p.action.new_budget for p in props if isinstance(p.action, SetBudget)}

    assert new_budgets(ScaleBudget(0.5)) == {
        "cbo": Money.of_major("300", "USD"),
        "eur": Money.of_major("150", "EUR"),
    }
    assert new_budgets(ScaleBudget(-0.2)) == {
        "cbo": Money.of_major("160", "USD"),
        "eur": Money.of_major("80", "EUR"),
    }
    assert new_budgets(SetBudgetTo(100)) == {"cbo": Money.of_major("100", "USD"), "eur": Money.of_major("92.59", "EUR")}
    first = RulesPolicy([rule(when, action=SetBudgetTo(100))])(snapshot(*sets), RNG)[0]
    assert first.action.target.level is Level.CAMPAIGN
    assert first.evidence["budget_before"] == "200.00 USD" and first.evidence["budget_after"] == "100.00 USD"


def test_cooldown_is_per_rule_and_per_target() -> None:
    s = ad_set("s", history=series(7, spend=100, conversions=1))
    when = Condition(CPA, Op.GT, 50)
    target = s.ref
    recent = NOW - timedelta(hours=5)
    assert fired(rule(when), s, applied=[PastAction(target, "pause", "rule:r", recent)]) == []
    assert fired(rule(when), s, applied=[PastAction(target, "pause", "rule:other", recent)]) == ["s"]
    assert fired(rule(when), s, applied=[PastAction(ref(Platform.META, Level.AD_SET, "z"), "pause", "rule:r", recent)])
    assert fired(rule(when, cooldown_hours=4), s, applied=[PastAction(target, "pause", "rule:r", recent)]) == ["s"]
    # Budget actions cool down on the holder they changed.
    cbo = ad_set("c1", campaign_budget="cbo", history=series(7, spend=100, conversions=1))
    hold = PastAction(cbo.budget_holder, "set_budget", "rule:r", recent)
    assert fired(rule(when, action=ScaleBudget(-0.1)), cbo, applied=[hold]) == []


@pytest.mark.parametrize(
    ("schedule", "at", "fires"),
    [
        (Schedule(frozenset({2}), 9, 17), NOW, True),  # Wednesday 10:30
        (Schedule(frozenset({2}), 9, 10), NOW, False),
        (Schedule(frozenset({3}), 0, 24), NOW, False),
        (Schedule(frozenset({1}), 22, 11), NOW, True),  # Tuesday's night window runs to Wednesday 11:00
        (Schedule(frozenset({2}), 22, 11), NOW, False),
        (Schedule(frozenset({2}), 22, 11), NOW.replace(hour=23), True),
        (Schedule(frozenset(range(7)), 10, 11), NOW.astimezone(NOW.tzinfo), True),
    ],
)
def test_schedule_in_the_snapshot_time_zone(schedule: Schedule, at: datetime, fires: bool) -> None:
    s = ad_set("s", history=series(7, spend=100, conversions=1))
    assert fired(rule(Condition(CPA, Op.GT, 50), schedule=schedule), s, now=at) == (["s"] if fires else [])


def test_proposals_carry_rule_policy_approval_and_figures() -> None:
    s = ad_set("s", history=series(7, spend=100, conversions=0))
    r = rule(
        AllOf((Condition(CPA, Op.GT, 50), Condition(Metric.SPEND, Op.GE, 700))),
        name="stop-waste",
        approval=Approval.AUTO,
        min_spend=10,
    )
    policy = RulesPolicy([r, rule(Condition(CPA, Op.GT, 1), name="dry", approval=Approval.DRY_RUN)])
    props = policy(snapshot(s), RNG)
    assert [p.policy for p in props] == ["rule:stop-waste", "rule:dry"]
    first = props[0]
    assert first.evidence["approval"] == "auto" and first.evidence["rule"] == "stop-waste"
    assert first.evidence["figures"] == {"cpa_7d": "inf", "spend_7d": 700.0, "min_spend": 10}
    assert "cpa(7d) = inf > 50: True" in first.action.reason
    assert policy.approval("rule:dry") is Approval.DRY_RUN and policy.approval("uniform") is None
    assert policy.name == "rules"
    with pytest.raises(ValueError, match="duplicate"):
        RulesPolicy([r, r])


def test_invalid_rule_values_are_refused() -> None:
    with pytest.raises(ValueError, match="budgets live on ad sets"):
        rule(Condition(CPA, Op.GT, 1), level=RuleLevel.AD, action=ScaleBudget(0.1))
    with pytest.raises(ValueError, match="at least one"):
        AllOf(())
    with pytest.raises(ValueError, match="non-zero fraction"):
        ScaleBudget(-1.0)
    with pytest.raises(ValueError, match="hours"):
        Schedule(frozenset({1}), 5, 5)
