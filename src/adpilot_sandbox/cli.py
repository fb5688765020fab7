"""``adpilot-sandbox``: serve the simulated platforms, print credentials, run the benchmark."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from adpilot_sandbox.scenario import ScenarioError, load_scenario

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="The adpilot sandbox: a simulated ad market behind Meta, X and TikTok APIs.",
)

ScenarioOpt = Annotated[str, typer.Option("--scenario", help="A scenario file, or a shipped name (demo).")]


@app.command()
def serve(
    scenario: ScenarioOpt = "demo",
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8800,
) -> None:
    """Serve all three platform APIs and the control API on one port."""
    import uvicorn

    from adpilot_sandbox.app import create_app
    from adpilot_sandbox.sandbox import Sandbox

    sandbox = Sandbox(load_scenario(scenario))
    typer.echo(f"sandbox {sandbox.scenario.name}: today {sandbox.market.today}, http://{host}:{port}", err=True)
    uvicorn.run(create_app(sandbox), host=host, port=port, log_level="warning")


@app.command()
def credentials(
    scenario: ScenarioOpt = "demo",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The accounts and credentials the scenario accepts."""
    from adpilot_sandbox.auth import Auth

    sc = load_scenario(scenario)
    accounts: dict[str, list[str]] = {}
    for acc in sc.accounts:
        accounts.setdefault(acc.platform, []).append(acc.id)
    creds = Auth(sc.seed, accounts).credentials()
    if as_json:
        typer.echo(orjson.dumps(creds, option=orjson.OPT_INDENT_2).decode())
    else:
        for platform, values in creds.items():
            typer.echo(f"[{platform}]")
            for key, value in values.items():
                typer.echo(f"  {key} = {value}")


@app.command()
def bench(
    ads: Annotated[int, typer.Option(min=20, help="Ads per platform.")] = 5000,
    days: Annotated[int, typer.Option(min=1, help="Days of history to backfill.")] = 90,
    json_out: Annotated[str | None, typer.Option("--json", help="Write the figures here as JSON.")] = None,
) -> None:
    """Serve a full ad-level insights backfill for all three platforms in-process, and time it."""
    from adpilot_sandbox.bench import run

    result = run(ads, days)
    typer.echo(f"sandbox backfill: {ads:,} ads x {days} days x 3 platforms = {result['ad_days']:,} ad-days")
    typer.echo(f"  market build   {result['market_build_seconds']:>8.2f} s")
    for platform, r in result["platforms"].items():
        typer.echo(
            f"  {platform:<8} {r['rows']:>9,} rows {r['requests']:>6,} requests {r['seconds']:>7.2f} s "
            f"{r['rows_per_s'] or 0:>9,} rows/s"
        )
    typer.echo(f"  total          {result['total_seconds']:>8.2f} s   peak RSS {result['peak_rss_mb']:.0f} MiB")
    typer.echo("  goals: " + ("met" if not result["goals_missed"] else "; ".join(result["goals_missed"])))
    if json_out:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        typer.echo(f"figures written to {json_out}")


def main() -> None:
    try:
        app()
    except ScenarioError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
