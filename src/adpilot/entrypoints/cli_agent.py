"""``adpilot agent run``, ``adpilot demo`` and ``adpilot bench policies``. Thin: the work is in services."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import orjson
import typer
from rich.console import Console
from rich.table import Table

from adpilot.errors import ConfigError

agent_app = typer.Typer(no_args_is_help=True, help="The optimization agent.")
out = Console()
err = Console(stderr=True)


def _container(ctx: typer.Context) -> Any:
    from adpilot.entrypoints.cli import _container as get

    return get(ctx)


@agent_app.command("run")
def agent_run(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Propose and record, never change anything.")] = False,
    once: Annotated[bool, typer.Option("--once", help="One cycle, then exit.")] = False,
    every: Annotated[float, typer.Option(help="Hours between cycles when not --once.")] = 24.0,
) -> None:
    """Run the agent's cycle: sync, snapshot, propose, guard, approve, act, record (resumes a crashed cycle)."""
    from adpilot.agent.cycle import Agent
    from adpilot.agent.service import CycleBook, Production, agent_config, checkpointer, goal_of, run_cycle
    from adpilot.entrypoints.cli_sync import _sandbox_clock

    c = _container(ctx)
    connections = c.accounts.all()
    if not connections:
        raise ConfigError("accounts: nothing to manage; add one with `adpilot accounts add` or `use-sandbox`")
    clock_urls = {conn.clock_url for conn in connections if conn.clock_url}
    clock = _sandbox_clock(next(iter(clock_urls))) if clock_urls else (lambda: datetime.now(UTC))
    settings = c.settings

    async def main() -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(120.0)) as client:
            prod = Production(c.warehouse, c.lake if settings.lake_enabled else None, connections, client, clock,
                              goal_of(settings.agent), settings.reporting_currency,
                              window_days=settings.agent.window_days, assets=c.asset_library,
                              adapter_options={"asset_bytes": c.asset_store.get}, asset_store=c.asset_store,
                              generation=settings.agent.generation, seed=settings.agent.seed)  # fmt: skip
            async with checkpointer(settings.agent.checkpoint_url, settings.data_dir) as saver:
                agent = Agent(agent_config(settings.agent, dry_run=dry_run), prod.runtime(), saver)
                book = CycleBook(settings.data_dir / "agent-state.json")
                while True:
                    with err.status("agent cycle ..."):
                        state = await run_cycle(agent, book, clock)
                    _render_cycle(state)
                    if once:
                        return
                    await asyncio.sleep(every * 3600)

    asyncio.run(main())


def _render_cycle(state: Mapping[str, Any]) -> None:
    s = state.get("summary", {})
    table = Table(title=f"cycle {s.get('cycle_id', '?')} (data through {s.get('as_of')})", title_justify="left")
    table.add_column("platform")
    table.add_column("sync")
    for platform, info in sorted(s.get("perceived", {}).items()):
        table.add_row(platform, f"{info.get('status')} {info.get('rows', '')} rows".strip())
    out.print(table)
    states = s.get("states", {})
    out.print(
        f"{s.get('proposals', 0)} proposal(s): "
        + (", ".join(f"{n} {k}" for k, n in sorted(states.items())) or "nothing to change")
        + ". See `adpilot actions list`."
    )


