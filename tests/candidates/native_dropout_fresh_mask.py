"""Native inverted dropout whose backward draws a fresh mask: the forward keeps
``default_rng(seed).random(shape) >= p`` and scales by 1/(1 - p), but the backward draws its
mask from ``default_rng(seed + 1)``, a different generator state, so dx is masked where the
forward was not (the classic "fresh mask in backward"). The forward is right; dx is wrong."""
import numpy as np


def _keep(shape, p, seed):
    return np.random.default_rng(seed).random(shape) >= p


def dropout_forward(x, *, p, seed):
    return x * _keep(x.shape, p, seed) / (1 - p)


def dropout_backward(delta, x, *, p, seed):
    return delta * _keep(x.shape, p, seed + 1) / (1 - p)
