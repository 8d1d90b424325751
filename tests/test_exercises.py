"""Every exercise check: right answers pass, wrong ones fail without giving the answer away,
junk never raises, and the chapter-numbered module names are the topic modules."""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import pathlib
import re
import sys

import numpy as np
import pytest

import dlkit.exercises as E

PREFIXES = ("Correct: ", "Not yet: ", "Cannot check: ")


def _checks() -> dict[str, object]:
    """All public check_* functions of the topic modules, keyed "topic.check_name"."""
    found = {}
    for topic in E.TOPICS:
        mod = importlib.import_module(f"dlkit.exercises.{topic}")
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            if name.startswith("check_") and fn.__module__ == mod.__name__:
                found[f"{topic}.{name}"] = fn
    return found


CHECKS = _checks()


# -------------------------------------------------------------------- answers for the cases


@functools.cache
def _trained_xnor(seed: int):
    from dlkit.perceptron import fit_gate_network

    return fit_gate_network("XNOR", epochs=300, seed=seed)[0]


class _NearestNeighbour:
    """A model-shaped 1-nearest-neighbour classifier of the standardized digits."""

    def __init__(self):
        from dlkit.data import load_digits

        X, self.y, _, _ = load_digits()
        mu, sd = X.mean(axis=0), X.std(axis=0) + 0.1
        self.X = (X - mu) / sd

    def eval(self):
        return self

    def forward(self, Z):
        d = (Z**2).sum(1)[:, None] - 2 * Z @ self.X.T + (self.X**2).sum(1)[None]
        return np.eye(10)[self.y[d.argmin(axis=1)]]


def _forward_right(Thetas, X):
    a = X
    for T in Thetas:
        a = 1 / (1 + np.exp(-(np.hstack([np.ones((len(a), 1)), a]) @ T.T)))
    return a


def _forward_no_bias(Thetas, X):
    a = X
    for T in Thetas:
        a = 1 / (1 + np.exp(-(a @ T[:, 1:].T)))
    return a


def _stochastic_rounding(x, fl, rng):
    eps = 2.0**-fl
    floor = np.floor(x / eps)
    return (floor + (rng.random(x.shape) < x / eps - floor)) * eps


def _conv_right(x, w, b, s, p):
    import dlkit.conv as dc

    return dc.conv2d_im2col(x, w, b, s, p)


def _conv_flipped(x, w, b, s, p):
    import dlkit.conv as dc

    return dc.conv2d(x, w[:, :, ::-1, ::-1], b, s, p)


def _voting_after():
    W = E.digits.VOTING_W.copy()
    W[1] += E.digits.VOTING_X
    W[0] -= E.digits.VOTING_X
    return W


def _allgather():
    from dlkit.parallel import hybrid

    net = hybrid.NETWORK
    return 3 * (net.alpha + 128 * 9216 * 4 * net.beta)


def _break_even():
    from dlkit.cluster import networks
    from dlkit.parallel import hybrid

    R, e = hybrid.DEVICE.flops, networks.preset("10gbe")
    a, c, d = 2 * 128 / (4 * R), 3 * 4 * 128 * e.beta / 4, 3 * e.alpha
    return (c + (c * c + 4 * a * d) ** 0.5) / (2 * a)


def _ring():
    from dlkit.cluster import networks

    e, m = networks.preset("10gbe"), 8 * 10**6 // 16
    return 30 * (e.alpha + m * e.beta) + 15 * m * e.gamma


def _crossover():
    from dlkit.parallel.allreduce import crossover

    return 8 * crossover(8, "fdr_ib")


_GOOD_THETAS = [[[-30.0, 20, 20], [10, -20, -20]], [[-10.0, 20, 20]]]
_C = [[5, 1], [2, 7]]


def _ae_L():
    from dlkit.exercises import autoencoders as ae

    return float(np.linalg.eigvalsh(ae.STEP_D.T @ ae.STEP_D)[-1])


def _ae_kl():
    from dlkit.exercises import autoencoders as ae

    r, q = ae.KL_RHO, ae.KL_RHO_HAT
    return float(r * np.log(r / q) + (1 - r) * np.log((1 - r) / (1 - q)))


