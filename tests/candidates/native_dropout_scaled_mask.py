"""A correct native inverted dropout with its mask drawn another way: ``default_rng(seed)
.binomial(1, 1 - p, shape)`` (a unit kept with probability 1 - p), stored already scaled by
1/(1 - p) in x's dtype; o = x * mask and dx = delta * mask, the backward regenerating the same
mask from (seed, shape, p)."""
import numpy as np


def _mask(shape, p, seed, dtype):
    keep = np.random.default_rng(seed).binomial(1, 1.0 - p, size=shape)
    scale = 0.0 if p >= 1 else 1.0 / (1.0 - p)
    return (keep * scale).astype(dtype)


def dropout_forward(x, *, p, seed):
    return x * _mask(x.shape, p, seed, x.dtype)


def dropout_backward(delta, x, *, p, seed):
    return delta * _mask(x.shape, p, seed, delta.dtype)
