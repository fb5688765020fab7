"""``adpilot bench trace``: one run set day by day against the market's truth (budgets, creative mix)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from adpilot.bench.trace import Trace, trace_run
from tests.cli import run_cli


def test_uniform_budgets_sum_to_the_total_and_the_oracle_spends_the_same_total() -> None:
    trace = trace_run("budget-cross-platform", "uniform", 0, days=4)
    assert trace.pct_oracle is None and trace.eval_from == 1  # scored from day 31: the table covers all 4
    assert len(trace.ad_sets) == 8 and all(len(s.budget) == 4 for s in trace.ad_sets)
    for k in range(4):
        ours = sum(s.budget[k] for s in trace.ad_sets)
        oracle = sum(s.oracle_budget[k] for s in trace.ad_sets)
        assert ours == pytest.approx(5000, abs=1.0)
        assert oracle == pytest.approx(5000, abs=1.0)
        # The oracle's budgets are the best split on the true curves: never worth less than ours.
        assert sum(s.oracle_value[k] for s in trace.ad_sets) >= sum(s.value[k] for s in trace.ad_sets)
    # One ad per ad set in this scenario: all traffic is on the best ad.
    assert [m for s in trace.ad_sets for m in s.mix] == pytest.approx([1.0] * 32)
    rows = trace.summary()
    assert [r["ad_set"] for r in rows] == [s.name for s in trace.ad_sets]
    assert sum(r["allocation_loss_pct"] for r in rows) >= 0


def test_creative_days_rank_every_ad_against_its_ad_sets_best() -> None:
    trace = trace_run("creative-bakeoff", "uniform", 1, days=3)
    (s,) = trace.ad_sets
    for ads, mix in zip(s.ads, s.mix, strict=True):
        assert len(ads) == 6
        assert max(a.quality for a in ads) == pytest.approx(1.0)
        assert sum(a.share for a in ads) == pytest.approx(1.0)
        assert mix is not None and 0 < mix <= 1.0
        assert mix == pytest.approx(sum(a.quality * a.share for a in ads))
    # uniform runs every creative, so the mix is below 1 (they differ in quality)
    assert s.mix[0] is not None and s.mix[0] < 1.0


def _largest_step(trace: Trace) -> float:
    """The largest relative day-to-day budget change of any ad set."""
    return max(abs(b / a - 1.0) for s in trace.ad_sets for a, b in zip(s.budget, s.budget[1:], strict=False) if a > 0)


def test_overrides_change_how_the_agent_runs() -> None:
    """The agent's own step (19 %) moves some budget by more than 6 % a day; capped at 5 % by an override, no
    budget moves more (within a cent's rounding)."""
    default = trace_run("budget-cross-platform", "adpilot", 0, days=5)
    capped = trace_run("budget-cross-platform", "adpilot", 0, days=5, overrides={"budget": {"max_step": 0.05}})
    assert _largest_step(default) > 0.06
    assert 0.0 < _largest_step(capped) <= 0.05 + 1e-3


def _adpilot(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, columns=200)


def test_cli_prints_the_table_and_one_ad_set_day_by_day_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "trace.json"
    result = _adpilot("bench", "trace", "--scenario", "creative-bakeoff", "--policy", "uniform",
                      "--days", "3", "--ad-set", "Test cell", "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "% of the oracle" in result.stdout  # the bake-off scores from day 1
    assert sum(1 for line in result.stdout.splitlines() if re.match(r"d\d+ ", line)) == 3
    data = json.loads(out.read_text())
    assert data["policy"] == "uniform" and len(data["ad_sets"][0]["budget"]) == 3

    wrong = _adpilot("bench", "trace", "--scenario", "creative-bakeoff", "--days", "1", "--ad-set", "nope")
    assert wrong.returncode == 2
    assert "--ad-set" in wrong.stderr and "nope" in wrong.stderr
    unknown = _adpilot("bench", "trace", "--scenario", "creative-bakeoff", "--days", "1", "--policy", "greedy")
    assert unknown.returncode == 2
    assert "--policy" in unknown.stderr and "greedy" in unknown.stderr

    bad = _adpilot("bench", "trace", "--scenario", "creative-bakeoff", "--days", "1", "--set", "creative.min_gain=lots")
    assert bad.returncode == 2
    assert "--set" in bad.stderr and "creative.min_gain" in bad.stderr
    baseline = _adpilot("bench", "trace", "--scenario", "creative-bakeoff", "--days", "1", "--policy", "uniform",
                        "--set", "creative.min_gain=0.05")  # fmt: skip
    assert baseline.returncode == 2 and "--set" in baseline.stderr


def test_cli_runs_with_overrides_and_records_them(tmp_path: Path) -> None:
    out = tmp_path / "trace.json"
    result = _adpilot("bench", "trace", "--scenario", "creative-bakeoff", "--days", "2", "--set",
                      "creative.min_gain=0.05", "--set", "budget.max_step=0.1", "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "adpilot ran with creative.min_gain=0.05, budget.max_step=0.1" in result.stdout
    assert json.loads(out.read_text())["overrides"] == {"creative": {"min_gain": 0.05}, "budget": {"max_step": 0.1}}
