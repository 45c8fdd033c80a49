"""Element-wise activations ``o = f(x)`` (eq. 8) and their derivatives ``f'(x)`` (eqs. 18-22).

Every function takes and returns arrays of any shape (NCHW for a conv layer); the dtype of the
input is kept. ``<name>_backward(delta, x)`` returns ``dx = delta * f'(x)``, the chain rule for
an element-wise map (the ``f'(x^l_{i',j'})`` factor of eqs. 19-22).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._windows import as_float_array, check_delta, result_dtype

__all__ = [
    "ACTIVATIONS",
    "relu",
    "relu_prime",
    "relu_forward",
    "relu_backward",
    "LEAKY_SLOPE",
    "leaky_relu_forward",
    "leaky_relu_backward",
    "sigmoid",
    "sigmoid_prime",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh",
    "tanh_prime",
    "tanh_forward",
    "tanh_backward",
]


# ---------------------------------------------------------------------------------------------
# f and f'
# ---------------------------------------------------------------------------------------------


def relu(x: NDArray) -> NDArray:
    """``f(x) = max(0, x)`` (the seed's ReLU), element-wise on ``x`` of any shape. Ledger: eq8."""
    return np.maximum(x, 0)


def relu_prime(x: NDArray) -> NDArray:
    """``f'(x) = 1 if x > 0 else 0``, element-wise on ``x`` of any shape (same shape and dtype out).

    Subgradient choice: ``f'(0) := 0`` (any value in [0, 1] is a subgradient at the kink;
    0 is torch's choice too). Ledger: eq19.
    """
    return (x > 0).astype(x.dtype)


def sigmoid(x: NDArray) -> NDArray:
    """``f(x) = 1 / (1 + exp(-x))``, element-wise on ``x`` of any shape, without overflow.

    Ledger: eq8.
    """
    e = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_prime(x: NDArray) -> NDArray:
    """``f'(x) = f(x) (1 - f(x)) = e / (1 + e)^2`` with ``e = exp(-|x|)``, ``x`` of any shape.

    Written this way it is accurate in both tails.

    Ledger: eq19.
    """
    e = np.exp(-np.abs(x))
    return e / (1 + e) ** 2


def tanh(x: NDArray) -> NDArray:
    """``f(x) = tanh(x)``, element-wise on ``x`` of any shape. Ledger: eq8."""
    return np.tanh(x)


def tanh_prime(x: NDArray) -> NDArray:
    """``f'(x) = 1 - tanh(x)^2 = 4e / (1 + e)^2`` with ``e = exp(-2|x|)``, ``x`` of any shape.

    Written this way it is accurate in the tails.

    Ledger: eq19.
    """
    e = np.exp(-2 * np.abs(x))
    return 4 * e / (1 + e) ** 2


#: ``name -> (f, f')``, both functions of the pre-activation ``x`` (eq. 8 and its derivative).
ACTIVATIONS: dict[str, tuple[Callable[[NDArray], NDArray], Callable[[NDArray], NDArray]]] = {
    "relu": (relu, relu_prime),
    "sigmoid": (sigmoid, sigmoid_prime),
    "tanh": (tanh, tanh_prime),
}


# ---------------------------------------------------------------------------------------------
# native protocol
# ---------------------------------------------------------------------------------------------


def _forward(name: str, x: ArrayLike) -> NDArray:
    return ACTIVATIONS[name][0](as_float_array(x))


def _backward(name: str, delta: ArrayLike, x: ArrayLike) -> NDArray:
    dtype = result_dtype(np.asarray(delta), np.asarray(x))
    delta, x = as_float_array(delta, dtype), as_float_array(x, dtype)
    check_delta(delta, x.shape, f"{name}_backward")
    return delta * ACTIVATIONS[name][1](x)


def relu_forward(x: ArrayLike) -> NDArray:
    """ReLU forward, ``o = max(0, x)`` (eq. 8). Ledger: eq8.

    Parameters
    ----------
    x : array (any shape, e.g. N, C, H, W)
        Pre-activation ``x^l``.

    Returns
    -------
    o : array, same shape and dtype as ``x``
    """
    return _forward("relu", x)


def relu_backward(delta: ArrayLike, x: ArrayLike) -> NDArray:
    """ReLU backward, ``dx = delta * f'(x)`` with ``f'(x) = [x > 0]`` (eq. 19's ``f'`` factor).

    Subgradient choice at the kink: ``f'(0) := 0``. Ledger: eq19.

    Parameters
    ----------
    delta : array, same shape as ``x``
        ``dE/do``.
    x : array (any shape)
        Pre-activation passed to the forward.

    Returns
    -------
    dx : array, same shape as ``x``
    """
    return _backward("relu", delta, x)


#: The slope of the leaky ReLU for x < 0 (torch's default ``negative_slope``).
LEAKY_SLOPE = 0.01


def leaky_relu_forward(x: ArrayLike) -> NDArray:
    """Leaky ReLU forward, ``o = x if x > 0 else 0.01 x`` (eq. 8 with a leaky ``f``).

    Parameters
    ----------
    x : array (any shape)

    Returns
    -------
    o : array, same shape and dtype as ``x``
    """
    x = as_float_array(x)
    return np.where(x > 0, x, x * x.dtype.type(LEAKY_SLOPE))


def leaky_relu_backward(delta: ArrayLike, x: ArrayLike) -> NDArray:
    """Leaky ReLU backward, ``dx = delta * f'(x)`` with ``f'(x) = 1 if x > 0 else 0.01``.

    Subgradient choice at the kink: ``f'(0) := 0.01`` (any value in [0.01, 1] is valid; torch
    takes 0.01 too).

    Parameters
    ----------
    delta : array, same shape as ``x``
    x : array (any shape)

    Returns
    -------
    dx : array, same shape as ``x``
    """
    x = as_float_array(x)
    delta = np.asarray(delta, dtype=result_dtype(x))
    check_delta(delta, x.shape, "leaky_relu_backward")
    return np.where(x > 0, delta, delta * delta.dtype.type(LEAKY_SLOPE))


def sigmoid_forward(x: ArrayLike) -> NDArray:
    """Sigmoid forward, ``o = 1 / (1 + exp(-x))`` (eq. 8). Ledger: eq8.

    Parameters
    ----------
    x : array (any shape)

    Returns
    -------
    o : array, same shape and dtype as ``x``
    """
    return _forward("sigmoid", x)


def sigmoid_backward(delta: ArrayLike, x: ArrayLike) -> NDArray:
    """Sigmoid backward, ``dx = delta * f(x) (1 - f(x))`` (eq. 19's ``f'`` factor). Ledger: eq19.

    Parameters
    ----------
    delta : array, same shape as ``x``
    x : array (any shape)

    Returns
    -------
    dx : array, same shape as ``x``
    """
    return _backward("sigmoid", delta, x)


def tanh_forward(x: ArrayLike) -> NDArray:
    """Tanh forward, ``o = tanh(x)`` (eq. 8). Ledger: eq8.

    Parameters
    ----------
    x : array (any shape)

    Returns
    -------
    o : array, same shape and dtype as ``x``
    """
    return _forward("tanh", x)


def tanh_backward(delta: ArrayLike, x: ArrayLike) -> NDArray:
    """Tanh backward, ``dx = delta * (1 - tanh(x)^2)`` (eq. 19's ``f'`` factor). Ledger: eq19.

    Parameters
    ----------
    delta : array, same shape as ``x``
    x : array (any shape)

    Returns
    -------
    dx : array, same shape as ``x``
    """
    return _backward("tanh", delta, x)
