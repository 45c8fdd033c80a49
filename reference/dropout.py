"""Inverted dropout with a reproducible mask.

Training mode: ``o = x * keep / (1 - p)`` where ``p`` is the probability of *dropping* a unit
(torch's convention) and ``keep`` a boolean mask, each entry True with probability ``1 - p``;
the ``1 / (1 - p)`` scaling keeps ``E[o] = x``, so eval mode is the identity. The mask is a pure
function of ``(seed, shape, p)``:

    keep = np.random.default_rng(seed).random(shape) >= p

so the backward regenerates exactly the mask the forward used and the functions stay pure (no
hidden state): ``dx = delta * keep / (1 - p)``, the chain rule for an element-wise map with
derivative ``keep / (1 - p)``. ``p = 0`` keeps everything (identity); ``p = 1`` drops everything
and returns zeros (no division by ``1 - p = 0``). As in torch, a dropped unit is the product
``x * 0`` (``-0.0`` for a negative ``x``, NaN for an infinite or NaN ``x``), not a selected
constant. The masks are not torch's (torch draws from its own generator); they follow the
same law.

Every function takes arrays of any shape; inputs are never modified and outputs are new arrays
in ``x``'s floating dtype.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from reference._windows import as_float_array, check_delta, result_dtype

__all__ = ["dropout_mask", "dropout_forward", "dropout_backward", "dropout_eval_forward"]


def _check_p(p: float, what: str) -> float:
    if isinstance(p, (bool, np.bool_)):
        raise ValueError(f"{what}: p must be a number in [0, 1], got {p!r}")
    try:
        q = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: p must be a number in [0, 1], got {p!r}") from None
    if not 0 <= q <= 1:  # also rejects NaN
        raise ValueError(f"{what}: p (the drop probability) must be in [0, 1], got {p!r}")
    return q


def _check_seed(seed: int, what: str) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{what}: seed must be a non-negative int, got {seed!r}")
    return int(seed)


def _shape(shape: int | Sequence[int], what: str) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    try:
        out = tuple(shape)
    except TypeError:
        raise ValueError(f"{what}: shape must be a tuple of non-negative ints, got {shape!r}") from None
    ints = (isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_)) for s in out)
    if not all(ints) or any(s < 0 for s in out):
        raise ValueError(f"{what}: shape must be a tuple of non-negative ints, got {shape!r}")
    return tuple(int(s) for s in out)


#: Random numbers are drawn this many at a time into a reused buffer (the stream, hence the
#: mask, is the same as one draw of the whole shape: each double takes one 64-bit output).
CHUNK = 1 << 16


def _chunks(size: int, p: float, seed: int) -> Iterator[tuple[int, int, NDArray]]:
    """Yield ``(lo, hi, keep)`` over ``range(size)``: ``keep`` (bool, ``hi - lo``) is the mask of
    flat positions ``lo:hi`` (a reused buffer: consume it before the next step)."""
    rng = np.random.default_rng(seed)
    buf = np.empty(min(size, CHUNK))
    keep = np.empty(buf.shape, dtype=bool)
    for lo in range(0, size, CHUNK):
        hi = min(size, lo + CHUNK)
        u = rng.random(out=buf[: hi - lo])
        yield lo, hi, np.greater_equal(u, p, out=keep[: hi - lo])


def _keep(shape: tuple[int, ...], p: float, seed: int) -> NDArray:
    if p == 0:  # random() >= 0 always
        return np.ones(shape, dtype=bool)
    if p == 1:  # random() < 1 always
        return np.zeros(shape, dtype=bool)
    keep = np.empty(shape, dtype=bool)
    flat = keep.reshape(-1)
    for lo, hi, k in _chunks(flat.size, p, seed):
        flat[lo:hi] = k
    return keep


def _apply(a: NDArray, p: float, seed: int) -> NDArray:
    """``a * keep * (1 / (1 - p))`` as a new array; ``a * 0`` for ``p = 1``."""
    if p == 1:
        return np.multiply(a, 0)
    if p == 0:
        return a.copy()
    src = np.ascontiguousarray(a).reshape(-1)
    out = np.empty(src.shape, dtype=a.dtype)
    scale = 1 / (1 - p)
    for lo, hi, k in _chunks(src.size, p, seed):
        o = out[lo:hi]
        np.multiply(src[lo:hi], k, out=o)
        o *= scale
    return out.reshape(a.shape)


def dropout_mask(shape: int | Sequence[int], *, p: float, seed: int) -> NDArray:
    """The keep mask: ``np.random.default_rng(seed).random(shape) >= p``.

    Parameters
    ----------
    shape : int or tuple of ints
    p : float in [0, 1]
        Drop probability.
    seed : int >= 0

    Returns
    -------
    keep : bool array of ``shape``; each entry True with probability ``1 - p``
    """
    what = "dropout_mask"
    return _keep(_shape(shape, what), _check_p(p, what), _check_seed(seed, what))


def dropout_forward(x: ArrayLike, *, p: float, seed: int) -> NDArray:
    """Training-mode dropout ``o = x * keep / (1 - p)`` with ``keep = dropout_mask(x.shape, p=p,
    seed=seed)`` (``F.dropout(x, p, training=True)`` up to the random draw).

    Parameters
    ----------
    x : array (any shape)
    p : float in [0, 1]
        Drop probability; ``p = 0`` is the identity, ``p = 1`` gives zeros.
    seed : int >= 0

    Returns
    -------
    o : array, same shape as ``x``
    """
    what = "dropout_forward"
    p, seed = _check_p(p, what), _check_seed(seed, what)
    x = as_float_array(x)
    return _apply(x, p, seed)


def dropout_backward(delta: ArrayLike, x: ArrayLike, *, p: float, seed: int) -> tuple[NDArray]:
    """Dropout backward: ``dx = delta * keep / (1 - p)`` with the forward's own mask.

    ``o_i = x_i keep_i / (1 - p)`` depends on ``x_i`` alone, so ``do_i/dx_i = keep_i / (1 - p)``
    and ``dx_i = delta_i keep_i / (1 - p)``; ``keep`` is regenerated from ``(seed, x.shape, p)``,
    the same mask the forward drew. Zeros for ``p = 1``.

    Parameters
    ----------
    delta : array, same shape as ``x``
        ``dE/do``.
    x : array (any shape)
    p : float in [0, 1]
    seed : int >= 0

    Returns
    -------
    dx : array, same shape as ``x``
    """
    what = "dropout_backward"
    p, seed = _check_p(p, what), _check_seed(seed, what)
    dtype = result_dtype(np.asarray(delta), np.asarray(x))
    delta, x = as_float_array(delta, dtype), np.asarray(x)
    check_delta(delta, x.shape, what)
    return (_apply(delta, p, seed),)


def dropout_eval_forward(x: ArrayLike) -> NDArray:
    """Eval-mode dropout: the identity (``F.dropout(x, p, training=False)``), as a new array.

    Parameters
    ----------
    x : array (any shape)

    Returns
    -------
    o : array, a copy of ``x`` in its floating dtype
    """
    a = np.asarray(x)
    return a.astype(result_dtype(a), copy=True)
