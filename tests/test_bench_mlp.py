"""The "mlp" benchmark group: rows are well formed and the timed steps compute the same thing.

No timing is asserted: speed is shown by ``python -m dlkit.bench``.
"""

import math
import sys

import numpy as np

import dlkit.bench.mlp as bm
from dlkit.bench import Row, load_groups


def test_rows_well_formed(monkeypatch):
    calls = []

    def fake_timeit(fn, **kw):
        fn()  # each workload must run
        calls.append(fn)
        return 1e-3

    def here_not_in_a_process(module, call, python=None):
        assert module == "dlkit.bench.mlp"
        return eval("bm." + call)  # the worker call, run in this process

    monkeypatch.setattr(bm, "timeit", fake_timeit)
    monkeypatch.setattr(bm, "in_fresh_process", here_not_in_a_process)
    here = sys.executable if bm.torch_or_none() is not None else None
    monkeypatch.setattr(bm, "torch_python", lambda: here)  # the worker runs in this process
    assert "mlp" in load_groups()
    rows = bm.bench_mlp()
    has_torch = here is not None
    assert len(rows) >= (3 if has_torch else 2) and all(isinstance(r, Row) for r in rows)
    assert any(r.peer == "pytorch-cpu" for r in rows) == has_torch
    assert all(r.group == "mlp" and r.dlkit_s > 0 and math.isfinite(r.dlkit_s) for r in rows)
    assert rows[0].peer == "numpy" and rows[0].ratio == 1.0
    assert any("digits epoch" in r.name for r in rows)
    assert any("784-100-10" in r.name for r in rows)
    for r in rows:
        d = r.as_dict()
        assert set(d) >= {"group", "name", "dlkit_s", "peer", "peer_s", "ratio", "note"}
        if r.peer is not None:
            assert r.peer_s > 0


def test_dlkit_step_matches_hand_written_numpy_step():
    step, net = bm.dlkit_step()
    np_step, (W1, b1, W2, b2) = bm.numpy_step()
    for _ in range(3):
        step()
        np_step()
    np.testing.assert_allclose(net[0].W.data, W1, rtol=0, atol=1e-6)
    np.testing.assert_allclose(net[0].b.data, b1, rtol=0, atol=1e-6)
    np.testing.assert_allclose(net[2].W.data, W2, rtol=0, atol=1e-6)
    np.testing.assert_allclose(net[2].b.data, b2, rtol=0, atol=1e-6)
    assert net[0].W.data.dtype == np.float32


def test_a_worker_in_a_fresh_process_returns_times():
    from dlkit.bench import in_fresh_process

    t = in_fresh_process("dlkit.bench.mlp", "mlp_worker('numpy')")
    assert set(t) == {"step"} and 0 < t["step"] < 1
