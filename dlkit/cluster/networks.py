r"""Interconnect cost models: the alpha-beta (Hockney) model and three topologies.

A message of :math:`m` bytes between two ranks costs

.. math:: T(m) = \alpha + m\beta

seconds: :math:`\alpha` is the latency (start-up) per message and :math:`\beta` the
time per byte, the inverse bandwidth (Hockney 1994). Reduction collectives also pay
:math:`\gamma` seconds per byte for the arithmetic that combines two buffers (Thakur,
Rabenseifner & Gropp 2005); it is a property of the processor, kept here with the
network so one object holds the three constants of the closed forms in
:mod:`dlkit.cluster.costs`.

Contention model (what the simulator charges, and what the closed forms assume):
each rank has one send port and one receive port. A transfer occupies the sender's
send port and the receiver's receive port for its whole duration; each port carries
one message at a time, in the order the transfers were matched. A transfer starts
when the send has been issued, the matching receive has been posted, and both ports
are free. The wires between ports are never the bottleneck, so a rank can send and
receive at the same time (full duplex) and disjoint pairs never slow each other.

Topologies:

* :class:`Network` - all-to-all (fully connected): every pair has a direct link
  with the same :math:`(\alpha, \beta)`.
* :class:`Ring` - links only between neighbours :math:`r` and :math:`r\pm1 \bmod p`.
  A message to a rank :math:`h` hops away is forwarded through the ring with
  cut-through routing: it pays :math:`h\alpha + m\beta` (each hop adds a latency,
  the bytes are pipelined). Intermediate ranks' ports are not occupied. The ring
  allreduce only talks to neighbours, so on a ring it costs what it costs on an
  all-to-all network; a binomial tree pays for its long hops.
* :class:`TwoLevel` - nodes of ``ranks_per_node`` consecutive ranks: ranks in the
  same node talk over a fast ``intra`` network (e.g. NVLink or shared memory),
  ranks in different nodes over a slower ``inter`` network (e.g. InfiniBand). Each
  rank keeps its own ports (a node's NIC is not shared in this model).

Presets (``preset(name)``), bandwidth per direction, latency per message:

=========  ==========  ========  ====================================================
name       bandwidth   alpha     source
=========  ==========  ========  ====================================================
shm        10 GB/s     0.5 us    intra-node MPI over shared memory: one memcpy by a
                                 core (~10 GB/s); MPICH/Open MPI shared-memory
                                 ping-pong latencies are 0.2-1 us
pcie3      12 GB/s     5 us      PCI Express 3.0 x16: 8 GT/s x 16 lanes x 128/130 =
                                 15.75 GB/s raw per direction (PCI-SIG), about
                                 12 GB/s achieved by cudaMemcpy; ~5 us per copy
1gbe       125 MB/s    50 us     Gigabit Ethernet (IEEE 802.3ab): 1 Gb/s; MPI over
                                 TCP latency of tens of microseconds
10gbe      1.25 GB/s   10 us     10 Gigabit Ethernet (IEEE 802.3ae): 10 Gb/s; MPI over
                                 TCP ~10 us
fdr_ib     6.8 GB/s    0.7 us    InfiniBand FDR 4x: 56 Gb/s signalling, 64b/66b
                                 coding -> 54.5 Gb/s = 6.8 GB/s; MPI latency ~0.7 us
                                 (Mellanox ConnectX-3 figures)
nvlink     300 GB/s    2 us      NVLink 3 on an A100 SXM: 12 links x 25 GB/s per
                                 direction (NVIDIA A100 datasheet); ~2 us per
                                 transfer as seen by NCCL-style collectives
=========  ==========  ========  ====================================================

``gamma`` defaults to 2.5e-10 s/byte for CPU presets (adding two float64 arrays
streams 24 bytes per 8-byte result at ~10 GB/s of memory bandwidth: 3 bytes moved
per byte reduced, 0.3 ns/byte) and 1e-12 s/byte for the GPU links (HBM at
1.5-3 TB/s).
"""

from __future__ import annotations

from dataclasses import dataclass

CPU_GAMMA = 2.5e-10
GPU_GAMMA = 1e-12


@dataclass(frozen=True)
class Network:
    """All-to-all network: every pair of ranks has a link of latency ``alpha`` (s) and
    inverse bandwidth ``beta`` (s/byte); ``gamma`` (s/byte) prices reductions.

    >>> net = Network(alpha=1e-5, beta=8e-10)
    >>> round(net.time(0, 1, 1_000_000, p=4), 9)     # 10 us + 1 MB at 1.25 GB/s
    0.00081
    """

    alpha: float
    beta: float
    gamma: float = CPU_GAMMA
    name: str = "custom"
    source: str = ""

    topology = "all-to-all"
    #: True when every pair pays the same alpha and beta: the closed forms apply.
    uniform = True

    def __post_init__(self):
        for field in ("alpha", "beta", "gamma"):
            v = getattr(self, field)
            if not (v >= 0):
                raise ValueError(f"{type(self).__name__}: {field} must be >= 0 seconds, got {v}")

    @property
    def bandwidth(self) -> float:
        """Bytes per second of one link (1 / beta)."""
        return float("inf") if self.beta == 0 else 1.0 / self.beta

    def link(self, a: int, b: int, p: int) -> tuple[float, float]:
        """(alpha, beta) charged for a message from rank a to rank b among p ranks."""
        return self.alpha, self.beta

    def time(self, a: int, b: int, nbytes: int, p: int) -> float:
        """Seconds to move nbytes from rank a to rank b: alpha + nbytes * beta."""
        alpha, beta = self.link(a, b, p)
        return alpha + nbytes * beta

    def __str__(self) -> str:
        return (
            f"{self.name} ({self.topology}): alpha={self.alpha * 1e6:.3g} us, "
            f"bandwidth={self.bandwidth / 1e9:.4g} GB/s, gamma={self.gamma:.3g} s/B"
        )


