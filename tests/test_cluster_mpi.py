"""dlkit.cluster.collectives under real MPI (MPICH's mpiexec from the venv).

The same functions the simulator times are run by ``mpiexec -n N python -m mpi4py``
on 3 ranks (not a power of two) and 4 ranks; the script compares every result with
numpy and exits non-zero on any mismatch.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "mpi_scripts" / "cluster_collectives.py"


def mpiexec() -> str:
    path = Path(sys.executable).parent / "mpiexec"
    if not path.exists():
        pytest.fail(
            f"mpiexec not found next to {sys.executable}: install the MPICH wheel "
            "(`pip install mpich`, pinned in requirements.txt)"
        )
    return str(path)


@pytest.mark.parametrize("n", [3, 4])
def test_collectives_under_real_mpi_equal_numpy(n):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        [mpiexec(), "-n", str(n), sys.executable, "-m", "mpi4py", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, f"mpiexec failed:\n{proc.stdout}\n{proc.stderr}"
    out = proc.stdout
    for algo in ("ps", "tree", "recursive_doubling", "ring", "rabenseifner"):
        assert f"allreduce {algo}: equal to numpy" in out
    assert "bcast, reduce, allgather, gather, scatter, barrier: equal to numpy" in out
    assert "RMA Put/Accumulate/Get: equal to the expected table" in out
    assert f"OK {n} ranks" in out


def test_the_same_rma_function_on_the_simulator():
    import importlib.util

    import numpy as np

    from dlkit.cluster import MPI, SimCluster

    spec = importlib.util.spec_from_file_location("cluster_collectives", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # defines rma_table; mpi4py is imported only by main()
    p = 4
    for seen in SimCluster(p).run(mod.rma_table, MPI).values:
        np.testing.assert_array_equal(seen, [6.0, 0.0, 10.0, 20.0, 30.0])
