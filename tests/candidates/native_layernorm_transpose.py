"""A correct native layer norm written as CS231n suggests: transpose, reuse a batch norm over
the features, transpose back."""
import numpy as np

EPS = 1e-5


def _bn(xt):
    mu = xt.mean(axis=0)
    s = np.sqrt(((xt - mu) ** 2).mean(axis=0) + EPS)
    return (xt - mu) / s, s


def layer_norm_forward(x, gamma, beta):
    xh, _ = _bn(x.T)
    return xh.T * gamma + beta


def layer_norm_backward(delta, x, gamma, beta):
    xh_t, s = _bn(x.T)
    g_t = (delta * gamma).T
    m = x.shape[1]
    dx_t = (m * g_t - g_t.sum(axis=0) - xh_t * (g_t * xh_t).sum(axis=0)) / (m * s)
    return dx_t.T, (delta * xh_t.T).sum(axis=0), delta.sum(axis=0)
