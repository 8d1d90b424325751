"""The checks of the chapter *GPUs and kernels*: right answers pass, wrong ones get a hint
that never shows the expected value, and no answer makes a check raise."""

from __future__ import annotations

import re

import numpy as np
import pytest

from dlkit.exercises import gpus as ex
from dlkit.hardware import cudamodel as cm
from dlkit.hardware import diannao as dn
from dlkit.hardware import roofline as rf


def _formats(v: float) -> list[str]:
    """Common ways of printing `v`: the integer with and without separators, and the
    value rounded to 2-6 digits."""
    out = []
    if float(v).is_integer():
        out += [str(int(v)), f"{int(v):,}"]
    for d in range(2, 7):
        s = f"{v:.{d}f}"
        out += [s, s.rstrip("0").rstrip(".")]
    out += [f"{v:.4g}", f"{v:.6g}"]
    return [s for s in set(out) if len(s.replace(".", "").replace(",", "")) >= 2]


ANSWERS = {
    "check_gemm_intensity": rf.gemm_intensity(1024, 1024, 1024),
    "check_tiled_loads": sum(cm.gemm_loads(64, 64, 64, 16)),
    "check_transactions": cm.warp_transactions([8 * t for t in range(32)]),
    "check_occupancy": cm.occupancy(256, 96, 0, "7.5").fraction,
    "check_diannao_cycles": dn.cycles(dn.fc_layer(256, 64)),
}

WRONG = {
    "check_gemm_intensity": [0.0, 85.33, 512.0, 42.67, 1.0, 1e9],
    "check_tiled_loads": [0, 524_288, 16_384, 2048, 1],
    "check_transactions": [0, 1, 32, 3, 64],
    "check_occupancy": [0.0, 1.0, 50, 0.25, 0.75, -1.0],
    "check_diannao_cycles": [0, 64, 67, 16384, 1024, 10],
}

JUNK = [None, "junk", float("nan"), float("inf"), 1j, [1, "a"], np.zeros((2, 3)), object()]


def _verdict(capsys, fn, arg):
    capsys.readouterr()
    ok = fn(arg)
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln]
    assert len(lines) == 1, out
    return ok, out


def test_every_check_is_covered():
    names = {n for n in dir(ex) if n.startswith("check_")}
    assert names == set(ANSWERS) == set(WRONG)


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_right_answer_passes(name, capsys):
    ok, out = _verdict(capsys, getattr(ex, name), ANSWERS[name])
    assert ok is True and out.startswith("Correct: "), out


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_wrong_answers_fail_without_the_answer(name, capsys):
    want = ANSWERS[name]
    hidden = _formats(want)
    for wrong in WRONG[name]:
        ok, out = _verdict(capsys, getattr(ex, name), wrong)
        assert ok is False and out.startswith("Not yet: "), (wrong, out)
        for h in hidden:
            # a number in the hint equal to the answer (not a digit inside another number)
            assert not re.search(rf"(?<![\d.,]){re.escape(h)}(?![\d])", out), (name, h, out)


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_junk_never_raises(name, capsys):
    for junk in JUNK:
        ok, out = _verdict(capsys, getattr(ex, name), junk)
        assert ok is False and out.startswith("Not yet: "), (junk, out)
