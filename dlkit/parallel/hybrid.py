"""Hybrid data/model parallelism (Krizhevsky 2014, "One weird trick"): a cost model.

The scheme, on p GPUs ("workers", ranks r = 0, ..., p-1), with a global batch of
B = 128p images, B/p = 128 per worker:

* **convolutional layers: data parallel.** Each worker runs the convolutions forward
  and backward on its own B/p = 128 images. Convolutions hold ~5% of the parameters
  but ~90-95% of the arithmetic, so this is where data parallelism pays: little to
  synchronise (the conv weight gradients, one allreduce per step), much to compute.
* **fully connected layers: model parallel.** Each worker owns 1/p of every fc
  layer's neurons. The fc layers hold ~95% of the parameters but little arithmetic:
  copying their weights around would cost more than moving activations. First every
  worker's last conv activations are allgathered; then, layer by layer, each worker
  computes its neurons' outputs and the outputs are allgathered (forward), and the
  partial input gradients are summed and scattered, each worker getting the part
  it needs (backward: a reduce-scatter, the first half of the ring allreduce:
  :func:`dlkit.cluster.collectives.reduce_scatter_ring`).

  With fc batch 128p ("(128p, 128p)"; the paper writes 128K) the fc layers process
  all p workers' examples at once; with fc batch 128 ("(128p, 128)") they process
  one worker's 128 examples at a time, p rounds per step, updating the fc weights
  after every round. Both move the same activations; the second pays p times as
  many (smaller) messages.

:func:`hybrid_step` is that step, written against the communicator: compute is
charged from each layer's flops (``dlkit.models`` gives every layer's multiply-adds;
forward 2 flops per MAC, backward 4) at the device's rate, and every message goes
through the simulated network with its real size (float32 activations, of the real
layer shapes). :func:`alexnet_table` runs one step on 1, 2, 4 and 8 simulated GPUs
and scales it to 90 epochs of ImageNet (1.2M images), beside the paper's Table 1.

Model choices, one set for every row (:data:`DEVICE` and :data:`NETWORK`): the
K20's sustained fraction of peak, :data:`EFFICIENCY`, is calibrated on the paper's
1-GPU row (98.05 h); the two effective link bandwidths (3.0 GB/s between GPUs behind
the same CPU socket, 1.3 GB/s across sockets) were chosen by hand to follow the
paper's fall-off of speedup with p - plausible for PCIe 2.0, not measured on the
paper's machine. Pooling, ReLU, normalisation and the loss are not charged;
communication does not overlap computation; the conv gradient allreduce starts after
the whole backward pass; every matrix product runs at the same rate, whatever its
shape (small products are charged as efficiently as large ones).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlkit.cluster import SimCluster, devices, networks
from dlkit.cluster.collectives import reduce_scatter_ring
from dlkit.parallel._mpi import charge, mpi_for

__all__ = [
    "PaperRow",
    "PAPER_TABLE",
    "DEVICE",
    "NETWORK",
    "EFFICIENCY",
    "HybridRow",
    "reduce_scatter_ring",
    "hybrid_step",
    "simulate_step",
    "alexnet_table",
    "format_table",
    "EPOCHS",
    "IMAGES",
]

#: ImageNet training images (the paper's 1.2 million) and epochs of its Table 1.
IMAGES = 1_200_000
EPOCHS = 90


@dataclass(frozen=True)
class PaperRow:
    """One row of Krizhevsky (2014), Table 1: p GPUs, batch sizes, hours, speedup."""

    gpus: int
    conv_batch: int
    fc_batch: int
    hours: float
    speedup: float


PAPER_TABLE: tuple[PaperRow, ...] = (
    PaperRow(1, 128, 128, 98.05, 1.00),
    PaperRow(2, 256, 256, 50.24, 1.95),
    PaperRow(2, 256, 128, 50.90, 1.93),
    PaperRow(4, 512, 512, 26.20, 3.74),
    PaperRow(4, 512, 128, 26.78, 3.66),
    PaperRow(8, 1024, 1024, 15.68, 6.25),
    PaperRow(8, 1024, 128, 15.91, 6.16),
)


#: Fraction of the K20's 3.52 TFLOP/s peak that a training step sustains.
EFFICIENCY = 0.425

#: The device of every row: an NVIDIA Tesla K20 at EFFICIENCY of its peak.
DEVICE = devices.preset("k20").scaled(EFFICIENCY)

#: The links of every row: 8 GPUs in one server, 4 behind each CPU socket.
NETWORK = networks.two_level(
    networks.Network(
        alpha=10e-6,
        beta=1 / 3.0e9,
        gamma=networks.GPU_GAMMA,
        name="pcie2_p2p",
        source="PCIe 2.0 x16 peer-to-peer, effective",
    ),
    networks.Network(
        alpha=20e-6,
        beta=1 / 1.3e9,
        gamma=networks.GPU_GAMMA,
        name="pcie2_host",
        source="PCIe 2.0 through host memory, across sockets",
    ),
    ranks_per_node=4,
)


def hybrid_step(comm, arch=None, batch: int = 128, fc_batch: str = "all", dtype=np.float32) -> dict:
    """One training step of the hybrid scheme on this worker (cost model).

    Parameters
    ----------
    comm : p workers (simulated: compute and messages are charged virtual time).
    arch : a :class:`dlkit.models.ArchSpec` (default: the one-tower AlexNet of
        Krizhevsky 2014, ``dlkit.models.alexnet(grouped=False)``).
    batch : images per worker in the conv layers, B/p (128 in the paper).
    fc_batch : "all" - the fc layers take all B = p·batch examples at once; "one" -
        one worker's `batch` examples at a time, p rounds.

    Returns the byte counts this worker sent, by phase. The arrays are zeros of the
    real shapes: the numbers do not matter, their sizes and the order of the messages
    do.
    """
    from dlkit.models import alexnet

    arch = alexnet(grouped=False) if arch is None else arch
    MPI = mpi_for(comm)
    p = comm.Get_size()
    conv, fcs = arch.conv_layers(), arch.fc_layers()
    if fc_batch not in ("all", "one"):
        raise ValueError(
            f"fc_batch must be 'all' (p·batch examples at once) or 'one' (batch at a time), "
            f"got {fc_batch!r}"
        )
    for f in fcs:
        if f.out_shape[0] % p:
            raise ValueError(f"{f.name} has {f.out_shape[0]} neurons: not divisible by {p} workers")
    conv_macs = sum(c.macs for c in conv)
    first_macs = conv[0].macs
    sent = {"activations": 0, "fc": 0, "conv grads": 0}

    # 1. conv forward, data parallel on this worker's B/p images
    charge(comm, 2.0 * batch * conv_macs, "conv fwd")
    feat = int(np.prod(fcs[0].in_shape))
    a = np.zeros((batch, feat), dtype)
    # 2. allgather: every worker gets every worker's last conv activations (B examples)
    A = np.empty((p, batch, feat), dtype)
    comm.Allgather(a, A)
    sent["activations"] += (p - 1) * a.nbytes
    # 3. fc layers, model parallel: all B examples at once, or B/p per round
    rounds, n_fc = (1, p * batch) if fc_batch == "all" else (p, batch)
    dA = np.zeros((p, batch, feat), dtype)  # partial ∂𝓛/∂(conv output)
    for _ in range(rounds):
        for f in fcs:  # forward
            mine = f.out_shape[0] // p  # this worker's s_j/p neurons
            charge(comm, 2.0 * n_fc * f.macs / p, f"{f.name} fwd")
            z = np.zeros((n_fc, mine), dtype)
            Z = np.empty((p, n_fc, mine), dtype)
            comm.Allgather(z, Z)  # every worker gets the layer's whole output
            sent["fc"] += (p - 1) * z.nbytes
        for j, f in reversed(list(enumerate(fcs))):  # backward
            charge(comm, 4.0 * n_fc * f.macs / p, f"{f.name} bwd")
            charge(comm, 2.0 * f.params / p, f"{f.name} update")
            if j > 0:  # ∂𝓛/∂A summed over workers, scattered by neuron
                below = fcs[j - 1].out_shape[0] // p
                part = np.zeros((p, n_fc, below), dtype)
                reduce_scatter_ring(comm, part)
                sent["fc"] += (p - 1) * part[0].nbytes
    # 4. reduce-scatter: ∂𝓛/∂(conv output), summed over the fc workers, back to each
    #    image's worker
    reduce_scatter_ring(comm, dA)
    sent["activations"] += (p - 1) * dA[0].nbytes
    # 5. conv backward on this worker's images (conv1 needs no input gradient)
    charge(comm, 4.0 * batch * conv_macs - 2.0 * batch * first_macs, "conv bwd")
    # 6. allreduce the conv weight gradients (data parallelism), then update
    n_conv = sum(c.params for c in conv)
    grads = np.zeros(n_conv, dtype)
    if p > 1:
        comm.Allreduce(MPI.IN_PLACE, grads, op=MPI.SUM)
        sent["conv grads"] += 2 * (p - 1) * grads.nbytes // p
    charge(comm, 2.0 * n_conv, "conv update")
    return sent


@dataclass(frozen=True)
class HybridRow:
    """A simulated row beside the paper's: hours for 90 epochs and speedup.

    Times are seconds of one step: ``step_s`` the makespan, ``compute_s`` the
    busiest rank's compute, ``comm_s`` the rest, ``fc_s`` rank 0's compute in the
    fully connected layers.
    """

    gpus: int
    conv_batch: int
    fc_batch: int
    step_s: float
    compute_s: float
    comm_s: float
    hours: float
    speedup: float
    paper: PaperRow
    fc_s: float = 0.0

    @property
    def deviation(self) -> float:
        """(simulated speedup - paper's) / paper's."""
        return (self.speedup - self.paper.speedup) / self.paper.speedup


def simulate_step(
    gpus: int, fc_batch: str = "all", *, batch: int = 128, device=None, network=None, arch=None
):
    """Run :func:`hybrid_step` once on a SimCluster of p = `gpus` workers; the RunResult."""
    return SimCluster(gpus, network=network or NETWORK, compute=device or DEVICE).run(
        hybrid_step, arch, batch, fc_batch
    )


def alexnet_table(
    *, device=None, network=None, arch=None, epochs: int = EPOCHS, images: int = IMAGES
) -> list[HybridRow]:
    """Simulate every row of the paper's Table 1 with one device and one network.

    A step on p GPUs processes B = 128p images, so 90 epochs take epochs·images/B
    steps of the simulated step time. Speedup is relative to the simulated 1-GPU row.
    """
    rows, base = [], None
    for pr in PAPER_TABLE:
        p = pr.gpus
        mode = "all" if pr.fc_batch == pr.conv_batch else "one"
        res = simulate_step(
            p, mode, batch=pr.conv_batch // p, device=device, network=network, arch=arch
        )
        bd = res.breakdown()
        compute_s = max(b.get("compute", 0.0) for b in bd)
        fc_s = sum(e.end - e.start for e in res.events(0, "compute") if e.label.startswith("fc"))
        steps = epochs * images / pr.conv_batch
        hours = steps * res.time / 3600
        base = hours if base is None else base
        rows.append(
            HybridRow(
                p,
                pr.conv_batch,
                pr.fc_batch,
                res.time,
                compute_s,
                res.time - compute_s,
                hours,
                base / hours,
                pr,
                fc_s,
            )
        )
    return rows


def format_table(rows: list[HybridRow]) -> str:
    """The simulated rows beside the paper's, as text."""
    head = (
        f"{'GPUs':>4}  {'batch (conv, fc)':>16}  {'paper time':>10}  {'sim time':>9}  "
        f"{'paper speedup':>13}  {'sim speedup':>11}  {'deviation':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.gpus:>4}  {f'({r.conv_batch}, {r.fc_batch})':>16}  {r.paper.hours:>8.2f} h  "
            f"{r.hours:>7.2f} h  {r.paper.speedup:>12.2f}x  {r.speedup:>10.2f}x  "
            f"{100 * r.deviation:>+8.1f}%"
        )
    return "\n".join(lines)
