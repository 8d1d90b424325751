"""GPU benchmarks: ``python -m dlkit.bench --only gpu`` (needs an NVIDIA GPU).

Three measurements, each of dlkit's kernels beside NVIDIA's libraries when they are
installed (CuPy for cuBLAS; PyTorch, or CuPy's cuDNN bindings, for cuDNN):

- **GEMM** at 4096 × 4096 × 4096, float32: the Numba-CUDA tiled kernel
  (:func:`dlkit.kernels.cuda.gemm_tiled`), its CUDA C twin
  (:func:`dlkit.kernels.cuda_c.cupy_gemm_tiled`, a ``cupy.RawKernel``) and the
  register-blocked CUDA C kernel (:func:`dlkit.kernels.cuda_c.cupy_gemm_blocked`, in
  each configuration of ``BLOCKED_CONFIGS``) against ``cupy.matmul`` (cuBLAS), in
  GFLOP/s (2·n³ flops per product) and in % of cuBLAS, with the largest difference
  from cuBLAS's product (relative to its largest entry).
- **Convolution**: :func:`dlkit.kernels.cuda.conv2d_direct` on the two convolutions
  of the LeNet-style 28×28 network (batch 64, float32: 1→6 maps 5×5 on 28×28, 6→16 on
  12×12) against cuDNN.
- **Training step**: one step of that network (forward, cross-entropy, backward, SGD)
  on the ``cuda`` backend, against the same network in PyTorch on the GPU.

Every time is the median over repeated runs after warm-up calls (which include the
JIT compilation), with the device synchronised after each call. On a machine with no
GPU the group gives one row saying so and nothing else. ``python -m dlkit.bench.gpu
--out FILE`` runs the group and writes the rows with the device name, the date and
the versions as JSON, the data file the chapter on GPUs reads.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from typing import Callable

import numpy as np

from dlkit.bench import Row, register

GEMM_N = 4096
BATCH = 64
CONV_CASES = (("conv1 1->6 5x5 28x28", 1, 28, 6), ("conv2 6->16 5x5 12x12", 6, 12, 16))


def why_no_gpu() -> str | None:
    """None if the ``cuda`` backend can run here, else the reason it cannot."""
    from dlkit.backend import _why_unavailable

    return _why_unavailable("cuda")


def _optional(name: str):
    try:
        return __import__(name)
    except Exception:  # noqa: BLE001 - not installed, or no GPU for it
        return None


def _cupy():
    from dlkit.backend import available

    return _optional("cupy") if available("cupy") else None


def _torch_cuda():
    torch = _optional("torch")
    return torch if torch is not None and torch.cuda.is_available() else None


def _median_time(fn: Callable[[], object], sync: Callable[[], None], *, min_time=0.2) -> float:
    """Median seconds per call of `fn`, the device synchronised after each call."""
    for _ in range(3):  # warm-up, the JIT compilation included
        fn()
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    loops = max(1, int(min_time / max(time.perf_counter() - t0, 1e-6)))
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        sync()
        times.append((time.perf_counter() - t0) / loops)
    times.sort()
    return times[len(times) // 2]


def _syncs():
    """A function that waits for all work on the GPU: Numba's, CuPy's and PyTorch's."""
    from numba import cuda

    cp, torch = _cupy(), _torch_cuda()

    def sync():
        cuda.synchronize()
        if cp is not None:
            cp.cuda.Stream.null.synchronize()
        if torch is not None:
            torch.cuda.synchronize()

    return sync


def device_row() -> Row:
    """The device and the versions, as a row whose note holds them."""
    return Row("gpu", "device", None, note=json.dumps(environment()))


def environment() -> dict:
    """Device name, compute capability, date and library versions of this run."""
    import numba
    from numba import cuda

    dev = cuda.get_current_device()
    name = getattr(dev, "name", "the CUDA simulator")
    name = name.decode() if isinstance(name, bytes) else str(name)
    out = {
        "device": name,
        "compute_capability": ".".join(map(str, dev.compute_capability)),
        "date": datetime.date.today().isoformat(),
        "numpy": np.__version__,
        "numba": numba.__version__,
    }
    for mod, key in (("numba_cuda", "numba-cuda"), ("cupy", "cupy"), ("torch", "torch")):
        m = _optional(mod)
        if m is not None:
            out[key] = getattr(m, "__version__", "?")
    try:
        out["cuda_driver"] = ".".join(map(str, cuda.cudadrv.driver.driver.get_version()))
    except Exception:  # noqa: BLE001 - an old driver API: leave it out
        pass
    return out


