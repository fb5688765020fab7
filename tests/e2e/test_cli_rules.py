"""``adpilot rules validate`` as a user meets it: one line per rule, or every problem and exit status 2."""

from __future__ import annotations

import subprocess
from pathlib import Path

from typer.testing import CliRunner

from adpilot.entrypoints.cli_rules import app
from tests.cli import run_cli

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "rules.yaml"

BAD = """\
rules:
  - name: pause-costly
    when:
      all:
        - {metric: cpaa, op: gt, value: 60}
        - {metric: spend, op: gte, value: 100}
    action: pause
  - name: pause-costly
    level: ad
    when: {metric: cpa, op: gt, value: 60}
    action: {scale_budget: 0.2}
    approval: sometimes
"""


def adpilot(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, columns=200, timeout=120)


def test_validate_prints_each_rule_on_one_line() -> None:
    result = adpilot("rules", "validate", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("pause-costly-ad-sets [approve]: each ad_set on meta,x,tiktok when (cpa(7d) > 60")
    assert lines[2].startswith("blended-cpa-brake [approve]: blended ad_set on meta,x,tiktok when cpa(3d) > 55")
    assert "-> scale budget +15%; cooldown 24h; mon,tue,wed,thu,fri 09-17h" in lines[1]
    assert lines[-1] == f"4 rule(s) valid in {EXAMPLE}"


def test_validate_names_every_field_at_fault_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(BAD)
    result = adpilot("rules", "validate", str(bad))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"{bad}: rules[0].when.all[0].metric: unknown metric 'cpaa' (known: spend, impressions, clicks, "
        "conversions, value, ctr, cpc, cpm, cvr, cpa, roas)",
        f"{bad}: rules[1].action: budgets live on ad sets (or their campaigns): use level: ad_set for budget actions",
        f"{bad}: rules[1].approval: Input should be 'auto', 'approve' or 'dry-run'",
        f"{bad}: rules[1].name: duplicate rule name 'pause-costly' (also rules[0])",
        "4 problem(s); nothing loaded",
    ]


def test_the_app_alone_and_a_missing_file(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(EXAMPLE)])
    assert ok.exit_code == 0 and "pause-weak-ads [dry-run]: each ad on meta,x,tiktok named *promo*" in ok.output
    missing = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2
    assert "(file): cannot read: No such file or directory" in missing.output
