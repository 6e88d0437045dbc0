"""Tests of the course website: the book builds cleanly, offline, with working widgets.

The build tests are marked ``slow`` (about half a minute: they build the whole site,
executing every chapter, into a temporary folder). They need the vendored scripts:
run ``npm ci --no-audit --no-fund`` and ``python book/vendor_js.py`` first.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
from browser import SHOWN_FRAMES, browse

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
SCREENSHOTS = ROOT / "_build" / "screenshots"  # one per chapter, for a person to look at
# The `site` fixture (the whole book, built once per test session) lives in conftest.py.


class _ResourceCollector(HTMLParser):
    """Collects the URLs a page loads by itself (scripts, styles, images), not its hyperlinks."""

    LOADING_ATTRIBUTES = {
        "script": "src",
        "img": "src",
        "iframe": "src",
        "source": "src",
        "audio": "src",
        "video": "src",
        "embed": "src",
        "track": "src",
        "object": "data",
    }
    LOADING_LINK_RELS = {
        "stylesheet",
        "preload",
        "modulepreload",
        "prefetch",
        "icon",
        "shortcut",
        "manifest",
    }

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "link":
            if set((attributes.get("rel") or "").lower().split()) & self.LOADING_LINK_RELS:
                self.urls.append(attributes.get("href") or "")
        elif tag in self.LOADING_ATTRIBUTES:
            self.urls.append(attributes.get(self.LOADING_ATTRIBUTES[tag]) or "")
        if attributes.get("srcset"):
            self.urls.extend(part.split()[0] for part in attributes["srcset"].split(",") if part.strip())


class _OutputText(HTMLParser):
    """Collects the text of the cells' outputs on a page (the `cell_output` blocks), one string per block."""

    def __init__(self) -> None:
        super().__init__()
        self.outputs: list[str] = []
        self._depth = 0  # open elements inside the current output block; 0 outside one

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._depth:
            self._depth += tag not in self.VOID
        elif "cell_output" in (dict(attrs).get("class") or "").split():
            self._depth = 1
            self.outputs.append("")

    def handle_endtag(self, tag: str) -> None:
        if self._depth and tag not in self.VOID:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.outputs[-1] += data

    VOID = {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }


STRAY_REPRS = re.compile(
    r"<[\w.]+(?: object)? at 0x[0-9a-fA-F]+>"  # <torch._C.Generator at 0x7f...>, <... object at 0x...>
    r"|\[?<matplotlib\.[\w.]+"  # [<matplotlib.lines.Line2D at ...>], <matplotlib.image.AxesImage ...>
    r"|<Figure size \d+x\d+ with \d+ Axes>"
    r"|<Axes: "
    r"|^(?:Text|Line2D|Rectangle|Annotation)\(",  # the last value of a cell that drew a label or a line
    re.MULTILINE,
)
"""What a cell shows when its last line returns a value nobody meant to print."""


def _is_other_host(url: str) -> bool:
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https") or (not parts.scheme and url.strip().startswith("//"))


@pytest.mark.slow
def test_build_embeds_widget_state_and_measured_speedup(site: Path) -> None:
    """Does the tensors chapter carry its widget state and the speed-up measured at build time?"""
    page = site / "book" / "01_tensors.html"
    assert page.exists()
    html = page.read_text(encoding="utf-8")

    states = re.findall(rf'<script type="{re.escape(WIDGET_STATE)}">(.*?)</script>', html, re.DOTALL)
    assert states, "no widget state embedded in the page"
    models = json.loads(states[0])["state"]
    model_names = {model["model_name"] for model in models.values()}
    assert {"SelectionSliderModel", "StackModel", "LinkModel"} <= model_names

    speedup = re.search(r"vectorised relu on 10\^6 values was ([\d,]+)x faster than the loop", html)
    assert speedup, "the measured relu speed-up is not on the page"
    assert int(speedup.group(1).replace(",", "")) > 1


@pytest.mark.slow
def test_pages_load_nothing_from_other_hosts(site: Path) -> None:
    """Does any page load a script, style sheet or image from another host? (Links are fine.)"""
    offenders = []
    for page in sorted(site.rglob("*.html")):
        collector = _ResourceCollector()
        collector.feed(page.read_text(encoding="utf-8"))
        offenders += [f"{page.relative_to(site)}: {url}" for url in collector.urls if _is_other_host(url)]
    assert not offenders, "resources loaded from other hosts:\n" + "\n".join(offenders)
    assert (site / "_static" / "require.js").exists()
    assert (site / "_static" / "html-manager" / "embed-amd.js").exists()
    assert (site / "_static" / "mathjax" / "tex-mml-chtml.js").exists()
    assert (site / "_static" / "widgets-offline.js").exists()


@pytest.mark.slow
def test_pages_show_no_stray_reprs(site: Path) -> None:
    """Does any cell output show a repr nobody meant to print (`<torch._C.Generator at 0x...>`,
    `[<matplotlib.lines.Line2D ...>]`, `Text(...)`)? End such a line with `;` or assign its value."""
    stray, outputs = [], 0
    for page in sorted(site.rglob("*.html")):
        collector = _OutputText()
        collector.feed(page.read_text(encoding="utf-8"))
        outputs += len(collector.outputs)
        for output in collector.outputs:
            stray += [f"{page.relative_to(site)}: {m.group()}" for m in STRAY_REPRS.finditer(output)]
    assert outputs > 50, f"only {outputs} cell outputs found: has the page layout changed?"
    assert not stray, "stray reprs in cell outputs:\n" + "\n".join(stray)


