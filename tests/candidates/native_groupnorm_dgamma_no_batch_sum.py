"""Native group norm whose dgamma and dbeta are summed over the spatial positions but taken
from sample 0 only, instead of summed over the whole batch as well. Forward and dx are right;
dgamma and dbeta are wrong whenever N > 1."""
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
    return (r - mu) * inv, inv


def group_norm_forward(x, gamma, beta, *, groups):
    xh, _ = _stats(x, groups)
    return _c(gamma, x) * xh.reshape(x.shape) + _c(beta, x)


def group_norm_backward(delta, x, gamma, beta, *, groups):
    xh, inv = _stats(x, groups)
    g = (_c(gamma, x) * delta).reshape(xh.shape)
    dx = inv * (g - g.mean(axis=2, keepdims=True) - xh * (g * xh).mean(axis=2, keepdims=True))
    ax = _axes(x)
    xh = xh.reshape(x.shape)
    return dx.reshape(x.shape), (delta * xh)[:1].sum(axis=ax), delta[:1].sum(axis=ax)
