"""Fully connected layer ``o = x w^T + b`` (the MLP that follows the flattened feature maps)."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._windows import as_float_array, check_delta, result_dtype

__all__ = ["dense_forward", "dense_backward"]


def _check(x: NDArray, w: NDArray, b: NDArray) -> None:
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[1] or b.shape != (w.shape[0],):
        raise ValueError(
            f"expected x (N, F), w (K, F), b (K,); got {x.shape}, {w.shape}, {b.shape}"
        )


def dense_forward(x: ArrayLike, w: ArrayLike, b: ArrayLike) -> NDArray:
    """Dense forward ``o[N, k] = sum_f w[k, f] x[N, f] + b[k]``.

    Eq. 7 with a kernel as large as its input (every output sees every input: a 1x1 output
    map), which is how the seed's fully connected MLP layer fits its notation. Ledger: eq7.

    Parameters
    ----------
    x : array (N, F)
    w : array (K, F)
    b : array (K,)

    Returns
    -------
    o : array (N, K)
    """
    dtype = result_dtype(np.asarray(x), np.asarray(w), np.asarray(b))
    x, w, b = (as_float_array(a, dtype) for a in (x, w, b))
    _check(x, w, b)
    return x @ w.T + b


def dense_backward(
    delta: ArrayLike, x: ArrayLike, w: ArrayLike, b: ArrayLike
) -> tuple[NDArray, NDArray, NDArray]:
    """Dense backward: ``dx = delta w``, ``dw = delta^T x``, ``db = sum_N delta``.

    Eqs. 10-13 for a layer whose every weight touches one output (no weight sharing, so the
    sum over positions of eq. 13 becomes the sum over the batch), and eq. 17 for ``dx``.
    Ledger: eq13, eq17.

    Parameters
    ----------
    delta : array (N, K)
        ``dE/do``.
    x : array (N, F)
    w : array (K, F)
    b : array (K,)

    Returns
    -------
    dx : array (N, F)
    dw : array (K, F)
    db : array (K,)
    """
    dtype = result_dtype(np.asarray(delta), np.asarray(x), np.asarray(w), np.asarray(b))
    delta, x, w, b = (as_float_array(a, dtype) for a in (delta, x, w, b))
    _check(x, w, b)
    check_delta(delta, (x.shape[0], w.shape[0]), "dense_backward")
    return delta @ w, delta.T @ x, delta.sum(axis=0)
