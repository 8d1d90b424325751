"""Layers for convolutional networks: Conv2d, MaxPool2d, AvgPool2d, Flatten, Dropout.

Shapes follow (N, C, H, W). Conv2d computes, for every image n, output channel f and
output position (u1, u2),

    z[n, f, u1, u2] = b[f] + Σ_c Σ_{o1} Σ_{o2} W[f, c, o1, o2] · a[n, c, s·u1 + o1, s·u2 + o2]

(c the input channel, (o1, o2) the kernel offset, s the stride, a the zero-padded
input) by any algorithm of :mod:`dlkit.conv` (chapter 7). Its weights ``W`` have shape
(C_out, C_in, kh, kw), like PyTorch's, so state dicts translate one to one.
"""

from __future__ import annotations

import numpy as np

from dlkit import conv as _conv
from dlkit import kernels
from dlkit import rng as _rng
from dlkit.nn import device
from dlkit.nn import init as _init
from dlkit.nn.core import (
    Layer,
    Param,
    array_module,
    check_array,
    check_flag,
    check_float_dtype,
    check_int,
    check_real,
)


def _is_int(a) -> bool:
    return isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_))


def _pair(v, name: str, who: str) -> tuple[int, int]:
    """(v, v) for an int v, or the pair v itself: positive ints, not bools or floats."""
    t = (v, v) if _is_int(v) else tuple(v) if isinstance(v, (tuple, list)) else None
    if t is None or len(t) != 2 or not all(_is_int(a) for a in t):
        raise TypeError(
            f"{who}: {name} must be a positive int or a pair of them, got {v!r}; "
            f"pass e.g. {name}=2 or {name}=(2, 3)"
        )
    if not all(a >= 1 for a in t):
        raise ValueError(f"{who}: {name} must be a positive int or a pair of them, got {v!r}")
    return int(t[0]), int(t[1])


