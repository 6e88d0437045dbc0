"""Figure and widget helpers shared by the chapters of the course book.

Chapters import this module (``import widgets``) so that every figure uses the
same colour-blind-safe palette and every interactive figure is built the same
way. The notebooks run with the working directory set to ``book/`` (Jupyter
Book, JupyterLab and ``pytest --nbval`` all start the kernel in the notebook's
folder), so the plain import finds this file.

The main helper, :func:`frames_slider`, draws every state of a figure once, in
Python, and wraps the pictures in a slider. The slider is tied to the pictures
with ``ipywidgets.jslink``, which runs in the browser, so the figure keeps
working on the static website where no kernel is running: the build saves the
widget state into the page.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Sequence

import ipywidgets
import matplotlib
import matplotlib.pyplot as plt
from cycler import cycler

# Okabe & Ito (2008), a palette that stays distinguishable for the common
# forms of colour blindness and in greyscale print.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}

#: Sequential colour map for images and heat maps (perceptually uniform, colour-blind safe).
SEQUENTIAL_CMAP = "cividis"


def use_course_style() -> None:
    """Make matplotlib draw with the course palette, readable fonts and a light grid."""
    matplotlib.rcParams.update(
        {
            "axes.prop_cycle": cycler(color=list(PALETTE.values())),
            "image.cmap": SEQUENTIAL_CMAP,
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "font.size": 11,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )


def figure_to_png(fig: matplotlib.figure.Figure) -> bytes:
    """Render a figure to PNG bytes and close it, so it is not also shown below the cell."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def png_html(png: bytes, alt: str) -> str:
    """An ``<img>`` tag that carries the PNG inline (no file, no request) and its alt text."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}" style="max-width:100%">'


def frames_slider(
    draw: Callable[[object], matplotlib.figure.Figure],
    values: Sequence,
    description: str,
    alt: Callable[[object], str],
    labels: Sequence[str] | None = None,
) -> ipywidgets.VBox:
    """A slider over ``values`` that shows the figure ``draw(value)`` for the chosen value.

    Every figure is drawn now, once per value, and stored in the widget as a PNG
    with the alt text ``alt(value)``. The slider switches between the stored
    pictures in the browser, so it works without a kernel on the static page.

    Example::

        def draw(angle):
            fig, ax = plt.subplots()
            ...
            return fig

        widgets.frames_slider(draw, range(0, 360, 30), "angle",
                              alt=lambda a: f"The square rotated by {a} degrees")
    """
    values = list(values)
    if not values:
        raise ValueError("frames_slider needs at least one value")
    labels = [str(v) for v in values] if labels is None else list(labels)
    if len(labels) != len(values):
        raise ValueError(f"got {len(labels)} labels for {len(values)} values")

    frames = [ipywidgets.HTML(png_html(figure_to_png(draw(v)), alt(v))) for v in values]
    stack = ipywidgets.Stack(frames, selected_index=0)
    slider = ipywidgets.SelectionSlider(
        options=labels,
        index=0,
        description=description,
        continuous_update=True,
        style={"description_width": "initial"},
        layout=ipywidgets.Layout(width="min(100%, 32em)"),
    )
    # jslink, not observe: the link lives in the browser, so it needs no kernel.
    ipywidgets.jslink((slider, "index"), (stack, "selected_index"))
    return ipywidgets.VBox([slider, stack])
