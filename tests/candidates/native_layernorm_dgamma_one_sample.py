"""Native layer norm whose dgamma keeps the last sample's term instead of the sum over the batch."""
import numpy as np

EPS = 1e-5


def _xh(x):
    return (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + EPS)


def layer_norm_forward(x, gamma, beta):
    return gamma * _xh(x) + beta


def layer_norm_backward(delta, x, gamma, beta):
    s = np.sqrt(x.var(axis=1, keepdims=True) + EPS)
    xh, g = _xh(x), gamma * delta
    dx = (g - g.mean(axis=1, keepdims=True) - xh * (g * xh).mean(axis=1, keepdims=True)) / s
    return dx, (delta * xh)[-1], delta.sum(axis=0)
