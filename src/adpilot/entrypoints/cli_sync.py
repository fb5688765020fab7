"""``adpilot accounts``, ``adpilot sync``, ``adpilot report`` and ``adpilot fx``: thin over the services."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import httpx
import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from adpilot.bootstrap import Container
from adpilot.domain.fx import FxRate
from adpilot.domain.ids import Platform
from adpilot.domain.metrics import DateWindow
from adpilot.errors import ConfigError
from adpilot.ports.platform import Connection
from adpilot.ports.warehouse import Grain, PerformanceQuery
from adpilot.sync import runner
from adpilot.sync.service import SyncSummary, sync_blocking

accounts_app = typer.Typer(no_args_is_help=True, help="Connect and manage ad accounts.")
fx_app = typer.Typer(no_args_is_help=True, help="Exchange rates into the reporting currency.")
out = Console()


def _container(ctx: typer.Context) -> Container:
    from adpilot.entrypoints.cli import _container as get

    return get(ctx)


@accounts_app.command("add")
def accounts_add(
    ctx: typer.Context,
    platform: Annotated[Platform, typer.Argument(help="meta, x or tiktok")],
    account: Annotated[str, typer.Option("--account", help="The ad account id.")],
    access_token: Annotated[str | None, typer.Option(envvar="ADPILOT_ACCESS_TOKEN", show_default=False)] = None,
    app_id: Annotated[str | None, typer.Option(envvar="ADPILOT_APP_ID", show_default=False)] = None,
    app_secret: Annotated[str | None, typer.Option(envvar="ADPILOT_APP_SECRET", show_default=False)] = None,
    consumer_key: Annotated[str | None, typer.Option(envvar="ADPILOT_X_CONSUMER_KEY", show_default=False)] = None,
    consumer_secret: Annotated[str | None, typer.Option(envvar="ADPILOT_X_CONSUMER_SECRET", show_default=False)] = None,
    access_token_secret: Annotated[
        str | None, typer.Option(envvar="ADPILOT_X_ACCESS_TOKEN_SECRET", show_default=False)
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="API base URL (default: the platform's).")] = None,
    name: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Add an account with credentials from options or the environment (no prompts: for scripts and CI)."""
    given: dict[str, str | None] = {"access_token": access_token}
    if platform is Platform.META:
        given |= {"app_id": app_id, "app_secret": app_secret}
    elif platform is Platform.X:
        given |= {
            "consumer_key": consumer_key,
            "consumer_secret": consumer_secret,
            "access_token_secret": access_token_secret,
        }
    else:
        given |= {"app_id": app_id, "secret": app_secret}
    conn = _container(ctx).accounts.add(
        platform, account, {k: v for k, v in given.items() if v}, base_url=base_url, name=name
    )
    out.print(f"added {conn.platform} account {conn.account_id} at {conn.base_url}")


@accounts_app.command("connect")
def accounts_connect(
    ctx: typer.Context,
    platform: Annotated[Platform, typer.Argument(help="meta, x or tiktok")],
    app_id: Annotated[str | None, typer.Option(envvar="ADPILOT_APP_ID", help="Meta or TikTok app id.")] = None,
    app_secret: Annotated[str | None, typer.Option(envvar="ADPILOT_APP_SECRET", show_default=False)] = None,
    consumer_key: Annotated[str | None, typer.Option(envvar="ADPILOT_X_CONSUMER_KEY", show_default=False)] = None,
    consumer_secret: Annotated[str | None, typer.Option(envvar="ADPILOT_X_CONSUMER_SECRET", show_default=False)] = None,
    base_url: Annotated[str | None, typer.Option(help="API base URL (default: the platform's).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the approval.")] = 300.0,
) -> None:
    """Run the platform's authorization flow with a local callback, then add every account it grants."""
    from adpilot.accounts import DEFAULT_BASE_URLS
    from adpilot.platforms.oauth import connect

    if platform is Platform.X:
        app = {"consumer_key": consumer_key or "", "consumer_secret": consumer_secret or ""}
    else:
        app = {"app_id": app_id or "", ("app_secret" if platform is Platform.META else "secret"): app_secret or ""}
    missing = [k for k, v in app.items() if not v]
    if missing:
        raise ConfigError(f"{platform} app credentials: missing {', '.join(missing)}")
    base = (base_url or DEFAULT_BASE_URLS[platform]).rstrip("/")

    def show(url: str) -> None:
        out.print(f"Open this address to approve adpilot, then come back:\n{url}", soft_wrap=True)

    granted = connect(platform, base, app, show_url=show, timeout=timeout)
    store = _container(ctx).accounts
    for account_id in granted.account_ids:
        store.add(platform, account_id, granted.credentials, base_url=base)
        out.print(f"connected {platform} account {account_id}")
    if not granted.account_ids:
        out.print("the authorization succeeded but granted no ad account")