class Conv2d(Layer):
    """2-D convolution layer.

    Parameters
    ----------
    in_channels, out_channels : int
        C_in and C_out.
    kernel_size : int or (kh, kw)
    stride, padding : int
        The stride and the zero padding (on each side) of both spatial axes.
    algorithm : str
        ``"auto"`` (the fastest correct CPU path: the compiled direct kernel forward,
        a GEMM for dW and the compiled kernel for dX), or one of ``"direct"``,
        ``"im2col"``, ``"winograd"`` (3×3, stride 1), ``"fft"``, ``"numba"``.
    bias : bool
    init : str or callable
        Weight initialiser (default He, for ReLU networks); biases start at zero.
    input_grad : bool
        False skips dX in backward (which then returns None): for a network's first
        layer, whose input is data.
    seed, dtype
        Source of the initial weights; float64 (gradient checks) or float32 (speed).

    Shapes: forward (N, C_in, H, W) -> (N, C_out, H_out, W_out), with
    H_out = (H + 2·padding − kh) // stride + 1; backward the reverse.
    ``W.grad`` (C_out, C_in, kh, kw), ``b.grad`` (C_out,).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride: int = 1,
        padding: int = 0,
        *,
        algorithm: str = "auto",
        bias: bool = True,
        init="he",
        input_grad: bool = True,
        seed=0,
        dtype=np.float64,
    ):
        who = f"Conv2d({in_channels}, {out_channels}, {kernel_size})"
        self.in_channels = check_int(in_channels, "in_channels", who)
        self.out_channels = check_int(out_channels, "out_channels", who)
        self.kernel_size = _pair(kernel_size, "kernel_size", who)
        self.stride = check_int(stride, "stride", who)
        self.padding = check_int(padding, "padding", who, minimum=0)
        check_flag(bias, "bias", who)
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        self.algorithm = algorithm
        self._path = _conv.choose_algorithm(algorithm, shape, self.stride)
        self.input_grad = check_flag(input_grad, "input_grad", who)
        self.dtype = check_float_dtype(dtype, who)
        g = _rng(seed)
        self.W = Param(_init.get(init)(shape, g, self.dtype), "W")
        self.b = Param(np.zeros(self.out_channels, self.dtype), "b") if bias else None
        self._a = None

    def parameters(self) -> list[Param]:
        return [self.W] if self.b is None else [self.W, self.b]

    def _who(self) -> str:
        k = self.kernel_size[0] if self.kernel_size[0] == self.kernel_size[1] else self.kernel_size
        return f"Conv2d({self.in_channels}, {self.out_channels}, {k})"

    def output_shape(self, input_shape) -> tuple[int, ...]:
        """(N, C_out, H_out, W_out) for an input of shape (N, C_in, H, W)."""
        N, _, H, W = input_shape
        kh, kw = self.kernel_size
        return (
            N,
            self.out_channels,
            _conv.output_size(H, kh, self.stride, self.padding),
            _conv.output_size(W, kw, self.stride, self.padding),
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        """z[n, f] = b_f + Σ_c W[f, c] ⋆ a[n, c], by one of the algorithms of :mod:`dlkit.conv`.

        Names follow the book's notation: input maps a = `x` (N, C_in, H, W), output maps
        z (N, C_out, H_out, W_out), kernels W (C_out, C_in, kh, kw), biases b (C_out,).
        a is kept for ``backward``; the input checks are in :meth:`_check_input`.
        """
        a = self._check_input(x)
        self._a = a
        if self.algorithm == "auto":  # follow the backend chosen now (dlkit.backend)
            self._path = _conv.choose_algorithm("auto", self.W.shape, self.stride)
        b = None if self.b is None else self.b.data
        z = _conv.conv2d(a, self.W.data, b, self.stride, self.padding, self._path)
        return z

    def _check_input(self, x) -> np.ndarray:
        """The first line of ``forward``: `x` as a float array of this layer's dtype,
        shaped (N, C_in, H, W) with images at least as large as the kernel (padded).

        Raises a ``TypeError`` or ``ValueError`` that names the layer and says what to
        do (add a channel axis, transpose channels-last input, pad).
        """
        who = self._who()
        x = check_array(x, who, dtype=self.dtype)
        C = self.in_channels
        if x.ndim != 4 or x.shape[1] != C:
            if x.ndim == 3 and C == 1:
                hint = "add a channel axis with x[:, None]"
            elif x.ndim == 2 and C == 1:
                hint = "add batch and channel axes with x[None, None]"
            elif x.ndim == 4 and x.shape[3] == C:
                hint = "it looks channels-last: use x.transpose(0, 3, 1, 2)"
            else:
                hint = f"pass {C} channel{'s' if C > 1 else ''} on axis 1"
            raise ValueError(f"{who} got input of shape {x.shape}; it needs (N, {C}, H, W): {hint}")
        kh, kw = self.kernel_size
        H, W = x.shape[2:]
        if H + 2 * self.padding < kh or W + 2 * self.padding < kw:
            raise ValueError(
                f"{who} got input of shape {x.shape}: its {H}x{W} images (padded by "
                f"{self.padding}) are smaller than the {kh}x{kw} kernel; use padding or "
                "fewer pooling layers before this one"
            )
        return x

    def _output_shape(self):
        return None if self._a is None else self.output_shape(self._a.shape)

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        dout = array_module().asarray(self._check_dout(dout), self.dtype)
        if self.algorithm == "auto" and self._path == "numba":
            dx, dW, db = _conv.conv2d_fast_backward(
                dout, self._a, self.W.data, self.stride, self.padding, need_dx=self.input_grad
            )
        else:
            dx, dW, db = _conv.conv2d_backward(
                dout, self._a, self.W.data, self.stride, self.padding, self._path
            )
        self.W.grad[...] = dW
        if self.b is not None:
            self.b.grad[...] = db
        return dx if self.input_grad else None

    def __repr__(self) -> str:
        extra = ""
        if self.stride != 1:
            extra += f", stride={self.stride}"
        if self.padding:
            extra += f", padding={self.padding}"
        if self.b is None:
            extra += ", bias=False"
        if self.algorithm != "auto":
            extra += f", algorithm={self.algorithm!r}"
        return self._who()[:-1] + extra + ")"


def _windows_nonoverlapping(x: np.ndarray, k: int) -> tuple[np.ndarray, int, int]:
    """(N, C, H, W) -> (N, C, Ho, Wo, k·k) view-then-copy of non-overlapping k×k windows."""
    N, C, H, W = x.shape
    Ho, Wo = H // k, W // k
    xr = x[:, :, : Ho * k, : Wo * k].reshape(N, C, Ho, k, Wo, k)
    return xr.transpose(0, 1, 2, 4, 3, 5).reshape(N, C, Ho, Wo, k * k), Ho, Wo


class _Pool2d(Layer):
    kind = "pool"

    def __init__(self, kernel_size: int = 2, stride: int | None = None):
        who = f"{type(self).__name__}({kernel_size})"
        self.kernel_size = _pair(kernel_size, "kernel_size", who)
        s = self.kernel_size if stride is None else _pair(stride, "stride", who)
        self.stride = s
        self._shape = None

    def _output_shape(self):
        if self._shape is None:
            return None
        N, C, H, W = self._shape
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        return (N, C, _conv.output_size(H, kh, sh), _conv.output_size(W, kw, sw))

    def _check(self, x) -> np.ndarray:
        who = repr(self)
        x = check_array(x, who)
        if x.ndim != 4:
            hint = " add a channel axis with x[:, None]" if x.ndim == 3 else ""
            raise ValueError(
                f"{who} expects (N, C, H, W) input, got shape {x.shape};{hint}"
                if hint
                else f"{who} expects (N, C, H, W) input, got {x.shape}"
            )
        kh, kw = self.kernel_size
        if x.shape[2] < kh or x.shape[3] < kw:
            raise ValueError(
                f"{who} got {x.shape[2]}x{x.shape[3]} images, smaller than the {kh}x{kw} window"
            )
        return x

    @property
    def _simple(self) -> bool:
        """Square, non-overlapping windows: the fast reshape path."""
        k = self.kernel_size
        return k[0] == k[1] and self.stride == k

    def _view(self, x):
        """Overlapping windows as a view: (N, C, Ho, Wo, kh, kw)."""
        sh, sw = self.stride
        windows = array_module().lib.stride_tricks.sliding_window_view
        return windows(x, self.kernel_size, axis=(2, 3))[:, :, ::sh, ::sw]

    def __repr__(self) -> str:
        k = self.kernel_size[0] if self.kernel_size[0] == self.kernel_size[1] else self.kernel_size
        st = self.stride[0] if self.stride[0] == self.stride[1] else self.stride
        s = "" if self.stride == self.kernel_size else f", stride={st}"
        return f"{type(self).__name__}({k}{s})"


class MaxPool2d(_Pool2d):
    """Max over each kh×kw window (stride defaults to the window size).

    Forward (N, C, H, W) -> (N, C, H_out, W_out), H_out = (H − kh) // stride + 1. Backward
    routes each output's gradient to the input that was the maximum (the first one on
    ties), so dx has one non-zero per window. Runs the compiled kernels of the backend
    (:func:`dlkit.kernels.for_backend`: :mod:`dlkit.kernels.cpu` on numba), numpy on
    the numpy backend.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check(x)
        self._shape = x.shape
        self._compiled = kernels.has_kernels()
        if self._compiled:
            out, self._arg = kernels.for_backend().maxpool2d_forward(
                np.ascontiguousarray(x), *self.kernel_size, *self.stride
            )
            return out
        v = self._view(x)  # (N, C, Ho, Wo, kh, kw)
        flat = v.reshape(v.shape[:4] + (-1,))
        self._arg = flat.argmax(axis=-1)  # the maximum's offset o1·kw + o2 in its window
        return np.take_along_axis(flat, self._arg[..., None], axis=-1)[..., 0]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = self._check_dout(dout)
        N, C, H, W = self._shape
        kh, kw = self.kernel_size
        sh, sw = self.stride
        if self._compiled:
            return kernels.for_backend().maxpool2d_backward(
                np.ascontiguousarray(dout), self._arg, H, W, kh, kw, sh, sw
            )
        Ho, Wo = dout.shape[2:]
        dx = array_module().zeros(self._shape, dout.dtype)
        ax, ay = np.divmod(self._arg, kw)  # window offsets
        for kx in range(kh):
            for ky in range(kw):
                mask = (ax == kx) & (ay == ky)
                dx[:, :, kx : kx + sh * (Ho - 1) + 1 : sh, ky : ky + sw * (Wo - 1) + 1 : sw] += (
                    dout * mask
                )
        return dx


