"""Chapters 9 and 13: exercise checks that never give the answer away, the fc-batch
gap of the hybrid cost model, and the chapters' notation (workers p, message size m,
learning rate η, resolution ε)."""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib

import numpy as np
import pytest

from dlkit.exercises import low_precision as lp
from dlkit.exercises import parallelism as par
from dlkit.experiments import parallel as xpar
from dlkit.parallel import hybrid

CHAPTERS = pathlib.Path(__file__).resolve().parents[1] / "chapters"


def _forms(v: float) -> list[str]:
    """The ways a printed number could show `v`: fixed and general formats of 2-6
    digits, and (for large values) the integer with and without thousands separators."""
    forms = set()
    for d in range(2, 7):
        forms |= {f"{v:.{d}g}", f"{v:.{d}f}", f"{v:.{d}e}"}
    if abs(v) >= 100:
        forms |= {f"{v:.0f}", f"{v:,.0f}", f"{round(v, -2):,.0f}", f"{round(v, -2):.0f}"}
    # a form made only of zeros, signs and points would match any printed zero
    return sorted(f for f in forms if any(c in "123456789" for c in f))


def _verdict(capsys, fn, *args) -> tuple[bool, str]:
    capsys.readouterr()
    ok = fn(*args)
    return ok, capsys.readouterr().out


def _assert_hidden(out: str, values: list[float]) -> None:
    assert out.startswith("Not yet: ") and out.count("\n") == 1, out
    for v in values:
        for form in _forms(v):
            assert form not in out, f"the check printed {form!r} (the answer {v!r}): {out}"


# ---------------------------------------------------------------- chapter 13's checks


def test_allgather_check_accepts_the_answer_and_never_prints_it(capsys):
    want = par.pool5_allgather_time()
    ok, out = _verdict(capsys, par.check_allgather_time, want)
    assert ok and out.startswith("Correct: ")
    step = want / 3  # one ring step: the classic slip
    for wrong in (0.0, step, 2 * step, want * 1e3, want * 1.5, want / 1.5, -want, 1.0):
        ok, out = _verdict(capsys, par.check_allgather_time, wrong)
        assert ok is False
        _assert_hidden(out, [want, want * 1e3, want * 1e6, step, step * 1e3])


def test_break_even_check_accepts_the_answer_and_never_prints_it(capsys):
    want = par.break_even_width()
    ok, out = _verdict(capsys, par.check_break_even_width, want)
    assert ok and out.startswith("Correct: ")
    for wrong in (1000, 4096, want / 2, 2 * want, want * 1.1, 16384):
        ok, out = _verdict(capsys, par.check_break_even_width, wrong)
        assert ok is False
        _assert_hidden(out, [want, want**2])


def test_break_even_width_solves_the_balance():
    from dlkit.cluster import networks

    s, p, B = par.break_even_width(), 4, 128
    net, R = networks.preset("10gbe"), hybrid.DEVICE.flops
    compute = 2 * B * s * s / (p * R)
    allgather = (p - 1) * (net.alpha + 4 * B * s * net.beta / p)
    assert compute == pytest.approx(allgather, rel=1e-12)


# ----------------------------------------------------------------- chapter 9's checks


def test_range_check_never_prints_the_range(capsys):
    q = lp.FixedPoint(4, 12)
    ok, out = _verdict(capsys, lp.check_range, 4, 12, q.lo, q.hi, q.eps)
    assert ok and out.startswith("Correct: ")
    wrongs = [
        (-8, 8, 2**-12),  # the top of the range itself
        (-16, 8 - 2**-12, 2**-12),  # the sign bit forgotten
        (-8, 8 - 2**-12, 2**-11),
        (-8, 7.99, 0.001),
        (0, 0, 0),
    ]
    for lo, hi, eps in wrongs:
        ok, out = _verdict(capsys, lp.check_range, 4, 12, lo, hi, eps)
        assert ok is False
        hidden = [v for v, given in ((q.hi, hi), (q.eps, eps)) if v != given]
        _assert_hidden(out, hidden)
        assert "one ε below" not in out


def test_round_up_probability_check_never_prints_it(capsys):
    ok, out = _verdict(capsys, lp.check_round_up_probability, 0.3, 3, 0.4)
    assert ok and out.startswith("Correct: ")
    for wrong in (0.6, 0.5, 0.3, 0.05, 1.0, 0.0):
        ok, out = _verdict(capsys, lp.check_round_up_probability, 0.3, 3, wrong)
        assert ok is False
        _assert_hidden(out, [0.4])
        assert "rounding down" not in out  # 1 - answer would give it away
    ok, out = _verdict(capsys, lp.check_round_up_probability, 0.3, 3, 1.5)
    assert ok is False and "[0, 1]" in out


def test_smallest_gradient_check_never_prints_it(capsys):
    want = 2**-11 / 0.05
    ok, out = _verdict(capsys, lp.check_smallest_gradient, 10, 0.05, want)
    assert ok and out.startswith("Correct: ")
    for wrong in (2 * want, want / 2, 2**-11, 2**-10, 0.01, 1.0):
        ok, out = _verdict(capsys, lp.check_smallest_gradient, 10, 0.05, wrong)
        assert ok is False
        _assert_hidden(out, [want])
        assert "ε/2, not ε" not in out and "divide by" not in out


