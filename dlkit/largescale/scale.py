"""The machines behind the face neuron: cost models of DistBelief and of COTS HPC
(chapter 16).

Both models charge what the simulator charges (:mod:`dlkit.cluster`): compute at a
device's rate, F / R seconds for F flops, and a message of m bytes α + m β seconds on
its link. They are closed forms, written here once; :func:`simulate_update` runs the
real distributed layer (:mod:`dlkit.largescale.distarray`) on a
:class:`~dlkit.cluster.SimCluster` and its simulated time equals :func:`update_time`.

**Le et al. (2012), DistBelief** (:func:`distbelief`). The constants, each with its
source: a network of about 1 billion parameters (:data:`LE_PARAMS`; Le et al.'s
abstract, and the seed talk's "1 billion parameter, 9 layer neural network"), trained
on 10 million 200 × 200 frames (:data:`LE_FRAMES`, :data:`LE_FRAME`; the abstract and
the talk) on 1,000 machines with 16 cores each (:data:`LE_MACHINES`,
:data:`LE_CORES_PER_MACHINE`; the abstract: "1,000 machines (16,000 cores) for three
days"; the talk: "1000 machines for 1 week"). Model parallelism splits one replica of
the network over machines; asynchronous SGD runs several replicas on shards of the
data (Dean et al. 2012; chapter 15). The model's own choices, stated where they are
made: 12 flops per parameter and example (a locally connected layer does one
multiply-add per weight forward; the reconstruction Wᵀ(W x) doubles it; the backward
pass doubles it again), a mini-batch of 100 (the talk's example), a 2012 server core
sustaining :data:`CORE_FLOPS`, neurons crossing machines over Gigabit Ethernet (the
talk: "move 1MB of neurons for 100 images at 1Gbps = 0.8 seconds").

**Coates et al. (2013), COTS HPC** (:func:`cots_update_time`, :func:`cots_table`):
GTX 680 GPUs ("> 1 TFLOPS each for ideal workload", the talk; :data:`GTX680`), 4 per
server, FDR InfiniBand (56 Gb/s, microsecond latency; the talk), one MPI process per
GPU, no RDMA ("all GPU operations are local", the talk: a message goes GPU → host →
InfiniBand → host → GPU, :data:`COTS_NETWORK`). The network is a stack of
:data:`COTS_LAYERS` locally connected layers whose rows are split over the GPUs; each
GPU holds :data:`COTS_ROWS` input rows of a 200-pixel-wide frame per layer, so a network
on p GPUs is p times as tall as on one (weak scaling), and its size is set by the
number of maps F. The paper's figures to put beside it (the talk): networks up to 11.2
billion parameters on 64 GPUs (16 servers) with an update time similar to a
185-million-parameter network on one GPU, and up to a 47× increase in throughput.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlkit.cluster import SimCluster, devices, networks
from dlkit.largescale.distarray import (
    DistArray,
    DistLocallyConnected2d,
    halo_plan,
    needed_rows,
    split_rows,
)

__all__ = [
    "LE_PARAMS",
    "LE_FRAMES",
    "LE_FRAME",
    "LE_MACHINES",
    "LE_CORES_PER_MACHINE",
    "LE_DAYS",
    "LE_DAYS_TALK",
    "CORE_FLOPS",
    "FLOPS_PER_PARAM",
    "BATCH",
    "DistBeliefRow",
    "distbelief",
    "GTX680",
    "COTS_NETWORK",
    "COTS_LAYERS",
    "COTS_ROWS",
    "COTS_WIDTH",
    "COTS_WINDOW",
    "COTS_STRIDE",
    "PAPER_SIZES",
    "PAPER_THROUGHPUT",
    "halo_bytes",
    "phase_times",
    "update_time",
    "simulate_update",
    "cots_params",
    "cots_update_time",
    "cots_table",
]

# ------------------------------------------------------------------ Le et al. ----
#: Parameters of the face-neuron network (Le et al. 2012: "1 billion connections").
LE_PARAMS = 1e9
#: Training frames, and their side in pixels (Le et al. 2012; the seed talk).
LE_FRAMES, LE_FRAME = 10_000_000, 200
#: Machines and cores per machine of the run (Le et al. 2012: 1,000 machines, 16,000 cores).
LE_MACHINES, LE_CORES_PER_MACHINE = 1_000, 16
#: Days of training: the paper's abstract says three, the seed talk "1 week".
LE_DAYS, LE_DAYS_TALK = 3, 7
#: Sustained flop/s of one 2012 server core on this work (the model's choice: a
#: 2.5 GHz core with 4-wide SSE add and multiply peaks at 20 GFLOP/s; a sparse,
#: memory-bound layer sustains about a quarter of it).
CORE_FLOPS = 5e9
#: Flops per parameter and example of a reconstruction-trained locally connected
#: network: 2 (W x) + 2 (Wᵀ z) forward, twice that backward.
FLOPS_PER_PARAM = 12
#: Examples per mini-batch (the seed talk's example of moving neurons for 100 images).
BATCH = 100


@dataclass(frozen=True)
class DistBeliefRow:
    """One configuration of the DistBelief model: `replicas` × `per_replica` machines.

    ``step_s`` one mini-batch step of one replica (``compute_s`` + ``comm_s``);
    ``pass_h`` hours for one pass over the 10 million frames, all replicas together."""

    machines: int
    per_replica: int
    replicas: int
    compute_s: float
    comm_s: float
    step_s: float
    pass_h: float


def distbelief(
    per_replica: int,
    replicas: int = 1,
    *,
    params: float = LE_PARAMS,
    batch: int = BATCH,
    network=None,
    layers: int = 3,
) -> DistBeliefRow:
    r"""The DistBelief model: one replica's step on `per_replica` machines, and the hours
    of one pass over :data:`LE_FRAMES` frames by `replicas` asynchronous replicas.

    A replica splits the frame into a √M × √M grid of tiles, one per machine (M =
    `per_replica`), in each of its `layers` layers. A step of B = `batch` frames costs

    * compute: FLOPS_PER_PARAM · P · B / (M · 16 · CORE_FLOPS);
    * communication, per layer, forward and backward: the responses along the edges of
      a machine's tile (its perimeter, 4 · 200/√M pixels, times 8 maps and a halo 9
      pixels deep) for the B frames, in float32, to its neighbours one after the other
      over the machine's link (α + m β each); plus, once per step, the machine's share
      of the parameters to and from the parameter server (2 · 4P/M bytes), as Downpour
      does when it fetches and pushes every step.

    Replicas never wait for each other (asynchronous SGD), so R replicas make R times the
    progress: one pass takes (frames / (R · B)) steps of one replica. A model of the
    arithmetic, not of Le et al.'s code: its constants are the module's."""
    net = networks.preset("1gbe") if network is None else network
    M, R = int(per_replica), int(replicas)
    if M < 1 or R < 1:
        raise ValueError(
            f"distbelief: per_replica={per_replica} and replicas={replicas} must be >= 1"
        )
    compute = FLOPS_PER_PARAM * params * batch / (M * LE_CORES_PER_MACHINE * CORE_FLOPS)
    comm = 0.0
    if M > 1:
        tile = LE_FRAME / np.sqrt(M)
        edge = 4 * tile * 8 * 9 * batch * 4  # bytes of the tile's halo
        comm += layers * 2 * (4 * net.alpha + edge * net.beta)
    if M * R > 1:  # the parameter server: fetch and push this machine's shard
        comm += 2 * (net.alpha + 4 * params / M * net.beta)
    step = compute + comm
    hours = LE_FRAMES / (R * batch) * step / 3600
    return DistBeliefRow(M * R, M, R, float(compute), float(comm), float(step), float(hours))


# --------------------------------------------------------------- Coates et al. ----
#: GTX 680 as the talk rates it: "> 1 TFLOPS each for ideal workload" (NVIDIA's peak
#: is 1,536 cores × 1,006 MHz × 2 = 3.09 TFLOP/s FP32).
GTX680 = devices.Device("gtx680", 1e12, "GTX 680, 1 TFLOP/s sustained (the seed talk)")


def _staged(name: str, hops) -> networks.Network:
    """A link made of store-and-forward hops (latencies and times per byte add)."""
    return networks.Network(
        alpha=sum(h.alpha for h in hops),
        beta=sum(h.beta for h in hops),
        gamma=networks.GPU_GAMMA,
        name=name,
        source=" + ".join(h.name for h in hops),
    )


_PCIE, _IB = networks.preset("pcie3"), networks.preset("fdr_ib")

#: The COTS HPC cluster: 4 GPUs per server. Between two GPUs of a server: GPU → host →
#: GPU over PCIe 3.0; between servers: GPU → host, FDR InfiniBand, host → GPU (no RDMA).
COTS_NETWORK = networks.two_level(
    _staged("gpu-host-gpu", (_PCIE, _PCIE)),
    _staged("gpu-host-ib-host-gpu", (_PCIE, _IB, _PCIE)),
    ranks_per_node=4,
)

#: The model's network: layers of locally connected k × k filters at stride 2 on
#: frames 200 pixels wide, COTS_ROWS input rows per GPU and per layer.
COTS_LAYERS, COTS_WIDTH, COTS_WINDOW, COTS_STRIDE, COTS_ROWS = 3, 200, 18, 2, 64

#: The paper's two sizes (the talk): 185 million parameters on 1 GPU, 11.2 billion on 64.
PAPER_SIZES = {1: 185e6, 64: 11.2e9}
#: "Up to 47x increase in throughput" (the talk), 64 GPUs against 1.
PAPER_THROUGHPUT = 47.0


def halo_bytes(p: int, rows: int, window: int, stride: int, row_bytes: int):
    """Per rank, the bytes it sends to the previous and to the next rank in the forward
    halo exchange of a locally connected layer with `rows` input rows split over p
    ranks (:func:`dlkit.largescale.distarray.halo_plan`), `row_bytes` bytes per row
    (N · C · W · itemsize). Returns (to_prev, to_next, from_prev, from_next), lists."""
    blocks, needs = split_rows(rows, p), needed_rows(p, rows, window, stride)
    plans = [halo_plan(blocks, needs, r) for r in range(p)]

    def size(rg):
        return (rg[1] - rg[0]) * row_bytes

    return (
        [size(q.to_prev) for q in plans],
        [size(q.to_next) for q in plans],
        [size(q.from_prev) for q in plans],
        [size(q.from_next) for q in plans],
    )


def phase_times(clock, to_prev, to_next, network, eager_limit: int, ports):
    """The clocks after one :func:`~dlkit.largescale.distarray.exchange` (two Sendrecv
    calls) that every rank enters at ``clock[r]``, sending ``to_prev[r]`` and
    ``to_next[r]`` bytes (0: nothing, ``MPI.PROC_NULL``).

    The simulator's rules (:mod:`dlkit.cluster.matching`): a transfer a → b starts at
    the latest of a's send, b's receive, a's send port and b's receive port being free,
    and lasts α + m β of the link; a Sendrecv returns when its receive has arrived and,
    for a send above `eager_limit` bytes, when its send has been delivered. `ports` =
    (send port free, receive port free) per rank, updated in place."""
    send_free, recv_free = ports
    p = len(clock)
    t = list(clock)
    for sizes, step in ((to_prev, -1), (to_next, +1)):
        done = list(t)
        for a in range(p):
            m = sizes[a]
            if not m:
                continue
            b = a + step
            alpha, beta = network.link(a, b, p)
            start = max(t[a], t[b], send_free[a], recv_free[b])
            end = start + alpha + m * beta
            send_free[a] = recv_free[b] = end
            done[b] = max(done[b], end)
            if m > eager_limit:
                done[a] = max(done[a], end)
        t = done
    return t


def update_time(
    p: int,
    layer_shapes,
    batch: int,
    network,
    device,
    *,
    itemsize: int = 8,
    eager_limit: int = 0,
) -> float:
    """The closed-form time of one update (forward, backward) of a stack of distributed
    locally connected layers on p ranks, as :func:`simulate_update` runs it.

    `layer_shapes` lists (C, H, W, F, k, stride) per layer. Per layer: the forward halo
    exchange (:func:`phase_times`), the forward compute 2 · B · (this rank's weights),
    the backward compute twice that, then the reverse exchange, which sends back what
    the forward one received. Layers run one after another (forward through all, then
    backward in reverse). Returns the latest rank's clock.

    Exact for ``eager_limit=0`` (every send waits until it is delivered, the default
    here and of :func:`simulate_update`): then each port serves the two halves of an
    exchange in order. With eager sends a rank can run ahead, and a message of a later
    half can be matched on a port before one of an earlier half; the simulator then
    serves them in that order, which this closed form does not follow."""
    t = [0.0] * p
    ports = ([0.0] * p, [0.0] * p)
    per_layer = []
    for C, H, W, F, k, s in layer_shapes:
        Wo = (W - k) // s + 1
        rows_out = split_rows((H - k) // s + 1, p)
        weights = [(o1 - o0) * Wo * F * C * k * k for o0, o1 in rows_out]
        sizes = halo_bytes(p, H, k, s, batch * C * W * itemsize)
        per_layer.append((weights, sizes))
    for weights, (to_prev, to_next, _, _) in per_layer:
        t = phase_times(t, to_prev, to_next, network, eager_limit, ports)
        t = [t[r] + device.time(2.0 * batch * weights[r]) for r in range(p)]
    for weights, (_, _, from_prev, from_next) in reversed(per_layer):
        t = [t[r] + device.time(4.0 * batch * weights[r]) for r in range(p)]
        t = phase_times(t, from_prev, from_next, network, eager_limit, ports)
    return max(t)


def simulate_update(
    p: int, layers, batch: int, network, device, *, seed=0, eager_limit: int = 0
) -> tuple[float, list]:
    """Run one update of the distributed `layers` (a list of
    :class:`~dlkit.largescale.localconn.LocallyConnected2d`, each feeding the next) on
    a SimCluster of p ranks: forward through all, backward from a random output
    gradient. Returns (the simulated time, each rank's clock at the end). Every send
    is delivered before it returns (``eager_limit=0``) unless `eager_limit` says
    otherwise."""
    g = np.random.default_rng(seed)
    first, last = layers[0], layers[-1]
    x = g.standard_normal((batch, first.C, first.H, first.Wd))
    dz = g.standard_normal((batch, last.F, last.Ho, last.Wo))

    def train(comm):
        dist = [DistLocallyConnected2d(comm, L) for L in layers]
        a = DistArray.scatter(comm, x)
        for d in dist:
            a = d.forward(a)
        grad = DistArray.scatter(comm, dz)
        for d in reversed(dist):
            grad = d.backward(grad)
        return comm.Wtime()

    res = SimCluster(p, network=network, compute=device, eager_limit=eager_limit).run(train)
    return max(res.values), res.values


def cots_params(maps: float, gpus: int = 1) -> float:
    """Parameters of the COTS model's network on `gpus` GPUs with F = `maps` maps: per
    GPU and layer, (COTS_ROWS / stride) output rows × Wo positions × F filters of
    C × k × k weights, C = 3 for the first layer (a colour frame) and F after it."""
    Wo = (COTS_WIDTH - COTS_WINDOW) // COTS_STRIDE + 1
    per = COTS_ROWS // COTS_STRIDE * Wo * COTS_WINDOW**2 * maps
    chans = 3 + (COTS_LAYERS - 1) * maps
    return gpus * per * chans


def cots_update_time(
    gpus: int, maps: int, *, batch: int = BATCH, network=COTS_NETWORK, device=GTX680
) -> float:
    """Seconds of one update of the COTS model's network on `gpus` GPUs with F = `maps`
    (:func:`cots_params`), float32, by :func:`update_time`. On p GPUs each layer's input
    is p · COTS_ROWS (+ the last window's overhang) rows of COTS_WIDTH pixels."""
    rows = gpus * COTS_ROWS + COTS_WINDOW - COTS_STRIDE
    shapes = []
    for j in range(COTS_LAYERS):
        C = 3 if j == 0 else maps
        shapes.append((C, rows, COTS_WIDTH, maps, COTS_WINDOW, COTS_STRIDE))
    return update_time(gpus, shapes, batch, network, device, itemsize=4)


def cots_table(gpus=(1, 4, 16, 64), maps=range(2, 11)) -> dict:
    """Update time against model size for each number of GPUs: {p: (params, seconds)}
    as arrays over F in `maps`, plus the two figures beside the paper's:

    * ``"similar"``: the update time of the largest network on 64 GPUs over that of the
      largest on 1 GPU (the paper: "similar");
    * ``"throughput"``: parameters × examples per second on 64 GPUs over 1 GPU, both at
      their largest network (the paper: up to 47×)."""
    out = {}
    for p in gpus:
        P = np.array([cots_params(F, p) for F in maps], dtype=np.float64)
        T = np.array([cots_update_time(p, F) for F in maps])
        out[p] = (P, T)
    F1 = _largest_maps(PAPER_SIZES[1])
    t1, t64 = cots_update_time(1, F1), cots_update_time(64, F1)
    out["maps"] = F1
    out["sizes"] = {1: cots_params(F1, 1), 64: cots_params(F1, 64)}
    out["times"] = {1: t1, 64: t64}
    out["similar"] = t64 / t1
    out["throughput"] = (cots_params(F1, 64) / t64) / (cots_params(F1, 1) / t1)
    return out


def _largest_maps(params: float) -> int:
    """The largest F whose one-GPU network has at most `params` parameters."""
    F = 1
    while cots_params(F + 1) <= params:
        F += 1
    return F
