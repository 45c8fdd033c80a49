"""A correct CS231n-style ``softmax_loss(x, y)``: the mean softmax cross-entropy of logits x (N, C)
with integer labels y, computed with the max shift through log-probabilities, returning
``(loss, dx)`` with dx = (softmax(x) - onehot(y)) / N, the gradient for an upstream 1."""
import numpy as np


def softmax_loss(x, y):
    shifted = x - np.max(x, axis=1, keepdims=True)
    Z = np.sum(np.exp(shifted), axis=1, keepdims=True)
    log_probs = shifted - np.log(Z)
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx
