"""Native dropout that forgets the inverted-dropout scaling: o = x * keep and dx = delta * keep,
without the 1/(1 - p) factor, so E[o] = (1 - p) x rather than x. Forward and backward are
consistent (same mask, same missing factor), so dx is the exact gradient of this forward; the
bug is the forward's scale."""
import numpy as np


def _keep(shape, p, seed):
    return np.random.default_rng(seed).random(shape) >= p


def dropout_forward(x, *, p, seed):
    return x * _keep(x.shape, p, seed)


def dropout_backward(delta, x, *, p, seed):
    return delta * _keep(x.shape, p, seed)
