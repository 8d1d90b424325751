"""Parallel training: data, model and hybrid parallelism on an MPI-shaped communicator.

Every function here takes a communicator ``comm`` with mpi4py's names
(``Get_rank``, ``Get_size``, ``Allreduce``, ``Allgather``...). The same code runs on a
simulated cluster (:class:`dlkit.cluster.SimCluster`, which charges virtual time for
compute and communication) and on a real one (``mpiexec -n 4 python -m mpi4py ...``,
which passes ``mpi4py.MPI.COMM_WORLD``).

- :mod:`dlkit.parallel.data_parallel`: synchronous data-parallel SGD (each rank a
  shard of the global batch of B examples, gradients averaged by one allreduce).
- :mod:`dlkit.parallel.model_parallel`: a Linear layer whose neurons are split
  across ranks, activations exchanged by allgather.
- :mod:`dlkit.parallel.hybrid`: Krizhevsky's (2014) data-parallel convolutions and
  model-parallel fully connected layers, as a cost model of AlexNet on p GPUs.
- :mod:`dlkit.parallel.allreduce`: the allreduce algorithms of
  :mod:`dlkit.cluster.collectives` run side by side, with their closed forms and
  the message size at which one overtakes another.
- :mod:`dlkit.parallel.train_digits`: the chapter's training script, runnable
  under ``mpiexec``.
- :mod:`dlkit.parallel.hogwild`: HOGWILD! (Niu et al. 2011): SGD by threads sharing
  one θ with no lock, a global lock or atomic adds; a deterministic replay; the
  hypergraph's Ω, Δ, ρ (``from dlkit.parallel.hogwild import hogwild``; it compiles
  Numba kernels, so it is not imported here).
- :mod:`dlkit.parallel.param_server`: asynchronous SGD over one-sided windows (the
  workers Get θ from a sharded server window and Accumulate −η∇ into it, with the
  staleness τ of every gradient recorded): ``async_sgd``, ``serial_sgd``, ``merge``.
- :mod:`dlkit.parallel.downpour`: Downpour SGD (Dean et al. 2012): replicas on data
  shards, n_fetch/n_push, AdaGrad on the server, slow and crashed replicas.
- :mod:`dlkit.parallel.sandblaster`: Sandblaster L-BFGS: a coordinator, small work
  units taken by whoever is free, backup copies of stragglers.
- :mod:`dlkit.parallel.project_adam`: Project Adam (Chilimbi et al. 2014): control
  messages apart from data, the factors of each layer's update instead of ∇θ.
- :mod:`dlkit.parallel.hierarchical`: the hierarchical allreduce and the gradient
  allreduce overlapped with the backward pass in buckets (``Iallreduce``).
"""

from dlkit.parallel.data_parallel import (
    allreduce_gradients,
    data_parallel_sgd,
    global_batches,
    shard,
    sgd_reference,
)
from dlkit.parallel.model_parallel import ModelParallelLinear

__all__ = [
    "allreduce_gradients",
    "data_parallel_sgd",
    "global_batches",
    "shard",
    "sgd_reference",
    "ModelParallelLinear",
]
