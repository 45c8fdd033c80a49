"""Native layer norm whose dx forgets that the sample's mean and variance depend on x."""
import numpy as np

EPS = 1e-5


def _xh(x):
    return (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + EPS)


def layer_norm_forward(x, gamma, beta):
    return gamma * _xh(x) + beta


def layer_norm_backward(delta, x, gamma, beta):
    s = np.sqrt(x.var(axis=1, keepdims=True) + EPS)
    return gamma * delta / s, (delta * _xh(x)).sum(axis=0), delta.sum(axis=0)
