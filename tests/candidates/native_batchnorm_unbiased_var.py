"""Native batch norm that normalises with the unbiased variance (ddof = 1) where training-mode
batch norm uses the biased one; its backward is consistent with that forward."""
import numpy as np

EPS = 1e-5


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _c(v, x):
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def _m(x):
    return int(np.prod([x.shape[a] for a in _axes(x)]))


def _stats(x):
    ax, m = _axes(x), _m(x)
    mu = x.mean(axis=ax, keepdims=True)
    var = ((x - mu) ** 2).sum(axis=ax, keepdims=True) / max(m - 1, 1)
    return mu, np.sqrt(var + EPS), m


def batch_norm_forward(x, gamma, beta):
    mu, s, _ = _stats(x)
    return _c(gamma, x) * (x - mu) / s + _c(beta, x)


def batch_norm_backward(delta, x, gamma, beta):
    ax = _axes(x)
    mu, s, m = _stats(x)
    xc = x - mu
    g = _c(gamma, x) * delta
    # d s / d x_j = (x_j - mu) / ((m - 1) s)
    dx = g / s - (g / s).mean(axis=ax, keepdims=True) - xc * (g * xc).sum(axis=ax, keepdims=True) / (
        max(m - 1, 1) * s ** 3)
    return dx, (delta * xc / s).sum(axis=ax), delta.sum(axis=ax)
