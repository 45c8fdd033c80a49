"""CS231n-style dropout whose backward ignores the cached mask and draws a new one with
``np.random.rand(*dout.shape) < p`` from numpy's global generator (no reseeding, so its state
has moved on since the forward): dx is masked where the forward's output was not. The forward
(seeded, keep probability p, scaled by 1/p) is right; dx is wrong."""
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
    return out.astype(x.dtype, copy=False), cache


def dropout_backward(dout, cache):
    dropout_param, _ = cache
    if dropout_param["mode"] == "train":
        p = dropout_param["p"]
        mask = (np.random.rand(*dout.shape) < p) / p  # a fresh mask, not the forward's
        return (dout * mask).astype(dout.dtype, copy=False)
    return dout
