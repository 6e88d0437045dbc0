"""Pages: the one skeleton of every HTML page the grader writes (feedback, report, similarity, the TA view).

Each page is one self-contained file: its style inline, its images as data, nothing loaded from
anywhere, and a Content-Security-Policy that lets no script run, whatever slipped into a notebook.
Markdown is rendered here too, its math turned into MathML, which browsers draw without any script.
"""

import functools
from html import escape

from latex2mathml.converter import convert as tex_to_mathml
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; }
table { border-collapse: collapse; margin: 1rem 0; } td, th { border: 1px solid #bbb; padding: .3rem .6rem; text-align: left; }
.pass { color: #1a6e1a; } .fail { color: #a4161a; }
pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; border-radius: 4px; }
.cell { margin: 1rem 0; } .label { font-size: .8rem; color: #555; text-transform: uppercase; letter-spacing: .04em; }
.answer pre.source { border-left: 4px solid #0072b2; } .test pre.source { border-left: 4px solid #e69f00; }
.error { color: #a4161a; font-weight: 600; } .pending { color: #8a5a00; }
"""


CONTENT_POLICY = (
    "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src data:;"
    " style-src 'unsafe-inline'\">"
)
"""No script runs on the pages made from students' notebooks, whatever slipped into them."""


VIEWPORT = "<meta name='viewport' content='width=device-width, initial-scale=1'>"
"""Phones show the page at their own width instead of a shrunken desktop page."""


def page(title: str, body: list[str], style: str = "") -> str:
    """A whole page: `title` (plain text, escaped here), `body` (HTML, escaped by the caller), extra `style`."""
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>{CONTENT_POLICY}{VIEWPORT}"
        f"<title>{escape(title)}</title><style>{STYLE}{style}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def _math(tex: str, options: dict) -> str:
    try:
        return tex_to_mathml(tex, display="block" if options.get("display_mode") else "inline")
    except Exception:  # noqa: BLE001 (latex2mathml raises many kinds on TeX it cannot read)
        return f"<code>{escape(tex)}</code>"


_markdown = (
    MarkdownIt("commonmark", {"html": False})
    .enable("table")
    .use(dollarmath_plugin, renderer=_math, allow_space=False, allow_digits=False, double_inline=True)
)


@functools.lru_cache(maxsize=4096)
def markdown_html(text: str) -> str:
    """Markdown (a notebook's text, a student's written answer) as HTML; raw HTML in it stays text.

    Remembered: a class's notebooks share their given text, the most of each page to render.
    """
    return _markdown.render(text)


def markdown_inline(text: str) -> str:
    """One line of markdown as inline HTML (a heading used as a part's name)."""
    return _markdown.renderInline(text)
