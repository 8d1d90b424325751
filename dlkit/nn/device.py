"""Where the layers meet the GPU backends: ``cuda``, ``cudasim`` and ``cupy``.

On the CPU backends (``numpy``, ``numba``) the layers run their own code, the code
the chapters show. The seam is one question, :func:`ops`: None on a CPU backend, else
the object that runs a layer on the device. Each layer module names, in one line at its
end, the methods that ask it (``runs_on_device(Linear, forward="linear_forward",
backward="linear_backward")``): the method then asks :func:`ops` first and, on a GPU
backend, hands itself to that object's operation of that name. The methods keep their
own source, name and docstring (``dlkit.show_source`` shows the formula, not the
dispatch). Everything that depends on the device lives in the object:

- :class:`NumbaCudaOps` (``cuda`` on a GPU, ``cudasim`` in Numba's simulator): the
  kernels of :func:`dlkit.kernels.for_backend` (:mod:`dlkit.kernels.cuda`) joined by the
  small kernels of :mod:`dlkit.kernels.cuda_layers` (transpose, bias, column sums,
  padding, the convolution's gradients) on Numba device arrays.
- :class:`XpOps` (``cupy``): the layers' formulas written with the backend's array
  module ``xp`` (:attr:`dlkit.backend.Backend.xp`), every array created by it.

Arrays stay where they are computed. A layer's parameters move to the device on its
first forward pass there (``Param.data`` and ``Param.grad`` become device arrays, and
the optimizer, which holds the same :class:`~dlkit.nn.core.Param`, updates them there);
activations and gradients pass from layer to layer as device arrays; a numpy input is
copied to the device once, by the first layer. The loss comes back as a Python float.
:func:`to_host` copies a network's parameters (and an optimizer's buffers) back to
numpy, for a checkpoint or a look; :meth:`dlkit.backend.Backend.asnumpy` copies one
array.

What runs on the device: :class:`~dlkit.nn.Linear`, :class:`~dlkit.nn.Conv2d`,
:class:`~dlkit.nn.MaxPool2d`, :class:`~dlkit.nn.ReLU`, :class:`~dlkit.nn.Flatten`,
:class:`~dlkit.nn.CrossEntropyLoss` (integer labels or one-hot targets) and the
:class:`~dlkit.optim.SGD` / :class:`~dlkit.optim.Momentum` updates. Device inputs are
checked for shape and dtype but not scanned for NaNs (that would cost a reduction
per layer); numpy inputs get the full checks of the CPU layers.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

import numpy as np

from dlkit.backend import Backend, get_backend
from dlkit.nn.core import check_array

#: The operations of a :class:`DeviceOps`; each takes the layer, loss or optimizer first.
OPERATIONS = (
    "linear_forward",
    "linear_backward",
    "conv_forward",
    "conv_backward",
    "maxpool_forward",
    "maxpool_backward",
    "relu_forward",
    "relu_backward",
    "flatten_forward",
    "flatten_backward",
    "xent_forward",
    "xent_backward",
    "sgd_update",
    "unsupported",
)

#: backend name -> the class of its device operations (None: a CPU backend)
_KINDS = {"cuda": "NumbaCudaOps", "cudasim": "NumbaCudaOps", "cupy": "XpOps"}

_OPS: dict[str, "DeviceOps"] = {}
_LAST: list = [None, None]  # the last backend asked about and its answer


def ops(backend: Backend | None = None) -> "DeviceOps | None":
    """The device operations of `backend` (default: the current one); None on a CPU backend.

    This is the one question of the seam: if it is not None, ``dev.linear_forward(layer,
    x)`` (and so on) runs the layer on the device.
    """
    b = get_backend() if backend is None else backend
    if b is _LAST[0]:
        return _LAST[1]
    kind = _KINDS.get(b.name)
    dev = None
    if kind is not None:
        dev = _OPS.get(b.name)
        if dev is None or dev.backend.xp is not b.xp:
            dev = _OPS[b.name] = globals()[kind](b)
    _LAST[:] = [b, dev]
    return dev


def runs_on_device(cls: type, **methods: str) -> type:
    """Let `cls`'s methods run on a GPU backend: ``method=operation`` names, for each
    method, the :class:`DeviceOps` operation that runs it there.

    The method asks :func:`ops` first; None (a CPU backend) calls the method itself,
    anything else ``getattr(ops(), operation)(self, *args, **kwargs)``. Subclasses
    inherit the wrapped method; ``inspect.getsource`` and ``dlkit.show_source`` still
    show the original (the wrapper keeps it as ``__wrapped__``). Returns `cls`.
    """
    for name, operation in methods.items():
        fn = cls.__dict__[name]
        if operation not in OPERATIONS:
            raise AttributeError(
                f"runs_on_device: no device operation {operation!r}; the operations are "
                f"{', '.join(OPERATIONS)}"
            )
        setattr(cls, name, _dispatching(fn, operation))
    return cls


def _dispatching(fn, operation: str):
    @functools.wraps(fn)
    def method(self, *args, **kwargs):
        dev = ops()
        if dev is None:
            return fn(self, *args, **kwargs)
        return getattr(dev, operation)(self, *args, **kwargs)

    return method


def to_host(obj) -> None:
    """Copy the parameters of a network (or an optimizer's parameters and buffers) back
    to numpy arrays, in place; arrays already on the host are left as they are."""
    host = get_backend().asnumpy  # copies any backend's array (numpy: as it is)
    is_optimizer = hasattr(obj, "params") and hasattr(obj, "state")  # dlkit.optim.Optimizer
    for p in obj.params if is_optimizer else obj.parameters():
        p.data, p.grad = host(p.data), host(p.grad)
    if is_optimizer:
        for s in obj.state:
            for k in s:
                s[k] = host(s[k])


def _shape_error(who: str, shape, want: str) -> ValueError:
    return ValueError(f"{who} got input of shape {tuple(shape)}; it needs {want}")


class DeviceOps:
    """The operations one device backend provides to the layers (:data:`OPERATIONS`; see
    the module docstring); a subclass implements each of them."""

    def __init__(self, backend: Backend):
        self.backend = backend

    # -- arrays ------------------------------------------------------------------------
    def is_device(self, a) -> bool:
        raise NotImplementedError

    def to_device(self, a):
        raise NotImplementedError

    def zeros(self, shape, dtype):
        raise NotImplementedError

    def params_to_device(self, layer) -> None:
        """Move `layer`'s parameters (data and grad) to the device, once."""
        for p in layer.parameters():
            if not self.is_device(p.data):
                p.data = self.to_device(np.ascontiguousarray(p.data))
                p.grad = self.zeros(p.data.shape, p.data.dtype)

    def checked(self, x, who: str, ndim: int, dtype, host_check):
        """A layer's input on the device: a numpy input gets the layer's own checks
        (`host_check`, which converts the dtype) and is copied over; a device input is
        checked for rank and dtype."""
        if not self.is_device(x):
            return self.to_device(np.ascontiguousarray(host_check(x)))
        if len(x.shape) != ndim:
            raise ValueError(
                f"{who} expects {ndim}-D input, got a device array of shape {tuple(x.shape)}"
            )
        if dtype is not None and np.dtype(x.dtype) != np.dtype(dtype):
            raise TypeError(
                f"{who} holds {np.dtype(dtype)} weights but got a {x.dtype} device array; "
                f"build the layer with dtype=np.{x.dtype} or cast the input on the host"
            )
        return x

    def unsupported(self, obj, *args, **kwargs):
        """The operation of the layers and losses that have no device version."""
        raise self.not_here(type(obj).__name__)

    def not_here(self, what: str) -> NotImplementedError:
        return NotImplementedError(
            f"{what} does not run on the {self.backend.name!r} backend; on a GPU backend "
            "use Linear, Conv2d, MaxPool2d, ReLU, Flatten, CrossEntropyLoss and SGD or "
            "Momentum, or switch with dlkit.backend.set_backend('numba')"
        )


class NumbaCudaOps(DeviceOps):
    """The layers on Numba device arrays, through :mod:`dlkit.kernels.cuda` (the module
    :func:`dlkit.kernels.for_backend` gives ``cuda`` and ``cudasim``) and
    :mod:`dlkit.kernels.cuda_layers`."""

    def __init__(self, backend: Backend):
        super().__init__(backend)
        from dlkit import kernels

        # The registry's kernel module for this backend; dlkit.kernels.cuda by default.
        if kernels.has_kernels(backend.name):
            self.k: ModuleType = kernels.for_backend(backend.name)
        else:
            self.k = importlib.import_module("dlkit.kernels.cuda")
        self.glue: ModuleType = importlib.import_module("dlkit.kernels.cuda_layers")
        # The GEMM's tile edge: 16 on a GPU (256 threads a block); 4 in the simulator,
        # where every thread is a Python thread.
        self.tile = 4 if backend.name == "cudasim" else 16
        from numba import cuda

        self._cuda = cuda

    def is_device(self, a) -> bool:
        return hasattr(a, "copy_to_host") and not isinstance(a, np.ndarray)

    def to_device(self, a):
        return self._cuda.to_device(a)

    def zeros(self, shape, dtype):
        return self._cuda.to_device(np.zeros(shape, dtype))

    # -- Linear: Z^(j) = A^(j-1) W^(j)ᵀ + b^(j) ------------------------------------------
    def linear_forward(self, layer, x):
        self.params_to_device(layer)
        who = repr(layer)
        A = self.checked(x, who, 2, layer.dtype, layer._check_input)
        if A.shape[1] != layer.in_features:
            raise _shape_error(who, A.shape, f"(N, {layer.in_features})")
        layer._A = A
        Z = self.k.gemm_tiled(A, self.glue.transpose(layer.W.data), self.tile)
        if layer.b is not None:
            self.glue.add_bias(Z, layer.b.data)
        return Z

    def linear_backward(self, layer, dout):
        δ = self.to_device_dout(layer, dout)
        layer.W.grad = self.k.gemm_tiled(self.glue.transpose(δ), layer._A, self.tile)  # δᵀ A
        if layer.b is not None:
            self.glue.sum_rows(δ, out=layer.b.grad)  # Σ_n δ_n
        return self.k.gemm_tiled(δ, layer.W.data, self.tile) if layer.input_grad else None  # δ W

    def to_device_dout(self, layer, dout):
        dout = layer._check_dout(dout)
        return dout if self.is_device(dout) else self.to_device(np.ascontiguousarray(dout))

    # -- Conv2d ------------------------------------------------------------------------
    def conv_forward(self, layer, x):
        self.params_to_device(layer)
        who = layer._who()
        a = self.checked(x, who, 4, layer.dtype, layer._check_input)
        _check_conv_shape(layer, a.shape, who)
        layer._a = a
        layer._apad = self.glue.pad2d(a, layer.padding)
        b = layer.b.data if layer.b is not None else self.zeros(layer.out_channels, layer.dtype)
        return self.k.conv2d_direct(layer._apad, layer.W.data, b, layer.stride)

    def conv_backward(self, layer, dout):
        d = self.to_device_dout(layer, dout)
        kh, kw = layer.kernel_size
        layer.W.grad = self.glue.conv2d_weight_grad(d, layer._apad, kh, kw, layer.stride)
        if layer.b is not None:
            self.glue.sum_nhw(d, out=layer.b.grad)
        if not layer.input_grad:
            return None
        H, W = layer._a.shape[2:]
        return self.glue.conv2d_input_grad(d, layer.W.data, H, W, layer.stride, layer.padding)

    # -- MaxPool2d ---------------------------------------------------------------------
    def maxpool_forward(self, layer, x):
        x = self.checked(x, repr(layer), 4, None, layer._check)
        _check_pool_shape(layer, x.shape)
        layer._shape = tuple(x.shape)
        out, layer._arg = self.k.maxpool2d_forward(x, *layer.kernel_size, *layer.stride)
        return out

    def maxpool_backward(self, layer, dout):
        d = self.to_device_dout(layer, dout)
        N, C, H, W = layer._shape
        return self.k.maxpool2d_backward(d, layer._arg, H, W, *layer.kernel_size, *layer.stride)

    # -- ReLU, Flatten -----------------------------------------------------------------
    def relu_forward(self, layer, x):
        Z = self.checked(x, "ReLU", len(getattr(x, "shape", ())), None, _relu_input)
        layer._z = Z
        return self.k.relu_forward(Z)

    def relu_backward(self, layer, dout):
        return self.k.relu_backward(self.to_device_dout(layer, dout), layer._z)

    def flatten_forward(self, layer, x):
        if not self.is_device(x):
            x = self.to_device(np.ascontiguousarray(_flatten_input(x)))
        elif len(x.shape) < 2:
            raise ValueError(f"Flatten expects a batch (N, ...), got shape {tuple(x.shape)}")
        layer._shape = tuple(x.shape)
        return x.reshape(layer._output_shape())

    def flatten_backward(self, layer, dout):
        return self.to_device_dout(layer, dout).reshape(layer._shape)

    # -- CrossEntropyLoss --------------------------------------------------------------
    def xent_forward(self, loss, z, y) -> float:
        z = self.checked(z, "CrossEntropyLoss logits", 2, None, _logits)
        labels = _labels(y, tuple(z.shape), self.is_device)
        value, loss._dz = self.k.softmax_xent(z, labels)
        loss._y_hat = loss._dz  # backward's "forward has run" marker
        return value

    def xent_backward(self, loss):
        loss._check_forward(loss._y_hat)
        return loss._dz

    # -- SGD and Momentum --------------------------------------------------------------
    def sgd_update(self, opt, p, state) -> None:
        if not self.is_device(p.data):  # a parameter no forward pass has moved yet
            p.data = self.to_device(np.ascontiguousarray(p.data))
            p.grad = self.to_device(np.ascontiguousarray(p.grad))
        grad = p.grad
        if opt.weight_decay:  # ∇ + λθ
            grad = self.k.axpy(opt.weight_decay, p.data, grad)
        if opt.momentum == 0:
            self.k.sgd_update(p.data, grad, opt.lr)  # θ ← θ − η ∇
            return
        v = state.get("v")
        if v is None:
            v = state["v"] = self.zeros(p.data.shape, p.data.dtype)
        if opt.nesterov:  # v ← μ v − η ∇; θ ← θ + μ v − η ∇
            self.k.momentum_update(self._scratch(v), v, grad, opt.lr, opt.momentum)
            self.k.sgd_update(p.data, grad, opt.lr)
            self.k.sgd_update(p.data, v, -opt.momentum)
        else:  # v ← μ v − η ∇; θ ← θ + v
            self.k.momentum_update(p.data, v, grad, opt.lr, opt.momentum)

    def _scratch(self, a):
        """A scratch device array (the θ that Nesterov's v update must not touch)."""
        return self._cuda.device_array(a.shape, a.dtype)


class XpOps(DeviceOps):
    """The layers written with the array module ``xp`` of the backend (CuPy), every
    array created through it; the same formulas as the numpy layers."""

    def __init__(self, backend: Backend):
        super().__init__(backend)
        self.xp = backend.xp

    def is_device(self, a) -> bool:
        return isinstance(a, self.xp.ndarray)

    def to_device(self, a):
        return self.xp.asarray(a)

    def zeros(self, shape, dtype):
        return self.xp.zeros(shape, dtype)

    def checked(self, x, who, ndim, dtype, host_check):
        # check_array goes through xp on this backend: the layer's own check fits.
        return host_check(x)

    # -- Linear ------------------------------------------------------------------------
    def linear_forward(self, layer, x):
        self.params_to_device(layer)
        A = layer._check_input(x)
        layer._A = A
        Z = A @ layer.W.data.T  # Z^(j) = A^(j-1) W^(j)ᵀ + b^(j)
        if layer.b is not None:
            Z += layer.b.data
        return Z

    def linear_backward(self, layer, dout):
        δ = layer._check_dout(dout)
        layer.W.grad[...] = δ.T @ layer._A  # BP4
        if layer.b is not None:
            layer.b.grad[...] = δ.sum(axis=0)  # BP3
        return δ @ layer.W.data if layer.input_grad else None

    # -- Conv2d by im2col and GEMM -----------------------------------------------------
    def _im2col(self, a, kh, kw, s, p):
        """cols (C·kh·kw, N·Ho·Wo) of the zero-padded a, and the padded a."""
        xp = self.xp
        N, C, H, W = a.shape
        apad = xp.zeros((N, C, H + 2 * p, W + 2 * p), a.dtype)
        apad[:, :, p : p + H, p : p + W] = a
        Ho, Wo = (H + 2 * p - kh) // s + 1, (W + 2 * p - kw) // s + 1
        cols = xp.empty((C, kh, kw, N, Ho, Wo), a.dtype)
        for o1 in range(kh):
            for o2 in range(kw):
                win = apad[:, :, o1 : o1 + s * (Ho - 1) + 1 : s, o2 : o2 + s * (Wo - 1) + 1 : s]
                cols[:, o1, o2] = win.transpose(1, 0, 2, 3)
        return cols.reshape(C * kh * kw, N * Ho * Wo), (Ho, Wo)

    def conv_forward(self, layer, x):
        self.params_to_device(layer)
        a = layer._check_input(x)
        layer._a = a
        F = layer.out_channels
        kh, kw = layer.kernel_size
        cols, (Ho, Wo) = self._im2col(a, kh, kw, layer.stride, layer.padding)
        layer._cols = cols
        z = (layer.W.data.reshape(F, -1) @ cols).reshape(F, a.shape[0], Ho, Wo)
        z = z.transpose(1, 0, 2, 3)
        if layer.b is not None:
            z = z + layer.b.data.reshape(1, F, 1, 1)
        return self.xp.ascontiguousarray(z)

    def conv_backward(self, layer, dout):
        xp = self.xp
        d = xp.asarray(layer._check_dout(dout), layer.dtype)
        N, C, H, W = layer._a.shape
        F = layer.out_channels
        kh, kw = layer.kernel_size
        s, p = layer.stride, layer.padding
        Ho, Wo = d.shape[2:]
        d_m = d.transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N·Ho·Wo)
        layer.W.grad[...] = (d_m @ layer._cols.T).reshape(layer.W.shape)
        if layer.b is not None:
            layer.b.grad[...] = d_m.sum(axis=1)
        if not layer.input_grad:
            return None
        dcols = (layer.W.data.reshape(F, -1).T @ d_m).reshape(C, kh, kw, N, Ho, Wo)
        dpad = xp.zeros((N, C, H + 2 * p, W + 2 * p), d.dtype)
        for o1 in range(kh):  # col2im: each offset's columns back onto the padded grid
            for o2 in range(kw):
                dpad[:, :, o1 : o1 + s * (Ho - 1) + 1 : s, o2 : o2 + s * (Wo - 1) + 1 : s] += dcols[
                    :, o1, o2
                ].transpose(1, 0, 2, 3)
        return xp.ascontiguousarray(dpad[:, :, p : p + H, p : p + W])

    # -- MaxPool2d ---------------------------------------------------------------------
    def maxpool_forward(self, layer, x):
        xp = self.xp
        x = layer._check(x)
        layer._shape = x.shape
        (kh, kw), (sh, sw) = layer.kernel_size, layer.stride
        Ho, Wo = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
        wins = [
            x[:, :, o1 : o1 + sh * (Ho - 1) + 1 : sh, o2 : o2 + sw * (Wo - 1) + 1 : sw]
            for o1 in range(kh)
            for o2 in range(kw)
        ]
        flat = xp.stack(wins, axis=-1)  # (N, C, Ho, Wo, kh·kw)
        layer._arg = flat.argmax(axis=-1)  # the offset o1·kw + o2 of each maximum
        return xp.take_along_axis(flat, layer._arg[..., None], axis=-1)[..., 0]

    def maxpool_backward(self, layer, dout):
        d = layer._check_dout(dout)
        (kh, kw), (sh, sw) = layer.kernel_size, layer.stride
        Ho, Wo = d.shape[2:]
        dx = self.xp.zeros(layer._shape, d.dtype)
        for o1 in range(kh):
            for o2 in range(kw):
                hit = layer._arg == o1 * kw + o2
                dx[:, :, o1 : o1 + sh * (Ho - 1) + 1 : sh, o2 : o2 + sw * (Wo - 1) + 1 : sw] += (
                    d * hit
                )
        return dx

    # -- ReLU, Flatten -----------------------------------------------------------------
    def relu_forward(self, layer, x):
        Z = _relu_input(x)
        layer._z = Z
        layer._mask = Z > 0  # g'(Z^(j))
        return Z * layer._mask

    def relu_backward(self, layer, dout):
        return layer._check_dout(dout) * layer._mask

    def flatten_forward(self, layer, x):
        x = _flatten_input(x)
        layer._shape = x.shape
        return x.reshape(layer._output_shape())

    def flatten_backward(self, layer, dout):
        return layer._check_dout(dout).reshape(layer._shape)

    # -- CrossEntropyLoss --------------------------------------------------------------
    def xent_forward(self, loss, z, y) -> float:
        xp = self.xp
        z = _logits(z)
        N, K = z.shape
        labels = xp.asarray(_labels(y, (N, K), self.is_device))
        s = z - z.max(axis=1, keepdims=True)
        log_y_hat = s - xp.log(xp.exp(s).sum(axis=1, keepdims=True))  # log softmax(z)
        rows = xp.arange(N)
        onehot = xp.zeros((N, K), z.dtype)
        onehot[rows, labels] = 1
        loss._y, loss._y_hat = onehot, xp.exp(log_y_hat)
        return float(-log_y_hat[rows, labels].sum() / N)  # −(1/N) Σ_n log ŷ_{n, y_n}

    def xent_backward(self, loss):
        loss._check_forward(loss._y_hat)
        return (loss._y_hat - loss._y) / loss._y_hat.shape[0]  # (ŷ − onehot(y)) / N

    # -- SGD and Momentum --------------------------------------------------------------
    def sgd_update(self, opt, p, state) -> None:
        if not self.is_device(p.data):
            p.data, p.grad = self.xp.asarray(p.data), self.xp.asarray(p.grad)
        grad = opt._grad(p)  # ∇ (plus λθ with weight decay)
        if opt.momentum == 0:
            p.data -= opt.lr * grad  # θ ← θ − η ∇
            return
        v = state.get("v")
        if v is None:
            v = state["v"] = self.xp.zeros_like(p.data)
        v *= opt.momentum  # v ← μ v − η ∇
        v -= opt.lr * grad
        if opt.nesterov:
            p.data += opt.momentum * v - opt.lr * grad
        else:
            p.data += v