class AvgPool2d(_Pool2d):
    """Mean over each kh×kw window (stride defaults to the window size).

    Backward spreads each output's gradient evenly, dout / (kh·kw), over its window.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check(x)
        self._shape = x.shape
        if self._simple:
            win, _, _ = _windows_nonoverlapping(x, self.kernel_size[0])
            return win.mean(axis=-1)
        return self._view(x).mean(axis=(-2, -1))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = self._check_dout(dout)
        kh, kw = self.kernel_size
        sh, sw = self.stride
        Ho, Wo = dout.shape[2:]
        dx = array_module().zeros(self._shape, dout.dtype)
        share = dout / (kh * kw)
        for kx in range(kh):
            for ky in range(kw):
                dx[:, :, kx : kx + sh * (Ho - 1) + 1 : sh, ky : ky + sw * (Wo - 1) + 1 : sw] += (
                    share
                )
        return dx


class Flatten(Layer):
    """(N, C, H, W) -> (N, C·H·W), the bridge from convolutional to dense layers."""

    def __init__(self):
        self._shape = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_array(x, "Flatten")
        if x.ndim < 2:
            raise ValueError(f"Flatten expects a batch (N, ...), got shape {x.shape}")
        self._shape = x.shape
        return x.reshape(self._output_shape())  # (N, -1) cannot size an empty batch

    def _output_shape(self):
        return None if self._shape is None else (self._shape[0], int(np.prod(self._shape[1:])))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = self._check_dout(dout)
        return dout.reshape(self._shape)

    def __repr__(self) -> str:
        return "Flatten()"


class Dropout(Layer):
    """Inverted dropout (Srivastava et al. 2014): in training, keep each unit with
    probability q = 1 − p and divide the kept ones by q, so that the expected output
    equals the input and evaluation (``eval()``) is the identity. ``p`` is the drop
    probability, as in PyTorch. The mask comes from the layer's own seeded Generator, so
    runs are reproducible.
    """

    def __init__(self, p: float = 0.5, *, seed=0):
        self.p = check_real(p, "p", "Dropout", low=0.0, high=1.0, high_open=True)
        self._rng = _rng(seed)
        self._mask = None
        self._shape = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_array(x, "Dropout")
        self._shape = x.shape
        if not self.training or self.p == 0.0:
            self._mask = None
            return x
        keep = self._rng.random(x.shape) >= self.p
        self._mask = array_module().asarray(keep, dtype=x.dtype) / (1.0 - self.p)
        return x * self._mask

    def _output_shape(self):
        return self._shape if self._mask is None else self._mask.shape

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = self._check_dout(dout)
        return dout if self._mask is None else dout * self._mask

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


# On a GPU backend (cuda, cudasim, cupy) these layers run on the device: dlkit.nn.device.
device.runs_on_device(Conv2d, forward="conv_forward", backward="conv_backward")
device.runs_on_device(MaxPool2d, forward="maxpool_forward", backward="maxpool_backward")
device.runs_on_device(Flatten, forward="flatten_forward", backward="flatten_backward")
