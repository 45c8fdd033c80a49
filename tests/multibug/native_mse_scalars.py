"""Eq. 9 written the most natural way: the forward returns a numpy scalar (mse) or a Python
float (mse via float()); both are valid 0-d results."""
import numpy as np


def mse_forward(y, t):
    """y, t (P, K) -> E = 1/2 sum (t - y)^2, a numpy scalar."""
    return 0.5 * np.sum((t - y) ** 2)


def mse_backward(delta, y, t):
    """delta () -> dy (P, K)."""
    return delta * (y - t)