def gemm_rows(n: int = GEMM_N) -> list[Row]:
    """The tiled GEMMs (Numba-CUDA and CUDA C) against cuBLAS at n × n × n, float32."""
    from numba import cuda

    from dlkit.kernels import cuda as k
    from dlkit.kernels import cuda_c

    sync = _syncs()
    g = np.random.default_rng(0)
    A = g.standard_normal((n, n)).astype(np.float32)
    B = g.standard_normal((n, n)).astype(np.float32)
    flops = 2.0 * n**3
    dA, dB = cuda.to_device(A), cuda.to_device(B)
    t_numba = _median_time(lambda: k.gemm_tiled(dA, dB), sync)
    name = f"gemm_tiled (Numba) {n}^3 fp32"
    cp, torch = _cupy(), _torch_cuda()
    if cp is None and torch is None:
        note = f"{flops / t_numba / 1e9:.0f} GFLOP/s; neither CuPy nor PyTorch for cuBLAS here"
        return [Row("gpu", name, t_numba, note=note)]
    if cp is None:  # cuBLAS through PyTorch; the CUDA C kernels need CuPy
        tA, tB = torch.from_numpy(A).cuda(), torch.from_numpy(B).cuda()
        ref = torch.matmul(tA, tB).cpu().numpy()
        t_cublas = _median_time(lambda: torch.matmul(tA, tB), sync)
        e = np.abs(k.gemm_tiled(dA, dB).copy_to_host() - ref).max() / np.abs(ref).max()
        return [_gemm_row(name, t_numba, "cuBLAS (torch)", t_cublas, flops, e)]
    cA, cB = cp.asarray(A), cp.asarray(B)
    ref = cp.matmul(cA, cB)
    t_cublas = _median_time(lambda: cp.matmul(cA, cB), sync)
    scale = float(cp.abs(ref).max())

    def err(C) -> float:
        return float(cp.abs(cp.asarray(C) - ref).max()) / scale

    cases = [
        (name, t_numba, err(k.gemm_tiled(dA, dB))),
        (
            f"gemm_tiled (CUDA C) {n}^3 fp32",
            _median_time(lambda: cuda_c.cupy_gemm_tiled(cA, cB), sync),
            err(cuda_c.cupy_gemm_tiled(cA, cB)),
        ),
    ]
    for bm, bn, bk, tm, tn in cuda_c.BLOCKED_CONFIGS:
        cfg = dict(bm=bm, bn=bn, bk=bk, tm=tm, tn=tn)

        def run(cfg=cfg):
            return cuda_c.cupy_gemm_blocked(cA, cB, **cfg)

        name = f"gemm_blocked {bm}x{bn}x{bk}/{tm}x{tn} (CUDA C) {n}^3 fp32"
        cases.append((name, _median_time(run, sync), err(run())))
    return [_gemm_row(name, t, "cuBLAS (cupy)", t_cublas, flops, e) for name, t, e in cases]


def _gemm_row(name: str, t: float, peer: str, t_peer: float, flops: float, err: float) -> Row:
    note = (
        f"{flops / t / 1e9:.0f} GFLOP/s, {100 * t_peer / t:.0f}% of cuBLAS "
        f"({flops / t_peer / 1e9:.0f} GFLOP/s); max rel. diff {err:.1e}"
    )
    return Row("gpu", name, t, peer, t_peer, note)


