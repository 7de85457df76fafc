"""Render the application icon from its SVG masters: PNG sizes, a Windows .ico, a macOS .icns.

Two masters: ``assets/icons/strata.svg`` (48 px and up) and ``strata-small.svg`` (16 to 32 px,
bolder shapes on a full-bleed tile, so the three layers stay apart at 16 px). Qt's SVG
renderer draws them (ImageMagick here has no SVG delegate); Pillow packs the .ico and .icns.
Run it after editing a master: ``.venv/bin/python installers/make_icons.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parents[1] / "assets" / "icons"
OUT = ICONS / "app"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
SMALL_UP_TO = 32
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512)


def render(master: Path, size: int, out: Path) -> None:
    renderer = QSvgRenderer(str(master))
    if not renderer.isValid():
        raise SystemExit(f"{master}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    if not image.save(str(out)):
        raise SystemExit(f"{out}: cannot be written")


def main() -> int:
    QGuiApplication(sys.argv[:1])
    OUT.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        master = ICONS / ("strata-small.svg" if size <= SMALL_UP_TO else "strata.svg")
        render(master, size, OUT / f"strata-{size}.png")
    pngs = {size: Image.open(OUT / f"strata-{size}.png").convert("RGBA") for size in SIZES}
    largest = pngs[max(ICO_SIZES)]
    largest.save(
        OUT / "strata.ico",
        sizes=[(s, s) for s in ICO_SIZES],
        append_images=[pngs[s] for s in ICO_SIZES if s != max(ICO_SIZES)],
    )
    pngs[512].save(OUT / "strata.icns", append_images=[pngs[s] for s in ICNS_SIZES[:-1]])
    for path in sorted(OUT.iterdir()):
        print(f"{path.relative_to(ICONS.parents[1])}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