def demo_command(
    ctx: typer.Context,
    days: Annotated[int, typer.Option(min=1, max=100, help="Simulated days of the agent.")] = 28,
    seed: Annotated[int, typer.Option(help="Market seed offset.")] = 0,
    reset: Annotated[bool, typer.Option("--reset", help="Empty the data directory first.")] = False,
) -> None:
    """The demo market in-process: connect, backfill, N days of the agent, then the comparison."""
    from adpilot.bootstrap import build_container
    from adpilot.config import load_settings
    from adpilot.demo import run_demo
    from adpilot.services import init_workspace

    settings = load_settings()
    if reset and settings.data_dir.exists():
        shutil.rmtree(settings.data_dir)
    container = build_container(settings)
    ctx.call_on_close(container.close)
    init_workspace(settings, container.warehouse, settings.effective_warehouse_url)
    if container.warehouse.list_actions(limit=1):
        raise ConfigError(
            f"demo: {settings.data_dir} already holds agent actions; run `adpilot demo --reset` "
            "(it empties that directory) or point ADPILOT_DATA_DIR somewhere new"
        )
    t0 = time.perf_counter()
    table = Table(title="the agent, day by day (truth from the sandbox)", title_justify="left")
    for col in ("day", "spend", "conversions", "expected", "oracle", "% oracle", "applied", "rejected"):
        table.add_column(col, justify="left" if col == "day" else "right")

    def on_day(d: Any) -> None:
        pct = 100 * d.expected / d.oracle if d.oracle else 0
        table.add_row(d.day, f"{d.spend:,.0f}", str(d.conversions), f"{d.expected:,.1f}", f"{d.oracle:,.1f}",
                      f"{pct:.1f}", str(d.applied), str(d.rejected))  # fmt: skip

    with err.status("demo: backfill and agent days ..."):
        result = run_demo(container, days=days, seed=seed, on_day=on_day)
    out.print(table)
    final = Table(title=f"{days} days: adpilot vs uniform vs the oracle", title_justify="left")
    final.add_column("policy")
    final.add_column("conversions", justify="right")
    final.add_column("% of dynamic oracle", justify="right")
    final.add_row("adpilot", str(result.agent_conversions), f"{result.agent_pct_oracle:.1f}")
    final.add_row("uniform", f"{result.uniform_conversions:,.0f}", f"{result.uniform_pct_oracle:.1f}")
    final.add_row("oracle (expected)", f"{result.oracle_expected:,.0f}", "100.0")
    out.print(final)
    out.print(
        f"done in {time.perf_counter() - t0:.0f} s. Explore: `adpilot report`, `adpilot actions list` "
        f"(data in {settings.data_dir})."
    )


COLUMNS = ("policy", "conversions", "CPA", "ROAS", "% oracle", "% clairv.", "headroom", "alloc. %", "creative %",
           "rejections", "resets", "launches", "winner day", "fatigue delay", "false ret.")  # fmt: skip


# ``--set`` on the benchmark commands: parameters of the adpilot set (``registry.parse_overrides``).
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="POLICY.PARAMETER=VALUE",
        help="Override a parameter of the adpilot set, POLICY.PARAMETER=VALUE (policies: budget, creative, "
        "fatigue), e.g. --set creative.min_gain=0.05; repeatable.",
    ),
]


