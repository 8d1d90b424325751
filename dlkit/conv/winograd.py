"""Winograd's minimal filtering F(2×2, 3×3) (Winograd 1980; for CNNs, Lavin & Gray 2016).

A 2×2 tile of outputs of a 3×3 correlation reads a 4×4 tile d of the input. Computed
directly it costs 2·2·3·3 = 36 multiplications; Winograd's algorithm needs only the
4·4 = 16 elementwise products of two transformed tiles:

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A

with the constant matrices below (g is the 3×3 kernel). The letters are Lavin and
Gray's: B, G and A are these constant matrices (not the batch size, AdaGrad's sum or
the activations of other chapters) and g is a kernel, not an activation. The kernel
transform U = G g Gᵀ is done once per kernel, the input transform V = Bᵀ d B once per
tile and channel, and the sum over input channels happens in the transformed domain,
as 16 independent (C_out × C) @ (C × tiles) matrix products, one per position of the
4×4 tile.
Hence 36 / 16 = 2.25× fewer multiplications. Only 3×3 kernels with stride 1 are
supported (padding is fine).
"""

from __future__ import annotations

import numpy as np

from dlkit.conv.common import check_conv_args, output_size, pad_input

#: Input transform Bᵀ (4×4), kernel transform G (4×3), output transform Aᵀ (2×4).
BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float64)
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64)


def winograd_check(kernel_shape, stride: int, who: str = "conv2d_winograd") -> None:
    """Raise a clear error where F(2×2, 3×3) does not apply."""
    if len(tuple(kernel_shape)) != 4:
        raise ValueError(
            f"{who}: the kernel must have shape (C_out, C, 3, 3), got {tuple(kernel_shape)}"
        )
    kh, kw = tuple(kernel_shape)[2:]
    if (kh, kw) != (3, 3):
        raise ValueError(
            f"{who}: Winograd F(2x2, 3x3) needs a 3x3 kernel, got {kh}x{kw}; use "
            "algorithm='im2col' or 'fft' for other sizes"
        )
    if stride != 1:
        raise ValueError(
            f"{who}: Winograd F(2x2, 3x3) needs stride 1, got stride {stride}; use "
            "algorithm='im2col' for strided convolutions"
        )


def conv2d_winograd(x, w, b=None, stride: int = 1, padding: int = 0) -> np.ndarray:
    """3×3, stride-1 convolution by Winograd F(2×2, 3×3).

    x (N, C, H, W), w (C_out, C, 3, 3), b (C_out,) or None -> z (N, C_out, H_out, W_out).
    """
    x, w, b, s, p = check_conv_args(x, w, b, stride, padding, "conv2d_winograd")
    winograd_check(w.shape, s)
    xp = pad_input(x, p)
    N, C, H, W = xp.shape
    C_out = w.shape[0]
    Ho, Wo = output_size(H, 3, 1), output_size(W, 3, 1)
    th, tw = -(-Ho // 2), -(-Wo // 2)  # 2×2 output tiles, rounded up
    # pad so that every tile's 4×4 input window exists (extra outputs are cropped)
    xp = np.pad(xp, ((0, 0), (0, 0), (0, 2 * th + 2 - H), (0, 2 * tw + 2 - W)))
    dt = x.dtype
    BTd, Gd, ATd = BT.astype(dt), G.astype(dt), AT.astype(dt)
    # kernel transform U = G g Gᵀ for every kernel g = w[f, c]
    U = np.einsum("ai,fcij,bj->abfc", Gd, w, Gd, optimize=True)  # (4, 4, C_out, C)
    # input tiles d (4×4, overlapping by 2) and V = Bᵀ d B: (4, 4, C, N·th·tw)
    tiles = np.lib.stride_tricks.sliding_window_view(xp, (4, 4), axis=(2, 3))[:, :, ::2, ::2]
    V = np.einsum("ai,ncxyij,bj->abcnxy", BTd, tiles, BTd, optimize=True)
    V = V.reshape(4, 4, C, N * th * tw)
    # the channel sum: 16 independent GEMMs (C_out × C) @ (C × tiles)
    M = np.matmul(U, V)  # (4, 4, C_out, tiles)
    # output transform Y = Aᵀ M A: (2, 2, C_out, tiles)
    Y = np.einsum("ia,abft,jb->ijft", ATd, M, ATd, optimize=True)
    Y = Y.reshape(2, 2, C_out, N, th, tw).transpose(3, 2, 4, 0, 5, 1)
    z = np.ascontiguousarray(Y.reshape(N, C_out, 2 * th, 2 * tw)[:, :, :Ho, :Wo])
    if b is not None:
        z += b[None, :, None, None]
    return z