def test_stochastic_rounding_check_reports_behaviour_not_a_value(capsys):
    def nearest(x, fl, rng):
        return np.round(x * 2**fl) / 2**fl

    ok, out = _verdict(capsys, lp.check_stochastic_rounding, nearest)
    assert ok is False and out.startswith("Not yet: ") and "on average" in out


# ------------------------------------------------------------- the fc-batch-128 gap


@pytest.fixture(scope="module")
def rows():
    return hybrid.alexnet_table()


def test_fc_batch_gap_is_read_from_the_paper_and_the_model(rows):
    gaps = xpar.fc_batch_gap(rows)
    assert [g.p for g in gaps] == [2, 4, 8]
    paper = {(r.gpus, r.fc_batch): r.hours for r in hybrid.PAPER_TABLE}
    by = {(r.gpus, r.fc_batch == r.conv_batch): r for r in rows}
    for g in gaps:
        assert g.paper == pytest.approx(paper[(g.p, 128)] / paper[(g.p, 128 * g.p)] - 1)
        full, small = by[(g.p, True)], by[(g.p, False)]
        assert 0 <= g.model < g.paper
        assert g.fc_s == small.fc_s > 0
        # at the rate q the model's fc-batch-128 step becomes the paper's
        slowed = small.step_s + g.fc_s * (1 / g.rate_needed - 1)
        assert slowed == pytest.approx(full.step_s * (1 + g.paper), rel=1e-12)
        assert 0.5 < g.rate_needed < 1


def test_hybrid_rows_carry_the_fc_compute_of_their_step(rows):
    row = next(r for r in rows if r.gpus == 2 and r.fc_batch == 128)
    res = hybrid.simulate_step(2, "one")
    assert row.fc_s == pytest.approx(xpar.step_breakdown(res)["fc compute"], rel=1e-12)
    without_fc = [dataclasses.replace(r, fc_s=0.0) for r in rows]
    with pytest.raises(ValueError, match="alexnet_table"):
        xpar.fc_batch_gap(without_fc)


def test_fc_product_rates_time_the_two_schemes_on_the_same_flops():
    rates = xpar.fc_product_rates(2, "fc8", repeats=1)
    assert rates.shape_all == (256, 4096, 500) and rates.shape_one == (128, 4096, 500)
    assert rates.flops == 2.0 * 256 * 4096 * 500
    assert rates.rate_all > 0 and rates.rate_one > 0
    assert rates.ratio == pytest.approx(rates.rate_one / rates.rate_all)
    with pytest.raises(ValueError, match="layer must be one of"):
        xpar.fc_product_rates(2, "fc9")
    with pytest.raises(ValueError, match="not divisible"):
        xpar.fc_product_rates(3, "fc8")
    with pytest.raises(ValueError, match="positive number of workers"):
        xpar.fc_product_rates(0)
    with pytest.raises(ValueError, match="repeats"):
        xpar.fc_product_rates(2, repeats=0)


# ------------------------------------------------------------------------ notation


def _markdown(name: str) -> str:
    nb = json.loads((CHAPTERS / name).read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_chapter13_speaks_of_p_workers_and_m_bytes():
    text = _markdown("13_parallelism.ipynb").replace("the paper writes $K$", "")
    assert "$K$" not in text and "$K = " not in text and "1/K" not in text
    assert "T(n)" not in text and "T(m) = \\alpha + m\\beta" in text
    assert "all to all: an" not in text  # an allreduce is not an all-to-all
    assert "Alltoall" in text and "allreduce" in text and "reduce-scatter" in text


def test_chapter9_speaks_of_eta_and_epsilon():
    text = _markdown("09_low_precision.ipynb")
    assert "\\alpha" not in text and "\\varepsilon" not in text
    assert "float16 end to end" not in text and "float16 everywhere" not in text
    assert "2^{-25}" in text


def test_float16_rounds_to_zero_only_up_to_half_the_smallest_subnormal():
    from dlkit.precision import Float16

    tiny = 2.0**-24
    q = Float16().quantize(np.array([0.4, 0.5, 0.6, 1.0, 1.5]) * tiny)
    assert q.tolist() == [0.0, 0.0, tiny, tiny, 2 * tiny]
    assert math.isclose(Float16.smallest_subnormal, tiny)


def test_quantize_model_stores_in_the_format_and_computes_in_float64():
    from dlkit import nn
    from dlkit import precision as P

    q = P.FixedPoint(4, 6)
    model = P.quantize_model(nn.mlp([8, 16, 4], "relu", seed=0), q)
    linears = [layer for layer in model if isinstance(layer, nn.Linear)]
    assert all(w.data.dtype == np.float64 for layer in linears for w in layer.parameters())
    assert all(q.representable(w.data).all() for w in model.parameters())  # stored in q
    x = q.quantize(np.random.default_rng(0).normal(size=(5, 8)))
    z = linears[0].forward(x)  # the layer's own float64 product and sum...
    assert not q.representable(z).all()  # ...is wider than the format,
    out = model.forward(x)
    assert q.representable(out).all()  # and only what leaves a layer is converted
