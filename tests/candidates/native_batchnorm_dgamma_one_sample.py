"""Native batch norm whose dgamma is not summed over the batch: it keeps the last sample's."""
import numpy as np

EPS = 1e-5


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _c(v, x):
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def batch_norm_forward(x, gamma, beta):
    ax = _axes(x)
    xh = (x - x.mean(axis=ax, keepdims=True)) / np.sqrt(x.var(axis=ax, keepdims=True) + EPS)
    return _c(gamma, x) * xh + _c(beta, x)


def batch_norm_backward(delta, x, gamma, beta):
    ax = _axes(x)
    s = np.sqrt(x.var(axis=ax, keepdims=True) + EPS)
    xh = (x - x.mean(axis=ax, keepdims=True)) / s
    g = _c(gamma, x) * delta
    dx = (g - g.mean(axis=ax, keepdims=True) - xh * (g * xh).mean(axis=ax, keepdims=True)) / s
    dgamma = (delta * xh)[-1].sum(axis=tuple(range(1, x.ndim - 1)))  # the bug: one sample, not the batch
    return dx, dgamma, delta.sum(axis=ax)
