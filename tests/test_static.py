"""dlkit.viz.static: every position drawn ahead, switched by front-end links."""

import pytest

w = pytest.importorskip("ipywidgets")

from matplotlib.figure import Figure  # noqa: E402

from dlkit.viz import static  # noqa: E402
from dlkit.viz.display import show_in  # noqa: E402


def _draw(out, a, b):
    fig = Figure(figsize=(1, 1))
    fig.subplots().plot([0, a], [0, b])
    show_in(out, fig, text=f"a={a} b={b}")


def test_every_position_is_drawn_and_linked():
    a = w.Dropdown(options=[("one", 1), ("two", 2), ("three", 3)], value=2)
    b = w.IntSlider(value=4, min=3, max=5)
    box = static.explorer([a, b], _draw)
    view = box.children[-1]
    assert static.EXPLORER_CLASS in box._dom_classes
    # 3 stacks of layer b, each padded with 3 blanks below the slider's min
    assert len(view.children) == 3 and all(len(s.children) == 6 for s in view.children)
    leaves = [s.children[v] for s in view.children for v in (3, 4, 5)]
    assert [o.outputs[0]["text"] for o in leaves] == [
        f"a={x} b={y}\n" for x in (1, 2, 3) for y in (3, 4, 5)
    ]
    assert view.outputs[0]["text"] == "a=2 b=4\n"
    a.value, b.value = 3, 5  # the kernel's side of the links follows
    assert view.selected_index == 2 and view.outputs[0]["text"] == "a=3 b=5\n"
    links = [x for x in w.Widget.widgets.values() if type(x).__name__ == "DirectionalLink"]
    assert {(x.source[0], x.source[1]) for x in links} >= {(a, "index"), (b, "value")}


def test_lazy_explorer_draws_on_demand():
    a = w.ToggleButtons(options=["x", "y"], value="x")
    seen = []

    def draw(out, v):
        seen.append(v)
        out.outputs = ({"output_type": "stream", "name": "stdout", "text": v},)

    box = static.explorer([a], draw, precompute=False)
    assert seen == ["x"]
    a.value = "y"
    assert seen == ["x", "y"] and box.children[-1].outputs[0]["text"] == "y"


def test_bad_controls_are_refused_with_the_fix():
    with pytest.raises(TypeError, match="SelectionSlider"):
        static.explorer([w.FloatSlider()], _draw)
    with pytest.raises(ValueError, match="step 1"):
        static.explorer([w.IntSlider(min=0, max=10, step=2)], _draw)
    big = [w.Dropdown(options=list(range(30))) for _ in range(2)]
    with pytest.raises(ValueError, match="30 x 30 = 900 views"):
        static.explorer(big, _draw)
    assert static.grid([1, 2], 1.5, 2) == [1.0, 1.5, 2.0]
