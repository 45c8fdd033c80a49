"""Native dropout that reads p as the KEEP probability (CS231n's convention) where the protocol
means the drop probability: it keeps a unit with probability p and scales by 1/p. Forward and
backward agree with each other; at p = 0.5 the result is indistinguishable from a correct
dropout, but at p = 0.2 or 0.8 the scale (1/p instead of 1/(1 - p)) and the drop rate are wrong."""
import numpy as np


def _keep(shape, p, seed):
    return np.random.default_rng(seed).random(shape) < p


def dropout_forward(x, *, p, seed):
    return x * _keep(x.shape, p, seed) / p


def dropout_backward(delta, x, *, p, seed):
    return delta * _keep(x.shape, p, seed) / p