def test_stray_repr_pattern_catches_what_it_is_for() -> None:
    """Does the pattern of test_pages_show_no_stray_reprs match the junk and not ordinary output?"""
    junk = [
        "<torch._C.Generator at 0x7f3a2c1b9e90>",
        "[<matplotlib.lines.Line2D at 0x7f00>]",
        "<matplotlib.image.AxesImage at 0x7f00>",
        "Text(0.5, 1.0, 'loss')",
        "<Figure size 640x480 with 1 Axes>",
        "<__main__.Value object at 0x7f00>",
    ]
    fine = ["tensor([1., 2.])", "P_optimal = 0.5048831168831168 kW", "Value(data=3.0, grad=0.0)"]
    assert all(STRAY_REPRS.search(text) for text in junk)
    assert not any(STRAY_REPRS.search(text) for text in fine)


@pytest.mark.slow
def test_pages_carry_the_logo_and_the_favicon(site: Path) -> None:
    """Does every page link a favicon and show the logo, both files present in the site, and is there a
    /favicon.ico for a page that links none?"""
    for page in [site / "book" / "intro.html", *sorted((site / "book").glob("[0-9][0-9]_*.html"))]:
        html = page.read_text(encoding="utf-8")
        icons = re.findall(r'<link rel="(?:shortcut )?icon" href="([^"]+)"', html)
        logos = re.findall(r'<img src="([^"]+)"[^>]*class="logo__image', html)
        assert icons and logos, f"{page.name}: favicon {icons}, logo {logos}"
        for url in icons + logos:
            assert (page.parent / url).resolve().is_file(), f"{page.name}: {url} is not in the site"
    assert (site / "favicon.ico").is_file(), "no /favicon.ico for pages that link no icon (the landing page)"


@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.name)
def test_chapters_are_stored_without_outputs(notebook: Path) -> None:
    """Are the chapter notebooks stored clean? They are executed at build time."""
    nb = nbformat.read(notebook, as_version=4)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"cells with stored outputs: {dirty} (clear them before committing)"
    assert "widgets" not in nb.metadata, "stored widget state: clear it before committing"


# Each chapter is executed once per environment, never twice in one: in the build (this environment, a failing cell
# fails it) and once in tests/test_colab_parity.py (Colab's packages, ipywidgets 7).


def test_frames_slider_links_slider_to_frames(widgets, plt) -> None:
    """Is the slider tied to the frames in the browser (jslink), so it works with no kernel?"""

    def draw(k):
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.plot([0, k])
        return fig

    box = widgets.frames_slider(draw, [1, 2, 3], "k", alt=lambda k: f"a line of slope {k}")
    slider, stack = box.children
    assert slider.options == ("1", "2", "3")
    assert len(stack.children) == 3
    assert 'alt="a line of slope 2"' in stack.children[1].value
    assert stack.selected_index == slider.index == 0
    with pytest.raises(ValueError):
        widgets.frames_slider(draw, [], "k", alt=str)


@pytest.mark.slow
@pytest.mark.browser
def test_slider_switches_frames_in_browser_with_no_other_hosts(site: Path, tmp_path: Path) -> None:
    """Does the slider show another precomputed frame, with no kernel and no request elsewhere?"""
    with browse(site, tmp_path) as (browser, base):
        browser.open(f"{base}/index.html")  # the landing page, which forwards to the introduction
        assert browser.evaluate("document.location.pathname") == "/book/intro.html"
        assert browser.console_errors() == [], "JavaScript errors on the landing page"
        assert browser.failed_requests() == [], "failed requests on the landing page"
        browser.open(f"{base}/book/01_tensors.html")
        assert "rotated by 0 degrees" in browser.evaluate(SHOWN_FRAMES)
        browser.press_right(0, 3)  # three steps of 30 degrees
        assert "rotated by 90 degrees" in browser.evaluate(SHOWN_FRAMES)
        urls = browser.requested_urls()
        elsewhere = [u for u in urls if not u.startswith(("data:", f"{base}/"))]
        assert urls and not elsewhere, f"requests to other hosts: {elsewhere}"


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("chapter", [p.stem for p in CHAPTERS])
def test_every_chapter_renders_its_widgets_and_math_offline(site: Path, tmp_path: Path, chapter: str) -> None:
    """In a real browser: no request elsewhere, every widget and formula rendered, a screenshot kept."""
    with browse(site, tmp_path / "profile") as (browser, base):
        browser.open(f"{base}/book/{chapter}.html", settle=1)
        placeholders_js = (
            "document.querySelectorAll('script[type=\"application/vnd.jupyter.widget-view+json\"]').length"
        )
        browser.wait_until(
            f"document.querySelectorAll('.jupyter-widgets').length >= {placeholders_js}"
            " && document.querySelectorAll('mjx-container').length > 0"
        )
        browser.wait(1)  # late console errors and requests
        views = browser.evaluate("document.querySelectorAll('.jupyter-widgets').length")
        placeholders = browser.evaluate(placeholders_js)
        assert placeholders > 0, f"{chapter} has no widget"
        assert views >= placeholders, f"{chapter}: {placeholders} widgets embedded, {views} rendered"
        assert browser.evaluate("document.querySelectorAll('mjx-container').length") > 0, "no math rendered"
        elsewhere = [u for u in browser.requested_urls() if not u.startswith(("data:", f"{base}/"))]
        assert not elsewhere, f"requests to other hosts: {elsewhere}"
        assert browser.console_errors() == [], f"{chapter}: JavaScript errors in the console"
        assert browser.failed_requests() == [], f"{chapter}: requests that failed (a 404, say)"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        browser.screenshot(SCREENSHOTS / f"{chapter}.png")
