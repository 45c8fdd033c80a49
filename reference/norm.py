"""Normalisation layers: batch, layer and group normalisation (training-mode statistics).

Each layer normalises ``x`` over *sets* of ``M`` elements, then scales and shifts per feature:

    mu = (1/M) sum_S x,   var = (1/M) sum_S (x - mu)^2   (biased, as torch),
    s = sqrt(var + eps),  x^ = (x - mu) / s,             o = gamma x^ + beta.

The sets: batch norm, one per channel (over the batch and the spatial axes); layer norm, one per
sample (over the trailing ``gamma.ndim`` axes); group norm, one per sample and group of
``C / groups`` channels (over those channels and the spatial axes).

Backward, in the seed's notation (``delta = dE/do``, ``dx = dE/dx``). ``o`` depends on ``x``
only through ``x^``, so ``dE/dx^ = gamma delta =: g``. Within a set, ``d mu / d x_j = 1/M`` and
``d var / d x_j = 2 (x_j - mu) / M`` (the term through ``mu`` vanishes since
``sum (x_i - mu) = 0``), hence ``d s / d x_j = x^_j / M`` and

    d x^_i / d x_j = (1/s) ([i = j] - 1/M - x^_i x^_j / M).

Summing over the set as eq. 16 sums over the outputs an input feeds:

    dx = (1/s) (g - mean_S(g) - x^ mean_S(g x^)),

and, as eq. 13 sums a shared weight's gradient over every position it is used at,
``dgamma = sum delta x^`` and ``dbeta = sum delta`` over every element sharing that
``gamma``/``beta`` entry. With ``mean_S(x^) = 0`` and ``mean_S(x^2) = var / (var + eps) ~ 1``, the two
subtracted terms are (nearly) the least-squares fit of ``g`` on ``1`` and ``x^``: ``dx`` is what
remains of ``g`` after that fit is removed. When ``delta`` is close to affine in ``x^`` (a loss
that sees ``x`` mostly through the mean and scale that normalisation removes) the three terms
nearly cancel, and the residual is tiny next to each of them; its rounding error is relative to
``|g|``, not to ``|dx|``, and the ``1/s`` factor magnifies it when ``var`` is small (up to
``1/sqrt(eps)``, about 316 at the default ``eps``). Checks of these gradients should measure
errors against ``|gamma / s| |delta|``.

Variance 0 (a constant set, or a batch-norm channel with one value, ``N = 1`` and no spatial
axes): ``x - mu = 0``, so ``x^ = 0 / sqrt(eps) = 0`` and ``o = beta``; the backward is finite:
``dgamma = 0``, ``dbeta = sum delta``, ``dx = (gamma / sqrt(eps)) (delta - mean_S(delta))``
(zero for a one-element set). This is torch's arithmetic too; ``eps`` must be positive. Rounding
in ``mu`` can leave ``x - mu`` at an ulp of ``|x|`` rather than exactly 0 (in torch as well),
which ``1/sqrt(eps)`` scales up.

Computation: the moments come from one reading pass, ``sum x`` and ``sum x^2``, with
``var = E[x^2] - mu^2``; a set whose mean dominates (``mu^2 > 4 var``) is first re-centred on its
mean and its moments taken again, so the subtraction never loses more than about three bits
(the same bound covers ``sum delta (x - mu) = sum delta x - mu sum delta`` and the folding of
``-mu`` into per-set constants below). ``o`` and ``dx`` are then per-set affine maps of ``x`` and
``delta`` (``o = a x + b``, ``dx = A delta + B x + C``), a few whole-array numpy operations each.
Backward recomputes the statistics from ``x`` (pure functions, no cache). Large batches are
processed in chunks of samples so that each chunk stays in cache across its operations (the
chunking depends only on the shapes; partial sums are combined in chunk order, so results do
not depend on threads), chunks are shared among the cores for large inputs, and broadcasts
run with numpy's iteration buffer no longer than the rows they broadcast along
(:func:`_rows_of`). float16 is computed in float32 and rounded back.

Inputs are never modified; outputs have the promoted floating dtype of the inputs.
"""
from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from reference._parallel import MIN_ELEMENTS, _executor, _threads
from reference._windows import as_float_array, check_delta, result_dtype

__all__ = [
    "batch_norm_forward",
    "batch_norm_backward",
    "batch_norm_eval_forward",
    "batch_norm_running_stats",
    "layer_norm_forward",
    "layer_norm_backward",
    "group_norm_forward",
    "group_norm_backward",
]

#: Target number of elements per chunk of the batch: the temporaries are chunk-sized, not
#: batch-sized, and a chunk's arrays stay in cache between the operations applied to it.
CHUNK = 1 << 18
#: A set is re-centred before its moments are trusted when ``mu^2 > RECENTRE * var``.
RECENTRE = 4.0
#: Name prefix of the threads of ``reference._parallel``'s pool.
_POOL_PREFIX = "reference"


