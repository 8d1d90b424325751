"""The experiments floor (dlkit.experiments) beside the drawing floor (dlkit.viz).

Every run a chapter shows lives in dlkit.experiments and is importable from its old
viz path as the very same object; experiments never import viz, and viz imports
experiments only inside functions; the PNG-in-a-widget code has one home
(dlkit.viz.display); the engine in dlkit.autograd does not draw.
"""

import ast
import importlib
from pathlib import Path
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dlkit import data, nn, train

DLKIT = Path(__file__).resolve().parents[1] / "dlkit"

#: old module -> {name: new module}
MOVED = {
    "dlkit.viz.networks": {
        "Snapshot": "dlkit.experiments.boundaries",
        "BoundaryRun": "dlkit.experiments.boundaries",
        "train_boundary": "dlkit.experiments.boundaries",
        "FunctionFits": "dlkit.experiments.approximation",
        "fit_1d": "dlkit.experiments.approximation",
    },
    "dlkit.viz.backprop": {
        name: "dlkit.experiments.backprop"
        for name in (
            "neuron_graph",
            "layer_gradients",
            "compare_engines",
            "gradient_check_table",
            "memory_sweep",
            "layer_gradient_norms",
        )
    },
    "dlkit.viz.optimizers": {
        name: "dlkit.experiments.optimizers"
        for name in (
            "Surface",
            "RAVINE",
            "SADDLE",
            "LOCAL",
            "SURFACES",
            "OPTIMIZER_NAMES",
            "Run",
            "optimize",
            "race",
            "gradient_noise",
        )
    },
    "dlkit.viz.cnn": {"feature_maps": "dlkit.experiments.cnn"},
    "dlkit.viz.precision": {"sample_values": "dlkit.experiments.precision"},
    "dlkit.viz.parallel": {"step_breakdown": "dlkit.experiments.parallel"},
    "dlkit.viz.cluster": {"allreduce_run": "dlkit.experiments.collectives"},
    "dlkit.viz.conv": {
        "example_input": "dlkit.experiments.conv",
        "layout_runs": "dlkit.experiments.conv",
    },
    "dlkit.autograd": {"draw_graph": "dlkit.viz.autograd"},
}
CASES = [(old, name, new) for old, names in MOVED.items() for name, new in names.items()]


@pytest.mark.parametrize("old,name,new", CASES, ids=[f"{o}.{n}" for o, n, _ in CASES])
def test_old_path_gives_the_object_of_the_new_home(old, name, new):
    old_mod, new_mod = importlib.import_module(old), importlib.import_module(new)
    assert name not in vars(old_mod), f"{old}.{name} is defined there, not moved"
    obj = getattr(old_mod, name)
    assert obj is getattr(new_mod, name)
    if hasattr(obj, "__qualname__"):
        assert obj.__module__ == new
    ns: dict = {}
    exec(f"from {old} import {name}", ns)
    assert ns[name] is obj


@pytest.mark.parametrize("old", list(MOVED))
def test_each_old_module_lists_what_it_serves(old):
    mod = importlib.import_module(old)
    assert mod._MOVED == MOVED[old]
    assert not hasattr(mod, "no_such_name")  # __getattr__ raises AttributeError
    with pytest.raises(AttributeError, match="no_such_name"):
        mod.no_such_name