@dataclass(frozen=True)
class Ring(Network):
    """Ring topology: neighbour links only; m bytes sent h hops away cost h*alpha + m*beta."""

    topology = "ring"
    uniform = False

    def link(self, a: int, b: int, p: int) -> tuple[float, float]:
        d = abs(a - b) % p
        hops = max(1, min(d, p - d))
        return hops * self.alpha, self.beta


@dataclass(frozen=True)
class TwoLevel(Network):
    """Nodes of ``ranks_per_node`` consecutive ranks: ``intra`` links inside a node,
    ``inter`` links between nodes. alpha/beta/gamma are the intra-node values."""

    inter: Network | None = None
    ranks_per_node: int = 1

    topology = "two-level"
    uniform = False

    def __post_init__(self):
        super().__post_init__()
        if self.inter is None:
            raise ValueError("TwoLevel needs inter=Network(...) for links between nodes")
        if self.ranks_per_node < 1:
            raise ValueError(f"ranks_per_node must be >= 1, got {self.ranks_per_node}")

    def link(self, a: int, b: int, p: int) -> tuple[float, float]:
        if a // self.ranks_per_node == b // self.ranks_per_node:
            return self.alpha, self.beta
        return self.inter.link(a, b, p)

    def __str__(self) -> str:
        return (
            f"two-level, {self.ranks_per_node} ranks per node: intra {self.name} "
            f"(alpha={self.alpha * 1e6:.3g} us, {self.bandwidth / 1e9:.4g} GB/s), inter "
            f"{self.inter.name} (alpha={self.inter.alpha * 1e6:.3g} us, "
            f"{self.inter.bandwidth / 1e9:.4g} GB/s)"
        )


_PRESETS = {
    "shm": (0.5e-6, 10e9, CPU_GAMMA, "shared memory (one node, memcpy by a core)"),
    "pcie3": (5e-6, 12e9, GPU_GAMMA, "PCI Express 3.0 x16 (15.75 GB/s raw, ~12 achieved)"),
    "1gbe": (50e-6, 125e6, CPU_GAMMA, "Gigabit Ethernet, MPI over TCP"),
    "10gbe": (10e-6, 1.25e9, CPU_GAMMA, "10 Gigabit Ethernet, MPI over TCP"),
    "fdr_ib": (0.7e-6, 6.8e9, CPU_GAMMA, "InfiniBand FDR 4x (56 Gb/s signalling)"),
    "nvlink": (2e-6, 300e9, GPU_GAMMA, "NVLink 3, A100 SXM (12 links x 25 GB/s)"),
}
_ALIASES = {
    "shared_memory": "shm",
    "pcie": "pcie3",
    "gbe": "1gbe",
    "ethernet": "1gbe",
    "infiniband": "fdr_ib",
    "ib": "fdr_ib",
    "fdr": "fdr_ib",
}

PRESETS = tuple(_PRESETS)


def preset(name: str, topology: str = "all-to-all", *, gamma: float | None = None) -> Network:
    """A network preset by name (see the module docstring for values and sources).

    Parameters
    ----------
    name : one of ``PRESETS``: "shm", "pcie3", "1gbe", "10gbe", "fdr_ib", "nvlink".
    topology : "all-to-all" (default) or "ring".
    gamma : override the reduction cost per byte.
    """
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in _PRESETS:
        raise ValueError(f"unknown network preset {name!r}; choose one of {', '.join(PRESETS)}")
    alpha, bw, g, source = _PRESETS[key]
    g = g if gamma is None else gamma
    if topology in ("all-to-all", "full", "fully-connected"):
        return Network(alpha, 1.0 / bw, g, key, source)
    if topology == "ring":
        return Ring(alpha, 1.0 / bw, g, key, source)
    raise ValueError(
        f"unknown topology {topology!r}: use 'all-to-all' or 'ring', "
        "or two_level(intra, inter, ranks_per_node)"
    )


def ring(network: Network | str) -> Ring:
    """The same links arranged as a ring (neighbours only; h hops cost h*alpha + m*beta)."""
    net = preset(network) if isinstance(network, str) else network
    return Ring(net.alpha, net.beta, net.gamma, net.name, net.source)


def two_level(intra: Network | str, inter: Network | str, ranks_per_node: int) -> TwoLevel:
    """Nodes of ``ranks_per_node`` ranks: ``intra`` inside a node, ``inter`` between nodes.

    >>> net = two_level("nvlink", "fdr_ib", ranks_per_node=4)
    """
    a = preset(intra) if isinstance(intra, str) else intra
    b = preset(inter) if isinstance(inter, str) else inter
    return TwoLevel(
        a.alpha, a.beta, a.gamma, a.name, a.source, inter=b, ranks_per_node=ranks_per_node
    )