@accounts_app.command("list")
def accounts_list(ctx: typer.Context) -> None:
    """Connected accounts and their state (credentials are never shown)."""
    table = Table("platform", "account", "name", "base URL", "status", "last error")
    for c in _container(ctx).accounts.all():
        table.add_row(str(c.platform), c.account_id, c.name, c.base_url, c.status, c.last_error or "")
    out.print(table)


@accounts_app.command("remove")
def accounts_remove(ctx: typer.Context, platform: Platform, account: str) -> None:
    """Forget an account and its credentials (its synced data stays)."""
    if not _container(ctx).accounts.remove(platform, account):
        raise ConfigError(f"account: no {platform} account {account} is connected")
    out.print(f"removed {platform} account {account}")


@accounts_app.command("use-sandbox")
def accounts_use_sandbox(
    ctx: typer.Context, url: Annotated[str, typer.Argument(help="e.g. http://127.0.0.1:8800")]
) -> None:
    """Point every platform at a running sandbox and add all of its accounts, with its FX rates."""
    c = _container(ctx)
    added = c.accounts.use_sandbox(url)
    try:
        fx = httpx.get(f"{url.rstrip('/')}/_sandbox/fx", timeout=10).json()
        since = date.fromisoformat(fx["since"])
        rates = [FxRate(since, cur, fx["reporting_currency"], Decimal(str(r))) for cur, r in fx["rates"].items()]
        c.warehouse.put_fx_rates(rates)
    except (httpx.HTTPError, KeyError, ValueError):
        rates = []
    for conn in added:
        out.print(f"added {conn.platform} account {conn.account_id} at {conn.base_url}")
    out.print(f"{len(added)} account(s), {len(rates)} FX rate(s) from the sandbox")


def _progress_sink(progress: Progress) -> runner.ProgressSink:
    tasks: dict[tuple[str, str, str], TaskID] = {}

    def sink(p: runner.Progress) -> None:
        key = (p.platform, p.account_id, p.stream)
        if key not in tasks:
            tasks[key] = progress.add_task(f"{p.platform} {p.account_id} {p.stream}", total=max(p.total, 1), note="")
        progress.update(tasks[key], completed=p.done, total=max(p.total, 1), note=p.note)

    return sink


def _by_clock(connections: list[Connection]) -> dict[str | None, list[Connection]]:
    groups: dict[str | None, list[Connection]] = {}
    for conn in connections:
        groups.setdefault(conn.clock_url, []).append(conn)
    return groups


def _sandbox_clock(url: str) -> Callable[[], datetime]:
    """A sandbox's simulated now, read once per sync: its calendar, not the wall clock, decides "yesterday"."""
    try:
        now = datetime.fromisoformat(httpx.get(url, timeout=10).raise_for_status().json()["now"])
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        raise ConfigError(f"sandbox clock: cannot read {url} ({exc})") from None
    return lambda: now


def sync_command(
    ctx: typer.Context,
    platform: Annotated[Platform | None, typer.Option(help="Only this platform.")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account id.")] = None,
    since: Annotated[str | None, typer.Option(help="First day to fetch (YYYY-MM-DD).")] = None,
    full: Annotated[bool, typer.Option("--full", help="Refetch everything from --since (or the backfill).")] = False,
) -> None:
    """Sync entities and daily insights of the connected accounts into the warehouse."""
    c = _container(ctx)
    connections = [
        conn
        for conn in c.accounts.all(platform)
        if account in (None, conn.account_id, conn.account_id.removeprefix("act_"))
    ]
    if not connections:
        raise ConfigError("accounts: nothing to sync; add one with `adpilot accounts add` or `use-sandbox`")
    since_day = date.fromisoformat(since) if since else None
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
    )
    summary = SyncSummary()
    with Progress(*columns, console=out, transient=False) as progress:
        sink = _progress_sink(progress)
        for clock_url, group in _by_clock(connections).items():
            clock = _sandbox_clock(clock_url) if clock_url else (lambda: datetime.now(UTC))
            engine = runner.SyncEngine(
                c.warehouse, c.lake if c.settings.lake_enabled else None, clock=clock, progress=sink,
                assets=c.asset_library,
            )  # fmt: skip
            part = sync_blocking(
                engine,
                group,
                since=since_day,
                full=full,
                on_auth_failure=lambda conn, msg: c.accounts.mark(conn.platform, conn.account_id, "auth_failed", msg),
            )
            summary.results.extend(part.results)
            summary.stats.update(part.stats)
    for conn in connections:
        if all(r.status != "auth_failed" for r in summary.results if r.account_id == conn.account_id):
            c.accounts.mark(conn.platform, conn.account_id, "ok", None)
    table = Table(
        "platform",
        "account",
        "stream",
        "status",
        "rows",
        "pages",
        "requests",
        "retries",
        "throttled",
        "waited s",
        "quarantined",
        "note",
        title="sync summary",
        title_justify="left",
    )
    for r in summary.results:
        stats = summary.stats.get((r.platform, r.account_id))
        table.add_row(
            r.platform,
            r.account_id,
            r.stream,
            r.status,
            f"{r.rows:,}",
            f"{r.pages:,}",
            f"{stats.requests:,}" if stats and r.stream == "insights" else "",
            f"{stats.retries:,}" if stats and r.stream == "insights" else "",
            f"{stats.throttled:,}" if stats and r.stream == "insights" else "",
            f"{stats.waited_seconds:.0f}" if stats and r.stream == "insights" else "",
            str(r.quarantined or ""),
            r.message,
        )
    out.print(table)
    if not summary.ok:
        raise typer.Exit(1)