def _imports(path: Path, module_level_only: bool = False) -> list[tuple[int, str]]:
    """(line, module) of every import in `path`; ``from a import b`` gives a.b too."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    out = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out += [(node.lineno, node.module)]
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def _hits(found, prefix):
    return [(line, m) for line, m in found if m == prefix or m.startswith(prefix + ".")]


def test_experiments_never_import_viz():
    files = sorted((DLKIT / "experiments").glob("*.py"))
    assert len(files) >= 9
    bad = {f.name: _hits(_imports(f), "dlkit.viz") for f in files}
    assert not {k: v for k, v in bad.items() if v}


def test_viz_imports_experiments_only_inside_functions():
    files = sorted((DLKIT / "viz").glob("*.py"))
    bad = {f.name: _hits(_imports(f, module_level_only=True), "dlkit.experiments") for f in files}
    assert not {k: v for k, v in bad.items() if v}
    # the explorers do use them, lazily
    lazy = _hits(_imports(DLKIT / "viz" / "networks.py"), "dlkit.experiments")
    assert lazy


def test_autograd_is_the_engine_only():
    found = _imports(DLKIT / "autograd.py")
    assert not _hits(found, "matplotlib")
    # draw_graph is reached through dlkit.aliases.moved, which imports viz on first use only
    assert {m for _, m in found if m.startswith("dlkit")} <= {
        "dlkit.aliases",
        "dlkit.aliases.moved",
    }


def test_png_in_a_widget_has_one_home():
    for path in sorted((DLKIT / "viz").glob("*.py")):
        if path.name == "display.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert "b64encode" not in text and "savefig" not in text, path.name


def test_predict_has_one_home():
    from dlkit.viz import networks

    assert networks.predict_classes is train.predict
    scores = np.array([[0.1, 0.9], [2.0, -1.0]])
    assert networks.predict_classes(scores).tolist() == [1, 0]


def test_decision_boundary_and_snapshots_share_the_grid():
    from dlkit.experiments.boundaries import plane_classes, plane_grid, train_boundary

    X, y = data.moons(60, noise=0.1, seed=0)
    run = train_boundary(X, y, (8,), lr=0.2, epochs=30, snapshots=(30,), resolution=15)
    xx, yy, grid = plane_grid(X, 15)
    assert grid.shape == (225, 2) and xx.shape == yy.shape == (15, 15)
    assert xx.min() == pytest.approx(X[:, 0].min() - 0.25)
    np.testing.assert_array_equal(
        plane_classes(run.model, grid, (15, 15)), run.snapshots[-1].classes
    )


def test_show_in_closes_pyplot_figures_and_keeps_its_alt_text():
    from matplotlib.figure import Figure

    from dlkit.viz.display import show_in, show_png

    plt.close("all")  # figures other tests left open in this process
    out = SimpleNamespace(outputs=())
    fig = plt.figure()
    show_in(out, fig, alt="a picture")
    assert fig.number not in plt.get_fignums()
    assert out.outputs[0]["data"]["text/plain"] == "a picture"
    assert out.outputs[0]["data"]["image/png"]
    show_in(out, Figure(), "caption")  # a Figure pyplot never saw
    assert out.outputs[0]["text"] == "caption\n"
    assert out.outputs[1]["data"]["text/plain"] == "<Figure>"
    show_png(out, plt.figure(), "old name")
    assert out.outputs[0]["data"]["text/plain"] == "old name" and not plt.get_fignums()


def test_explorers_leave_no_pyplot_figure_open():
    from dlkit import models
    from dlkit.viz import cnn, conv, networks, precision

    plt.close("all")
    X, y, _, _ = data.load_digits(flat=False, seed=0)
    boxes = {
        "decision boundary": networks.boundary_explorer("moons", width=4, depth=1, epochs=20),
        "position 3": conv.sliding_window_explorer(step=3),
        "feature map": cnn.feature_map_explorer(models.digits_cnn(4, 6, seed=0), X[:3], y[:3]),
        "bias": precision.rounding_explorer(),
    }
    assert plt.get_fignums() == []
    for alt, box in boxes.items():
        data_ = box.children[-1].outputs[0]["data"]
        assert data_["text/plain"].startswith(alt) and data_["image/png"]


def test_graph_figure_draws_every_node():
    from matplotlib.figure import Figure

    from dlkit.experiments.backprop import neuron_graph
    from dlkit.viz.autograd import draw_graph, graph_layout
    from dlkit.viz.backprop import plot_graph

    g = neuron_graph()
    fig = plot_graph(g["o"])
    assert isinstance(fig, Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert sum("grad" in t for t in texts) == 10  # every value of the neuron
    order, pos, size = graph_layout(g["o"])
    assert len(order) == len(pos) == 10 and size[0] >= 4.0
    with pytest.raises(TypeError, match="draw_graph needs a Value"):
        draw_graph(1.0)


def test_learning_rate_path_is_the_closed_form():
    from dlkit.experiments.optimizers import learning_rate_path

    for lr in (0.1, 0.9, 2.1):
        path = learning_rate_path(1.0, lr, 12, 2.0)
        assert path.shape == (13,)
        np.testing.assert_allclose(path, 2.0 * (1 - lr) ** np.arange(13), rtol=1e-12)


def test_round_sample_bias():
    from dlkit.experiments.precision import round_sample, sample_values

    eps = 2.0**-8
    x = np.full(1000, 0.3 * eps)
    r, bias = round_sample(x, 8, "nearest")
    assert np.all(r == 0) and bias == pytest.approx(-0.3 * eps, rel=1e-12)
    _, bias = round_sample(sample_values(1e-3), 8, "stochastic")
    assert abs(bias) < 0.05 * eps


def test_feature_maps_follow_the_layers():
    from dlkit import models
    from dlkit.experiments.cnn import feature_maps

    X, _, _, _ = data.load_digits(flat=False, seed=0)
    net = models.digits_cnn(4, 6, seed=0)
    maps = feature_maps(net, X[0])
    assert len(maps) == len(net)
    np.testing.assert_array_equal(maps[-1], net.forward(X[:1])[0])
    assert isinstance(net[0], nn.Conv2d)


def test_viz_runs_experiments_only_in_explorers():
    """A plot takes an experiment's results; only the interactive explorers (which re-run
    on a slider change) and a few figures of a given input import dlkit.experiments."""
    allowed = {"sliding_window_figure", "plot_layouts", "decision_boundary", "_explorer_figure"}
    found = []
    for path in sorted((DLKIT / "viz").glob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(fn, ast.FunctionDef) or fn.name == "__getattr__":
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "dlkit.experiments"
                ):
                    if not (fn.name.endswith("_explorer") or fn.name in allowed):
                        found.append(f"{path.name}:{fn.name}")
    assert not found, f"viz functions that run experiments: {found}"
