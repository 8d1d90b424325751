"""Explorers that respond on the static page as well as in JupyterLab.

An explorer's controls are discrete: a dropdown, toggle buttons, a selection slider, an
integer slider. :func:`explorer` draws the view of *every* combination of their positions
when the cell runs and stacks the views in nested ``ipywidgets.Stack`` widgets, one layer
per control: control ℓ picks the shown child of every stack of layer ℓ through a front-end
link (``ipywidgets.jsdlink`` from its ``index``, or an integer slider's ``value``, to the
stack's ``selected_index``). Links are widgets too, saved with the notebook's widget
state, so the built HTML page switches views in the browser with no kernel. In JupyterLab
the same links run in the front end, and a kernel callback on each control draws a view
that was not drawn ahead (``precompute=False``) and keeps the stacks' saved state in step
when code sets a control.

A control with many positions (a float slider) is coarsened to a grid: a
``SelectionSlider`` over its values. The grid is the product of the controls' positions,
so an explorer with k controls of n positions draws n**k views: keep it to a few hundred.
The views are stored as palette PNGs (:func:`dlkit.viz.display.palette_pngs`), several
times smaller than the full-colour ones, to keep each page small.

Three lines turn an explorer with an ``Output`` ``out`` and a callback ``draw()`` that
reads the controls into one that works without a kernel::

    def draw(out, surface, name):          # the values arrive as arguments
        show_in(out, plot(surface, name))

    return static.explorer([surf, opt], draw, rows=[[surf, opt]])
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from typing import Any

from dlkit.viz.display import palette_pngs

__all__ = [
    "EXPLORER_CLASS",
    "CONTROL_CLASS",
    "explorer",
    "grid",
    "positions",
    "position_trait",
]

#: CSS class of an explorer's outer box (the browser test finds explorers by it).
EXPLORER_CLASS = "dlkit-explorer"
#: CSS class of each control that switches the view; control ℓ also has the class
#: ``dlkit-control-ℓ``.
CONTROL_CLASS = "dlkit-control"
#: More views than this in one explorer are refused (page size and execution time).
MAX_VIEWS = 500


def grid(values: Sequence[float], *extra: float) -> list[float]:
    """The sorted union of `values` and `extra` (an explorer's initial values join its
    grid, so the first view is exactly the one asked for)."""
    return sorted({float(v) for v in values} | {float(v) for v in extra})


@functools.cache
def _stack_class():
    import ipywidgets as w

    class StaticView(w.Stack):
        """The nested stacks of an explorer; ``outputs`` are those of the view shown."""

        @property
        def outputs(self) -> tuple:
            node = self
            while isinstance(node, w.Stack):
                node = node.children[node.selected_index]
            return node.outputs

    return StaticView


def position_trait(control) -> str:
    """The synced trait of `control` that counts its positions 0, 1, 2, ...:
    ``index`` for a selection widget, ``value`` for an integer slider or ``Play``."""
    import ipywidgets as w

    if isinstance(control, w.widgets.widget_selection._Selection):
        return "index"
    if isinstance(control, (w.IntSlider, w.Play, w.BoundedIntText)):
        if control.step != 1 or control.min < 0:
            raise ValueError(
                f"static explorer: {type(control).__name__} {control.description!r} has "
                f"min={control.min}, step={control.step}; a control that switches views "
                "needs min >= 0 and step 1: use a SelectionSlider over its values instead"
            )
        return "value"
    raise TypeError(
        f"static explorer: a {type(control).__name__} cannot switch precomputed views; "
        "use a Dropdown, ToggleButtons, SelectionSlider or an IntSlider (min >= 0, step 1)"
    )


def positions(control) -> list[tuple[int, Any]]:
    """``(position, value)`` for every position of `control`, in order.

    For a selection widget the position is the option's index and the value the option's
    value; for an integer slider both are the slider's value.
    """
    if position_trait(control) == "index":
        return list(enumerate(control._options_values))
    return [(v, v) for v in range(control.min, control.max + 1)]


def explorer(
    controls: Sequence,
    draw: Callable[..., None],
    *,
    rows: Sequence | None = None,
    precompute: bool = True,
):
    """An explorer whose view is switched by `controls`, with or without a kernel.

    Parameters
    ----------
    controls : the discrete widgets that choose the view, in the order of `draw`'s
        arguments (see :func:`position_trait` for the kinds accepted).
    draw : ``draw(out, *values)`` fills the ``ipywidgets.Output`` ``out`` with the view for
        one value of each control (with :func:`dlkit.viz.display.show_in`).
    rows : what is shown above the view: widgets, or lists of widgets laid out in a row
        (``HBox``). Default: one row of the controls.
    precompute : draw every view now (the saved page then responds to every control). With
        False only the first view is drawn now and each further one when a kernel is
        there to draw it, as a classic explorer.

    Returns
    -------
    ipywidgets.VBox
        ``rows`` over the view, with the CSS class :data:`EXPLORER_CLASS`. The view is an
        ``ipywidgets.Stack`` nested one layer per control; its leaves are ``Output``
        widgets.
    """
    import ipywidgets as w

    controls = list(controls)
    if not controls:
        raise ValueError("static explorer: give at least one control")
    grids = [positions(c) for c in controls]
    views = 1
    for g in grids:
        views *= len(g)
    if views > MAX_VIEWS:
        sizes = " x ".join(str(len(g)) for g in grids)
        raise ValueError(
            f"static explorer: {sizes} = {views} views is more than {MAX_VIEWS}; "
            "coarsen a control (fewer options) or drop one"
        )
    traits = [position_trait(c) for c in controls]
    outputs: dict[tuple[int, ...], Any] = {}
    drawn: set[tuple[int, ...]] = set()
    blank = w.HTML()  # what an integer slider's unused positions below its min show

    def build(level: int, key: tuple[int, ...]):
        if level == len(controls):
            outputs[key] = w.Output()
            return outputs[key]
        here = grids[level]
        children = [blank] * here[0][0] + [build(level + 1, key + (p,)) for p, _ in here]
        kind = view_class if level == 0 else w.Stack
        stack = kind(children=children, selected_index=_position(controls[level]))
        w.jsdlink((controls[level], traits[level]), (stack, "selected_index"))
        stacks[level].append(stack)
        return stack

    stacks: list[list] = [[] for _ in controls]
    view_class = _stack_class()
    view = build(0, ())

    def render(key: tuple[int, ...]) -> None:
        values = [dict(g)[p] for g, p in zip(grids, key)]
        draw(outputs[key], *values)
        drawn.add(key)

    def current() -> tuple[int, ...]:
        return tuple(_position(c) for c in controls)

    with palette_pngs():
        keys = itertools.product(*[[p for p, _ in g] for g in grids])
        for key in keys if precompute else [current()]:
            render(key)

    def on_change(_=None) -> None:
        for level, c in enumerate(controls):  # the kernel's copy of the links' effect
            for stack in stacks[level]:
                stack.selected_index = _position(c)
        key = current()
        if key not in drawn:
            with palette_pngs():
                render(key)

    for level, (c, trait) in enumerate(zip(controls, traits)):
        c.add_class(CONTROL_CLASS)
        c.add_class(f"{CONTROL_CLASS}-{level}")  # its layer in the stacks
        c.observe(on_change, names=trait)

    above = [c for c in controls] if rows is None else list(rows)
    if rows is None:
        above = [w.HBox(above)]
    box = w.VBox([w.HBox(list(r)) if isinstance(r, (list, tuple)) else r for r in above] + [view])
    box.add_class(EXPLORER_CLASS)
    return box


def _position(control) -> int:
    return int(getattr(control, position_trait(control)))
