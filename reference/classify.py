"""Classification losses on logits: softmax cross-entropy and the multiclass hinge (SVM) loss.

Both take logits ``x`` (N, K) and integer labels ``y`` (N,) with ``0 <= y_i < K``, and return
a 0-d loss averaged over the batch; each backward takes the upstream ``delta = dE_total/dE``
(0-d; 1 when the loss is the final one) and returns ``(dx,)``. In the seed's terms these are the
loss layer (its eq. 9 is the squared error; these replace it), and ``dx`` is the first delta
handed back down the network (eq. 15). Labels are never differentiated. Inputs are never
modified; ``dx`` and the loss have ``x``'s floating dtype (float16 computed in float32).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from reference._windows import as_float_array, result_dtype
from reference.norm import _rows_of

__all__ = [
    "softmax_cross_entropy_forward",
    "softmax_cross_entropy_backward",
    "svm_loss_forward",
    "svm_loss_backward",
]


def _inputs(x: ArrayLike, y: ArrayLike, what: str) -> tuple[NDArray, NDArray, np.dtype]:
    """Validated ``(x, y, dtype)``: ``x`` (N, K) floating (at least float32 to compute in),
    ``y`` (N,) integer labels in ``[0, K)``; ``dtype`` is the dtype results are returned in."""
    xa = np.asarray(x)
    dtype = result_dtype(xa)
    xa = as_float_array(xa, np.promote_types(dtype, np.float32))
    if xa.ndim != 2 or xa.shape[0] == 0 or xa.shape[1] == 0:
        raise ValueError(f"{what}: x must be non-empty logits (N, K), got shape {xa.shape}")
    n, k = xa.shape
    ya = np.asarray(y)
    if ya.dtype == np.bool_ or not np.issubdtype(ya.dtype, np.integer):
        raise ValueError(f"{what}: y must hold integer class labels, got dtype {ya.dtype}")
    if ya.shape != (n,):
        raise ValueError(f"{what}: y must be ({n},) for x of shape {xa.shape}, got {ya.shape}")
    lo, hi = int(ya.min()), int(ya.max())
    if lo < 0 or hi >= k:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{what}: label {bad} is out of range for K = {k} classes (0 <= y < {k})")
    return xa, ya.astype(np.intp, copy=False), dtype


def _scale(delta: ArrayLike, dtype: np.dtype, what: str) -> tuple[float, np.dtype]:
    """The upstream 0-d ``delta`` as a float, and the dtype of ``dx``: ``x``'s, promoted with an
    array ``delta``'s (a Python number keeps ``x``'s dtype, as in :mod:`reference.loss`)."""
    scalar = not isinstance(delta, (np.ndarray, np.generic))
    d = np.asarray(delta)
    if d.ndim != 0:
        raise ValueError(f"{what}: delta must be 0-d, got shape {d.shape}")
    if not scalar:
        dtype = result_dtype(d, np.empty(0, dtype))
    return float(d), dtype


# ---------------------------------------------------------------------------------------------
# softmax cross-entropy
# ---------------------------------------------------------------------------------------------


def softmax_cross_entropy_forward(x: ArrayLike, y: ArrayLike) -> NDArray:
    """Mean softmax cross-entropy ``E = (1/N) sum_i (log sum_j exp(x_ij) - x_{i, y_i})``.

    As ``F.cross_entropy(x, y)`` (reduction ``mean``, no class weights, no label smoothing);
    unlike torch, no label is ignored (``-100`` is out of range here). Numerically stable: with
    ``m_i = max_j x_ij``, ``log sum_j exp(x_ij) = m_i + log sum_j exp(x_ij - m_i)``; every
    exponent is ``<= 0`` and the largest is exactly 0, so nothing overflows and the sum is in
    ``[1, K]``: logits of ``1e3`` and ``-1e3`` give exact, finite results.

    Parameters
    ----------
    x : array (N, K)
        Logits.
    y : integer array (N,)
        Labels, ``0 <= y_i < K``.

    Returns
    -------
    E : 0-d array
    """
    x, y, dtype = _inputs(x, y, "softmax_cross_entropy_forward")
    n, k = x.shape
    with _rows_of(k):
        m = x.max(axis=1)
        z = x - m[:, None]
        zy = z[np.arange(n), y]
        np.exp(z, out=z)
        lse = np.log(np.einsum("ij->i", z))
    return np.asarray((lse.sum() - zy.sum()) / n, dtype=dtype)


def softmax_cross_entropy_backward(delta: ArrayLike, x: ArrayLike, y: ArrayLike) -> tuple[NDArray]:
    """Gradient of the mean softmax cross-entropy: ``dx = (delta / N) (softmax(x) - onehot(y))``.

    Per sample, ``E_i = log sum_j exp(x_ij) - x_{i, y_i}`` gives
    ``dE_i/dx_ij = exp(x_ij) / sum_k exp(x_ik) - [j = y_i] = p_ij - [j = y_i]``; the mean over
    the batch contributes ``1/N`` and the chain rule the upstream ``delta``. ``p`` is computed
    with the max shift of the forward (``p_ij = exp(x_ij - m_i) / sum_k exp(x_ik - m_i)``), so
    it is finite for any finite logits; each row of ``dx`` sums to 0 up to rounding.

    Parameters
    ----------
    delta : 0-d array or scalar
        ``dE_total/dE``.
    x : array (N, K)
    y : integer array (N,)

    Returns
    -------
    dx : array (N, K)
    """
    x, y, dtype = _inputs(x, y, "softmax_cross_entropy_backward")
    scale, dtype = _scale(delta, dtype, "softmax_cross_entropy_backward")
    n, k = x.shape
    scale /= n
    with _rows_of(k):
        e = x - x.max(axis=1)[:, None]
        np.exp(e, out=e)
        e *= (scale / np.einsum("ij->i", e))[:, None]
    e[np.arange(n), y] -= scale
    return (e.astype(dtype, copy=False),)


# ---------------------------------------------------------------------------------------------
# multiclass hinge (SVM) loss
# ---------------------------------------------------------------------------------------------


def _margins(x: NDArray, y: NDArray) -> tuple[NDArray, NDArray]:
    """``m_ij = x_ij + (1 - x_{i, y_i})`` (torch's order of operations), and the row indices."""
    rows = np.arange(x.shape[0])
    return x + (1 - x[rows, y])[:, None], rows


def svm_loss_forward(x: ArrayLike, y: ArrayLike) -> NDArray:
    """Mean multiclass hinge loss ``E = (1/N) sum_i sum_{j != y_i} max(0, x_ij - x_{i, y_i} + 1)``.

    The CS231n ``svm_loss`` (margin 1). torch's ``F.multi_margin_loss(x, y)`` also divides by
    the number of classes ``K``: ``E = K * F.multi_margin_loss(x, y)``. The margin is computed
    as ``x_ij + (1 - x_{i, y_i})``, torch's order of operations, so ties (a margin of exactly 0)
    fall where torch's do.

    Parameters
    ----------
    x : array (N, K)
        Class scores.
    y : integer array (N,)
        Labels, ``0 <= y_i < K``.

    Returns
    -------
    E : 0-d array
    """
    x, y, dtype = _inputs(x, y, "svm_loss_forward")
    with _rows_of(x.shape[1]):
        m, rows = _margins(x, y)
    m[rows, y] = 0
    np.maximum(m, 0, out=m)
    return np.asarray(np.add.reduce(m, axis=None) / x.shape[0], dtype=dtype)


def svm_loss_backward(delta: ArrayLike, x: ArrayLike, y: ArrayLike) -> tuple[NDArray]:
    """Gradient of the mean multiclass hinge loss.

    With ``m_ij = x_ij - x_{i, y_i} + 1`` and the indicator ``a_ij = [m_ij > 0]`` for
    ``j != y_i``: ``dE/dx_ij = (delta / N) a_ij`` (each active margin grows with its own score)
    and ``dE/dx_{i, y_i} = -(delta / N) sum_{j != y_i} a_ij`` (the correct score enters every
    margin of its row with sign -1).

    Kink policy: the hinge is not differentiable where ``m_ij = 0`` (``x_ij - x_{i, y_i} + 1``
    exactly 0); there this returns the subgradient 0 for that margin (``a_ij = 0``: the strict
    ``m_ij > 0``), which is also torch's choice.

    Parameters
    ----------
    delta : 0-d array or scalar
        ``dE_total/dE``.
    x : array (N, K)
    y : integer array (N,)

    Returns
    -------
    dx : array (N, K)
    """
    x, y, dtype = _inputs(x, y, "svm_loss_backward")
    scale, dtype = _scale(delta, dtype, "svm_loss_backward")
    scale /= x.shape[0]
    with _rows_of(x.shape[1]):
        m, rows = _margins(x, y)
    active = np.greater(m, 0, out=m)  # 1.0 where the margin is active, else 0.0
    active[rows, y] = 0
    count = np.add.reduce(active, axis=1)
    active *= scale
    active[rows, y] = -scale * count
    return (active.astype(dtype, copy=False),)
