"""Copy the browser scripts the course website serves itself from node_modules into book/_vendor/.

The site must not load anything from another host, so the scripts that MyST-NB and
Sphinx would fetch from public CDNs (require.js, the ipywidgets embed manager and
MathJax) are installed with npm (package.json) and copied here; `_config.yml` lists
book/_vendor/ in `html_static_path`, so the build puts them under `_static/`.

Usage, from the repository root:

    npm ci --no-audit --no-fund
    .venv/bin/python book/vendor_js.py

The folder is not called `_static`: Jupyter Book adds every .js and .css file under
the book's `_static/` to every page, which would load these bundles twice.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "book" / "_vendor"

# (source under node_modules, destination under book/_vendor)
FILES = [
    ("requirejs/require.js", "require.js"),
    ("@jupyter-widgets/html-manager/dist/embed-amd.js", "html-manager/embed-amd.js"),
    ("mathjax/es5/tex-mml-chtml.js", "mathjax/tex-mml-chtml.js"),
]
# MathJax loads its fonts, the menu, the accessibility tools and rarely used TeX
# packages on demand, from paths relative to tex-mml-chtml.js.
FOLDERS = [
    ("mathjax/es5/output/chtml/fonts/woff-v2", "mathjax/output/chtml/fonts/woff-v2"),
    ("mathjax/es5/input/tex/extensions", "mathjax/input/tex/extensions"),
    ("mathjax/es5/ui", "mathjax/ui"),
    ("mathjax/es5/a11y", "mathjax/a11y"),
    ("mathjax/es5/sre", "mathjax/sre"),
]

# The widgets' icon fonts, looked up beside the manager (see book/_js/widgets-offline.js).
FONTS = ("@jupyter-widgets/html-manager/dist", "html-manager", ("*.woff2", "*.woff", "*.ttf"))


def main() -> int:
    """Recreate book/_vendor/ from node_modules; return a process exit status."""
    missing = [src for src, _ in FILES + FOLDERS if not (NODE_MODULES / src).exists()]
    if missing:
        print(f"missing in {NODE_MODULES}: {', '.join(missing)}", file=sys.stderr)
        print("run `npm ci --no-audit --no-fund` in the repository root first", file=sys.stderr)
        return 1
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    for src, dst in FILES:
        (VENDOR / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(NODE_MODULES / src, VENDOR / dst)
    for src, dst in FOLDERS:
        shutil.copytree(NODE_MODULES / src, VENDOR / dst)
    src, dst, patterns = FONTS
    for pattern in patterns:
        for font in (NODE_MODULES / src).glob(pattern):
            shutil.copy2(font, VENDOR / dst / font.name)
    count = sum(1 for p in VENDOR.rglob("*") if p.is_file())
    print(f"copied {count} files into {VENDOR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
