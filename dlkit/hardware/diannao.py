"""DianNao's neural functional unit (NFU) as a three-stage pipeline (Chen et al., 2014).

DianNao computes a layer Tn output neurons at a time, Tn inputs at a time, in a
pipeline of three stages (the paper's configuration: Tn = 16, clock 0.98 GHz, 16-bit
fixed-point values):

- NFU-1, Tn × Tn = 256 multipliers: the products W_ik · x_k of Tn output neurons i and
  Tn inputs k;
- NFU-2, Tn adder trees of Tn inputs each: one partial sum per output neuron, added
  to that neuron's running sum (for pooling NFU-2 would compute maxima instead);
- NFU-3, Tn activation units (the paper's piecewise-linear sigmoid and tanh): g of a
  neuron's sum once all its inputs are in.

Every cycle one new *step* (a group of Tn output neurons with one chunk of Tn inputs)
enters NFU-1, so a layer takes its number of steps plus 2 cycles (the pipeline fills):

- a fully connected (classifier) layer of s_in inputs and s_out outputs:
  ceil(s_out / Tn) · ceil(s_in / Tn) steps;
- a convolutional layer, C_in → C_out maps of H_out × W_out, kernels k_h × k_w: for each
  output position and group of Tn output maps, each kernel offset with each chunk of
  Tn input maps is a step: H_out · W_out · ceil(C_out / Tn) · k_h · k_w · ceil(C_in / Tn).

:func:`cycles` is the closed form; :func:`simulate_nfu` runs the pipeline cycle by cycle
on real numbers and returns the outputs and the cycle count, so the two can be compared.
Energy is not modelled: throughput only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from dlkit.shapes import output_size

__all__ = [
    "TN",
    "CLOCK_GHZ",
    "BYTES_PER_VALUE",
    "Layer",
    "fc_layer",
    "conv_layer",
    "steps",
    "cycles",
    "peak_gops",
    "Throughput",
    "throughput",
    "simulate_nfu",
]

#: Output neurons and inputs the NFU handles per cycle (the paper's Tn).
TN = 16
#: The paper's clock, GHz.
CLOCK_GHZ = 0.98
#: 16-bit fixed point values (chapter 9).
BYTES_PER_VALUE = 2


def _int(v, name: str, who: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{who}: {name} must be an int >= 1, got {v!r}")
    return int(v)


@dataclass(frozen=True)
class Layer:
    """A layer as DianNao sees it: C_in → C_out maps, an H_out × W_out output, k_h × k_w
    kernels (a fully connected layer is 1 × 1 everywhere, with C_in = s_in, C_out = s_out)."""

    name: str
    C_in: int
    C_out: int
    H_out: int = 1
    W_out: int = 1
    kh: int = 1
    kw: int = 1
    H_in: int = 1
    W_in: int = 1

    @property
    def macs(self) -> int:
        """Multiply-accumulates: C_out · H_out · W_out · C_in · k_h · k_w."""
        return self.C_out * self.H_out * self.W_out * self.C_in * self.kh * self.kw

    @property
    def bytes(self) -> int:
        """Values moved to and from memory, each once, 2 bytes each: inputs, synapses
        (weights) and outputs."""
        values = (
            self.C_in * self.H_in * self.W_in
            + self.C_out * self.C_in * self.kh * self.kw
            + self.C_out * self.H_out * self.W_out
        )
        return BYTES_PER_VALUE * values


def fc_layer(s_in: int, s_out: int, name: str = "") -> Layer:
    """A fully connected (classifier) layer of s_in inputs and s_out outputs."""
    s_in, s_out = _int(s_in, "s_in", "fc_layer"), _int(s_out, "s_out", "fc_layer")
    return Layer(name or f"FC {s_in}→{s_out}", s_in, s_out)


def conv_layer(
    C_in: int, C_out: int, H_in: int, W_in: int, kh: int, kw: int, name: str = ""
) -> Layer:
    """A convolutional layer, stride 1, no padding: (C_in, H_in, W_in) → (C_out, H_out, W_out)."""
    who = "conv_layer"
    C_in, C_out = _int(C_in, "C_in", who), _int(C_out, "C_out", who)
    H_in, W_in, kh, kw = (
        _int(v, n, who) for v, n in ((H_in, "H_in"), (W_in, "W_in"), (kh, "kh"), (kw, "kw"))
    )
    if kh > H_in or kw > W_in:
        raise ValueError(f"{who}: the kernel {kh}×{kw} is larger than the input {H_in}×{W_in}")
    Ho, Wo = output_size(H_in, kh, 1, 0), output_size(W_in, kw, 1, 0)
    return Layer(
        name or f"conv {C_in}→{C_out}, {kh}×{kw}, {H_in}×{W_in}",
        C_in,
        C_out,
        Ho,
        Wo,
        kh,
        kw,
        H_in,
        W_in,
    )


def _check_layer(layer, who: str) -> Layer:
    if not isinstance(layer, Layer):
        raise TypeError(
            f"{who}: layer must be a diannao.Layer (fc_layer or conv_layer), got {layer!r}"
        )
    return layer


def steps(layer: Layer, Tn: int = TN) -> int:
    """Pipeline steps: output positions × groups of Tn outputs × kernel offsets × chunks
    of Tn inputs."""
    L = _check_layer(layer, "steps")
    Tn = _int(Tn, "Tn", "steps")
    return L.H_out * L.W_out * -(-L.C_out // Tn) * L.kh * L.kw * -(-L.C_in // Tn)


def cycles(layer: Layer, Tn: int = TN) -> int:
    """Cycles of the three-stage pipeline: one step enters per cycle, plus 2 to drain."""
    return steps(layer, Tn) + 2


def peak_gops(Tn: int = TN, clock_ghz: float = CLOCK_GHZ) -> float:
    """Tn² multiply-accumulates per cycle, two operations each: 2·Tn²·f, GOP/s."""
    return 2 * _int(Tn, "Tn", "peak_gops") ** 2 * float(clock_ghz)


@dataclass(frozen=True)
class Throughput:
    """A layer on the NFU: cycles, achieved GOP/s, intensity and the bandwidth it needs."""

    layer: Layer
    cycles: int
    gops: float  # 2·MACs per second at the clock, in GOP/s
    utilisation: float  # useful multiplications / (Tn² · cycles)
    intensity: float  # 2·MACs / bytes moved
    bandwidth_gbs: float  # bytes moved / time: what memory must deliver to keep up


def throughput(layer: Layer, Tn: int = TN, clock_ghz: float = CLOCK_GHZ) -> Throughput:
    """The layer's cycles and its throughput, intensity and needed bandwidth at `clock_ghz`."""
    L = _check_layer(layer, "throughput")
    c = cycles(L, Tn)
    seconds = c / (clock_ghz * 1e9)
    ops = 2 * L.macs
    return Throughput(
        L, c, ops / seconds / 1e9, L.macs / (Tn * Tn * c), ops / L.bytes, L.bytes / seconds / 1e9
    )


