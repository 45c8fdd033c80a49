"""Pooling layers: max, average and L2-norm pooling with the seed's gradient routing.

Arrays are NCHW: input ``x`` (N, C, H, W), output (N, C, Ho, Wo) with
``Ho = floor((H + 2*p_h - k_h) / s_h) + 1`` (likewise ``Wo``). Windows may be non-square,
overlap (``stride < kernel_size``), skip input (``stride > kernel_size``) and leave the last
rows/columns uncovered; those inputs get zero gradient. ``stride`` defaults to ``kernel_size``.
As in torch, ``padding`` may be at most half the kernel size per axis, so every window holds at
least one real input element.

Windows are separable (a row interval times a column interval), so every reduction runs as a
pass along W then a pass along H, each a handful of whole-batch numpy operations on the
flattened input (see ``reference/_separable.py``); the backward passes are the transposed
passes in reverse order. Backward passes recompute what they need from ``x`` (pure functions,
no cache). Large batches are split across threads (``reference/_parallel.py``): samples are
independent, so the results are the same, only computed on every core, as torch's are.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _separable as sep
from ._parallel import over_batch
from ._windows import IntPair, Pair, as_float_array, check_delta, conv_output_hw, pair, result_dtype

__all__ = [
    "max_pool2d_forward",
    "max_pool2d_backward",
    "max_pool2d_winners",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
    "l2_pool2d_forward",
    "l2_pool2d_backward",
]


def _geometry(
    x: NDArray, kernel_size: IntPair, stride: IntPair | None, padding: IntPair
) -> tuple[Pair, sep.Grid]:
    """Validate; return the padding pair and the pooling :class:`~reference._separable.Grid`."""
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {x.shape}")
    k = pair(kernel_size, "kernel_size", minimum=1)
    s = k if stride is None else pair(stride, "stride", minimum=1)
    p = pair(padding, "padding", minimum=0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"padding {p} must be at most half the kernel size {k}")
    out_hw = conv_output_hw(x.shape[2:], k, s, p, (1, 1))
    return p, sep.make_grid(x.shape, k, s, p, out_hw)


def _backward_args(
    delta: ArrayLike, x: ArrayLike, kernel_size: IntPair, stride: IntPair | None, padding: IntPair, what: str
) -> tuple[NDArray, NDArray, Pair, sep.Grid]:
    """Common validation of the pooling backward passes (promoted dtype, delta's shape)."""
    dtype = result_dtype(np.asarray(delta), np.asarray(x))
    delta, x = as_float_array(delta, dtype), as_float_array(x, dtype)
    p, grid = _geometry(x, kernel_size, stride, padding)
    check_delta(delta, (*x.shape[:2], *grid.out_hw), what)
    return delta, x, p, grid


# ---------------------------------------------------------------------------------------------
# max pooling
# ---------------------------------------------------------------------------------------------


@over_batch
def max_pool2d_forward(
    x: ArrayLike,
    *,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    return_indices: bool = False,
) -> NDArray | tuple[NDArray, NDArray]:
    """Max pooling forward: each window is reduced to the value of its winning unit.

    ``o[N, c, i, j] = max_{m, n} xp[N, c, i*s_h + m, j*s_w + n]`` where ``xp`` is ``x`` padded
    with ``-inf`` (so padding never wins), as ``torch.nn.functional.max_pool2d``.
    Ledger: pool-max (the seed's Pooling Layer section; it numbers no equation). The rule holds
    as printed only for non-overlapping windows with a unique maximum; this follows the
    ledger's corrected form: each window's error goes to its first maximal unit and the
    contributions of overlapping windows are added (``+=``), as torch does.

    Parameters
    ----------
    x : array (N, C, H, W)
    kernel_size : int or (int, int)
        Window size ``(k_h, k_w)``.
    stride : int or (int, int), optional
        Defaults to ``kernel_size``.
    padding : int or (int, int)
        At most ``kernel_size // 2`` per axis.
    return_indices : bool
        Also return the winning units (see :func:`max_pool2d_winners`).

    Returns
    -------
    o : array (N, C, Ho, Wo)
    indices : int64 array (N, C, Ho, Wo), only if ``return_indices``
        Flat index ``row * W + col`` of each window's winner in its unpadded (H, W) plane.
    """
    x = as_float_array(x)
    p, grid = _geometry(x, kernel_size, stride, padding)
    x_flat = sep.pad_flat(x, grid, p, -np.inf)
    if not return_indices:
        return sep.window_reduce(x_flat, grid, np.maximum)
    o, m, n = sep.window_argmax(x_flat, grid)
    (sh, sw), (ho, wo) = grid.stride, grid.out_hw
    rows = (np.arange(ho) * sh - p[0]).reshape(-1, 1) + m.astype(np.int64)
    cols = np.arange(wo) * sw - p[1] + n.astype(np.int64)
    return o, rows * x.shape[3] + cols


def max_pool2d_winners(
    x: ArrayLike, *, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> NDArray:
    """The winning unit of every max-pooling window, as recorded in the forward pass.

    "To keep track of the winning unit its index [is] noted during the forward pass and used
    for gradient routing during backpropagation" (seed, pooling layer). Ties go to the FIRST
    maximal element in row-major window order (torch's convention); padding never wins, being
    ``-inf``; a NaN always wins (the last NaN of the window, again as torch).
    Ledger: pool-max (the seed's Pooling Layer section; it numbers no equation). The rule holds
    as printed only for non-overlapping windows with a unique maximum; this follows the
    ledger's corrected form: each window's error goes to its first maximal unit and the
    contributions of overlapping windows are added (``+=``), as torch does.

    Parameters
    ----------
    x : array (N, C, H, W)
    kernel_size, stride, padding : int or (int, int)
        As in :func:`max_pool2d_forward`.

    Returns
    -------
    int64 array (N, C, Ho, Wo)
        Flat index ``row * W + col`` of the winner in its unpadded (H, W) input plane (the
        ``indices`` of ``torch.nn.functional.max_pool2d(..., return_indices=True)``).
    """
    out = max_pool2d_forward(
        x, kernel_size=kernel_size, stride=stride, padding=padding, return_indices=True
    )
    return out[1]


@over_batch
def max_pool2d_backward(
    delta: ArrayLike,
    x: ArrayLike,
    *,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
) -> NDArray:
    """Max pooling backward: each window's delta is routed to its winning unit.

    "The error is just assigned to where it comes from - the winning unit"; the other units of
    the window get zero. The winner is recomputed from ``x`` exactly as in the forward pass
    (first maximal element in row-major order, see :func:`max_pool2d_winners`), so a tie sends
    the delta to exactly one unit. Overlapping windows accumulate; padding is dropped.
    Ledger: pool-max (the seed's Pooling Layer section; it numbers no equation). The rule holds
    as printed only for non-overlapping windows with a unique maximum; this follows the
    ledger's corrected form: each window's error goes to its first maximal unit and the
    contributions of overlapping windows are added (``+=``), as torch does.

    Parameters
    ----------
    delta : array (N, C, Ho, Wo)
        ``dE/do`` for the pooled output.
    x : array (N, C, H, W)
    kernel_size, stride, padding : int or (int, int)
        As in :func:`max_pool2d_forward`.

    Returns
    -------
    dx : array (N, C, H, W)
    """
    delta, x, p, grid = _backward_args(delta, x, kernel_size, stride, padding, "max_pool2d_backward")
    _, m, n = sep.window_argmax(sep.pad_flat(x, grid, p, -np.inf), grid, values=False)
    # flat index, in the padded batch, of each window's winner: its corner plus (m, n)
    (sh, sw), (ho, wo), (hp, wp) = grid.stride, grid.out_hw, grid.padded[2:]
    target = np.multiply(m, wp, dtype=np.intp)
    target += n
    target += np.arange(grid.planes).reshape(*x.shape[:2], 1, 1) * (hp * wp)
    target += (np.arange(ho) * (sh * wp)).reshape(-1, 1)
    target += np.arange(wo) * sw
    dx_flat = np.bincount(target.ravel(), weights=delta.ravel(), minlength=grid.size)
    return sep.unpad_flat(dx_flat.astype(delta.dtype, copy=False), grid, x.shape, p)


# ---------------------------------------------------------------------------------------------
# average pooling
# ---------------------------------------------------------------------------------------------


@over_batch
def avg_pool2d_forward(
    x: ArrayLike, *, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> NDArray:
    """Average pooling forward: the mean of each ``k_h x k_w`` window.

    ``o[N, c, i, j] = (1 / (k_h k_w)) sum_{m, n} xp[N, c, i*s_h + m, j*s_w + n]`` with ``xp``
    zero-padded; padding counts in the divisor (torch's ``count_include_pad=True``).
    Ledger: pool-avg (the seed's Pooling Layer section; it numbers no equation). The rule holds
    as printed only for non-overlapping windows; this follows the corrected form, adding the
    contributions of overlapping windows (``+=``).

    Parameters
    ----------
    x : array (N, C, H, W)
    kernel_size, stride, padding : int or (int, int)
        As in :func:`max_pool2d_forward`.

    Returns
    -------
    o : array (N, C, Ho, Wo)
    """
    x = as_float_array(x)
    p, grid = _geometry(x, kernel_size, stride, padding)
    o = sep.window_reduce(sep.pad_flat(x, grid, p, 0.0), grid, np.add)
    o /= grid.kernel[0] * grid.kernel[1]
    return o


@over_batch
def avg_pool2d_backward(
    delta: ArrayLike,
    x: ArrayLike,
    *,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
) -> NDArray:
    """Average pooling backward: each window's delta, times ``1/(k_h k_w)``, goes to all its units.

    "The error is multiplied by 1/(N x N) and assigned to the whole pooling block", for a
    ``k_h x k_w`` window; overlapping windows accumulate, padding is dropped.
    Ledger: pool-avg (the seed's Pooling Layer section; it numbers no equation). The rule holds
    as printed only for non-overlapping windows; this follows the corrected form, adding the
    contributions of overlapping windows (``+=``).

    Parameters
    ----------
    delta : array (N, C, Ho, Wo)
    x : array (N, C, H, W)
        Only its shape is used.
    kernel_size, stride, padding : int or (int, int)
        As in :func:`max_pool2d_forward`.

    Returns
    -------
    dx : array (N, C, H, W)
    """
    delta, x, p, grid = _backward_args(delta, x, kernel_size, stride, padding, "avg_pool2d_backward")
    share = delta / (grid.kernel[0] * grid.kernel[1])
    return sep.unpad_flat(sep.window_scatter(share, grid), grid, x.shape, p)


# ---------------------------------------------------------------------------------------------
# L2-norm pooling
# ---------------------------------------------------------------------------------------------


@over_batch
def l2_pool2d_forward(
    x: ArrayLike, *, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0
) -> NDArray:
    """L2-norm pooling forward: the Euclidean norm of each window.

    ``o[N, c, i, j] = sqrt(sum_{m, n} xp[N, c, i*s_h + m, j*s_w + n]^2)`` with ``xp``
    zero-padded (for ``padding=0`` this is ``torch.nn.functional.lp_pool2d`` with
    ``norm_type=2``).
    Ledger: pool-l2 (named in the seed's Pooling Layer section, routing derived here: it holds
    for non-overlapping windows with ``o > 0``; overlapping windows add up (``+=``) and an
    all-zero window routes 0, the subgradient choice).

    Parameters
    ----------
    x : array (N, C, H, W)
    kernel_size, stride, padding : int or (int, int)
        As in :func:`max_pool2d_forward`.

    Returns
    -------
    o : array (N, C, Ho, Wo)
    """
    x = as_float_array(x)
    p, grid = _geometry(x, kernel_size, stride, padding)
    x_flat = sep.pad_flat(x, grid, p, 0.0)
    o = sep.window_reduce(np.square(x_flat), grid, np.add)
    return np.sqrt(o, out=o)


@over_batch
def l2_pool2d_backward(
    delta: ArrayLike,
    x: ArrayLike,
    *,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
) -> NDArray:
    """L2-norm pooling backward: ``dx_u = sum over the windows holding u of delta * x_u / o``.

    From ``o = sqrt(sum_u x_u^2)``: ``do/dx_u = x_u / o``, so each window routes
    ``delta * x_u / o`` to each of its units ``u``; overlapping windows accumulate and padding
    is dropped. Computed as ``dx = x * scatter(delta / o)``. Subgradient choice: where
    ``o == 0`` (an all-zero window) the norm is not differentiable and the window routes 0
    (the minimum-norm subgradient; torch's ``lp_pool2d`` gives nan or inf there).
    Ledger: pool-l2 (named in the seed's Pooling Layer section, routing derived here: it holds
    for non-overlapping windows with ``o > 0``; overlapping windows add up (``+=``) and an
    all-zero window routes 0, the subgradient choice).

    Parameters
    ----------
    delta : array (N, C, Ho, Wo)
    x : array (N, C, H, W)
    kernel_size, stride, padding : int or (int, int)
        As in :func:`max_pool2d_forward`.

    Returns
    -------
    dx : array (N, C, H, W)
    """
    delta, x, p, grid = _backward_args(delta, x, kernel_size, stride, padding, "l2_pool2d_backward")
    x_flat = sep.pad_flat(x, grid, p, 0.0)
    o = sep.window_reduce(np.square(x_flat), grid, np.add)
    np.sqrt(o, out=o)
    g = np.zeros_like(o)
    np.divide(delta, o, out=g, where=o > 0)  # delta / o, and 0 where o == 0
    dx_flat = sep.window_scatter(g, grid)
    dx_flat *= x_flat
    return sep.unpad_flat(dx_flat, grid, x.shape, p)