def bench_policies_command(
    scenario: Annotated[str, typer.Option(help="Shipped scenario name or YAML file; 'all' for the suite.")] = "all",
    days: Annotated[int | None, typer.Option(help="Days per run (default: the scenario's).")] = None,
    seeds: Annotated[int, typer.Option(min=1, help="Seeds per policy (common random numbers).")] = 20,
    policies: Annotated[
        str,
        typer.Option(
            help="Comma-separated policy sets; 'clairvoyant' is the reference that knows the market's truth "
            "and pays its mechanics (learning phases, the step cap)."
        ),
    ] = "adpilot,uniform,seed-rules,seed-bandit,thompson,clairvoyant",
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 2,
    generation: Annotated[
        str, typer.Option(help="Variant generation for the adpilot set: off, on, or both (side by side).")
    ] = "off",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the figures here as JSON.")] = None,
    overrides: SetOption = None,
) -> None:
    """Closed-loop runs per policy on the sandbox market, scored against the dynamic oracle."""
    from concurrent.futures import ProcessPoolExecutor

    from adpilot.bench.policies import run_one, summarize

    names = (
        ["creative-bakeoff", "budget-cross-platform", "fatigue-refresh", "delays-shocks", "full-stack"]
        if scenario == "all"
        else [scenario]
    )
    sets = [p.strip() for p in policies.split(",") if p.strip()]
    if "uniform" not in sets:
        sets.append("uniform")  # headroom is measured against it
    if generation not in ("off", "on", "both"):
        raise typer.BadParameter("off, on or both", param_hint="--generation")
    modes = {"off": (False,), "on": (True,), "both": (False, True)}[generation]
    params = _overrides(overrides)
    if params and "adpilot" not in sets:
        raise typer.BadParameter("overrides apply to the adpilot set, which --policies leaves out", param_hint="--set")
    jobs = [
        (n, p, k, g) for n in names for p in sets for g in (modes if p == "adpilot" else (False,)) for k in range(seeds)
    ]
    t0 = time.perf_counter()
    results = []
    from rich.progress import Progress

    with Progress(console=err) as progress, ProcessPoolExecutor(max_workers=workers) as pool:
        task = progress.add_task("closed-loop runs", total=len(jobs))
        futures = [pool.submit(run_one, n, p, k, days=days, generation=g, overrides=params) for n, p, k, g in jobs]
        for f in futures:
            results.append(f.result())
            progress.advance(task)
    summary = summarize(results)
    wide = out if out.is_terminal else Console(width=200)  # piped to a file: keep the columns readable
    for name, by_policy in summary.items():
        table = Table(title=f"{name} ({seeds} seeds)", title_justify="left")
        for col in COLUMNS:
            table.add_column(col, justify="left" if col == "policy" else "right")
        for policy, f in by_policy.items():
            table.add_row(policy, _ci(f["conversions"], 0), _ci(f["cpa"], 2), _ci(f["roas"], 2),
                          _ci(f["pct_oracle"], 1), _ci(f["pct_clairvoyant"], 1), _ci(f["headroom_vs_uniform"], 2),
                          _ci(f["allocation_pct_oracle"], 1), _ci(f["creative_efficiency_pct"], 1),
                          _ci(f["guardrail_rejections"], 1), _ci(f["learning_resets"], 1), _ci(f["launches"], 1),
                          _ci(f["days_to_correct_winner"], 1),
                          "" if f["fatigue_delay_median_days"] is None else f"{f['fatigue_delay_median_days']:.1f}",
                          _false_retirements(f))  # fmt: skip
        wide.print(table)
        for policy, f in by_policy.items():
            if "shift_recovery_days_median" in f:
                wide.print(_shock_line(policy, f))
            if "gain_vs_no_generation_pct" in f:
                gain = _ci(f["gain_vs_no_generation_pct"], 1)
                wide.print(f"  {policy}: expected outcome {gain} % against the same policy without generation")
    if params:
        out.print(f"adpilot ran with {_overrides_text(params)}")
    out.print(f"{len(jobs)} runs in {time.perf_counter() - t0:.0f} s")
    if json_out is not None:
        payload = {"seeds": seeds, "overrides": params, "scenarios": summary}
        json_out.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))


