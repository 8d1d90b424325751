"""A DBN's training steps as pure functions of one flat parameter vector θ.

A parameter server holds θ as one array; a worker gets θ, computes a gradient ∇ on its
mini-batch and pushes ∇ back (chapter 15). This module gives the DBN's two training
steps in that form, with no state and no objects:

- :func:`rbm_gradient_step`: the CD-k gradient of one RBM layer (pretraining), the
  arithmetic of :func:`dlkit.unsupervised.rbm.cd_gradient` on views of θ;
- :func:`finetune_gradient`: the loss 𝓛 and its gradient ∇_θ𝓛 of the unrolled MLP with
  a softmax output (fine-tuning), by the four equations of backpropagation.

:func:`dbn_flat_params` and :func:`set_flat_params` move θ between a model and the
vector; :func:`fine_tune_flat` is :func:`dlkit.unsupervised.dbn.fine_tune_dbn` run on
the vector, the serial reference against which asynchronous runs are measured.

Layout of θ (:func:`param_layout`): the parameters in the order of ``parameters()``,
each flattened row-major (C order), one after the other, in one contiguous float64 or
float32 vector of P entries:

- one RBM with s_v visible and s_h hidden units: ``[W (s_h × s_v), b (s_v), c (s_h)]``;
- a DBN: its RBMs' blocks, bottom to top;
- the unrolled MLP of a DBN with layer sizes n_0, ..., n_L and K classes:
  ``[W⁽²⁾ (n_1 × n_0), b⁽²⁾ (n_1), ..., W⁽ᴸ⁺¹⁾ (n_L × n_{L−1}), b⁽ᴸ⁺¹⁾,
  W_out (K × n_L), b_out (K)]``, the order of ``unroll(dbn, K).parameters()``.

A worker loop, with ``server`` any object that can get θ and take a gradient (a
parameter server over MPI windows, or a plain array in a serial run)::

    from dlkit.unsupervised.steps import finetune_gradient
    sizes, K = [64, 100, 100], 10
    for step, (Xb, yb) in enumerate(my_batches):
        theta = server.get()                      # Get θ (possibly stale)
        loss, grad = finetune_gradient(theta, Xb, yb, sizes=sizes, n_classes=K)
        server.push(grad)                         # Put / Accumulate: θ ← θ − η ∇

and for pretraining layer l, the same loop with
``grad = rbm_gradient_step(theta_l, Vb, sizes=(n_l, n_{l+1}), k=1, seed=step)``, where
``Vb`` is the mini-batch passed up through the layers below
(``dbn.transform(Xb, layers=l)``).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy.special import expit as _sigmoid

from dlkit import rng as _rng
from dlkit.checks import as_real_array, check_int
from dlkit.nn.core import Layer, Param, check_float_dtype
from dlkit.unsupervised.dbn import DBN
from dlkit.unsupervised.rbm import cd_arrays, check_units

__all__ = [
    "param_layout",
    "dbn_flat_params",
    "set_flat_params",
    "rbm_gradient_step",
    "finetune_gradient",
    "fine_tune_flat",
]


def _params_of(model, who: str) -> list[Param]:
    if isinstance(model, DBN):
        return [p for r in model.rbms for p in r.parameters()]
    if isinstance(model, Layer):
        return model.parameters()
    raise TypeError(
        f"{who}: model must be a DBN, an RBM or a dlkit.nn layer (e.g. unroll(dbn, 10)), "
        f"got {type(model).__name__}"
    )


def _check_sizes(sizes, who: str, minimum_layers: int = 2) -> list[int]:
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
        raise TypeError(f"{who}: sizes must be a list of layer widths, e.g. [64, 100, 100]")
    out = [check_int(s, f"sizes[{i}]", who) for i, s in enumerate(sizes)]
    if len(out) < minimum_layers:
        raise ValueError(
            f"{who}: sizes must list at least {minimum_layers} layer widths, the data's "
            f"first, e.g. [64, 100]; got {list(sizes)}"
        )
    return out


def param_layout(sizes: Sequence[int], n_classes: int | None = None):
    """The blocks of θ as ``(name, shape)`` pairs, in order (see the module docstring).

    With ``n_classes=None``, `sizes` = (s_v, s_h) of one RBM: ``W``, ``b``, ``c``. With
    ``n_classes=K``, `sizes` = (n_0, ..., n_L) of a DBN and the layout is that of its
    unrolled MLP with K outputs: ``W2``, ``b2``, ..., ``W_out``, ``b_out`` (``Wj`` and ``bj``
    are W⁽ʲ⁾ and b⁽ʲ⁾, into layer j; layer 1 is the input, as everywhere in the book). The
    number of parameters P is the sum of the shapes' products.
    """
    n = _check_sizes(sizes, "param_layout")
    if n_classes is None:
        if len(n) != 2:
            raise ValueError(
                f"param_layout: one RBM's sizes are (s_v, s_h), got {n}; for an unrolled "
                "DBN pass n_classes too"
            )
        s_v, s_h = n
        return [("W", (s_h, s_v)), ("b", (s_v,)), ("c", (s_h,))]
    K = check_int(n_classes, "n_classes", "param_layout", minimum=2, say_minimum=True)
    out = []
    for j, (a, b) in enumerate(zip(n, n[1:]), start=2):  # layer 1 is the input
        out += [(f"W{j}", (b, a)), (f"b{j}", (b,))]
    return out + [("W_out", (K, n[-1])), ("b_out", (K,))]


def _split(theta: np.ndarray, layout, who: str) -> list[np.ndarray]:
    """Views of the flat `theta`, one per block of `layout` (no copies)."""
    theta = as_real_array(theta, "theta", who)
    size = sum(math.prod(shape) for _, shape in layout)
    if theta.ndim != 1 or theta.size != size:
        raise ValueError(
            f"{who}: theta must be one flat vector of {size} parameters for this layout, got "
            f"shape {theta.shape}; build it with dbn_flat_params(model)"
        )
    check_float_dtype(theta.dtype, who)
    out, start = [], 0
    for _, shape in layout:
        stop = start + math.prod(shape)
        out.append(theta[start:stop].reshape(shape))
        start = stop
    return out


def dbn_flat_params(model) -> np.ndarray:
    """θ: a copy of all the parameters of `model` (a DBN, an RBM, or a dlkit.nn model such
    as ``unroll(dbn, K)``) as one contiguous vector of their dtype, in the layout of the
    module docstring."""
    params = _params_of(model, "dbn_flat_params")
    return np.concatenate([p.data.ravel() for p in params])


def set_flat_params(model, theta) -> None:
    """Write the flat vector θ back into `model`'s parameters, in place (the arrays an
    optimizer holds stay the same objects); θ must have exactly P entries."""
    params = _params_of(model, "set_flat_params")
    theta = as_real_array(theta, "theta", "set_flat_params")
    size = sum(p.size for p in params)
    if theta.ndim != 1 or theta.size != size:
        raise ValueError(
            f"set_flat_params: the model has P = {size} parameters but theta has shape "
            f"{theta.shape}; pass one flat vector of {size} numbers (dbn_flat_params(model))"
        )
    start = 0
    for p in params:
        p.data[...] = theta[start : start + p.size].reshape(p.shape)
        start += p.size


def rbm_gradient_step(theta, V_batch, *, sizes: Sequence[int], k: int = 1, seed=0) -> np.ndarray:
    """The CD-k gradient ∇ of one RBM as a flat vector: a pure function of θ and the batch.

    θ is ``[W (s_h × s_v), b (s_v), c (s_h)]`` for ``sizes = (s_v, s_h)``; `V_batch` is a
    (B, s_v) array with values in [0, 1]. Returns ∇ with θ's layout and dtype: the
    estimate of ∇_θ(−log P(v)) that :func:`dlkit.unsupervised.rbm.cd_gradient` leaves in
    the RBM's gradients, with the same Gibbs samples for the same `seed`, so that
    θ ← θ − η ∇ is exactly :func:`dlkit.unsupervised.rbm.rbm_update` (Bengio's
    RBMupdate). θ itself is not changed.
    """
    W, b, c, V0, k = _check_rbm_step(theta, V_batch, sizes, k)  # W, b, c: views of θ
    grad = np.empty(W.size + b.size + c.size, dtype=W.dtype)  # ∇, in θ's layout
    gW, gb, gc = _split(grad, param_layout(sizes), "rbm_gradient_step")
    cd_arrays(W, b, c, V0, k, _rng(seed), None, (gW, gb, gc))  # cd_gradient's arithmetic
    return grad


def _check_rbm_step(theta, V_batch, sizes, k):
    """rbm_gradient_step's arguments, checked: views W, b, c of θ, the batch, k."""
    who = "rbm_gradient_step"
    n = _check_sizes(sizes, who)
    if len(n) != 2:
        raise ValueError(
            f"{who}: sizes are one RBM's (s_v, s_h), got {n}; to pretrain layer l of a DBN "
            "pass (n_l, n_{l+1}) and its data passed up through the layers below"
        )
    W, b, c = _split(theta, param_layout(n), who)
    V0 = check_units(V_batch, n[0], "V_batch", who, W.dtype)
    return W, b, c, V0, check_int(k, "k", who)


