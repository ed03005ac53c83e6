"""Draw deploy/line/richmenu.png from deploy/line/richmenu.json.

The tiles and their captions come from the definition itself (each area's bounds and
its action label), so the picture can never disagree with what a tap sends.

Dev-time only (the PNG is committed; the bot never runs this):
    pip install 'iijmio-bot[richmenu]'   # Pillow
    apt-get install fonts-noto-cjk       # a Japanese font
    python deploy/line/make_richmenu_image.py [--font PATH]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
    "/System/Library/Fonts/ヒラギノ角ゴシック W6.ttc",
)
TILE_COLOURS = ("#A3171E", "#C8363D", "#7A1117", "#3D4451", "#566070", "#2B303A")
TEXT_COLOUR = "#FFFFFF"
GAP = 6  # px of white between tiles so the areas read as separate buttons
MAX_BYTES = 1024 * 1024  # LINE refuses rich menu images over 1 MB


def find_font(explicit: str | None) -> str:
    for path in (explicit, *FONT_CANDIDATES):
        if path and Path(path).exists():
            return path
    raise SystemExit("no Japanese font found: install fonts-noto-cjk or pass --font")


def fitted_font(
    draw: ImageDraw.ImageDraw, text: str, font_path: str, box_w: int, box_h: int
) -> ImageFont.FreeTypeFont:
    size = int(box_h * 0.22)
    while size > 20:
        font = ImageFont.truetype(font_path, size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        if right - left <= box_w * 0.86 and bottom - top <= box_h * 0.5:
            return font
        size -= 4
    return ImageFont.truetype(font_path, size)


def draw_menu(definition: dict[str, object], font_path: str) -> Image.Image:
    size = definition["size"]
    assert isinstance(size, dict)
    image = Image.new("RGB", (int(size["width"]), int(size["height"])), "#FFFFFF")
    draw = ImageDraw.Draw(image)
    areas = definition["areas"]
    assert isinstance(areas, list)
    for i, area in enumerate(areas):
        b = area["bounds"]
        x0, y0 = b["x"] + GAP, b["y"] + GAP
        x1, y1 = b["x"] + b["width"] - GAP, b["y"] + b["height"] - GAP
        draw.rounded_rectangle(
            (x0, y0, x1, y1), radius=36, fill=TILE_COLOURS[i % len(TILE_COLOURS)]
        )
        label = str(area["action"].get("label") or area["action"].get("text"))
        font = fitted_font(draw, label, font_path, x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        draw.text((cx, cy), label, font=font, fill=TEXT_COLOUR, anchor="mm")
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--definition", default=str(HERE / "richmenu.json"))
    parser.add_argument("--out", default=str(HERE / "richmenu.png"))
    parser.add_argument("--font", default=None)
    args = parser.parse_args()
    definition = json.loads(Path(args.definition).read_text("utf-8"))
    image = draw_menu(definition, find_font(args.font))
    image.save(args.out, format="PNG", optimize=True)
    written = Path(args.out).stat().st_size
    if written > MAX_BYTES:
        raise SystemExit(f"{args.out} is {written} bytes; LINE accepts at most {MAX_BYTES}")
    print(f"wrote {args.out} ({image.width}x{image.height}, {written} bytes)")


if __name__ == "__main__":
    main()
