"""Batch normalisation (Ioffe & Szegedy 2015): :class:`BatchNorm1d` and :class:`BatchNorm2d`.

A batch-normalisation layer standardises each unit i of its input Z over the batch and
then lets the network choose the unit's scale and shift again. In training mode, for
the N values Z_{1i}, ..., Z_{Ni} of unit i in the batch (the N·H·W values of channel i
for images),

    z̄_i   = (1/N) Σ_n Z_{ni}                      the batch mean
    var_i = (1/N) Σ_n (Z_{ni} − z̄_i)²              the batch variance (biased: 1/N)
    Ẑ_{ni} = (Z_{ni} − z̄_i) / √(var_i + ε)
    U_{ni} = w_i Ẑ_{ni} + b_i                       the output, U = w ⊙ Ẑ + b

with a learned scale w and shift b per unit (Ioffe and Szegedy's γ and β). Each training
step also updates running averages of the statistics,

    running_mean ← (1 − momentum) · running_mean + momentum · z̄
    running_var  ← (1 − momentum) · running_var  + momentum · var · N / (N − 1)

(the unbiased variance), which evaluation mode (``eval()``) uses in place of z̄ and var,
so that a prediction does not depend on the other examples of its batch. The defaults
(ε = 1e-5, momentum 0.1, running_mean 0 and running_var 1 at the start, w = 1, b = 0)
and the names of the arrays are PyTorch's, so state dicts translate one to one.

Backward, from ∇_U 𝓛 (``dout``), in training mode (z̄ and var depend on every Z_{ni}):

    ∂𝓛/∂b_i = Σ_n (∇_U 𝓛)_{ni}
    ∂𝓛/∂w_i = Σ_n (∇_U 𝓛)_{ni} Ẑ_{ni}
    (∇_Z 𝓛)_{ni} = w_i / √(var_i + ε) · [ (∇_U 𝓛)_{ni} − mean_n (∇_U 𝓛)_{ni}
                                         − Ẑ_{ni} · mean_n ((∇_U 𝓛)_{ni} Ẑ_{ni}) ]

and in evaluation mode, where the layer is the affine map U = w ⊙ (Z − running_mean) /
√(running_var + ε) + b, simply (∇_Z 𝓛)_{ni} = w_i / √(running_var_i + ε) · (∇_U 𝓛)_{ni}.

The running statistics are state but not parameters: no optimizer updates them, and
``named_buffers()`` lists them beside ``named_parameters()``, so that ``state_dict()``
and ``load_state_dict()`` save and restore them with w and b.
"""

from __future__ import annotations

import numpy as np

from dlkit.nn.core import (
    Layer,
    Param,
    check_array,
    check_flag,
    check_float_dtype,
    check_int,
    check_real,
)