def _check_labels(y, n: int, K: int, who: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n or y.dtype.kind not in "iu":
        raise ValueError(
            f"{who}: y_batch must be {n} integer labels (one per row of X_batch), got "
            f"dtype {y.dtype} and shape {y.shape}"
        )
    if y.min() < 0 or y.max() >= K:
        raise ValueError(
            f"{who}: labels must lie in [0, {K}) for n_classes={K}, got {y.min()}..{y.max()}"
        )
    return y


def finetune_gradient(
    theta, X_batch, y_batch, *, sizes: Sequence[int], n_classes: int
) -> tuple[float, np.ndarray]:
    """The cross-entropy 𝓛 of the unrolled DBN on one mini-batch and its gradient ∇_θ𝓛.

    The network is that of :func:`dlkit.unsupervised.dbn.unroll`: for each hidden layer
    Z⁽ʲ⁾ = A⁽ʲ⁻¹⁾ W⁽ʲ⁾ᵀ + b⁽ʲ⁾ and A⁽ʲ⁾ = σ(Z⁽ʲ⁾), from A⁽¹⁾ = X; then K logits and
    ŷ = softmax, 𝓛 = −(1/N) Σ_n log ŷ_{n, y_n}. θ has the layout
    ``param_layout(sizes, n_classes)``; X_batch is (N, n_0), y_batch N integer labels.
    Returns (𝓛, ∇) with ∇ in θ's layout and dtype; a pure function, θ is not changed.
    """
    who = "finetune_gradient"
    layout = param_layout(sizes, n_classes)
    blocks = _split(theta, layout, who)
    X = as_real_array(X_batch, "X_batch", who)
    if X.ndim != 2 or X.shape[1] != sizes[0] or X.shape[0] == 0:
        raise ValueError(
            f"{who}: X_batch must have shape (N, {sizes[0]}) with N ≥ 1, got {X.shape}"
        )
    X = X.astype(theta.dtype, copy=False)
    y = _check_labels(y_batch, X.shape[0], n_classes, who)
    grad = np.empty(theta.size, dtype=theta.dtype)
    loss = _backprop(blocks, X, y, _split(grad, layout, who))
    return loss, grad


def _backprop(blocks: list, X: np.ndarray, y: np.ndarray, gblocks: list) -> float:
    """finetune_gradient on checked arrays: `blocks` and `gblocks` are the views
    [W2, b2, ..., W_out, b_out] of θ and of ∇, which it fills; returns 𝓛."""
    Ws, bs = blocks[0::2], blocks[1::2]  # Ws[i] = W^(i+2), the weights into layer i + 2
    N = X.shape[0]
    A = [X]  # A[i] = A^(i+1): the activations, from A^(1) = X
    for W, b in zip(Ws[:-1], bs[:-1]):
        A.append(_sigmoid(A[-1] @ W.T + b))  # A^(j) = σ(A^(j−1) W^(j)ᵀ + b^(j))
    Z = A[-1] @ Ws[-1].T + bs[-1]  # the logits, Z^(L)
    S = Z - Z.max(axis=1, keepdims=True)
    log_y_hat = S - np.log(np.exp(S).sum(axis=1, keepdims=True))  # log softmax
    rows = np.arange(N)
    loss = float(-log_y_hat[rows, y].sum() / N)  # 𝓛 = −(1/N) Σ_n log ŷ_{n, y_n}

    delta = np.exp(log_y_hat)  # BP1 for softmax + cross-entropy: δ^(L) = (ŷ − onehot(y)) / N
    delta[rows, y] -= 1
    delta /= N
    for i in range(len(Ws) - 1, -1, -1):  # layer j = i + 2, from the top down
        np.matmul(delta.T, A[i], out=gblocks[2 * i])  # BP4: ∂𝓛/∂W^(j) = δ^(j)ᵀ A^(j−1)
        np.sum(delta, axis=0, out=gblocks[2 * i + 1])  # BP3: ∂𝓛/∂b^(j) = Σ_n δ^(j)_n
        if i > 0:  # BP2: δ^(j−1) = (δ^(j) W^(j)) ⊙ σ'(Z^(j−1)), σ' = A^(j−1) (1 − A^(j−1))
            delta = (delta @ Ws[i]) * A[i] * (1 - A[i])
    return loss


def fine_tune_flat(
    theta,
    X,
    y,
    *,
    sizes: Sequence[int],
    n_classes: int,
    epochs: int = 30,
    lr: float = 0.1,
    batch_size: int = 32,
    momentum: float = 0.9,
    seed=0,
) -> np.ndarray:
    """:func:`dlkit.unsupervised.dbn.fine_tune_dbn` on the flat vector: the same batches
    (:func:`dlkit.train.batches`, epoch e shuffled by ``epoch_seed(seed, e)``), the same
    SGD with momentum (:class:`dlkit.optim.SGD`) and :func:`finetune_gradient` for ∇.
    Returns the trained θ (a new array); a serial run of the loop that asynchronous
    workers share."""
    from dlkit.optim import SGD
    from dlkit.train import batches, epoch_seed

    who = "fine_tune_flat"
    epochs = check_int(epochs, "epochs", who)
    batch_size = check_int(batch_size, "batch_size", who)
    layout = param_layout(sizes, n_classes)
    p = Param(np.array(as_real_array(theta, "theta", who), copy=True), "theta")
    blocks, gblocks = _split(p.data, layout, who), _split(p.grad, layout, who)
    X = as_real_array(X, "X", who)
    if X.ndim != 2 or X.shape[1] != sizes[0]:
        raise ValueError(f"{who}: X must have shape (N, {sizes[0]}), got {X.shape}")
    X = X.astype(p.data.dtype, copy=False)
    y = _check_labels(y, X.shape[0], n_classes, who)
    opt = SGD([p], lr=lr, momentum=momentum)
    for epoch in range(epochs):
        for Xb, yb in batches(X, y, batch_size, seed=epoch_seed(seed, epoch)):
            _backprop(blocks, Xb, yb, gblocks)  # ∇ = finetune_gradient(θ, X_b, y_b)
            opt.step()  # v ← μ v − η ∇, θ ← θ + v
    return p.data
