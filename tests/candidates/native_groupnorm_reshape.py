"""A correct native group norm written another way: x is reshaped to (N * groups, -1) rows, one
row per sample and group, each row normalised like one batch-norm feature, and dx is the
batch-norm style backward on those rows, dx = (1 / (M s)) (M g - sum g - x^ sum g x^) with
g = gamma * delta and M the row length; dgamma and dbeta are summed over batch and positions."""
import numpy as np

EPS = 1e-5


def _c(v, x):
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))


def group_norm_forward(x, gamma, beta, *, groups):
    rows = x.reshape(x.shape[0] * groups, -1)
    mu = rows.mean(axis=1, keepdims=True)
    var = rows.var(axis=1, keepdims=True)
    xh = ((rows - mu) / np.sqrt(var + EPS)).reshape(x.shape)
    return _c(gamma, x) * xh + _c(beta, x)


def group_norm_backward(delta, x, gamma, beta, *, groups):
    rows = x.reshape(x.shape[0] * groups, -1)
    m = rows.shape[1]
    mu = rows.mean(axis=1, keepdims=True)
    inv = 1.0 / np.sqrt(rows.var(axis=1, keepdims=True) + EPS)
    xh = (rows - mu) * inv
    g = (_c(gamma, x) * delta).reshape(rows.shape)
    dx = (inv / m) * (m * g - g.sum(axis=1, keepdims=True) - xh * (g * xh).sum(axis=1, keepdims=True))
    ax = _axes(x)
    return dx.reshape(x.shape), (delta * xh.reshape(x.shape)).sum(axis=ax), delta.sum(axis=ax)
