"""Putting matplotlib figures on the page: in a cell, or inside a widget.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot state) and rendered to
PNG here. :func:`show_in` sets a widget ``Output``'s contents as its state instead of
printing inside ``with out:``, so the picture is saved with the notebook's widget
state (the static book page shows it) and never leaks into the cell's own output
when no front end runs the notebook (nbclient, nbval).
"""

from __future__ import annotations

import base64
import contextlib
import io
import sys
from collections.abc import Iterator

from matplotlib.figure import Figure

DPI = 80
_PALETTE = [False]


def png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure rendered as PNG bytes (a 256-colour palette PNG inside
    :func:`palette_pngs`)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    if not _PALETTE[0]:
        return buf.getvalue()
    from PIL import Image

    image = Image.open(buf).convert("RGB")
    small = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    small.save(out, format="png", optimize=True)
    return out.getvalue()


@contextlib.contextmanager
def palette_pngs() -> Iterator[None]:
    """Within this block :func:`png` (and so :func:`show_in`) stores figures as palette
    PNGs of at most 256 colours at the same size: a line plot is exact and a few times
    smaller; a colour map is quantised to 256 shades. The precomputed views of a static
    explorer (:mod:`dlkit.viz.static`) use it to keep pages small."""
    before = _PALETTE[0]
    _PALETTE[0] = True
    try:
        yield
    finally:
        _PALETTE[0] = before


def show(fig: Figure) -> None:
    """Display a figure as a PNG image in the notebook."""
    from IPython.display import Image, display

    display(Image(data=png(fig), format="png"))


def show_in(out, fig: Figure, text: str | None = None, *, alt: str = "<Figure>") -> None:
    """Replace the contents of the ``ipywidgets.Output`` `out` with `text` (if given)
    and the figure.

    The figure becomes a PNG in the widget's synced ``outputs``; `alt` is its plain-text
    form. A figure made with pyplot is closed afterwards, so it is not drawn a second
    time at the end of the cell.
    """
    outputs = (
        [] if text is None else [{"output_type": "stream", "name": "stdout", "text": text + "\n"}]
    )
    outputs.append(
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {"image/png": base64.b64encode(png(fig)).decode("ascii"), "text/plain": alt},
        }
    )
    out.outputs = tuple(outputs)
    _close(fig)


def show_png(out, fig: Figure, text: str = "figure") -> None:
    """Put `fig` into the ipywidgets Output `out` as a PNG whose plain-text form is `text`:
    :func:`show_in` with ``alt=text``."""
    show_in(out, fig, alt=text)


def _close(fig: Figure) -> None:
    """Drop `fig` from pyplot's list of open figures; a Figure pyplot never saw is left as is."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)