def _steps_of(layer: Layer, Tn: int):
    """The steps in the order the NFU takes them: (output position, output group,
    kernel offset, input chunk), with a flag on the last step of each output group."""
    L = layer
    offsets = [(o1, o2) for o1 in range(L.kh) for o2 in range(L.kw)]
    chunks = [range(c, min(c + Tn, L.C_in)) for c in range(0, L.C_in, Tn)]
    for u1 in range(L.H_out):
        for u2 in range(L.W_out):
            for g in range(0, L.C_out, Tn):
                outs = range(g, min(g + Tn, L.C_out))
                todo = [(o, ch) for o in offsets for ch in chunks]
                for n, (o, ch) in enumerate(todo):
                    yield (u1, u2), outs, o, ch, n == len(todo) - 1


def simulate_nfu(
    layer: Layer,
    x: np.ndarray,
    w: np.ndarray,
    g: Callable[[np.ndarray], np.ndarray] = np.tanh,
    Tn: int = TN,
) -> tuple[np.ndarray, int]:
    """Run `layer` through the three-stage NFU pipeline cycle by cycle.

    Parameters
    ----------
    layer : Layer
    x : array (C_in, H_in, W_in), or (s_in,) for a fully connected layer
    w : array (C_out, C_in, k_h, k_w), or (s_out, s_in)
    g : the activation NFU-3 applies
    Tn : neurons and inputs per step

    Returns
    -------
    (out, cycles): out (C_out, H_out, W_out) or (s_out,), and the cycles until the
    last activation leaves NFU-3.

    Each cycle, NFU-3 applies g to the sums that NFU-2 completed in the previous cycle,
    NFU-2 adds up the products NFU-1 made in the previous cycle (a Tn-input adder tree
    per output neuron) into the running sums, and NFU-1 multiplies the next step's
    Tn × Tn synapses by its Tn inputs.
    """
    L = _check_layer(layer, "simulate_nfu")
    Tn = _int(Tn, "Tn", "simulate_nfu")
    fc = L.kh == L.kw == L.H_out == L.W_out == 1 and L.H_in == L.W_in == 1
    x = np.asarray(x, dtype=float)
    w = np.asarray(w, dtype=float)
    try:
        x3 = x.reshape(L.C_in, L.H_in, L.W_in)
        w4 = w.reshape(L.C_out, L.C_in, L.kh, L.kw)
    except ValueError:
        raise ValueError(
            f"simulate_nfu: x {x.shape} and w {w.shape} do not have the layer's shapes: x "
            f"({L.C_in}, {L.H_in}, {L.W_in}) and w ({L.C_out}, {L.C_in}, {L.kh}, {L.kw})"
        ) from None
    out = np.zeros((L.C_out, L.H_out, L.W_out))
    sums: dict = {}
    todo = _steps_of(L, Tn)
    stage1 = stage2 = None  # the pipeline registers between the stages
    cycle = 0
    busy = True
    while busy:
        cycle += 1
        # NFU-3: activations of the sums NFU-2 completed last cycle
        if stage2 is not None and stage2[2]:
            pos, outs = stage2[0], stage2[1]
            out[list(outs), pos[0], pos[1]] = g(np.array([sums.pop((pos, i)) for i in outs]))
        # NFU-2: adder trees over last cycle's products, into the running sums
        new2 = None
        if stage1 is not None:
            pos, outs, products, last = stage1
            for i, p in zip(outs, products.sum(axis=1)):  # one Tn-input tree per neuron
                sums[(pos, i)] = sums.get((pos, i), 0.0) + p
            new2 = (pos, outs, last)
        # NFU-1: Tn × Tn products of the next step
        step = next(todo, None)
        new1 = None
        if step is not None:
            pos, outs, (o1, o2), ch, last = step
            xin = x3[list(ch), pos[0] + o1, pos[1] + o2]
            new1 = (pos, outs, w4[list(outs)][:, list(ch), o1, o2] * xin, last)
        stage1, stage2 = new1, new2
        busy = stage1 is not None or stage2 is not None
    return (out.reshape(L.C_out) if fc else out), cycle