def _cudnn_conv(x, w, b):
    """A closure running cuDNN's convolution of host arrays x, w, b, or None (no cuDNN)."""
    torch = _torch_cuda()
    if torch is not None:
        tx, tw, tb = (torch.from_numpy(a).cuda() for a in (x, w, b))
        torch.backends.cudnn.benchmark = True  # cuDNN picks its algorithm per shape
        return "cuDNN (torch)", lambda: torch.nn.functional.conv2d(tx, tw, tb)
    cp = _cupy()
    if cp is None:
        return None
    try:
        from cupyx import cudnn

        cx, cw, cb = cp.asarray(x), cp.asarray(w), cp.asarray(b)
        N, _, H, W = x.shape
        F, _, kh, kw = w.shape
        y = cp.empty((N, F, H - kh + 1, W - kw + 1), cp.float32)

        def run():
            cudnn.convolution_forward(cx, cw, cb, y, (0, 0), (1, 1), (1, 1), 1, auto_tune=True)

        run()
        return "cuDNN (cupy)", run
    except Exception:  # noqa: BLE001 - CuPy without its cuDNN libraries
        return None


def conv_rows() -> list[Row]:
    """conv2d_direct against cuDNN on the LeNet-style network's convolutions."""
    from numba import cuda

    from dlkit.kernels import cuda as k

    sync = _syncs()
    rows = []
    for name, C, H, F in CONV_CASES:
        g = np.random.default_rng(0)
        x = g.standard_normal((BATCH, C, H, H)).astype(np.float32)
        w = (g.standard_normal((F, C, 5, 5)) / np.sqrt(C * 25)).astype(np.float32)
        b = np.zeros(F, np.float32)
        dx, dw, db = cuda.to_device(x), cuda.to_device(w), cuda.to_device(b)
        t = _median_time(lambda: k.conv2d_direct(dx, dw, db, 1), sync)
        peer = _cudnn_conv(x, w, b)
        if peer is None:
            rows.append(Row("gpu", f"conv2d_direct {name}", t, note="no cuDNN binding here"))
        else:
            label, run = peer
            rows.append(Row("gpu", f"conv2d_direct {name}", t, label, _median_time(run, sync)))
    return rows


def _torch_lenet_step(torch, X, y):
    from dlkit.bench.conv import torch_lenet5

    net = torch_lenet5(torch).cuda()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    tX, ty = torch.from_numpy(X).cuda(), torch.from_numpy(y).cuda()

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(tX), ty).backward()
        opt.step()

    return step


def lenet_rows(backend_name: str = "cuda", batch: int = BATCH) -> list[Row]:
    """One training step of the LeNet-style network (float32) on the GPU (``cudasim``
    runs the same code in the simulator, slowly: use a batch of 1 there)."""
    from numba import cuda

    from dlkit import backend
    from dlkit.bench.conv import lenet5
    from dlkit.nn import CrossEntropyLoss
    from dlkit.optim import SGD

    sync = _syncs()
    g = np.random.default_rng(0)
    X = g.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    y = g.integers(0, 10, batch)
    with backend.use_backend(backend_name):
        net, loss = lenet5(np.float32), CrossEntropyLoss()
        opt = SGD(net.parameters(), lr=0.01)
        dX = cuda.to_device(X)

        def step():
            out = net.forward(dX)
            loss.forward(out, y)
            net.backward(loss.backward())
            opt.step()

        t = _median_time(step, sync, min_time=0.5)
    name = f"LeNet-style step, batch {batch}, {backend_name} backend"
    torch = _torch_cuda()
    if torch is None:
        return [Row("gpu", name, t, note="no PyTorch with CUDA here")]
    t_torch = _median_time(_torch_lenet_step(torch, X, y), sync, min_time=0.5)
    return [Row("gpu", name, t, "torch (cuda)", t_torch)]


@register("gpu")
def bench_gpu() -> list[Row]:
    """The GPU group: one row saying why not on a machine without a GPU."""
    why = why_no_gpu()
    if why is not None:
        return [Row("gpu", "no GPU: group skipped", None, note=why)]
    return [device_row(), *gemm_rows(), *conv_rows(), *lenet_rows()]


def figures(rows: list[Row]) -> dict:
    """The rows of a run with its environment, as the JSON data file stores them."""
    env = {}
    for r in rows:
        if r.name == "device":
            env = json.loads(r.note)
    return {**env, "rows": [r.as_dict() for r in rows if r.name != "device"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m dlkit.bench.gpu", description=__doc__)
    p.add_argument("--out", metavar="FILE", help="write the figures to FILE as JSON")
    a = p.parse_args(argv)
    rows = bench_gpu()
    from dlkit.bench import format_table

    print(format_table(rows))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(figures(rows), f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
