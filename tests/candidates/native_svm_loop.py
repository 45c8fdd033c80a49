"""A correct native multiclass hinge loss written with explicit loops over samples and classes,
as the CS231n naive version: for j != y_i, margin = x_ij - x_{i,y_i} + 1 adds to the loss and,
when > 0 (strictly: a margin of exactly 0 is inactive), +1/N to dx_ij and -1/N to dx_{i,y_i}."""
import numpy as np


def svm_loss_forward(x, y):
    n, k = x.shape
    loss = 0.0
    for i in range(n):
        for j in range(k):
            if j == y[i]:
                continue
            margin = x[i, j] - x[i, y[i]] + 1
            if margin > 0:
                loss += margin
    return np.asarray(loss / n, dtype=x.dtype)


def svm_loss_backward(delta, x, y):
    n, k = x.shape
    dx = np.zeros_like(x)
    for i in range(n):
        for j in range(k):
            if j == y[i]:
                continue
            if x[i, j] - x[i, y[i]] + 1 > 0:
                dx[i, j] += 1
                dx[i, y[i]] -= 1
    return (dx * (delta / n)).astype(x.dtype)
