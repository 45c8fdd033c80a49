"""Native group norm whose dx forgets that the group's mean and variance depend on x (the
classic bug, as in batch norm): dx = gamma * delta / s, with s the group's standard deviation.
The forward, dgamma and dbeta are right; dx lacks the two terms -mean(g) and -x^ mean(g x^)
that flow through mu and var."""
import numpy as np

EPS = 1e-5


def _c(v, x):
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _stats(x, groups):
    r = x.reshape(x.shape[0], groups, -1)
    mu = r.mean(axis=2, keepdims=True)
    inv = 1.0 / np.sqrt(r.var(axis=2, keepdims=True) + EPS)
    xh = ((r - mu) * inv).reshape(x.shape)
    return xh, np.broadcast_to(inv, r.shape).reshape(x.shape)


def group_norm_forward(x, gamma, beta, *, groups):
    xh, _ = _stats(x, groups)
    return _c(gamma, x) * xh + _c(beta, x)


def group_norm_backward(delta, x, gamma, beta, *, groups):
    xh, inv = _stats(x, groups)
    ax = _axes(x)
    return _c(gamma, x) * delta * inv, (delta * xh).sum(axis=ax), delta.sum(axis=ax)
