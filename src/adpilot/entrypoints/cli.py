"""The ``adpilot`` command line. Thin: parse, call a service, render with rich."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from adpilot.bootstrap import Container, build_container
from adpilot.config import load_settings
from adpilot.errors import AdpilotError
from adpilot.services import init_workspace, rebuild_warehouse

# Locals are never shown in tracebacks: they may hold tokens.
app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Paid social on Meta, X and TikTok.",
)
config_app = typer.Typer(no_args_is_help=True, help="Inspect configuration.")
warehouse_app = typer.Typer(no_args_is_help=True, help="Manage the warehouse.")
bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks: print figures, --json writes them.")
app.add_typer(config_app, name="config")
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(bench_app, name="bench")


def _register_sync_commands() -> None:
    from adpilot.entrypoints import cli_sync

    app.add_typer(cli_sync.accounts_app, name="accounts")
    app.add_typer(cli_sync.fx_app, name="fx")
    app.command("sync")(cli_sync.sync_command)
    app.command("report")(cli_sync.report_command)


def _register_agent_commands() -> None:
    from adpilot.entrypoints import cli_actions, cli_agent, cli_creatives, cli_rules, cli_studio

    app.add_typer(cli_agent.agent_app, name="agent")
    app.add_typer(cli_actions.app, name="actions")
    app.add_typer(cli_rules.app, name="rules")
    cli_creatives.app.command("generate")(cli_studio.generate_command)
    cli_creatives.app.command("launch")(cli_studio.launch_command)
    app.add_typer(cli_creatives.app, name="creatives")
    app.command("demo")(cli_agent.demo_command)
    bench_app.command("policies")(cli_agent.bench_policies_command)
    bench_app.command("trace")(cli_agent.bench_trace_command)


out = Console()
err = Console(stderr=True)

EnginesOpt = Annotated[str, typer.Option(help="Comma-separated: duckdb,postgres.")]
PostgresUrlOpt = Annotated[str, typer.Option(envvar="ADPILOT_BENCH_POSTGRES_URL", help="PostgreSQL for the benchmark.")]
JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the figures here as JSON.")]
BENCH_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def _run_engines(
    engines: str,
    goals: dict[str, Any],
    label: str,
    run: Callable[..., dict[str, Any]],
    check: Callable[[dict[str, Any]], list[str]],
    *args: Any,
) -> list[dict[str, Any]]:
    """Run a benchmark once per engine, each in its own process, and judge it against its goals."""
    from adpilot.bench._measure import run_isolated

    results = []
    for engine in [e.strip() for e in engines.split(",") if e.strip()]:
        if engine not in goals:
            raise typer.BadParameter(f"unknown engine {engine!r}", param_hint="--engines")
        with err.status(f"{label} on {engine} ..."):
            result = run_isolated(run, engine, *args)
        result["goals_missed"] = check(result)
        results.append(result)
    return results


def _container(ctx: typer.Context) -> Container:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = build_container(load_settings())
        root.call_on_close(root.obj.close)
    container: Container = root.obj
    return container


def _kv_table(title: str, rows: dict[str, Any]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold cyan")
    table.add_column()
    for k, v in rows.items():
        table.add_row(k, "" if v is None else str(v))
    return table


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the data dir, the warehouse and the encryption key file (0600)."""
    c = _container(ctx)
    report = init_workspace(c.settings, c.warehouse, c.warehouse.location)
    out.print(
        _kv_table(
            "adpilot initialized",
            {
                "data dir": report.data_dir,
                "warehouse": report.warehouse,
                "schema version": report.schema_version,
                "encryption key": report.key_file + (" (created)" if report.key_created else " (kept)"),
            },
        )
    )


