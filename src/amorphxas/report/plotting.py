"""The shared look and the one save helper of every report figure.

Figures are built as :class:`matplotlib.figure.Figure` objects (no pyplot, no global backend
switch, so importing :mod:`amorphxas.report` leaves a notebook's backend alone). Sizes are the
printed sizes (inches at page width, <= 7.2 in), so the font sizes below (>= 9 pt) are what a
reader sees on the page. Colours: the Okabe-Ito palette, distinguishable with the common forms of
colour-vision deficiency.
"""

from __future__ import annotations

import functools
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

from amorphxas.core.files import atomic_path

#: Okabe-Ito colours (Okabe & Ito 2008), in the order they are used for series
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
#: Si0..Si4+ and over-coordinated (> 4 O): the same colour for a valence in every figure
VALENCE_COLOURS = ["#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00"]
OVER_COORDINATED_COLOUR = "#CC79A7"
#: smallest font size (pt) at the saved size; page width (in)
MIN_FONT_PT = 9
PAGE_WIDTH_IN = 7.2
#: PNG resolution (dots per inch); an SVG is written beside every PNG
DPI = 200

STYLE = {
    "font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10, "xtick.labelsize": MIN_FONT_PT,
    "ytick.labelsize": MIN_FONT_PT, "legend.fontsize": MIN_FONT_PT, "figure.titlesize": 10,
    "legend.title_fontsize": MIN_FONT_PT, "axes.prop_cycle": matplotlib.cycler(color=OKABE_ITO),
    "axes.spines.top": False, "axes.spines.right": False, "svg.fonttype": "none",
    "figure.constrained_layout.use": True,
}


def styled(function):
    """Run a plotting function with :data:`STYLE` (fonts, palette, layout) in effect; the global
    rcParams are restored afterwards."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return function(*args, **kwargs)

    return wrapper


def figure(width: float = PAGE_WIDTH_IN, height: float = 3.6) -> Figure:
    """A new figure of ``width`` x ``height`` inches (capped at page width), no pyplot state."""
    return Figure(figsize=(min(width, PAGE_WIDTH_IN), height))


def save(fig: Figure, path: str | Path, svg_beside: bool = True, dpi: int = DPI) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix, PNG at ``dpi`` >= 200) and, for a PNG,
    the same figure as SVG beside it (``path`` with suffix ``.svg``); then release the figure.

    Returns ``path``. Each file is written all-or-nothing; directories are created."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".") or "png"
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=max(dpi, DPI), format=suffix)
        if svg_beside and suffix == "png":
            with atomic_path(path.with_suffix(".svg")) as tmp:
                fig.savefig(tmp, format="svg")
    finally:
        fig.clear()
    return path


def valence_label(v: int) -> str:
    """'Si0'..'Si4+' (the O-neighbour count of a Si site, as in the studies)."""
    return "Si0" if v == 0 else f"Si{v}+"
