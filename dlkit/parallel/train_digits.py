"""Data-parallel training of an MLP on the digits: one script, simulated or real.

On a real cluster (or a laptop), under MPI::

    mpiexec -n 4 python -m mpi4py -m dlkit.parallel.train_digits --steps 300 --out w.npz

``python -m mpi4py`` runs the module and, if any rank raises, calls ``MPI_Abort`` so
that the whole job ends instead of the other ranks waiting for ever in the next
collective. Rank 0 writes the final weights to ``--out`` (atomically).

On a simulated cluster, in one process::

    from dlkit.parallel.train_digits import simulate
    result = simulate(4, steps=300)        # a dlkit.cluster RunResult

Both call the same :func:`train`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

from dlkit.nn import CrossEntropyLoss, mlp
from dlkit.parallel._mpi import mpi_for
from dlkit.parallel.data_parallel import data_parallel_sgd, sgd_reference
from dlkit.train import accuracy

#: defaults shared by the script, the simulation and the single-process reference
DEFAULTS = dict(steps=300, batch_size=64, lr=0.5, hidden=64, seed=0)


def _data():
    from dlkit.data.digits import load_digits

    return load_digits(seed=0)


def train(
    comm,
    *,
    steps: int = DEFAULTS["steps"],
    batch_size: int = DEFAULTS["batch_size"],
    lr: float = DEFAULTS["lr"],
    hidden: int = DEFAULTS["hidden"],
    seed: int = DEFAULTS["seed"],
    crash_rank: int | None = None,
) -> dict:
    """Train a 64-`hidden`-10 ReLU MLP on the digits by data-parallel SGD on `comm`.

    Returns (on every rank) a dict with ``state`` (the final weights, a
    ``state_dict``), ``losses`` (global batch loss per step), ``step_times`` (seconds
    per step by ``MPI.Wtime()``: virtual on a simulated cluster, the first includes
    the initial broadcast) and ``test_accuracy``.
    `crash_rank` makes that rank raise before its first step (to test aborts).
    """
    X, y, X_test, y_test = _data()
    model = mlp([64, hidden, 10], "relu", seed=seed)
    if crash_rank is not None and comm.Get_rank() == crash_rank:
        raise RuntimeError(f"rank {crash_rank} fails on purpose (--crash-rank)")
    MPI = mpi_for(comm)
    clock = [MPI.Wtime()]  # virtual seconds when simulated
    losses = data_parallel_sgd(
        comm,
        model,
        CrossEntropyLoss(),
        X,
        y,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        callback=lambda t, loss: clock.append(MPI.Wtime()),
    )
    return {
        "state": model.state_dict(),
        "losses": losses,
        "step_times": np.diff(clock).tolist(),
        "test_accuracy": accuracy(model.forward(X_test), y_test),
    }


def train_single(
    *,
    steps: int = DEFAULTS["steps"],
    batch_size: int = DEFAULTS["batch_size"],
    lr: float = DEFAULTS["lr"],
    hidden: int = DEFAULTS["hidden"],
    seed: int = DEFAULTS["seed"],
) -> dict:
    """The same training in one process (:func:`sgd_reference`), for comparison."""
    X, y, X_test, y_test = _data()
    model = mlp([64, hidden, 10], "relu", seed=seed)
    losses = sgd_reference(
        model, CrossEntropyLoss(), X, y, steps=steps, batch_size=batch_size, lr=lr, seed=seed
    )
    return {
        "state": model.state_dict(),
        "losses": losses,
        "test_accuracy": accuracy(model.forward(X_test), y_test),
    }


def simulate(n: int, *, network=None, compute=None, faults=None, **kwargs):
    """Run :func:`train` on a :class:`dlkit.cluster.SimCluster` of `n` ranks.

    `network`, `compute` and `faults` go to SimCluster (its defaults if None); the
    other keyword arguments to :func:`train`. Returns the RunResult.
    """
    from dlkit.cluster import SimCluster

    opts = {
        k: v
        for k, v in dict(network=network, compute=compute, faults=faults).items()
        if v is not None
    }
    return SimCluster(n, **opts).run(train, **kwargs)


def save_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` to `path` atomically (a temporary file, then a rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m mpi4py -m dlkit.parallel.train_digits",
        description="Data-parallel SGD on the digits (run it under mpiexec).",
    )
    ap.add_argument("--steps", type=int, default=DEFAULTS["steps"])
    ap.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULTS["batch_size"],
        help="global batch size (a multiple of the number of ranks)",
    )
    ap.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    ap.add_argument("--hidden", type=int, default=DEFAULTS["hidden"])
    ap.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    ap.add_argument("--out", help="where rank 0 writes the final weights (.npz)")
    ap.add_argument(
        "--crash-rank", type=int, default=None, help="make this rank raise (to see the job abort)"
    )
    args = ap.parse_args(argv)

    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    res = train(
        comm,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        hidden=args.hidden,
        seed=args.seed,
        crash_rank=args.crash_rank,
    )
    if comm.Get_rank() == 0:
        print(
            f"{comm.Get_size()} ranks, {args.steps} steps: final loss "
            f"{res['losses'][-1]:.4f}, test accuracy {res['test_accuracy']:.4f}"
        )
        if args.out:
            save_npz(args.out, {**res["state"], "losses": np.array(res["losses"])})
    return 0


if __name__ == "__main__":
    sys.exit(main())
