"""Render the sample image variants shown in docs/creatives-generation.md.

Usage: ``.venv/bin/python scripts/render_samples.py [OUT_DIR]`` (default ``docs/img/variants``).

The source is drawn here (a product on a plain backdrop, off-centre to the right), so the samples need no
asset and come out the same on every run. Headlines come from the offline text generator, so the samples
show both halves of the pipeline.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from adpilot.creative.generate_image import BrandStyle, render
from adpilot.creative.generate_text import SourceCopy, generate_text_variants
from adpilot.creative.specs import SPECS
from adpilot.domain.ids import Platform

LIMIT = 100 * 1024  # docs stay light: each sample under 100 KB


def source_photo() -> bytes:
    """A 1600 x 1000 'product shot': a trail shoe drawn from shapes, right of centre, with a soft shadow."""
    w, h = 1600, 1000
    img = Image.new("RGB", (w, h))
    draw = ImageDraw.Draw(img)
    for y in range(h):  # a warm studio backdrop, lighter at the top
        t = y / h
        draw.line([(0, y), (w, y)], fill=(round(242 - 18 * t), round(236 - 20 * t), round(226 - 24 * t)))
    shadow = Image.new("L", (w, h), 0)
    ImageDraw.Draw(shadow).ellipse((980, 700, 1480, 780), fill=110)
    img.paste((120, 110, 100), mask=shadow.filter(ImageFilter.GaussianBlur(18)))
    draw.rounded_rectangle((1000, 610, 1470, 720), radius=40, fill=(40, 44, 52))  # sole
    draw.chord((1000, 380, 1300, 700), 180, 360, fill=(214, 72, 50))  # heel and body
    draw.polygon([(1150, 430), (1440, 560), (1470, 660), (1150, 660)], fill=(214, 72, 50))  # toe
    draw.rounded_rectangle((1060, 430, 1180, 470), radius=16, fill=(245, 245, 240))  # collar
    for x in range(1160, 1380, 44):  # laces
        draw.line([(x, 470 + (x - 1160) // 4), (x + 30, 520 + (x - 1160) // 4)], fill=(250, 250, 250), width=8)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    photo = source_photo()
    preview = Image.open(io.BytesIO(photo))
    preview.thumbnail((480, 480))
    preview.save(out_dir / "source.png", optimize=True)
    copy = SourceCopy(
        "Dry feet on every trail",
        "Waterproof trail shoes with a 2-year warranty.",
        "SHOP_NOW",
        product="Trail Runner 2",
        proof="Rated 4.8 by 2,000 runners",
    )
    style = BrandStyle(backgrounds=("#FFFFFF", "#14213D"), buttons=("#1A73E8", "#E8710A"), long_side=1080)
    plan = [  # platform, ratio, colour pair
        (Platform.META, "1:1", ("#FFFFFF", "#1A73E8")),
        (Platform.META, "191:100", ("#14213D", "#E8710A")),
        (Platform.X, "191:100", ("#FFFFFF", "#E8710A")),
        (Platform.TIKTOK, "9:16", ("#14213D", "#1A73E8")),
        (Platform.TIKTOK, "16:9", ("#FFFFFF", "#1A73E8")),
    ]
    for n, (platform, ratio_name, colours) in enumerate(plan):
        text = generate_text_variants(copy, platform, n=len(plan), seed=7).variants[n % len(plan)]
        ratio = next(r for r in SPECS[platform].ratios if str(r) == ratio_name)
        v = render(photo, platform, ratio, headline=text.headline, call_to_action=text.call_to_action, style=style,
                   colours=colours)  # fmt: skip
        img = Image.open(io.BytesIO(v.png))
        path = out_dir / f"{platform.value}-{ratio_name.replace(':', 'x')}.png"
        img.save(path, optimize=True)
        if path.stat().st_size > LIMIT:  # a palette of 128 colours keeps flat artwork sharp and small
            img.quantize(128, dither=Image.Dither.NONE).save(path, optimize=True)
        sys.stdout.write(f"{path} {v.width}x{v.height} {path.stat().st_size // 1024} KB  {v.how}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs" / "img" / "variants")
