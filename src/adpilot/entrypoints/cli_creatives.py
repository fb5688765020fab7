"""``adpilot creatives``: the asset library for people. Thin over :mod:`adpilot.creative.library`."""

from __future__ import annotations

import csv
import io
import sys
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from adpilot.bootstrap import Container
from adpilot.domain.entities import AssetKind
from adpilot.domain.ids import Platform
from adpilot.domain.metrics import DateWindow
from adpilot.errors import AdpilotError
from adpilot.ports.assets import AssetRecord

if TYPE_CHECKING:  # the library imports Pillow and numpy: not for --help
    from adpilot.creative.library import Added, AssetLibrary, AssetView, ReportRow

app = typer.Typer(no_args_is_help=True, help="The creative studio: the asset library (add, list, show, report).")
out = Console()
err = Console(stderr=True)
_SHORT = 12  # hex digits shown in tables; any unique prefix is accepted back

IdArg = Annotated[str, typer.Argument(help="An asset id, or a unique prefix of one (with or without 'sha256:').")]
FormatOpt = Annotated[str, typer.Option("--format", help="table or json")]


def _container(ctx: typer.Context) -> Container:
    from adpilot.entrypoints.cli import _container as get

    return get(ctx)


def _library(ctx: typer.Context) -> AssetLibrary:
    return _container(ctx).asset_library


def short(asset_id: str | None) -> str:
    return "" if asset_id is None else asset_id.removeprefix("sha256:")[:_SHORT]


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def _check_format(fmt: str, allowed: tuple[str, ...] = ("table", "json")) -> None:
    if fmt not in allowed:
        raise typer.BadParameter(f"unknown format {fmt!r} (one of {', '.join(allowed)})", param_hint="--format")


def _kind(value: str | None) -> AssetKind | None:
    if value is None:
        return None
    try:
        return AssetKind(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not image, video or text", param_hint="--kind") from None


def record_view(rec: AssetRecord) -> dict[str, Any]:
    a = rec.asset
    return {
        "asset_id": rec.asset_id,
        "kind": str(a.kind),
        "name": a.name,
        "text": a.text,
        "width": a.width,
        "height": a.height,
        "format": rec.format,
        "size_bytes": rec.size_bytes,
        "tags": list(rec.tags),
        "user_tags": list(rec.user_tags),
        "palette": list(rec.palette),
        "phash": None if rec.phash is None else f"{rec.phash:016x}",
        "parent_id": rec.parent_id,
        "derivation": rec.derivation,
        "source": rec.source,
        "created_at": rec.created_at.isoformat() if rec.created_at else None,
    }


def _label(rec: AssetRecord) -> str:
    """What a person recognises: the name, else the copy, else the size."""
    a = rec.asset
    if a.name:
        return a.name
    if a.text is not None:
        return a.text if len(a.text) <= 60 else a.text[:57] + "..."
    return f"{a.width}x{a.height}" if a.width and a.height else ""


def _added_table(added: list[Added]) -> Table:
    table = Table("asset", "kind", "resolved", "name", "tags", title="added", title_justify="left")
    for a in added:
        how = a.match + (f" (distance {a.distance})" if a.match == "perceptual" else "")
        table.add_row(
            short(a.record.asset_id), str(a.record.asset.kind), how, _label(a.record), " ".join(a.record.all_tags)
        )
    return table


@app.command("add")
def add(
    ctx: typer.Context,
    files: Annotated[
        list[Path] | None,
        typer.Argument(help="Image files.", exists=True, dir_okay=False, readable=True, show_default=False),
    ] = None,
    text: Annotated[list[str] | None, typer.Option("--text", help="Copy to add as a text asset.")] = None,
    name: Annotated[
        str | None, typer.Option(help="A name (a new image is named after its file).", show_default=False)
    ] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag of yours (repeatable).")] = None,
    parent: Annotated[
        str | None, typer.Option(help="The asset this one was made from (id or prefix).", show_default=False)
    ] = None,
    derivation: Annotated[str, typer.Option(help="How it was made from --parent.")] = "",
    fmt: FormatOpt = "table",
) -> None:
    """Add images (checked to be real images) and copy; a file or copy already known resolves to its asset."""
    _check_format(fmt)
    items = list(files or [])
    copies = list(text or [])
    if not items and not copies:
        raise typer.BadParameter("give image files, or copy with --text", param_hint="FILES")
    if name is not None and len(items) + len(copies) > 1:
        raise typer.BadParameter("--name names one asset: add one file or one --text", param_hint="--name")
    lib = _library(ctx)
    parent_id = lib.resolve(parent).asset_id if parent else None
    tags = tuple(tag or ())
    added = [
        lib.add_image(
            p.read_bytes(),
            name=name or "",
            file_name=p.name,
            user_tags=tags,
            parent_id=parent_id,
            derivation=derivation,
        )
        for p in items
    ]
    added += [
        lib.add_text(t, name=name or "", user_tags=tags, parent_id=parent_id, derivation=derivation) for t in copies
    ]
    if fmt == "json":
        typer.echo(_json([{**record_view(a.record), "resolved": a.match, "distance": a.distance} for a in added]))
    else:
        out.print(_added_table(added))


@app.command("list")
def list_assets(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option(help="image, video or text", show_default=False)] = None,
    tag: Annotated[str | None, typer.Option(help="Only assets with this tag.", show_default=False)] = None,
    fmt: FormatOpt = "table",
) -> None:
    """The library, newest first."""
    _check_format(fmt)
    records = _library(ctx).assets(kind=_kind(kind), tag=tag)
    if fmt == "json":
        typer.echo(_json([record_view(r) for r in records]))
        return
    table = Table("asset", "kind", "name / copy", "size", "tags", "source", "added")
    for r in records:
        size = f"{r.asset.width}x{r.asset.height}" if r.asset.width and r.asset.height else ""
        added = r.created_at.strftime("%Y-%m-%d %H:%M") if r.created_at else ""
        table.add_row(short(r.asset_id), str(r.asset.kind), _label(r), size, " ".join(r.all_tags), r.source, added)
    out.print(table)
    out.print(f"{len(records)} asset(s)")