def _rbm_free_energy():
    from dlkit.exercises import rbm

    return float(
        -(rbm.TINY_B @ rbm.TINY_V) - np.logaddexp(0, rbm.TINY_W @ rbm.TINY_V + rbm.TINY_C).sum()
    )


def _rbm_hidden_probs():
    from dlkit.exercises import rbm

    return 1 / (1 + np.exp(-(rbm.TINY_W @ rbm.TINY_V + rbm.TINY_C)))


def _case(right, wrong, hidden=(), shown=True):
    """Arguments of a right answer, a list of wrong ones, and texts that give the answer.

    Each argument set is a tuple of positional arguments, optionally followed by a dict
    of keyword arguments; a callable builds the set lazily. The first hidden text is in
    the verdict on the right answer unless `shown` is False.
    """
    return {"right": right, "wrong": wrong, "hidden": hidden, "shown": shown}


CASES = {
    "autoencoders.check_soft_threshold": _case(
        ([1.0, 0.0, -1.5, 0.0],), [([1.5, -0.2, -2.0, 0.4],), ([2.0, -0.7, -2.5, 0.9],)]
    ),
    "autoencoders.check_step_size": _case(
        (lambda: (1 / _ae_L(),)), [(lambda: (_ae_L(),)), (-1.0,), (1.0,)]
    ),
    "autoencoders.check_kl": _case((lambda: (_ae_kl(),)), [(0.0,), (-0.1,), (1.0,)]),
    "largescale.check_guessing": _case(
        (1 - 13_026 / 37_000,),
        [(13_026 / 37_000,), (64.8,), (0.5,)],
        ["0.648", "64.8%"],
        shown=False,
    ),
    "largescale.check_auc": _case(
        (8 / 9,), [(1 / 9,), (0.5,), (2.0,)], ["0.889", "0.89"], shown=False
    ),
    "largescale.check_core_hours": _case(
        (1_152_000,), [(48_000,), (72_000,), (0,)], ["1,152,000", "1152000"], shown=False
    ),
    "gpus.check_gemm_intensity": _case(
        (1024 / 6,), [(512 / 6,), (512.0,), (1024 / 2,)], ["170.67", "170.7"], shown=False
    ),
    "gpus.check_tiled_loads": _case(
        (32_768,), [(524_288,), (16_384,), (2_048,)], ["32,768", "32768"], shown=False
    ),
    "gpus.check_transactions": _case((2,), [(1,), (32,), (4,)]),
    "gpus.check_occupancy": _case((0.5,), [(1.0,), (50,), (0.25,)], ["0.50"], shown=False),
    "gpus.check_diannao_cycles": _case((66,), [(64,), (67,), (4096,)], ["66"], shown=False),
    "rbm.check_dbn_parameter_count": _case(
        (784 * 500 + 500 * 500 + 500 * 2000 + 784 + 500 + 500 + 2000,),
        [(784 * 500 + 500 * 500 + 500 * 2000,), (0,)],
        hidden=("1,645,784", "1645784"),
        shown=False,
    ),
    "rbm.check_free_energy": _case(
        (lambda: (_rbm_free_energy(),)), [(0.0,), (lambda: (-_rbm_free_energy(),))]
    ),
    "rbm.check_hidden_probs": _case(
        (lambda: (_rbm_hidden_probs(),)), [([0.0, 0.0],), (lambda: (_rbm_hidden_probs()[::-1],))]
    ),
    "perceptrons.check_gate_weights": _case(
        ("NAND", [-20, -20], 30), [("NAND", [20, 20], -30), ("NOT", [1, 1], 0)]
    ),
    "perceptrons.check_festival_majority": _case(([2, 2, 2], -3), [([6, 2, 2], -5)]),
    "perceptrons.check_separable_count": _case((14,), [(16,), (10,)], ["14"]),
    "sigmoid_xor.check_xor_network": _case(
        lambda: (importlib.import_module("dlkit.perceptron").xor_network(),),
        [lambda: (importlib.import_module("dlkit.perceptron").xnor_network(),)],
    ),
    "sigmoid_xor.check_smallest_scale": _case((0.5,), [(0.3,), (0.9,)], ["c = 0.5"]),
    "sigmoid_xor.check_trained_xnor": _case(
        lambda: (_trained_xnor(2),), [lambda: (_trained_xnor(0),)]
    ),
    "feedforward.check_param_count": _case(
        ([784, 30, 10], 23_860), [([784, 30, 10], 23_820), ([784, 30, 10], 0)], ["23,860", "23860"]
    ),
    "feedforward.check_xnor_thetas": _case(
        (_GOOD_THETAS,), [([_GOOD_THETAS[0], [[10.0, -20, -20]]],)]
    ),
    "feedforward.check_forward": _case((_forward_right,), [(_forward_no_bias,)]),
    "optimizers.check_cross_entropy": _case((0.25, math.log(4)), [(0.25, 1.0)], ["1.386"]),
    "optimizers.check_max_learning_rate": _case((4, 0.5), [(4, 0.25), (4, 1.0)], ["0.5"]),
    "optimizers.check_adam_first_step": _case(
        (1.0, 30.0, 0.1, 0.9), [(1.0, 30.0, 0.1, 1.1)], ["0.9"]
    ),
    "optimizers.check_ravine_settings": _case((0.2, 0.8), [(0.45, 0.0), (5.0, 0.5)]),
    "backprop.check_chain_rule": _case(
        (-2, 4, 2), [(-6, 4, 2), (0, 0, 0)], ["(-2.0, 4.0, 2.0)", "-2.0"], shown=False
    ),
    "backprop.check_softplus_derivative": _case((lambda z: 1 / (1 + np.exp(-z)),), [(np.tanh,)]),
    "backprop.check_activation_bytes": _case(
        (2_454_528,), [(2_454_528 // 4,), (1,)], ["2,454,528", "2454528"], shown=False
    ),
    "digits.check_voting_update": _case(
        lambda: (0, _voting_after()),
        [lambda: (2, _voting_after()), lambda: (0, E.digits.VOTING_W)],
        ["guess 0", "[2, 1, 2]"],
    ),
    "digits.check_recall": _case((_C, 1, 7 / 9), [(_C, 1, 7 / 8)], ["0.7778"]),
    "digits.check_digits_model": _case(
        lambda: (_NearestNeighbour(),),
        [lambda: (importlib.import_module("dlkit.nn").mlp([64, 10], seed=0),)],
    ),
    "regularization.check_dropout_variance": _case(
        (4 * 0.4 / 0.6,), [(4 * 0.4,), (0.96,), (1.0,)], ["2.667", "2.6667"], shown=False
    ),
    "regularization.check_running_stats": _case(
        ([0.3, 0.2], [0.9 + 0.1 * 14 / 3, 0.9 + 0.1 * 16 / 3]),
        [([3.0, 2.0], [14 / 3, 16 / 3]), ([0.3, 0.2], [1.25, 1.3])],
        ["1.367", "1.433", "1.3667", "1.4333"],
        shown=False,
    ),
    "regularization.check_early_stopping": _case(
        lambda: (
            importlib.import_module("dlkit.experiments.regularization").early_stopping_epochs,
        ),
        [(lambda v, p: (int(np.argmin(v)), len(v)),)],
    ),
    "convolution.check_output_size": _case(
        (28, 5, 2, 1, 13), [(28, 5, 2, 1, 12), (28, 5, 2, 1, 14)], ["= 13"]
    ),
    "convolution.check_winograd_multiplications": _case(
        (1, 6, 16, 12, 12, 1, 55_296),
        [(1, 6, 16, 12, 12, 1, 124_416), (1, 6, 16, 12, 12, 1, 7)],
        ["55,296", "55296"],
    ),
    "convolution.check_conv2d": _case((_conv_right,), [(_conv_flipped,)]),
    "convolution.check_arithmetic_intensity": _case(
        (64, 1, 6, 28, 5, 1.307), [(64, 1, 6, 28, 5, 10.18), (64, 1, 6, 28, 5, 2.6)], ["1.31"]
    ),
    "cnns.check_output_size": _case((227, 11, 4, 0, 55), [(227, 11, 4, 0, 54)], ["55"]),
    "cnns.check_conv_params": _case(
        (96, 256, 5, 307_456, {"groups": 2}),
        [(96, 256, 5, 614_656, {"groups": 2})],
        ["307,456", "307456"],
    ),
    "cnns.check_receptive_field": _case(
        ([(3, 1), (2, 2), (3, 1)], 8), [([(3, 1), (2, 2), (3, 1)], 6)], ["8x8"]
    ),
    "low_precision.check_range": _case(
        (4, 12, -8, 8 - 2**-12, 2**-12), [(4, 12, -8, 8, 2**-12)], [f"{8 - 2**-12:g}"]
    ),
    "low_precision.check_round_up_probability": _case((0.3, 3, 0.4), [(0.3, 3, 0.6)], ["0.4"]),
    "low_precision.check_smallest_gradient": _case(
        (10, 0.05, 2**-11 / 0.05), [(10, 0.05, 2**-10 / 0.05)], [f"{2**-11 / 0.05:.6g}"]
    ),
    "low_precision.check_stochastic_rounding": _case(
        (_stochastic_rounding,), [(lambda x, fl, rng: np.round(x * 2**fl) / 2**fl,)]
    ),
    "parallelism.check_allgather_time": _case(
        lambda: (_allgather(),),
        [(0.0,), lambda: (_allgather() / 3,)],
        [f"{_allgather() * 1e3:.3f}", f"{_allgather():.6g}"],
    ),
    "parallelism.check_break_even_width": _case(
        lambda: (_break_even(),), [(4096,)], [f"{_break_even():,.0f}"]
    ),
    "sync_sgd.check_ring_time": _case(
        lambda: (_ring(),),
        [(0.0,), lambda: (_ring() / 2,)],
        [f"{_ring() * 1e3:.4f}", f"{_ring():.6g}"],
    ),
    "sync_sgd.check_shard_weights": _case(
        ([22 / 64, 21 / 64, 21 / 64],),
        [([1 / 3] * 3,), ([0.5, 0.25, 0.25],)],
        ["0.34375"],
        shown=False,
    ),
    "sync_sgd.check_crossover": _case(lambda: (_crossover(),), [(10,)], [f"{_crossover():,}"]),
    "async_sgd.check_hypergraph": _case(
        (3, 0.5, 0.75), [(3, 2, 3), (4, 0.5, 0.75)], ["0.75"], shown=False
    ),
    "async_sgd.check_staleness_bound": _case((15,), [(5,), (18,)], ["15"], shown=False),
    "async_sgd.check_push_floats": _case(
        (156_480,), [(1_863_690,), (0,)], ["156,480", "156480"], shown=False
    ),
    "async_sgd.check_balanced_time": _case(
        (32 * 2e-3 / 3.25,), [(0.064,), (0.016,)], ["0.0196"], shown=False
    ),
}


def _args(spec):
    spec = spec() if callable(spec) else spec
    if spec and isinstance(spec[-1], dict):
        return tuple(spec[:-1]), dict(spec[-1])
    return tuple(spec), {}


def _run(capsys, fn, args, kwargs):
    """`fn`'s result and what it printed, memory addresses of objects left out."""
    capsys.readouterr()
    result = fn(*args, **kwargs)
    return result, re.sub(r"0x[0-9a-fA-F]+", "0x", capsys.readouterr().out)


def _one_verdict(out: str) -> str:
    """The verdict's prefix; fails unless `out` is exactly one verdict."""
    starts = [p for line in out.splitlines() for p in PREFIXES if line.startswith(p)]
    assert len(starts) == 1 and out.startswith(starts[0]), out
    return starts[0]


# ------------------------------------------------------------------------------- the tests


def test_every_check_has_a_case():
    assert set(CHECKS) == set(CASES), "add a right and a wrong answer for every new check"
    assert len(CHECKS) >= 30


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_right_answer_passes_and_wrong_ones_fail_without_the_answer(name, capsys):
    fn, case = CHECKS[name], CASES[name]
    ok, out = _run(capsys, fn, *_args(case["right"]))
    assert ok is True and _one_verdict(out) == "Correct: ", out
    hidden = [h() if callable(h) else h for h in case["hidden"]]
    if case["shown"]:
        assert all(h in out for h in hidden[:1]), (hidden, out)
    for wrong in case["wrong"]:
        ok, out = _run(capsys, fn, *_args(wrong))
        assert ok is False and _one_verdict(out) == "Not yet: ", out
        for h in hidden:
            assert h not in out, f"{name} prints the answer {h!r}: {out}"


def _raises(*args, **kwargs):
    raise RuntimeError("the reader's function fails")


JUNK = [
    None,
    "junk",
    float("nan"),
    float("inf"),
    -float("inf"),
    1j,
    [1, "a"],
    np.zeros((2, 3, 4)),
    np.full(3, np.nan),
    object(),
    _raises,
    lambda *a, **k: None,
]


def _params():
    for name in sorted(CHECKS):
        for param in inspect.signature(CHECKS[name]).parameters.values():
            if param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                yield name, param.name


@pytest.mark.parametrize("name, param", list(_params()))
def test_junk_never_raises(name, param, capsys):
    fn, case = CHECKS[name], CASES[name]
    args, kwargs = _args(case["right"])
    sig = inspect.signature(fn)
    required = sig.parameters[param].default is inspect.Parameter.empty
    for junk in JUNK:
        bound = sig.bind(*args, **kwargs)
        bound.arguments[param] = junk
        ok, out = _run(capsys, fn, bound.args, bound.kwargs)
        assert isinstance(ok, bool), (junk, out)
        prefix = _one_verdict(out)
        if required:  # the reader's own answer or the question itself is junk
            assert ok is False and prefix != "Correct: ", (junk, out)


def test_every_check_is_wrapped_so_it_never_raises():
    assert all(hasattr(fn, "__wrapped__") for fn in CHECKS.values())


def test_never_raises_turns_a_failure_into_a_verdict(capsys):
    @E.never_raises
    def check_x(answer):
        raise KeyError(answer)

    assert check_x(3) is False
    assert capsys.readouterr().out.startswith("Not yet: this answer cannot be checked (KeyError")


@pytest.mark.parametrize(
    "x, value, integer",
    [
        (3, 3.0, 3),
        ("13", 13.0, 13),
        (13.5, 13.5, None),
        (np.float32(2), 2.0, 2),
        (None, None, None),
        ("x", None, None),
        (float("nan"), None, None),
        (float("inf"), None, None),
        (10**400, None, None),
        (np.zeros(3), None, None),
        (1j, None, None),
    ],
)
def test_number_and_whole(x, value, integer):
    assert E.number(x) == value and E.whole(x) == integer


def test_verdict_wording(capsys):
    assert E.verdict(True, "a") is True and E.verdict(False, "b") is False
    assert E.cannot_check("c") is False
    assert capsys.readouterr().out == "Correct: a\nNot yet: b\nCannot check: c\n"


# --------------------------------------------------------------------- the old module names


@pytest.mark.parametrize("old, topic", sorted(E.CHAPTERS.items()))
def test_chapter_numbered_names_are_the_topic_modules(old, topic):
    mod = importlib.import_module(f"dlkit.exercises.{topic}")
    assert importlib.import_module(f"dlkit.exercises.{old}") is mod
    assert sys.modules[f"dlkit.exercises.{old}"] is mod
    assert getattr(E, old) is mod and getattr(E, topic) is mod
    exec(f"from dlkit.exercises import {old} as via_from", ns := {})
    assert ns["via_from"] is mod
    public = [n for n in vars(mod) if n.startswith("check_")]
    assert public
    for n in public:
        exec(f"from dlkit.exercises.{old} import {n} as got", ns := {})
        assert ns["got"] is getattr(mod, n)


def test_old_names_match_the_files():
    here = pathlib.Path(E.__file__).parent
    olds = {p.stem for p in here.glob("ch[0-9][0-9].py")}
    assert olds == set(E.CHAPTERS)
    assert all((here / f"{t}.py").exists() for t in E.TOPICS)
    with pytest.raises(AttributeError, match="no attribute 'ch99'"):
        E.ch99  # noqa: B018


def test_old_private_names_still_reachable():
    from dlkit.exercises import ch01, ch02, ch06, ch08

    assert ch01.separable_functions is E.perceptrons.separable_functions
    assert ch02.smallest_scale() == 0.5
    assert ch06.VOTING_LABEL == 1 and ch08.receptive_field([(3, 1), (3, 1)]) == 5
