"""``adpilot creatives generate`` and ``adpilot creatives launch`` (mounted on the creatives app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from adpilot.domain.ids import EntityRef, Level, Platform

out = Console()
err = Console(stderr=True)

PlatformsOpt = Annotated[list[Platform] | None, typer.Option("--platform", help="Repeat for several (default: all).")]


def generate_command(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="Asset id or unique prefix (an image, or copy).")],
    headline: Annotated[str, typer.Option(help="The copy to vary.")] = "",
    body: Annotated[str, typer.Option(help="Primary text (default: the headline).")] = "",
    cta: Annotated[str, typer.Option("--cta", help="Call to action to start from.")] = "LEARN_MORE",
    platforms: PlatformsOpt = None,
    n: Annotated[int, typer.Option("--n", min=1, max=20, help="Copy variants per platform.")] = 4,
    seed: Annotated[int, typer.Option(help="Same seed, same variants.")] = 0,
    images: Annotated[bool, typer.Option("--images/--no-images", help="Render image variants too.")] = True,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Where PNG previews go.")] = None,
) -> None:
    """Copy and image variants of an asset, stored in the library with their lineage; PNG previews written."""
    from adpilot.creative.studio import generate
    from adpilot.entrypoints.cli_creatives import _container, _library

    c = _container(ctx)
    result = generate(
        _library(ctx), c.asset_store, asset, platforms=platforms or list(Platform), headline=headline, body=body,
        call_to_action=cta, n=n, seed=seed, images=images, out_dir=out_dir or c.settings.data_dir / "previews",
    )  # fmt: skip
    copies = Table(title=f"copy variants of {result.source[:19]}", title_justify="left")
    for col in ("asset", "platform", "headline", "cta", "how"):
        copies.add_column(col)
    for cp in result.copies:
        copies.add_row(cp.asset_id[7:19], str(cp.platform), cp.headline, cp.call_to_action, cp.how)
    out.print(copies)
    if result.images:
        imgs = Table(title="image variants", title_justify="left")
        for col in ("asset", "platform", "ratio", "size", "preview"):
            imgs.add_column(col)
        for im in result.images:
            imgs.add_row(im.asset_id[7:19], str(im.platform), im.ratio, f"{im.width}x{im.height}", str(im.preview))
        out.print(imgs)


def launch_command(
    ctx: typer.Context,
    asset: Annotated[str, typer.Argument(help="Image asset id or unique prefix.")],
    platform: Annotated[Platform, typer.Option(help="meta, x or tiktok.")],
    account: Annotated[str, typer.Option(help="Ad account id, as in `adpilot accounts list`.")],
    ad_set: Annotated[str, typer.Option("--ad-set", help="Ad set / line item / ad group id.")],
    headline: Annotated[str, typer.Option(help="Headline (TikTok: the ad text).")],
    body: Annotated[str, typer.Option(help="Primary text.")] = "",
    cta: Annotated[str, typer.Option("--cta", help="Call to action.")] = "LEARN_MORE",
    link: Annotated[str, typer.Option(help="Landing page URL.")] = "",
    active: Annotated[bool, typer.Option("--active/--paused", help="Start delivering at once.")] = False,
    by: Annotated[str | None, typer.Option(help="Who launches (default: the OS user).")] = None,
) -> None:
    """Upload the image and create an ad (checked against the platform's specs first), exactly once."""
    from adpilot.accounts import normalize_account_id
    from adpilot.agent.actions_service import ActionsService
    from adpilot.creative.studio import launch_action
    from adpilot.entrypoints.cli_actions import _actor
    from adpilot.entrypoints.cli_creatives import _container, _library

    c = _container(ctx)
    target = EntityRef(platform, normalize_account_id(platform, account), Level.AD_SET, ad_set)
    action = launch_action(
        _library(ctx), c.asset_store, asset, target=target, headline=headline, body=body, call_to_action=cta,
        link_url=link, paused=not active,
    )  # fmt: skip
    service = ActionsService(c.warehouse, lambda: c.accounts.all(), adapter_options={"asset_bytes": c.asset_store.get})
    rec = service.submit(action, _actor(by))
    if rec.error or str(rec.state) not in ("applied", "skipped"):
        err.print(f"[red]launch {rec.state}[/]: {rec.error or rec.reason or ''}")
        raise typer.Exit(1)
    created = rec.after.get("created_id") or rec.after.get("ad_id") or ""
    out.print(f"launched {rec.action_id[:12]} on {platform}: ad {created} ({'active' if active else 'paused'})")