# ---------------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _spans(n: int, per_item: int) -> tuple[tuple[int, int], ...]:
    """Contiguous chunks ``((lo, hi), ...)`` of a leading axis of ``n`` items of ``per_item``
    elements each, about ``CHUNK`` elements per chunk (depends on the shapes only)."""
    k = max(1, min(n, round(n * per_item / CHUNK)))
    return tuple((n * i // k, n * (i + 1) // k) for i in range(k))


def _run(fn: Callable[[int, int], Any], n: int, per_item: int, rows: int = 1 << 13) -> list[Any]:
    """``[fn(lo, hi) for (lo, hi) in _spans(n, per_item)]``, in chunk order.

    The broadcasts in ``fn`` run along contiguous rows of at least ``rows`` elements (see
    :func:`_rows_of`; not worth its set-up below ``2**15`` elements). From ``MIN_ELEMENTS``
    elements on, the chunks are dealt in contiguous
    runs to the threads of ``reference._parallel``'s pool (one task per thread: the work
    between numpy calls holds the GIL), as torch uses every core; what each chunk computes,
    and the order partial results are combined in, do not change.
    """
    spans = _spans(n, per_item)
    threads = min(_threads(), len(spans)) if n * per_item >= MIN_ELEMENTS else 1
    if threading.current_thread().name.startswith(_POOL_PREFIX):
        threads = 1  # already on the pool (a caller split its batch): waiting on it could deadlock

    def task(chunk: Sequence[tuple[int, int]]) -> list[Any]:
        if rows >= 1 << 13 or n * per_item < 1 << 15:  # nothing to gain: skip the set-up
            return [fn(a, b) for a, b in chunk]
        with _rows_of(rows):
            return [fn(a, b) for a, b in chunk]

    if threads < 2:
        return task(spans)
    cut = [len(spans) * i // threads for i in range(threads + 1)]
    parts = _executor().map(task, [spans[a:b] for a, b in zip(cut[:-1], cut[1:])])
    return [r for part in parts for r in part]


@contextlib.contextmanager
def _rows_of(n: int) -> Iterator[None]:
    """Run the enclosed numpy operations with an iteration buffer of at most ``n`` elements.

    numpy's ufuncs iterate broadcast operands through a buffer (``np.getbufsize()``, 8192
    elements by default); when the contiguous rows an operand is broadcast along are shorter
    than that buffer, every operation pays for filling it, which is two to three times
    slower than the arithmetic. A buffer no longer than the rows avoids that. The setting is
    numpy's per-thread/context state and is restored on exit; results are unchanged.
    """
    size = 16
    while size * 2 <= min(n, 8192):
        size *= 2
    old = np.getbufsize()
    if size >= old:
        yield
        return
    np.setbufsize(size)
    try:
        yield
    finally:
        np.setbufsize(old)


def _total(parts: list[Any], i: int) -> NDArray:
    """The sum over chunks of the ``i``-th partial result (fixed order: deterministic)."""
    out = parts[0][i]
    for q in parts[1:]:
        out = out + q[i]
    return out


def _work_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype arithmetic is done in: ``dtype``, but at least float32."""
    return np.promote_types(dtype, np.float32)


def _check_eps(eps: float, what: str) -> float:
    try:
        value = float(eps)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(eps, (bool, np.bool_)) or not (0 < value < float("inf")):
        raise ValueError(f"{what}: eps must be a positive finite number, got {eps!r}")
    return value


def _rowsum(a: NDArray) -> NDArray:
    """``sum_j a[i, j]`` of a 2-D array."""
    return np.einsum("ij->i", a)


def _rowdot(a: NDArray, b: NDArray) -> NDArray:
    """``sum_j a[i, j] b[i, j]`` of two 2-D arrays of one shape (numpy's own loops: no BLAS
    threads to contend with)."""
    return np.einsum("ij,ij->i", a, b)


def _row_stats(rows: NDArray) -> tuple[NDArray, NDArray, NDArray]:
    """Per-row ``(data, mean, var)`` of ``rows`` (R, m).

    ``data`` is ``rows`` itself or, when some row's mean dominates its spread
    (``mean^2 > RECENTRE var``), ``rows`` re-centred on the row means (a new array); ``mean`` is
    the mean of ``data`` (so about 0 after a re-centring) and ``var`` the biased variance.
    """
    m = rows.shape[1]
    mean = _rowsum(rows) / m
    var = _rowdot(rows, rows) / m - mean * mean
    if (mean * mean > RECENTRE * var).any():
        rows = rows - mean[:, None]
        mean = _rowsum(rows) / m
        var = _rowdot(rows, rows) / m - mean * mean
    np.maximum(var, 0, out=var)
    return rows, mean, var


def _inv_std(var: NDArray, eps: float) -> NDArray:
    return 1 / np.sqrt(var + eps)


def _cast(a: NDArray, dtype: np.dtype) -> NDArray:
    return a.astype(dtype, copy=False)


def _contiguous(a: ArrayLike, dtype: np.dtype) -> NDArray:
    return np.ascontiguousarray(as_float_array(a, dtype))


# ---------------------------------------------------------------------------------------------
# batch norm
# ---------------------------------------------------------------------------------------------


def _bn_check(x: NDArray, gamma: NDArray, beta: NDArray, what: str) -> None:
    if x.ndim < 2:
        raise ValueError(f"{what}: x must be (N, F) or (N, C, *spatial), got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{what}: x must not be empty, got shape {x.shape}")
    c = x.shape[1]
    if gamma.shape != (c,) or beta.shape != (c,):
        raise ValueError(
            f"{what}: gamma and beta must be ({c},) for x of shape {x.shape}, "
            f"got {gamma.shape} and {beta.shape}"
        )


def _bn_layout(x: NDArray) -> tuple[int, int, int]:
    """``(N, C, L)``: batch, channels, spatial positions per channel and sample."""
    n, c = x.shape[:2]
    return n, c, x.size // (n * c)


def _bn_view(a: NDArray, lo: int, hi: int, c: int, l: int) -> NDArray:
    """Samples ``lo:hi`` of a contiguous (N, C, *spatial) array as (k, C) or (k, C, L)."""
    return a[lo:hi].reshape((hi - lo, c) if l == 1 else (hi - lo, c, l))


def _bn_sums(arrays: Sequence[NDArray], pairs: Sequence[tuple[int, int]]) -> list[NDArray]:
    """Per-channel sums over the batch and spatial axes of contiguous (N, C, *spatial) arrays:
    ``sum a`` for every array, then ``sum a_i a_j`` for every index pair ``(i, j)``.
    """
    n, c, l = _bn_layout(arrays[0])

    def part(lo: int, hi: int) -> list[NDArray]:
        views = [_bn_view(a, lo, hi, c, l) for a in arrays]
        if l == 1:  # (k, C): sums down the columns
            sums = [np.add.reduce(v, axis=0) for v in views]
            sums += [np.einsum("ij,ij->j", views[i], views[j]) for i, j in pairs]
        else:  # (k, C, L): per (sample, channel) row, then over the samples
            rows = [v.reshape(-1, l) for v in views]
            sums = [_rowsum(r).reshape(-1, c).sum(axis=0) for r in rows]
            sums += [_rowdot(rows[i], rows[j]).reshape(-1, c).sum(axis=0) for i, j in pairs]
        return sums

    parts = _run(part, n, c * l)
    if len(parts) == 1:
        return parts[0]
    return [_total(parts, i) for i in range(len(arrays) + len(pairs))]


def _bn_stats(x: NDArray) -> tuple[NDArray, NDArray, NDArray, NDArray]:
    """Per-channel ``(data, mean, var, mu)`` of ``x`` (contiguous, (N, C, *spatial)).

    ``data`` is ``x`` or ``x`` re-centred on its channel means (see :func:`_row_stats`),
    ``mean`` the mean of ``data``, ``var`` the biased variance, ``mu`` the mean of ``x``.
    """
    n, c, l = _bn_layout(x)
    m = n * l
    s, q = _bn_sums([x], [(0, 0)])
    mean = s / m
    var = q / m - mean * mean
    mu = mean
    if (mean * mean > RECENTRE * var).any():
        x = x - mean.reshape((1, c) + (1,) * (x.ndim - 2))
        s, q = _bn_sums([x], [(0, 0)])
        mean = s / m
        var = q / m - mean * mean
        mu = mu + mean
    np.maximum(var, 0, out=var)
    return x, mean, var, mu


def _bn_affine(out: NDArray, terms: Sequence[tuple[NDArray, NDArray]], const: NDArray) -> None:
    """``out = sum_k coef_k[c] a_k + const[c]`` per channel, over contiguous (N, C, *spatial)
    arrays ``out`` and ``a_k`` (at least one term).

    The per-channel coefficients are expanded along the spatial axes once, so every operation
    runs over whole samples (long contiguous inner loops).
    """
    n, c, l = _bn_layout(out)
    if l > 1:
        coefs = [np.repeat(coef, l) for _, coef in terms]
        const = np.repeat(const, l)
    else:
        coefs = [coef for _, coef in terms]

    def part(lo: int, hi: int) -> None:
        o = out[lo:hi].reshape(hi - lo, c * l)
        np.multiply(terms[0][0][lo:hi].reshape(o.shape), coefs[0], out=o)
        tmp = None
        for (arr, _), coef in zip(terms[1:], coefs[1:]):
            tmp = np.multiply(arr[lo:hi].reshape(o.shape), coef, out=tmp)
            o += tmp
        o += const

    _run(part, n, c * l, rows=c * l)


def batch_norm_forward(x: ArrayLike, gamma: ArrayLike, beta: ArrayLike, *, eps: float = 1e-5) -> NDArray:
    """Batch norm, training mode: ``o = gamma (x - mu) / sqrt(var + eps) + beta`` per channel.

    ``mu`` and the biased ``var`` are taken over the batch for ``x`` (N, F), over the batch and
    every spatial axis for ``x`` (N, C, *spatial) (spatial batch norm), as
    ``F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)``. A channel of variance
    0 (constant, or a single value: ``N = 1`` with no spatial axes, which torch's functional
    wrapper refuses but its kernel computes) gives ``o = beta``.

    Parameters
    ----------
    x : array (N, F) or (N, C, *spatial)
    gamma : array (F,) or (C,)
    beta : array (F,) or (C,)
    eps : float > 0

    Returns
    -------
    o : array, same shape as ``x``
    """
    dtype = result_dtype(np.asarray(x), np.asarray(gamma), np.asarray(beta))
    work = _work_dtype(dtype)
    x, gamma, beta = (_contiguous(a, work) for a in (x, gamma, beta))
    _bn_check(x, gamma, beta, "batch_norm_forward")
    eps = _check_eps(eps, "batch_norm_forward")
    data, mean, var, _ = _bn_stats(x)
    a = gamma * _inv_std(var, eps)
    o = np.empty_like(x)
    _bn_affine(o, [(data, a)], beta - mean * a)
    return _cast(o, dtype)


def batch_norm_backward(
    delta: ArrayLike, x: ArrayLike, gamma: ArrayLike, beta: ArrayLike, *, eps: float = 1e-5
) -> tuple[NDArray, NDArray, NDArray]:
    """Batch norm backward (training mode): ``(dx, dgamma, dbeta)``.

    Per channel, over its ``M = N * prod(spatial)`` elements, with ``x^ = (x - mu) / s`` and
    ``s = sqrt(var + eps)``: ``o = gamma x^ + beta`` gives ``dE/dx^ = gamma delta``, and with
    ``gamma`` constant over the set the module's general result becomes

        dx = (gamma / s) (delta - mean(delta) - x^ mean(delta x^)),
        dgamma = sum delta x^,   dbeta = sum delta,

    sums and means over the batch and spatial axes. ``dx`` is a difference of nearly
    cancelling terms: the two means remove from ``delta`` its (near) least-squares fit on
    ``1`` and ``x^``, so a ``delta`` close to affine in ``x^`` leaves a residual far smaller than
    the terms it came from, and ``gamma / s`` magnifies its rounding when ``var`` is small.
    Variance-0 channels: ``x^ = 0``, ``dgamma = 0``, ``dbeta = sum delta``,
    ``dx = (gamma / sqrt(eps)) (delta - mean(delta))``, zero for a single-value channel; finite,
    as torch. Computed as ``dx = A delta + B x + C`` with per-channel ``A = gamma / s``,
    ``B = -(gamma / s^3) mean(delta (x - mu))``, ``C = -(gamma / s) mean(delta) - B mu``.

    Parameters
    ----------
    delta : array, same shape as ``x``
        ``dE/do``.
    x : array (N, F) or (N, C, *spatial)
    gamma : array (F,) or (C,)
    beta : array (F,) or (C,)
    eps : float > 0

    Returns
    -------
    dx : array, same shape as ``x``
    dgamma : array (F,) or (C,)
    dbeta : array (F,) or (C,)
    """
    dtype = result_dtype(np.asarray(delta), np.asarray(x), np.asarray(gamma), np.asarray(beta))
    work = _work_dtype(dtype)
    delta, x, gamma, beta = (_contiguous(a, work) for a in (delta, x, gamma, beta))
    _bn_check(x, gamma, beta, "batch_norm_backward")
    check_delta(delta, x.shape, "batch_norm_backward")
    eps = _check_eps(eps, "batch_norm_backward")
    n, c, l = _bn_layout(x)
    m = n * l
    s_x, s_d, q_xx, q_dx = _bn_sums([x, delta], [(0, 0), (1, 0)])
    mean = s_x / m
    var = q_xx / m - mean * mean
    data = x
    if (mean * mean > RECENTRE * var).any():
        data, mean, var, _ = _bn_stats(x)
        q_dx = _bn_sums([data, delta], [(1, 0)])[2]
    np.maximum(var, 0, out=var)
    inv = _inv_std(var, eps)
    sdxc = q_dx - mean * s_d  # sum delta (x - mu)
    dbeta = s_d
    dgamma = sdxc * inv
    a = gamma * inv
    b = -a * inv * inv * (sdxc / m)
    const = -a * (s_d / m) - b * mean
    dx = np.empty_like(x)
    _bn_affine(dx, [(delta, a), (data, b)], const)
    return _cast(dx, dtype), _cast(dgamma, dtype), _cast(dbeta, dtype)


def batch_norm_eval_forward(
    x: ArrayLike,
    gamma: ArrayLike,
    beta: ArrayLike,
    running_mean: ArrayLike,
    running_var: ArrayLike,
    *,
    eps: float = 1e-5,
) -> NDArray:
    """Batch norm, eval mode: ``o = gamma (x - running_mean) / sqrt(running_var + eps) + beta``.

    The stored statistics replace the batch's, so every element is an independent affine map
    (``F.batch_norm(x, running_mean, running_var, gamma, beta, training=False, eps=eps)``).

    Parameters
    ----------
    x : array (N, F) or (N, C, *spatial)
    gamma, beta : arrays (F,) or (C,)
    running_mean : array (F,) or (C,)
    running_var : array (F,) or (C,), non-negative
    eps : float > 0

    Returns
    -------
    o : array, same shape as ``x``
    """
    arrays = [np.asarray(a) for a in (x, gamma, beta, running_mean, running_var)]
    dtype = result_dtype(*arrays)
    work = _work_dtype(dtype)
    x, gamma, beta, rm, rv = (as_float_array(a, work) for a in arrays)
    _bn_check(x, gamma, beta, "batch_norm_eval_forward")
    _check_running(x, rm, rv, "batch_norm_eval_forward")
    eps = _check_eps(eps, "batch_norm_eval_forward")
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    a = (gamma / np.sqrt(rv + eps)).reshape(shape)
    o = x - rm.reshape(shape)
    o *= a
    o += beta.reshape(shape)
    return _cast(o, dtype)


def _check_running(x: NDArray, rm: NDArray, rv: NDArray, what: str) -> None:
    c = x.shape[1]
    if rm.shape != (c,) or rv.shape != (c,):
        raise ValueError(
            f"{what}: running_mean and running_var must be ({c},) for x of shape {x.shape}, "
            f"got {rm.shape} and {rv.shape}"
        )
    if np.any(rv < 0):
        raise ValueError(f"{what}: running_var must be non-negative")


def batch_norm_running_stats(
    x: ArrayLike, running_mean: ArrayLike, running_var: ArrayLike, *, momentum: float = 0.1
) -> tuple[NDArray, NDArray]:
    """The running statistics after one training-mode batch, as torch updates them.

    ``new_mean = (1 - momentum) running_mean + momentum mu`` and
    ``new_var = (1 - momentum) running_var + momentum var_u`` with ``mu`` the batch mean and
    ``var_u = M / (M - 1) var`` the *unbiased* batch variance (the normalisation itself uses the
    biased one), over the ``M = N * prod(spatial)`` elements of each channel. State, not
    differentiated. With ``M = 1`` the unbiased variance is undefined (torch stores NaN): a
    ``ValueError`` here.

    Parameters
    ----------
    x : array (N, F) or (N, C, *spatial)
    running_mean, running_var : arrays (F,) or (C,)
    momentum : float in [0, 1]

    Returns
    -------
    new_mean, new_var : arrays (F,) or (C,)
    """
    arrays = [np.asarray(a) for a in (x, running_mean, running_var)]
    dtype = result_dtype(*arrays)
    work = _work_dtype(dtype)
    x = _contiguous(arrays[0], work)
    rm, rv = (as_float_array(a, work) for a in arrays[1:])
    if x.ndim < 2 or x.size == 0:
        raise ValueError(
            f"batch_norm_running_stats: x must be a non-empty (N, F) or (N, C, *spatial) array, "
            f"got shape {x.shape}"
        )
    _check_running(x, rm, rv, "batch_norm_running_stats")
    momentum = float(momentum)
    if not 0 <= momentum <= 1:
        raise ValueError(f"batch_norm_running_stats: momentum must be in [0, 1], got {momentum!r}")
    n, c, l = _bn_layout(x)
    m = n * l
    if m < 2:
        raise ValueError(
            "batch_norm_running_stats: the unbiased variance needs at least 2 values per channel, "
            f"got x of shape {x.shape}"
        )
    _, _, var, mu = _bn_stats(x)
    new_mean = (1 - momentum) * rm + momentum * mu
    new_var = (1 - momentum) * rv + momentum * (var * (m / (m - 1)))
    return _cast(new_mean, dtype), _cast(new_var, dtype)


# ---------------------------------------------------------------------------------------------
# layer norm
# ---------------------------------------------------------------------------------------------


def _ln_check(x: NDArray, gamma: NDArray, beta: NDArray, what: str) -> None:
    k = gamma.ndim
    if k == 0 or x.ndim < k or x.shape[x.ndim - k :] != gamma.shape or beta.shape != gamma.shape:
        raise ValueError(
            f"{what}: gamma and beta must have the trailing shape of x (at least one axis), "
            f"got x {x.shape}, gamma {gamma.shape}, beta {beta.shape}"
        )
    if x.size == 0:
        raise ValueError(f"{what}: x must not be empty, got shape {x.shape}")


def layer_norm_forward(x: ArrayLike, gamma: ArrayLike, beta: ArrayLike, *, eps: float = 1e-5) -> NDArray:
    """Layer norm: each sample normalised over its trailing ``gamma.ndim`` axes, then
    ``o = gamma x^ + beta`` element-wise (``F.layer_norm(x, gamma.shape, gamma, beta, eps)``).

    Every leading index of ``x`` (``R = x.size / gamma.size`` of them) is one set of
    ``D = gamma.size`` elements; ``x^ = (x - mu) / sqrt(var + eps)`` with the set's mean and
    biased variance. A constant set gives ``o = beta``.

    Parameters
    ----------
    x : array (*lead, *norm)
    gamma : array (*norm), ``gamma.shape == x.shape[-gamma.ndim:]``, ``gamma.ndim >= 1``
    beta : array (*norm)
    eps : float > 0

    Returns
    -------
    o : array, same shape as ``x``
    """
    dtype = result_dtype(np.asarray(x), np.asarray(gamma), np.asarray(beta))
    work = _work_dtype(dtype)
    x, gamma, beta = (_contiguous(a, work) for a in (x, gamma, beta))
    _ln_check(x, gamma, beta, "layer_norm_forward")
    eps = _check_eps(eps, "layer_norm_forward")
    d = gamma.size
    rows = x.reshape(-1, d)
    g, b = gamma.reshape(d), beta.reshape(d)
    o = np.empty_like(rows)

    def part(lo: int, hi: int) -> None:
        data, mean, var = _row_stats(rows[lo:hi])
        inv = _inv_std(var, eps)
        out = o[lo:hi]
        np.multiply(data, inv[:, None], out=out)
        out -= (mean * inv)[:, None]
        out *= g
        out += b

    _run(part, rows.shape[0], d, rows=d)
    return _cast(o.reshape(x.shape), dtype)


def layer_norm_backward(
    delta: ArrayLike, x: ArrayLike, gamma: ArrayLike, beta: ArrayLike, *, eps: float = 1e-5
) -> tuple[NDArray, NDArray, NDArray]:
    """Layer norm backward: ``(dx, dgamma, dbeta)``.

    Per set (one leading index, ``D`` elements), with ``g = gamma delta = dE/dx^`` (``gamma``
    varies over the set here):

        dx = (1/s) (g - mean(g) - x^ mean(g x^)),   means over the set's D elements,

    and, summed over the ``R`` sets (every use of a ``gamma``/``beta`` entry),
    ``dgamma = sum_R delta x^``, ``dbeta = sum_R delta``. As for batch norm, ``dx`` is the part of
    ``g`` left after removing its (near) least-squares fit on ``1`` and ``x^``: nearly cancelling
    terms whenever ``g`` is close to affine in ``x^``, magnified by ``1/s`` for small variance.
    Constant sets: ``x^ = 0``, ``dx = (g - mean(g)) / sqrt(eps)``, finite. Computed as
    ``dx = (gamma delta) / s + B x + C`` with per-set ``B = -mean(g x^) / s^2`` and
    ``C = -mean(g) / s - B mu``.

    Parameters
    ----------
    delta : array, same shape as ``x``
        ``dE/do``.
    x : array (*lead, *norm)
    gamma : array (*norm)
    beta : array (*norm)
    eps : float > 0

    Returns
    -------
    dx : array, same shape as ``x``
    dgamma : array (*norm)
    dbeta : array (*norm)
    """
    dtype = result_dtype(np.asarray(delta), np.asarray(x), np.asarray(gamma), np.asarray(beta))
    work = _work_dtype(dtype)
    delta, x, gamma, beta = (_contiguous(a, work) for a in (delta, x, gamma, beta))
    _ln_check(x, gamma, beta, "layer_norm_backward")
    check_delta(delta, x.shape, "layer_norm_backward")
    eps = _check_eps(eps, "layer_norm_backward")
    d = gamma.size
    rows, drows = x.reshape(-1, d), delta.reshape(-1, d)
    g = gamma.reshape(d)
    dx = np.empty_like(rows)

    def part(lo: int, hi: int) -> tuple[NDArray, NDArray]:
        data, mean, var = _row_stats(rows[lo:hi])
        inv = _inv_std(var, eps)
        dl = drows[lo:hi]
        out = dx[lo:hi]
        np.multiply(dl, g, out=out)  # gamma delta = dE/dx^
        sg = _rowsum(out)  # sum g
        sgx = _rowdot(out, data) - mean * sg  # sum g (x - mu)
        p = dl * data
        dgamma = np.einsum("i,ij->j", inv, p) - np.einsum("i,ij->j", inv * mean, dl)
        dbeta = np.add.reduce(dl, axis=0)
        b = -(inv * inv * inv) * (sgx / d)
        const = -inv * (sg / d) - b * mean
        out *= inv[:, None]
        np.multiply(data, b[:, None], out=p)
        out += p
        out += const[:, None]
        return dgamma, dbeta

    parts = _run(part, rows.shape[0], d, rows=d)
    dgamma, dbeta = _total(parts, 0), _total(parts, 1)
    return (
        _cast(dx.reshape(x.shape), dtype),
        _cast(dgamma.reshape(gamma.shape), dtype),
        _cast(dbeta.reshape(gamma.shape), dtype),
    )


# ---------------------------------------------------------------------------------------------
# group norm
# ---------------------------------------------------------------------------------------------


def _gn_check(x: NDArray, gamma: NDArray, beta: NDArray, groups: int, what: str) -> int:
    if x.ndim < 2:
        raise ValueError(f"{what}: x must be (N, C, *spatial), got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{what}: x must not be empty, got shape {x.shape}")
    c = x.shape[1]
    if gamma.shape != (c,) or beta.shape != (c,):
        raise ValueError(
            f"{what}: gamma and beta must be ({c},) for x of shape {x.shape}, "
            f"got {gamma.shape} and {beta.shape}"
        )
    if isinstance(groups, (bool, np.bool_)) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{what}: groups must be a positive int, got {groups!r}")
    if c % groups:
        raise ValueError(f"{what}: groups={groups} does not divide the {c} channels of x")
    return int(groups)


def group_norm_forward(
    x: ArrayLike, gamma: ArrayLike, beta: ArrayLike, *, groups: int, eps: float = 1e-5
) -> NDArray:
    """Group norm: each sample's channels split into ``groups`` groups of ``C / groups``
    consecutive channels, each group normalised over its channels and spatial positions, then
    ``o = gamma[c] x^ + beta[c]`` per channel (``F.group_norm(x, groups, gamma, beta, eps)``).

    A constant group gives ``o = beta``.

    Parameters
    ----------
    x : array (N, C, *spatial)
    gamma : array (C,)
    beta : array (C,)
    groups : int, divides C
    eps : float > 0

    Returns
    -------
    o : array, same shape as ``x``
    """
    dtype = result_dtype(np.asarray(x), np.asarray(gamma), np.asarray(beta))
    work = _work_dtype(dtype)
    x, gamma, beta = (_contiguous(a, work) for a in (x, gamma, beta))
    groups = _gn_check(x, gamma, beta, groups, "group_norm_forward")
    eps = _check_eps(eps, "group_norm_forward")
    n, c, l = _bn_layout(x)
    cg = c // groups
    xs = x.reshape(n, c * l)
    o = np.empty_like(xs)
    g_full, b_full = np.repeat(gamma, l), np.repeat(beta, l)  # per channel, along (C * L)

    def part(lo: int, hi: int) -> None:
        k = hi - lo
        data, mean, var = _row_stats(xs[lo:hi].reshape(k * groups, cg * l))
        inv = _inv_std(var, eps)
        out = o[lo:hi]
        og = out.reshape(k * groups, cg * l)
        np.subtract(data, mean[:, None], out=og)
        og *= inv[:, None]  # x^
        out *= g_full
        out += b_full

    _run(part, n, c * l, rows=cg * l)
    return _cast(o.reshape(x.shape), dtype)


def group_norm_backward(
    delta: ArrayLike, x: ArrayLike, gamma: ArrayLike, beta: ArrayLike, *, groups: int, eps: float = 1e-5
) -> tuple[NDArray, NDArray, NDArray]:
    """Group norm backward: ``(dx, dgamma, dbeta)``.

    Per set (one sample's group: ``D = (C / groups) * prod(spatial)`` elements), with
    ``g = gamma[c] delta = dE/dx^``:

        dx = (1/s) (g - mean(g) - x^ mean(g x^)),   means over the group's D elements,

    and ``dgamma[c] = sum delta x^``, ``dbeta[c] = sum delta`` over the batch and spatial axes of
    channel ``c``. The same near cancellation as batch norm's (``g`` minus its near
    least-squares fit on ``1`` and ``x^``), magnified by ``1/s`` when the group's variance is
    small. Constant groups: ``x^ = 0``, ``dx = (g - mean(g)) / sqrt(eps)``, finite. Computed as
    ``dx = A delta + B x + C`` with ``A = gamma[c] / s`` per channel and sample,
    ``B = -mean(g x^) / s^2`` and ``C = -mean(g) / s - B mu`` per group and sample; ``mean(g)``
    and ``mean(g x^)`` are ``gamma``-weighted sums of the per-channel sums of ``delta`` and
    ``delta (x - mu)``.

    Parameters
    ----------
    delta : array, same shape as ``x``
        ``dE/do``.
    x : array (N, C, *spatial)
    gamma : array (C,)
    beta : array (C,)
    groups : int, divides C
    eps : float > 0

    Returns
    -------
    dx : array, same shape as ``x``
    dgamma : array (C,)
    dbeta : array (C,)
    """
    dtype = result_dtype(np.asarray(delta), np.asarray(x), np.asarray(gamma), np.asarray(beta))
    work = _work_dtype(dtype)
    delta, x, gamma, beta = (_contiguous(a, work) for a in (delta, x, gamma, beta))
    groups = _gn_check(x, gamma, beta, groups, "group_norm_backward")
    check_delta(delta, x.shape, "group_norm_backward")
    eps = _check_eps(eps, "group_norm_backward")
    n, c, l = _bn_layout(x)
    cg = c // groups
    dsz = cg * l
    xs, ds = x.reshape(n, c * l), delta.reshape(n, c * l)
    dx = np.empty_like(xs)
    gg = gamma.reshape(groups, cg)
    g_full = np.repeat(gamma, l)  # per channel, along (C * L)

    def part(lo: int, hi: int) -> tuple[NDArray, NDArray]:
        # Long spatial rows: per-channel sums of delta and delta (x - mu) give dgamma, dbeta and
        # (weighted by gamma) the group means of g and g x^.
        k = hi - lo
        data, mean, var = _row_stats(xs[lo:hi].reshape(k * groups, dsz))
        inv = _inv_std(var, eps)
        drow = ds[lo:hi].reshape(k * c, l)
        s_d = _rowsum(drow).reshape(k, groups, cg)  # sum delta, per channel
        s_dx = _rowdot(drow, data.reshape(k * c, l)).reshape(k, groups, cg)
        s_dxc = s_dx - mean.reshape(k, groups, 1) * s_d  # sum delta (x - mu), per channel
        inv3 = inv.reshape(k, groups, 1)
        dgamma = (s_dxc * inv3).sum(axis=0).reshape(c)
        dbeta = s_d.sum(axis=0).reshape(c)
        m1 = (s_d * gg).sum(axis=2).reshape(k * groups) / dsz  # mean(g)
        m2 = inv * (s_dxc * gg).sum(axis=2).reshape(k * groups) / dsz  # mean(g x^)
        b = -inv * inv * m2
        const = -inv * m1 - b * mean
        out = dx[lo:hi]
        np.multiply(ds[lo:hi], g_full, out=out)  # g = gamma delta
        og = out.reshape(k * groups, dsz)
        og *= inv[:, None]
        tmp = np.multiply(data, b[:, None])
        tmp += const[:, None]
        og += tmp
        return dgamma, dbeta

    def part_short(lo: int, hi: int) -> tuple[NDArray, NDArray]:
        # Short (or no) spatial rows: work on whole group rows with x^ itself.
        k = hi - lo
        data, mean, var = _row_stats(xs[lo:hi].reshape(k * groups, dsz))
        inv = _inv_std(var, eps)
        xh = data - mean[:, None]
        xh *= inv[:, None]  # x^
        dl = ds[lo:hi]
        dgamma = np.einsum("ijk,ijk->j", dl.reshape(k, c, l), xh.reshape(k, c, l))
        dbeta = np.einsum("ijk->j", dl.reshape(k, c, l))
        out = dx[lo:hi]
        np.multiply(dl, g_full, out=out)  # g = gamma delta
        og = out.reshape(k * groups, dsz)
        m1 = _rowsum(og) / dsz  # mean(g)
        m2 = _rowdot(og, xh) / dsz  # mean(g x^)
        og -= m1[:, None]
        xh *= m2[:, None]
        og -= xh
        og *= inv[:, None]
        return dgamma, dbeta

    parts = _run(part if l >= 8 else part_short, n, c * l, rows=dsz)
    return _cast(dx.reshape(x.shape), dtype), _cast(_total(parts, 0), dtype), _cast(_total(parts, 1), dtype)