REPORT_GRAINS = {
    "platform": Grain.PLATFORM,
    "account": Grain.ACCOUNT,
    "campaign": Grain.CAMPAIGN,
    "ad_set": Grain.AD_SET,
    "ad": Grain.AD,
    "asset": Grain.ASSET,
    "day": Grain.PLATFORM,
}


def _ratio(num: Decimal | int, den: Decimal | int, scale: int = 1) -> str:
    return f"{Decimal(num) * scale / Decimal(den):.2f}" if den else ""


def report_command(
    ctx: typer.Context,
    by: Annotated[str, typer.Option(help="platform, account, campaign, ad_set, ad, asset or day")] = "platform",
    since: Annotated[str | None, typer.Option(help="First day (default: 28 days before --until).")] = None,
    until: Annotated[str | None, typer.Option(help="Last day (default: the last day synced).")] = None,
    platform: Annotated[Platform | None, typer.Option()] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Cross-platform KPIs in the reporting currency: spend, impressions, clicks, CTR, conversions, CPA, ROAS."""
    c = _container(ctx)
    if by not in REPORT_GRAINS:
        raise typer.BadParameter(f"unknown grouping {by!r}", param_hint="--by")
    if fmt not in ("table", "csv", "json"):
        raise typer.BadParameter(f"unknown format {fmt!r}", param_hint="--format")
    last = c.warehouse.stats().insight_days
    end = date.fromisoformat(until) if until else (last[1] if last else datetime.now(UTC).date() - timedelta(days=1))
    window = DateWindow(date.fromisoformat(since) if since else end - timedelta(days=27), end)
    query = PerformanceQuery(window, REPORT_GRAINS[by], by_day=by == "day", platforms=(platform,) if platform else ())
    rows = c.warehouse.read_performance(query, reporting_currency=c.settings.reporting_currency)
    cur = c.settings.reporting_currency
    records: list[dict[str, Any]] = []
    for r in rows:
        spend, value = r.spend_reporting.to_major(), r.conversion_value_reporting.to_major()
        records.append(
            {
                **dict(r.key),
                **({"day": r.day.isoformat()} if r.day else {}),
                f"spend_{cur}": str(spend),
                "impressions": r.impressions,
                "clicks": r.clicks,
                "ctr_pct": _ratio(r.clicks, r.impressions, 100),
                "conversions": str(r.conversions),
                f"cpa_{cur}": _ratio(spend, r.conversions),
                "roas": _ratio(value, spend),
            }
        )
    if fmt == "json":
        typer.echo(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode())
    elif fmt == "csv":
        buf = io.StringIO()
        if records:
            writer = csv.DictWriter(buf, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
        typer.echo(buf.getvalue(), nl=False)
    else:
        table = Table(
            *(records[0].keys() if records else ["(no data)"]),
            title=f"{window.start} .. {window.end}, {cur}",
            title_justify="left",
        )
        for rec in records:
            table.add_row(*(str(v) for v in rec.values()))
        out.print(table)


@fx_app.command("set")
def fx_set(
    ctx: typer.Context,
    currency: str,
    rate: Annotated[str, typer.Argument(help="Reporting-currency units per unit of CURRENCY.")],
    day: Annotated[str | None, typer.Option("--date", help="Effective from (default: today).")] = None,
) -> None:
    """Record a rate; each day uses the latest rate on or before it."""
    c = _container(ctx)
    try:
        fx = FxRate(
            date.fromisoformat(day) if day else datetime.now(UTC).date(),
            currency.upper(),
            c.settings.reporting_currency,
            Decimal(rate),
        )
    except (ValueError, ArithmeticError) as exc:
        raise ConfigError(f"fx: {exc}") from None
    c.warehouse.put_fx_rates([fx])
    out.print(f"1 {fx.base} = {fx.rate} {fx.quote} from {fx.day}")


@fx_app.command("list")
def fx_list(ctx: typer.Context) -> None:
    """Every stored rate."""
    table = Table("date", "base", "quote", "rate")
    for r in _container(ctx).warehouse.fx_rates():
        table.add_row(r.day.isoformat(), r.base, r.quote, str(r.rate))
    out.print(table)
