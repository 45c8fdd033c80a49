"""Dense layer with three bugs: dx uses twice the weights, dw keeps only the first sample,
db is the mean over the batch."""
import numpy as np


def dense_forward(x, w, b):
    """x (N, F), w (K, F), b (K,) -> (N, K)."""
    return x @ w.T + b


def dense_backward(delta, x, w, b):
    """delta (N, K) -> dx (N, F), dw (K, F), db (K,)."""
    dx = delta @ (2.0 * w)
    dw = np.outer(delta[0], x[0])
    db = delta.mean(axis=0)
    return dx, dw, db
