"""Figure and widget helpers shared by the chapters of the course book.

Chapters import this module (``import widgets``) so that every figure uses the
same colour-blind-safe palette and every interactive figure is built the same
way. The notebooks run with the working directory set to ``book/`` (Jupyter
Book, JupyterLab and ``pytest --nbval`` all start the kernel in the notebook's
folder), so the plain import finds this file.

The main helper, :func:`frames_slider`, draws every state of a figure once, in
Python, and wraps the pictures in a slider. With ipywidgets 8 the pictures sit
in a ``Stack`` tied to the slider with ``ipywidgets.jslink``, which runs in the
browser, so the figure keeps working on the static website where no kernel is
running: the build saves the widget state into the page. ipywidgets 7 (the
version Colab ships) has no ``Stack``; there the kernel swaps the picture when
the slider moves, which works wherever a kernel runs.
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

    slider = _slider(labels, description)
    frames = [ipywidgets.HTML(png_html(figure_to_png(draw(v)), alt(v))) for v in values]
    return ipywidgets.VBox([slider, _shown_by(slider, frames)])


def frames_grid(
    draw: Callable[[object, object], matplotlib.figure.Figure],
    rows: Sequence,
    columns: Sequence,
    descriptions: tuple[str, str],
    alt: Callable[[object, object], str],
    row_labels: Sequence[str] | None = None,
    column_labels: Sequence[str] | None = None,
) -> ipywidgets.VBox:
    """Two sliders that show the figure ``draw(row, column)`` for the chosen pair of values.

    The two-dimensional sibling of :func:`frames_slider`: every figure of the grid
    is drawn now and stored as a PNG. Each row's pictures are shown by the column
    slider, and the rows by the row slider: the column slider moves every row at
    once, so both sliders work on the static page with no kernel.

    Example::

        widgets.frames_grid(draw, [0.1, 0.5], [0.0, 0.9], ("learning rate", "momentum"),
                            alt=lambda lr, beta: f"Descent with lr={lr}, momentum={beta}")
    """
    rows, columns = list(rows), list(columns)
    if not rows or not columns:
        raise ValueError("frames_grid needs at least one row and one column")
    row_labels = [str(v) for v in rows] if row_labels is None else list(row_labels)
    column_labels = [str(v) for v in columns] if column_labels is None else list(column_labels)
    if len(row_labels) != len(rows) or len(column_labels) != len(columns):
        raise ValueError("need one label per row and one per column")

    row_slider = _slider(row_labels, descriptions[0])
    column_slider = _slider(column_labels, descriptions[1])
    grid_rows = []
    for r in rows:
        frames = [ipywidgets.HTML(png_html(figure_to_png(draw(r, c)), alt(r, c))) for c in columns]
        grid_rows.append(_shown_by(column_slider, frames))
    return ipywidgets.VBox([row_slider, column_slider, _shown_by(row_slider, grid_rows)])


def _shown_by(slider: ipywidgets.SelectionSlider, frames: list[ipywidgets.Widget]) -> ipywidgets.Widget:
    """A widget that shows ``frames[slider.index]``, and another frame when the slider moves."""
    if hasattr(ipywidgets, "Stack"):  # ipywidgets 8
        stack = ipywidgets.Stack(frames, selected_index=slider.index)
        # jslink, not observe: the link lives in the browser, so it needs no kernel.
        ipywidgets.jslink((slider, "index"), (stack, "selected_index"))
        return stack
    # ipywidgets 7, as on Colab, has no Stack: a box with one frame in it, which the kernel
    # swaps for another when the slider moves. This needs a running kernel.
    box = ipywidgets.Box([frames[slider.index]])

    def show(change: dict) -> None:
        box.children = (frames[change["new"]],)

    slider.observe(show, names="index")
    return box


def _slider(labels: list[str], description: str) -> ipywidgets.SelectionSlider:
    """The course's slider: one position per label, as wide as the text column."""
    return ipywidgets.SelectionSlider(
        options=labels,
        index=0,
        description=description,
        continuous_update=True,
        style={"description_width": "initial"},
        layout=ipywidgets.Layout(width="min(100%, 32em)"),
    )


def frames_sliders(
    draw: Callable[..., matplotlib.figure.Figure],
    axes: Sequence[Sequence],
    descriptions: Sequence[str],
    alt: Callable[..., str],
    labels: Sequence[Sequence[str]] | None = None,
) -> ipywidgets.VBox:
    """One slider per axis of values that together show the figure ``draw(*values)`` for the chosen values.

    :func:`frames_grid` for any number of sliders: every figure of the product of
    ``axes`` is drawn now and stored as a PNG. The frames are nested one level per
    slider, and each slider shows the same position in every stack of its level, so
    all the sliders work on the static page with no kernel. The number of frames is
    the product of the lengths of the axes: keep it modest, every frame is in the page.

    Example::

        widgets.frames_sliders(draw, [[1, 2], ["a", "b", "c"], [0.1, 0.5]], ("layer", "head", "query"),
                               alt=lambda layer, head, q: f"Layer {layer}, head {head}, query {q}")
    """
    axes = [list(values) for values in axes]
    if not axes or not all(axes):
        raise ValueError("frames_sliders needs at least one axis, and at least one value on each")
    labels = [[str(v) for v in values] for values in axes] if labels is None else [list(x) for x in labels]
    if len(descriptions) != len(axes) or len(labels) != len(axes):
        raise ValueError(
            f"got {len(descriptions)} descriptions and {len(labels)} label lists for {len(axes)} axes"
        )
    if any(len(names) != len(values) for names, values in zip(labels, axes, strict=True)):
        raise ValueError("need one label per value on every axis")

    sliders = [_slider(names, text) for names, text in zip(labels, descriptions, strict=True)]

    def level(depth: int, chosen: tuple) -> ipywidgets.Widget:
        if depth == len(axes):
            return ipywidgets.HTML(png_html(figure_to_png(draw(*chosen)), alt(*chosen)))
        return _shown_by(sliders[depth], [level(depth + 1, (*chosen, v)) for v in axes[depth]])

    return ipywidgets.VBox([*sliders, level(0, ())])
