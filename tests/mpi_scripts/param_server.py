"""Asynchronous SGD on the one-sided parameter server under real MPI.

    mpiexec -n 3 python -m mpi4py tests/mpi_scripts/param_server.py

Rank 0 is the server, ranks 1 and 2 the workers of
:func:`dlkit.parallel.param_server.async_sgd`, on a small logistic-regression problem.
Every ``check_every`` gradients the server evaluates the objective and then stays out
of MPI for ``BUSY`` seconds (an evaluation on a real model takes that long); the
workers keep fetching θ meanwhile. The same ``train(comm)`` runs on the simulator
(:func:`simulate`). Rank 0 prints one line ``RESULT {json}``: the objective at θ0 and
at the final θ, whether θ is finite, the longest fetch (seconds, machine dependent),
the gradients applied and the number of evaluations.
"""

import json
import time

import numpy as np

BUSY = 0.5  # seconds the server spends outside MPI after each evaluation
STEPS = 150  # per worker
WORK = 0.004  # seconds of a gradient (sleeping stands for computing)


def problem(N=800, D=10, seed=0):
    g = np.random.default_rng(seed)
    w = g.normal(size=D)
    X = g.normal(size=(N, D))
    y = (X @ w > 0).astype(np.float64)
    return X, y


def loss(theta, X, y):
    z = X @ theta
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def train(comm, busy=BUSY, work=WORK):
    from dlkit.cluster import is_simulated
    from dlkit.parallel.param_server import async_sgd

    X, y = problem()
    p = comm.Get_size() - 1
    shards = [(X[r::p], y[r::p]) for r in range(p)]
    real = not is_simulated(comm)

    def grad(theta, batch, seed):
        if real:
            time.sleep(work)
        Xb, yb = batch
        return Xb.T @ (1.0 / (1.0 + np.exp(-Xb @ theta)) - yb) / len(yb)

    def until(theta):
        value = loss(theta, X, y) < 0.05
        if real:
            time.sleep(busy)  # the server is busy outside MPI
        return value

    theta0 = np.zeros(X.shape[1])
    res = async_sgd(
        comm,
        grad,
        theta0,
        shards,
        lr=0.5,
        steps=STEPS,
        batch_size=16,
        until=until,
        check_every=20,
        patience=30.0,
    )
    rows = comm.gather(
        {
            "role": res.role,
            "waits": res.fetch_waits.tolist(),
            "checks": len(res.checks),
            "version": res.version,
            "steps": len(res.steps),
        },
        root=0,
    )
    if comm.Get_rank() != 0:
        return None
    return {
        "loss0": loss(theta0, X, y),
        "loss": loss(res.theta, X, y),
        "finite": bool(np.all(np.isfinite(res.theta))),
        "max_fetch": max(max(r["waits"], default=0.0) for r in rows),
        "version": res.version,
        "checks": rows[0]["checks"],
        "steps": [r["steps"] for r in rows[1:]],
    }


def simulate(n=3):
    from dlkit.cluster import SimCluster

    return SimCluster(n).run(train).values[0]


def main():
    from mpi4py import MPI

    out = train(MPI.COMM_WORLD)
    if out is not None:
        print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