def bench_trace_command(
    scenario: Annotated[str, typer.Option(help="Shipped scenario name or YAML file.")],
    policy: Annotated[str, typer.Option(help="Policy set, or 'clairvoyant'.")] = "adpilot",
    seed: Annotated[int, typer.Option(min=0, help="Seed (as in bench policies).")] = 0,
    days: Annotated[int | None, typer.Option(help="Days (default: the scenario's).")] = None,
    ad_set: Annotated[str | None, typer.Option(help="Print this ad set day by day.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the trace here as JSON.")] = None,
    overrides: SetOption = None,
) -> None:
    """One closed-loop run against the market's truth: budgets vs the oracle's, creative mix, learning."""
    from dataclasses import asdict

    from adpilot.bench.policies import CLAIRVOYANT
    from adpilot.bench.trace import ad_set_names, trace_run
    from adpilot.policies.registry import POLICY_SETS

    if policy not in (*POLICY_SETS, CLAIRVOYANT):
        known = ", ".join((*POLICY_SETS, CLAIRVOYANT))
        raise typer.BadParameter(f"unknown policy set {policy!r} (known: {known})", param_hint="--policy")
    names = ad_set_names(scenario)
    if ad_set is not None and ad_set not in names:
        raise typer.BadParameter(f"no ad set {ad_set!r} (known: {', '.join(names)})", param_hint="--ad-set")
    params = _overrides(overrides)
    if params and policy != "adpilot":
        raise typer.BadParameter(f"overrides apply to the adpilot set, not {policy!r}", param_hint="--set")
    trace = trace_run(scenario, policy, seed, days=days, overrides=params)
    pct = trace.pct_oracle
    score = "shorter than the scored days" if pct is None else f"{pct:.2f} % of the oracle"
    table = Table(
        title=f"{scenario}, {policy}, seed {seed}: {score} (table: days {trace.eval_from}-{trace.result.days}; "
        "budgets a day, reporting currency)",
        title_justify="left",
    )
    for col in ("ad set", "budget", "oracle's", "allocation loss", "learning days", "creative mix"):
        table.add_column(col, justify="left" if col == "ad set" else "right")
    summary = trace.summary()
    for row in summary:
        mix = row["creative_mix"]
        table.add_row(row["ad_set"], f"{row['budget']:,.2f}", f"{row['oracle_budget']:,.2f}",
                      f"{row['allocation_loss_pct']:+.2f} %", str(row["learning_days"]),
                      "" if mix is None else f"{mix:.3f}")  # fmt: skip
    out.print(table)
    if params:
        out.print(f"adpilot ran with {_overrides_text(params)}")
    if ad_set is not None:
        s = trace.ad_sets[names.index(ad_set)]
        out.print(f"{ad_set}, day by day (ad: A active / p paused, true quality vs the best ad, share of impressions)")
        for k, ads in enumerate(s.ads):
            mix = "" if s.mix[k] is None else f"mix {s.mix[k]:.3f}"
            line = " ".join(f"{a.name}:{'A' if a.active else 'p'}{a.quality:.2f}/{a.share:.2f}" for a in ads)
            learning = "L" if s.learning[k] else " "
            out.print(f"d{k + 1:<3} {s.budget[k]:>10,.2f} / {s.oracle_budget[k]:>10,.2f} {learning} {mix}  {line}")
    if json_out is not None:
        payload = {
            "scenario": scenario,
            "policy": policy,
            "seed": seed,
            "overrides": params,
            "pct_oracle": trace.pct_oracle,
            "eval_from": trace.eval_from,
            "summary": summary,
            "ad_sets": [asdict(s) for s in trace.ad_sets],
        }
        json_out.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))


def _overrides(items: list[str] | None) -> dict[str, dict[str, Any]]:
    """The ``--set`` items as overrides of the adpilot set; a bad one is a usage error that names it."""
    from adpilot.policies.registry import parse_overrides

    try:
        return parse_overrides(items or ())
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--set") from exc


def _overrides_text(params: dict[str, dict[str, Any]]) -> str:
    return ", ".join(f"{policy}.{name}={value!r}" for policy, given in params.items() for name, value in given.items())


def _shock_line(policy: str, f: dict[str, Any]) -> str:
    """Regime shifts and outages: days until the allocation is back within 5 % of the oracle's, and the
    budget taken off a platform while its conversions were under-reported."""
    median = f["shift_recovery_days_median"]
    recovery = "never" if median is None else f"median {median:.0f} days"
    within = f["shifts_recovered_within_7_days"]
    parts = [f"  {policy}: recovery after a CPM shift {recovery}"]
    if within is not None:
        parts.append(f"{_pct(within)} of shifts within 7 days")
    moved = _ci(f["outage_budget_moved_pct"], 1)
    if moved:
        parts.append(f"budget moved during outages {moved} %")
    return "; ".join(parts)


def _false_retirements(f: dict[str, Any]) -> str:
    """The share with its base: one false detection in a whole scenario reads "100% of 1", not "100%"."""
    rate = f["false_retirement_rate"]
    return "" if rate is None else f"{_pct(rate)} of {f['fatigue_detections']}"


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.0f}%"


def _ci(f: dict[str, Any] | None, digits: int) -> str:
    if not f or f.get("mean") is None:
        return ""
    mean = f"{f['mean']:,.{digits}f}"
    return mean if f.get("ci95") is None else f"{mean} ± {f['ci95']:,.{digits}f}"
