"""Drawing the computational graph of :mod:`dlkit.autograd` values (chapter 5).

- :func:`graph_layout`: the position of every node, one column per longest path from
  an input;
- :func:`draw_graph`: the graph on a matplotlib Axes (no graphviz);
- :func:`graph_figure`: a Figure sized to the graph, with the graph drawn on it.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from dlkit.autograd import Value, _check_root, topological_order

__all__ = ["graph_layout", "draw_graph", "graph_figure"]


def graph_layout(
    root: Value,
) -> tuple[list[Value], dict[int, tuple[float, float]], tuple[float, float]]:
    """Where each node of root's graph goes, left to right.

    Returns ``(order, pos, size)``: the nodes in topological order, ``id(node) ->
    (x, y)`` (column = the longest path from an input, two units apart) and the
    figure size in inches that fits the graph.
    """
    order = topological_order(root)
    depth: dict[int, int] = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(c)] for c in node._prev), default=-1)
    columns: dict[int, list[Value]] = {}
    for node in order:
        columns.setdefault(depth[id(node)], []).append(node)
    pos = {}
    for d, nodes in columns.items():
        for i, node in enumerate(nodes):
            pos[id(node)] = (2.0 * d, -(i - (len(nodes) - 1) / 2) * 1.2)
    width = max(4.0, 1.9 * (max(columns) + 1))
    height = max(2.0, 0.9 * max(len(c) for c in columns.values()) + 0.6)
    return order, pos, (width, height)


def draw_graph(root: Value, ax=None, *, show_grad: bool = True):
    """Draw root's computational graph left to right with matplotlib; return the Axes.

    Boxes are values (label, data and, after ``𝓛.backward()``, grad = ∂𝓛/∂(value));
    circles are the operations that produced them. Columns are the longest path from an input.
    Without `ax`, a pyplot figure of the right size is made.
    """
    _check_root(root, "draw_graph")
    order, pos, size = graph_layout(root)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=size)
    for node in order:
        x, y = pos[id(node)]
        for child in node._prev:
            cx, cy = pos[id(child)]
            ax.annotate(
                "",
                xy=(x - 0.62, y),
                xytext=(cx + 0.62, cy),
                arrowprops=dict(arrowstyle="->", color="#555", lw=1),
            )
        text = f"{node.label + ' = ' if node.label else ''}{node.data:.4g}" + (
            f"\ngrad {node.grad:.4g}" if show_grad else ""
        )
        ax.add_patch(
            FancyBboxPatch(
                (x - 0.6, y - 0.32),
                1.2,
                0.64,
                boxstyle="round,pad=0.02",
                fc="#e8f0fe",
                ec="#3367d6",
            )
        )
        ax.text(x, y, text, ha="center", va="center", fontsize=8)
        if node._op:
            ax.text(
                x - 0.6,
                y + 0.42,
                node._op,
                ha="center",
                va="center",
                fontsize=8,
                bbox=dict(boxstyle="circle,pad=0.2", fc="#fde7c5", ec="#e37400"),
            )
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.9, max(xs) + 0.9)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.75)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def graph_figure(root: Value, *, show_grad: bool = True) -> Figure:
    """A Figure (no pyplot state) sized to root's graph, with :func:`draw_graph` on it."""
    _check_root(root, "graph_figure")
    fig = Figure(figsize=graph_layout(root)[2])
    draw_graph(root, fig.subplots(), show_grad=show_grad)
    fig.tight_layout()
    return fig