__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _BatchNorm(Layer):
    """What BatchNorm1d and BatchNorm2d share; they differ in the input's shape only.

    Subclasses set ``_ndim`` (2 or 4) and ``_axes``, the axes a statistic is taken over:
    (0,) for (N, F), (0, 2, 3) for (N, C, H, W).
    """

    _ndim: int = 2
    _axes: tuple[int, ...] = (0,)

    def __init__(
        self,
        num_features: int,
        *,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        dtype=np.float64,
    ):
        who = f"{type(self).__name__}({num_features!r})"
        self.num_features = check_int(num_features, "num_features", who)
        who = self._who()
        self.eps = check_real(eps, "eps", who, low=0.0, low_open=True)
        self.momentum = check_real(momentum, "momentum", who, low=0.0, high=1.0)
        self.affine = check_flag(affine, "affine", who)
        self.dtype = check_float_dtype(dtype, who)
        F = self.num_features
        self.w = Param(np.ones(F, self.dtype), "w") if self.affine else None
        self.b = Param(np.zeros(F, self.dtype), "b") if self.affine else None
        self.running_mean = np.zeros(F, self.dtype)
        self.running_var = np.ones(F, self.dtype)
        self._Zhat = None  # the last forward's Ẑ, kept for backward
        self._scale = None  # w / √(var + ε) of the last forward, per unit
        self._batch_stats = True  # whether the last forward used the batch's statistics

    # -- the layer -------------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        """U = w ⊙ Ẑ + b, Ẑ = (Z − z̄) / √(var + ε), for the input Z = `x`.

        Training mode: z̄ and var are the batch's (biased) statistics, and the running
        averages move towards them; evaluation mode: the running averages are used.
        """
        Z = self._check_input(x)
        if self.training:
            mean, var = Z.mean(axis=self._axes), Z.var(axis=self._axes)  # z̄, var (1/N)
            self._update_running(mean, var, Z.size // self.num_features)
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = 1.0 / np.sqrt(var + self.eps)
        Zhat = (Z - self._unit(mean)) * self._unit(inv_std)  # Ẑ
        w, b = self._w(), self._b()
        self._Zhat, self._scale, self._batch_stats = Zhat, w * inv_std, self.training
        return self._unit(w) * Zhat + self._unit(b)

    def _update_running(self, mean: np.ndarray, var: np.ndarray, N: int) -> None:
        """running ← (1 − momentum) · running + momentum · statistic, with the unbiased
        variance var · N / (N − 1) for running_var (N values per unit)."""
        self.running_mean *= 1 - self.momentum
        self.running_mean += self.momentum * mean
        self.running_var *= 1 - self.momentum
        self.running_var += self.momentum * var * (N / (N - 1))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """∇_U 𝓛 (`dout`, shaped like the output) in; sets ∂𝓛/∂w, ∂𝓛/∂b; returns ∇_Z 𝓛."""
        dU = np.asarray(self._check_dout(dout), self.dtype)
        Zhat, axes = self._Zhat, self._axes
        if self.affine:
            self.b.grad[...] = dU.sum(axis=axes)  # ∂𝓛/∂b = Σ_n ∇_U 𝓛
            self.w.grad[...] = (dU * Zhat).sum(axis=axes)  # ∂𝓛/∂w = Σ_n ∇_U 𝓛 ⊙ Ẑ
        scale = self._unit(self._scale)  # w / √(var + ε)
        if not self._batch_stats:  # evaluation mode: an affine map
            return scale * dU
        mean_dU = dU.mean(axis=axes, keepdims=True)
        mean_dU_Zhat = (dU * Zhat).mean(axis=axes, keepdims=True)
        return scale * (dU - mean_dU - Zhat * mean_dU_Zhat)

    def _output_shape(self):
        return None if self._Zhat is None else self._Zhat.shape

    # -- helpers -----------------------------------------------------------------------------
    def _unit(self, v: np.ndarray) -> np.ndarray:
        """A per-unit array (F,) shaped to broadcast against the input: (1, F) or (1, C, 1, 1)."""
        return v.reshape((1, -1) + (1,) * (self._ndim - 2))

    def _w(self) -> np.ndarray:
        return self.w.data if self.affine else np.ones(self.num_features, self.dtype)

    def _b(self) -> np.ndarray:
        return self.b.data if self.affine else np.zeros(self.num_features, self.dtype)

    def _who(self) -> str:
        return f"{type(self).__name__}({self.num_features})"

    def _check_input(self, x) -> np.ndarray:
        """The first line of ``forward``: `x` as a finite float array of the layer's dtype
        and shape, with at least 2 values per unit in training mode."""
        who = self._who()
        x = check_array(x, who, dtype=self.dtype)
        F, want = self.num_features, self._want()
        if x.ndim != self._ndim:
            raise ValueError(f"{who} got input of shape {x.shape}; it needs {want}{self._hint(x)}")
        if x.shape[1] != F:
            raise ValueError(
                f"{who} got input of shape {x.shape} with {x.shape[1]} "
                f"{self._unit_name()}s on axis 1, but it normalises {F}; pass {want}, or "
                f"build {type(self).__name__}({x.shape[1]}) for this input{self._hint(x)}"
            )
        per_unit = x.size // F if F else 0
        if self.training and per_unit < 2:
            raise ValueError(
                f"{who} in training mode got {per_unit} value{'s' * (per_unit != 1)} per "
                f"{self._unit_name()} (input of shape {x.shape}): a batch variance needs at "
                "least 2; use a batch of 2 or more examples, or call .eval() to normalise "
                "with the running statistics"
            )
        return x

    def _want(self) -> str:
        return f"(N, {self.num_features})"

    def _unit_name(self) -> str:
        return "feature"

    def _hint(self, x: np.ndarray) -> str:
        return ""

    # -- state -------------------------------------------------------------------------------
    def parameters(self) -> list[Param]:
        return [self.w, self.b] if self.affine else []

    def named_parameters(self, prefix: str = "") -> list[tuple[str, Param]]:
        return [(prefix + p.name, p) for p in self.parameters()]

    def named_buffers(self, prefix: str = "") -> list[tuple[str, np.ndarray]]:
        """The state that is not trained: ``running_mean`` and ``running_var``, by name.
        ``Layer.state_dict``, ``load_state_dict``, ``check_state`` and checkpoints include
        them."""
        return [
            (prefix + "running_mean", self.running_mean),
            (prefix + "running_var", self.running_var),
        ]

    def __repr__(self) -> str:
        extra = "" if self.eps == 1e-5 else f", eps={self.eps:g}"
        extra += "" if self.momentum == 0.1 else f", momentum={self.momentum:g}"
        extra += "" if self.affine else ", affine=False"
        return f"{type(self).__name__}({self.num_features}{extra})"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of the F features of a dense layer's output Z (N, F).

    Parameters
    ----------
    num_features : int
        F, the number of units normalised (the width of the layer before).
    eps : float
        ε > 0, added to the variance so that a constant unit gives no division by zero.
    momentum : float
        In [0, 1]: the weight of the newest batch in the running averages.
    affine : bool
        Whether the layer has the learned scale ``w`` and shift ``b`` (shape (F,)).
    dtype : numpy dtype
        float64 (default: exact gradient checks) or float32 (speed).

    Shapes: forward Z (N, F) -> U (N, F); backward takes ∇_U 𝓛 (N, F) and returns
    ∇_Z 𝓛 (N, F). Training mode needs N >= 2.
    """

    _ndim, _axes = 2, (0,)

    def _hint(self, x: np.ndarray) -> str:
        if x.ndim == 4:
            return f": for images (N, C, H, W) use BatchNorm2d({x.shape[1]})"
        if x.ndim == 1 and x.shape[0] == self.num_features:
            return ": one example needs a batch axis, x[None], and eval() mode"
        return ""


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of the C channels of images (N, C, H, W), as after Conv2d.

    Each channel is one unit: its statistics are taken over the N·H·W values of the
    batch (all examples and all positions), and it has one scale w_c and one shift
    b_c. Parameters as :class:`BatchNorm1d`, with ``num_features`` = C.

    Shapes: forward (N, C, H, W) -> (N, C, H, W); backward the same. Training mode
    needs N·H·W >= 2.
    """

    _ndim, _axes = 4, (0, 2, 3)

    def _want(self) -> str:
        return f"(N, {self.num_features}, H, W)"

    def _unit_name(self) -> str:
        return "channel"

    def _hint(self, x: np.ndarray) -> str:
        F = self.num_features
        if x.ndim == 2:
            return f": for dense features (N, F) use BatchNorm1d({x.shape[1]})"
        if x.ndim == 3 and x.shape[0] == F:
            return ": one image needs a batch axis, x[None]"
        if x.ndim == 3 and F == 1:
            return ": add a channel axis with x[:, None]"
        if x.ndim == 4 and x.shape[3] == F:
            return ": it looks channels-last, use x.transpose(0, 3, 1, 2)"
        return ""