def _relu_input(x):
    return check_array(x, "ReLU")


def _flatten_input(x):
    x = check_array(x, "Flatten")
    if x.ndim < 2:
        raise ValueError(f"Flatten expects a batch (N, ...), got shape {x.shape}")
    return x


def _logits(z):
    return check_array(z, "CrossEntropyLoss logits", ndim=2)


def _labels(y, shape: tuple[int, int], is_device):
    """Integer labels (N,) for CrossEntropyLoss on a device: labels as they are, one-hot
    rows (N, K) as their argmax; soft targets are refused."""
    N, K = shape
    if is_device(y):
        return y
    y = np.asarray(y)
    if y.ndim == 2 and y.shape == (N, K):
        labels = y.argmax(axis=1)
        if not np.array_equal(y, np.eye(K, dtype=y.dtype)[labels]):
            raise ValueError(
                "CrossEntropyLoss on a GPU backend takes integer labels (N,) or one-hot "
                "rows (N, K); soft targets run on the CPU backends"
            )
        return labels
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(
            f"CrossEntropyLoss: targets of dtype {y.dtype} and shape {y.shape} are neither "
            f"integer labels ({N},) nor one-hot rows {shape}"
        )
    if y.shape[0] != N:
        raise ValueError(f"CrossEntropyLoss: {N} logits rows but {y.shape[0]} labels")
    if y.size and (y.min() < 0 or y.max() >= K):
        raise ValueError(
            f"CrossEntropyLoss: labels must lie in [0, {K}) for {K} logits, got "
            f"{y.min()}..{y.max()}"
        )
    return y


def _check_conv_shape(layer, shape, who: str) -> None:
    C = layer.in_channels
    if shape[1] != C:
        raise _shape_error(who, shape, f"(N, {C}, H, W)")
    kh, kw = layer.kernel_size
    if shape[2] + 2 * layer.padding < kh or shape[3] + 2 * layer.padding < kw:
        raise ValueError(
            f"{who} got input of shape {tuple(shape)}: its images (padded by "
            f"{layer.padding}) are smaller than the {kh}x{kw} kernel"
        )


def _check_pool_shape(layer, shape) -> None:
    kh, kw = layer.kernel_size
    if shape[2] < kh or shape[3] < kw:
        raise ValueError(
            f"{layer!r} got {shape[2]}x{shape[3]} images, smaller than the {kh}x{kw} window"
        )
