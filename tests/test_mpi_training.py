"""The chapter's training script under real MPI (mpich's mpiexec from the venv).

The same `train(comm)` runs under ``mpiexec -n 2`` and ``-n 4`` and on the simulated
cluster; their final weights must agree to float rounding. A rank that raises must
bring the whole job down quickly (``python -m mpi4py`` calls MPI_Abort).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dlkit.parallel.train_digits import simulate, train_single

ROOT = Path(__file__).resolve().parents[1]
STEPS = 40


def mpiexec() -> str:
    path = Path(sys.executable).parent / "mpiexec"
    if not path.exists():
        pytest.fail(
            f"mpiexec not found next to {sys.executable}: install the MPICH wheel "
            "(`pip install mpich`, pinned in requirements.txt)"
        )
    return str(path)


def run_script(n: int, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [
        mpiexec(),
        "-n",
        str(n),
        sys.executable,
        "-m",
        "mpi4py",
        "-m",
        "dlkit.parallel.train_digits",
        *args,
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


@pytest.mark.parametrize("n", [2, 4])
def test_real_mpi_weights_equal_simulated_and_single(n, tmp_path):
    out = tmp_path / f"w{n}.npz"
    proc = run_script(n, "--steps", str(STEPS), "--out", str(out))
    assert proc.returncode == 0, f"mpiexec failed:\n{proc.stdout}\n{proc.stderr}"
    assert f"{n} ranks, {STEPS} steps" in proc.stdout
    real = np.load(out)
    sim = simulate(n, steps=STEPS).values
    single = train_single(steps=STEPS)["state"]
    assert set(single) <= set(real.files)
    for k, w in single.items():
        for r in range(n):
            np.testing.assert_allclose(real[k], sim[r]["state"][k], rtol=0, atol=1e-12)
        np.testing.assert_allclose(real[k], w, rtol=0, atol=1e-12)
    np.testing.assert_allclose(real["losses"], sim[0]["losses"], rtol=1e-12)
    # no temporary file left behind by the atomic write
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_a_failing_rank_aborts_the_job(tmp_path):
    t0 = time.monotonic()
    proc = run_script(
        2,
        "--steps",
        "1000000",
        "--crash-rank",
        "1",
        "--out",
        str(tmp_path / "never.npz"),
        timeout=60,
    )
    elapsed = time.monotonic() - t0
    assert proc.returncode != 0
    assert "fails on purpose" in proc.stderr
    assert elapsed < 20, f"the job took {elapsed:.1f} s to abort"
    assert not (tmp_path / "never.npz").exists()