def _show_view(view: AssetView) -> dict[str, Any]:
    return {
        **record_view(view.record),
        "stored_at": view.uri,
        "parent": None if view.parent is None else {"asset_id": view.parent.asset_id, "name": _label(view.parent)},
        "children": [{"asset_id": c.asset_id, "name": _label(c), "derivation": c.derivation} for c in view.children],
        "versions": [
            {
                "sha256": v.sha256,
                "match": v.match,
                "distance": v.distance,
                "format": v.format,
                "width": v.width,
                "height": v.height,
                "size_bytes": v.size_bytes,
                "source": v.source,
                "first_seen": v.first_seen.isoformat() if v.first_seen else None,
            }
            for v in view.versions
        ],
        "live": [
            {
                "platform": str(u.platform),
                "account_id": u.account_id,
                "creative_id": u.creative_id,
                "role": u.role,
                "match": u.match,
                "ad_id": u.ad_id,
                "ad_name": u.ad_name,
                "status": u.status,
            }
            for u in view.usage
        ],
    }


@app.command("show")
def show(ctx: typer.Context, asset: IdArg, fmt: FormatOpt = "table") -> None:
    """One asset: metadata, tags, lineage, versions, and where it is live (platform, creative, ad)."""
    _check_format(fmt)
    view = _library(ctx).show(asset)
    doc = _show_view(view)
    if fmt == "json":
        typer.echo(_json(doc))
        return
    rec = view.record
    facts = Table(title=f"asset {rec.asset_id}", show_header=False, title_justify="left")
    facts.add_column(style="bold cyan")
    facts.add_column()
    rows: dict[str, Any] = {
        "kind": str(rec.asset.kind),
        "name": rec.asset.name,
        "text": rec.asset.text,
        "size": f"{rec.asset.width}x{rec.asset.height}" if rec.asset.width else None,
        "format": rec.format,
        "bytes": f"{rec.size_bytes:,}" if rec.size_bytes is not None else None,
        "tags": " ".join(rec.tags),
        "your tags": " ".join(rec.user_tags),
        "colours": ", ".join(rec.palette),
        "perceptual hash": doc["phash"],
        "made from": f"{short(view.parent.asset_id)} {_label(view.parent)}".strip() if view.parent else None,
        "how": rec.derivation,
        "source": rec.source,
        "added": doc["created_at"],
        "stored at": view.uri,
    }
    for k, v in rows.items():
        if v not in (None, ""):
            facts.add_row(k, str(v))
    out.print(facts)
    if view.children:
        kids = Table("asset", "name", "how", title="made from this asset", title_justify="left")
        for c in view.children:
            kids.add_row(short(c.asset_id), _label(c), c.derivation)
        out.print(kids)
    if len(view.versions) > 1:
        files = Table("file", "match", "distance", "format", "size", "source", title="versions", title_justify="left")
        for v in view.versions:
            size = f"{v.width}x{v.height}" if v.width else ""
            files.add_row(short(v.sha256), v.match, str(v.distance), v.format or "", size, v.source)
        out.print(files)
    live = Table("platform", "account", "creative", "as", "match", "ad", "ad name", "status", title="live on")
    for u in view.usage:
        live.add_row(
            str(u.platform),
            u.account_id,
            u.creative_id,
            u.role,
            u.match,
            u.ad_id or "",
            u.ad_name or "",
            u.status or "",
        )
    live.title_justify = "left"
    out.print(live if view.usage else "not live on any synced creative")


