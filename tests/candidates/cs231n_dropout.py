"""A correct CS231n-style inverted dropout: ``dropout_forward(x, dropout_param)`` seeds numpy's
global generator with ``dropout_param["seed"]``, keeps a unit where ``np.random.rand(*x.shape) <
p`` (CS231n's p is the KEEP probability) and divides by p, returning ``(out, cache)`` with the
scaled mask in the cache; ``dropout_backward(dout, cache)`` multiplies by the cached mask."""
import numpy as np


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
    else:
        out = x
    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)
    return out, cache


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    if dropout_param["mode"] == "train":
        return (dout * mask).astype(dout.dtype, copy=False)
    return dout
