"""A correct native softmax cross-entropy written another way: the per-row log-sum-exp by
``np.logaddexp.reduce`` (stable without an explicit max shift, so logits of 1e3 are fine),
E = mean_i(lse_i - x_{i, y_i}), and dx = (delta / N) (exp(x - lse) - onehot(y))."""
import numpy as np


def softmax_cross_entropy_forward(x, y):
    lse = np.logaddexp.reduce(x, axis=1)
    return np.asarray((lse - x[np.arange(x.shape[0]), y]).mean(), dtype=x.dtype)


def softmax_cross_entropy_backward(delta, x, y):
    n = x.shape[0]
    lse = np.logaddexp.reduce(x, axis=1)
    dx = np.exp(x - lse[:, None])
    dx[np.arange(n), y] -= 1
    return dx * (delta / n)