@config_app.command("show")
def config_show(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print the effective configuration, secrets masked."""
    view = _container(ctx).settings.public_view()
    if as_json:
        out.print_json(orjson.dumps(view).decode())
    else:
        out.print(_kv_table("effective configuration", view))


@warehouse_app.command("migrate")
def warehouse_migrate(ctx: typer.Context) -> None:
    """Apply pending schema migrations (each in one transaction)."""
    wh = _container(ctx).warehouse  # opening migrates
    out.print(f"warehouse {wh.location}: schema version {wh.schema_version()}")


@warehouse_app.command("stats")
def warehouse_stats(ctx: typer.Context) -> None:
    """Rows per table, schema version, insight days and the lake's size."""
    c = _container(ctx)
    stats = c.warehouse.stats()
    out.print(f"{stats.engine} warehouse: {stats.location}", soft_wrap=True)
    table = Table()
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in stats.tables.items():
        table.add_row(name, f"{n:,}")
    out.print(table)
    days = f"{stats.insight_days[0]} .. {stats.insight_days[1]}" if stats.insight_days else "none"
    lake = c.lake.stats()
    out.print(f"schema version {stats.schema_version}; insight days {days}")
    out.print(
        f"lake {c.settings.lake_dir}: {lake['pages']:,} pages, {lake['commits']:,} committed runs, "
        f"{lake['quarantined']:,} quarantined, {lake['bytes'] / 1e6:.1f} MB"
    )


@warehouse_app.command("rebuild")
def warehouse_rebuild(ctx: typer.Context) -> None:
    """Empty synced tables and replay every committed run of the raw lake, without the network."""
    c = _container(ctx)
    report = rebuild_warehouse(c.warehouse, c.lake, c.page_mappers())
    out.print(
        _kv_table(
            "rebuilt from the lake",
            {
                "committed runs": report.commits,
                "pages": report.pages,
                "entities": report.entities,
                "insight rows": report.insight_rows,
                **{f"runs {k}": v for k, v in sorted(report.by_stream.items())},
            },
        )
    )


Figure = tuple[str, Callable[[dict[str, Any]], str]]


def _render_bench(
    title: str, results: list[dict[str, Any]], figures: list[Figure], json_out: Path | None, doc: dict[str, Any]
) -> None:
    """One column per engine, one row per figure; the same figures as JSON when asked."""
    table = Table(title=title, title_justify="left")
    table.add_column("figure")
    for r in results:
        table.add_column(r["engine"], justify="right")
    for label, fmt in figures:
        table.add_row(label, *(fmt(r) for r in results))
    out.print(table)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_bytes(orjson.dumps({**doc, "results": results}, option=orjson.OPT_INDENT_2))
        out.print(f"figures written to {json_out}")


def _goals(r: dict[str, Any]) -> str:
    return "met" if not r["goals_missed"] else "; ".join(r["goals_missed"])


@bench_app.command("warehouse")
def bench_warehouse(
    ads: Annotated[int, typer.Option(min=1, help="Ads per day.")] = 50_000,
    days: Annotated[int, typer.Option(min=8, help="Days loaded (ads x days rows).")] = 20,
    load_window: Annotated[int, typer.Option(min=1, help="Days per load batch.")] = 5,
    replaces: Annotated[int, typer.Option(min=1, help="7-day window replacements timed.")] = 3,
    actions: Annotated[int, typer.Option(min=1, help="Ledger records moved through the executor's states.")] = 500,
    engines: EnginesOpt = "duckdb,postgres",
    postgres_url: PostgresUrlOpt = BENCH_POSTGRES,
    json_out: JsonOpt = None,
) -> None:
    """Load ads x days synthetic insight rows, replace a 7-day window for every ad, then time the action ledger."""
    from adpilot.bench.warehouse import GOALS, check_goals, run_engine

    results = _run_engines(
        engines,
        GOALS,
        f"loading {ads * days:,} rows",
        run_engine,
        check_goals,
        ads,
        days,
        load_window,
        replaces,
        postgres_url,
        actions,
    )
    figures: list[Figure] = [
        ("rows loaded", lambda r: f"{r['rows_loaded']:,}"),
        ("load seconds", lambda r: f"{r['load_seconds']:.2f}"),
        ("load rows/s", lambda r: f"{r['load_rows_per_s']:,}"),
        ("7-day replace rows", lambda r: f"{r['replace_rows']:,}"),
        ("replace s median", lambda r: f"{r['replace_seconds_median']:.3f}"),
        ("replace s max", lambda r: f"{r['replace_seconds_max']:.3f}"),
        ("ledger moves/s", lambda r: f"{r['ledger_moves_per_s']:,}"),
        ("peak RSS MiB", lambda r: f"{r['peak_rss_mb']:.0f}"),
        ("goals", _goals),
    ]
    _render_bench(
        f"warehouse benchmark: {ads:,} ads x {days} days",
        results,
        figures,
        json_out,
        {"benchmark": "warehouse", "ads": ads, "days": days, "actions": actions, "goals": GOALS},
    )


@bench_app.command("sync")
def bench_sync(
    ads: Annotated[int, typer.Option(min=20, help="Ads per platform.")] = 5000,
    days: Annotated[int, typer.Option(min=2, help="Days of history to backfill.")] = 90,
    engines: EnginesOpt = "duckdb,postgres",
    postgres_url: PostgresUrlOpt = BENCH_POSTGRES,
    json_out: JsonOpt = None,
) -> None:
    """Backfill 3 platforms x ADS ads x DAYS days from the in-process sandbox, then a daily incremental run."""
    from adpilot.bench.sync import GOALS, check_goals, run_engine

    results = _run_engines(
        engines, GOALS, f"syncing 3 x {ads:,} ads x {days} days", run_engine, check_goals, ads, days, postgres_url
    )
    figures: list[Figure] = [
        ("backfill ad-days", lambda r: f"{r['backfill_ad_days']:,}"),
        ("backfill seconds", lambda r: f"{r['backfill_seconds']:.1f}"),
        ("ad-days/s", lambda r: f"{r['ad_days_per_s']:,}"),
        ("backfill requests", lambda r: f"{r['backfill_requests']:,}"),
        ("incremental ad-days", lambda r: f"{r['incremental_ad_days']:,}"),
        ("incremental seconds", lambda r: f"{r['incremental_seconds']:.1f}"),
        ("incremental requests", lambda r: f"{r['incremental_requests']:,}"),
        ("peak RSS MiB", lambda r: f"{r['peak_rss_mb']:.0f}"),
        ("goals", _goals),
    ]
    _render_bench(
        f"sync benchmark: 3 platforms x {ads:,} ads x {days} days",
        results,
        figures,
        json_out,
        {"benchmark": "sync", "ads": ads, "days": days, "goals": GOALS},
    )


_register_sync_commands()
_register_agent_commands()


def main() -> None:
    """Console-script entry: one readable line for adpilot's own errors, exit status 1."""
    try:
        app()
    except AdpilotError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
