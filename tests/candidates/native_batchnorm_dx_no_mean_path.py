"""Native batch norm whose dx forgets that the mean and variance depend on x (the classic bug):
dx = gamma * delta / s."""
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
    return _c(gamma, x) * delta / s, (delta * xh).sum(axis=ax), delta.sum(axis=ax)
