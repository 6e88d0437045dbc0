"""Render book/images/logo.svg to favicon.png and favicon.ico with Pillow: python book/images/render_favicon.py.

Pages link favicon.png; favicon.ico goes to the site's root, where a browser looks for it on a page
that links none (the landing page that forwards to the introduction).

The logo is drawn by hand from rectangles, lines and circles only, so this reads just those
elements (no SVG renderer needed). It draws at 8x the size and scales down, for smooth edges.
"""

import xml.etree.ElementTree as ET
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
SIZE = 32  # pixels of the favicon
ICO_SIZES = [(16, 16), (32, 32), (48, 48)]
SCALE = 8  # supersampling factor


def render(svg: Path, size: int) -> Image.Image:
    root = ET.parse(svg).getroot()
    ns = {"svg": "http://www.w3.org/2000/svg"}
    width = float(root.get("viewBox").split()[2])
    k = size * SCALE / width
    image = Image.new("RGBA", (size * SCALE, size * SCALE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for rect in root.iter(f"{{{ns['svg']}}}rect"):
        x, y, w, h, r = (float(rect.get(a, 0)) * k for a in ("x", "y", "width", "height", "rx"))
        draw.rounded_rectangle((x, y, x + w, y + h), radius=r, fill=rect.get("fill"))
    for group in root.iter(f"{{{ns['svg']}}}g"):
        stroke, stroke_width = group.get("stroke"), float(group.get("stroke-width")) * k
        for line in group.iter(f"{{{ns['svg']}}}line"):
            x1, y1, x2, y2 = (float(line.get(a)) * k for a in ("x1", "y1", "x2", "y2"))
            draw.line((x1, y1, x2, y2), fill=stroke, width=round(stroke_width))
    for circle in root.iter(f"{{{ns['svg']}}}circle"):
        cx, cy, r = (float(circle.get(a)) * k for a in ("cx", "cy", "r"))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=circle.get("fill"))
    return image.resize((size, size), Image.LANCZOS)


if __name__ == "__main__":
    render(HERE / "logo.svg", SIZE).save(HERE / "favicon.png", optimize=True)
    render(HERE / "logo.svg", 48).save(HERE / "favicon.ico", sizes=ICO_SIZES)
