"""Benchmark group "localconn": a locally connected layer as block GEMMs, as a sparse
product and as a loop.

Coates et al. (2013): "leverage optimized BLAS code for small dense multiplies; pick
networks with big blocks of neurons sharing connectivity". One forward pass of a
locally connected layer (batch 64, 8 channels of 32 × 32, 16 maps of 8 × 8 filters at
stride 4, float32) computed three ways, each in its own process:

* ``blocks``: :func:`dlkit.largescale.localconn.block_forward`, one dense GEMM per
  output position (the F = 16 units sharing a window), batched by ``numpy.matmul``;
* ``sparse``: the same layer as one scipy.sparse CSR matrix (F·Ho·Wo × C·H·W, C·k·k
  non-zeros per row) times the batch;
* ``loop``: a Python loop over output positions, each a ``numpy.dot`` (the naive code).

Rows: blocks against sparse (the goal: ratio below 1) and blocks against the loop.
"""

from __future__ import annotations

import numpy as np

from dlkit.bench import Row, alternate, register, timeit

SHAPE = dict(N=64, C=8, size=32, maps=16, window=8, stride=4)


def _problem():
    from dlkit.largescale.localconn import LocallyConnected2d

    s = SHAPE
    layer = LocallyConnected2d(
        s["C"], s["size"], s["maps"], s["window"], s["stride"], seed=0, dtype=np.float32
    )
    x = np.random.default_rng(1).standard_normal((s["N"], s["C"], s["size"], s["size"]))
    return layer, x.astype(np.float32)


def worker(side: str) -> dict:
    """Seconds of one forward pass by `side` ("blocks", "sparse" or "loop"), and its
    largest difference from the block result."""
    from dlkit.largescale.localconn import block_forward, dense_matrix, windows

    layer, x = _problem()
    k, s = layer.k, layer.s
    ref = block_forward(x, layer.W.data, layer.b.data, k, s)
    if side == "blocks":

        def run():
            return block_forward(x, layer.W.data, layer.b.data, k, s)
    elif side == "sparse":
        from scipy import sparse

        M = sparse.csr_matrix(dense_matrix(layer))
        X = x.reshape(len(x), -1)

        def run():
            return (M @ X.T).T.reshape(ref.shape)
    else:
        Wb = layer.W.data.reshape(layer.Ho * layer.Wo, layer.F, -1)

        def run():
            Xw = windows(x, k, s)
            out = np.empty((layer.Ho * layer.Wo, len(x), layer.F), np.float32)
            for q in range(len(Wb)):
                out[q] = np.dot(Xw[q], Wb[q].T)
            return out.reshape(layer.Ho, layer.Wo, len(x), layer.F).transpose(2, 3, 0, 1)

    got = run()
    return {"s": timeit(run, repeat=7), "err": float(np.abs(got - ref).max())}


@register("localconn")
def bench() -> list[Row]:
    s = SHAPE
    shape = (
        f"batch {s['N']}, {s['C']}x{s['size']}x{s['size']}, {s['maps']} maps of "
        f"{s['window']}x{s['window']} at stride {s['stride']}"
    )
    blocks, sparse = alternate("dlkit.bench.localconn", "worker('blocks')", "worker('sparse')")
    blocks2, loop = alternate("dlkit.bench.localconn", "worker('blocks')", "worker('loop')")
    err = max(r["err"] for r in sparse + loop)
    return [
        Row.from_rounds(
            "localconn",
            "locally connected forward: block GEMMs vs CSR",
            [r["s"] for r in blocks],
            "scipy.sparse",
            [r["s"] for r in sparse],
            f"{shape}; float32; largest difference {err:.1e}; goal ratio < 1",
        ),
        Row.from_rounds(
            "localconn",
            "locally connected forward: block GEMMs vs loop",
            [r["s"] for r in blocks2],
            "numpy loop",
            [r["s"] for r in loop],
            f"{shape}; one numpy.dot per position",
        ),
    ]
