"""The loss layer: half the summed squared error of eq. 9."""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._windows import as_float_array, result_dtype

__all__ = ["mse_forward", "mse_backward"]


def _pair(y: ArrayLike, t: ArrayLike) -> tuple[NDArray, NDArray]:
    dtype = result_dtype(np.asarray(y), np.asarray(t))
    y, t = as_float_array(y, dtype), as_float_array(t, dtype)
    if y.shape != t.shape:
        raise ValueError(f"y and t must have the same shape, got {y.shape} and {t.shape}")
    return y, t


def mse_forward(y: ArrayLike, t: ArrayLike) -> NDArray:
    """Eq. 9: ``E = 1/2 sum_p (t_p - y_p)^2``, summed (not averaged) over every prediction.

    Ledger: eq9.

    Parameters
    ----------
    y : array (any shape, e.g. N, K)
        Predictions ``y_p``.
    t : array, same shape as ``y``
        Targets ``t_p``.

    Returns
    -------
    E : 0-d array, in the promoted floating dtype of ``y`` and ``t``
    """
    y, t = _pair(y, t)
    r = t - y
    return np.asarray(0.5 * np.vdot(r, r), dtype=r.dtype)


def mse_backward(delta: ArrayLike, y: ArrayLike, t: ArrayLike) -> NDArray:
    """Gradient of eq. 9 with respect to the predictions: ``dE/dy_p = -(t_p - y_p) = y_p - t_p``.

    Scaled by the upstream ``delta = dE_total/dE`` (1 when ``E`` is the final loss).
    Ledger: eq9.

    Parameters
    ----------
    delta : 0-d array or scalar
    y : array (any shape)
    t : array, same shape as ``y``

    Returns
    -------
    dy : array, same shape as ``y``
    """
    y, t = _pair(y, t)
    scalar = not isinstance(delta, (np.ndarray, np.generic))  # a Python number keeps y's dtype
    delta = np.asarray(delta)
    if delta.ndim != 0:
        raise ValueError(f"mse_backward: delta must be 0-d, got shape {delta.shape}")
    dtype = y.dtype if scalar else result_dtype(delta, y)
    return delta.astype(dtype) * (y - t).astype(dtype, copy=False)