def _ratio(value: Decimal | None, places: str = "0.01") -> str:
    return "" if value is None else str(value.quantize(Decimal(places)))


def _report_records(rows: list[ReportRow], by: str, currency: str) -> list[dict[str, Any]]:
    records = []
    for r in rows:
        rec: dict[str, Any] = {by: r.key}
        if by == "asset":
            rec |= {"name": r.name, "kind": r.kind}
        spend = r.spend.to_major()
        rec |= {
            "platforms": " ".join(sorted(r.spend_by_platform)),
            f"spend_{currency}": str(spend),
            "impressions": r.impressions,
            "clicks": r.clicks,
            "ctr_pct": _ratio(r.ctr * 100 if r.ctr is not None else None),
            "conversions": format(r.conversions, "f"),
            f"cpa_{currency}": _ratio(r.cpa),
            "roas": _ratio(r.roas),
            **{f"spend_{p}_{currency}": str(m.to_major()) for p, m in sorted(r.spend_by_platform.items())},
        }
        records.append(rec)
    return records


@app.command("report")
def report(
    ctx: typer.Context,
    since: Annotated[str | None, typer.Option(help="First day (default: 28 days before --until).")] = None,
    until: Annotated[str | None, typer.Option(help="Last day (default: the last day synced).")] = None,
    by: Annotated[str, typer.Option(help="asset or tag")] = "asset",
    kind: Annotated[str | None, typer.Option(help="Only image, video or text assets.", show_default=False)] = None,
    platform: Annotated[Platform | None, typer.Option(show_default=False)] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Spend, impressions, clicks, CTR, conversions, CPA and ROAS per asset (or tag) across platforms, in the
    reporting currency. An ad counts toward every asset it shows (its image and its copy)."""
    _check_format(fmt, ("table", "csv", "json"))
    if by not in ("asset", "tag"):
        raise typer.BadParameter(f"unknown grouping {by!r} (asset or tag)", param_hint="--by")
    c = _container(ctx)
    try:
        last = c.warehouse.stats().insight_days
        end = date.fromisoformat(until) if until else (last[1] if last else datetime.now(UTC).date() - timedelta(1))
        start = date.fromisoformat(since) if since else end - timedelta(days=27)
        window = DateWindow(start, end)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since/--until") from None
    currency = c.settings.reporting_currency
    rows = c.asset_library.report(
        window, reporting_currency=currency, by=by, kind=_kind(kind), platforms=(platform,) if platform else ()
    )
    records = _report_records(rows, by, currency)
    if fmt == "json":
        typer.echo(_json(records))
    elif fmt == "csv":
        buf = io.StringIO()
        if records:
            names = list(dict.fromkeys(k for rec in records for k in rec))
            writer = csv.DictWriter(buf, fieldnames=names)
            writer.writeheader()
            writer.writerows(records)
        typer.echo(buf.getvalue(), nl=False)
    else:
        shown = [k for k in (records[0] if records else {}) if not k.startswith("spend_") or k == f"spend_{currency}"]
        table = Table(
            *(shown or ["(no data)"]), title=f"{window.start} .. {window.end}, {currency}", title_justify="left"
        )
        missing = {"asset": "(no asset)", "tag": "(untagged)"}[by]
        for rec in records:
            cells = [short(rec[k]) if k == "asset" and rec[k] else str(rec[k]) for k in shown]
            table.add_row(missing if rec[by] is None else cells[0], *cells[1:])
        out.print(table)


def main() -> None:
    """``python -m adpilot.entrypoints.cli_creatives``: the commands on their own, as ``adpilot creatives``."""
    try:
        app(prog_name="adpilot creatives")
    except AdpilotError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
