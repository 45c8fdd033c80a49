"""Native multiclass hinge loss whose backward forgets the 1/N of the batch mean: the forward is
the right mean over the batch, but dx = delta a_ij (and -delta count_i at the label), N times
too large; correct only when N = 1."""
import numpy as np


def _margins(x, y):
    rows = np.arange(x.shape[0])
    m = x + (1 - x[rows, y])[:, None]
    m[rows, y] = 0
    return m, rows


def svm_loss_forward(x, y):
    m, _ = _margins(x, y)
    return np.asarray(np.maximum(m, 0).sum() / x.shape[0], dtype=x.dtype)


def svm_loss_backward(delta, x, y):
    m, rows = _margins(x, y)
    active = (m > 0).astype(x.dtype)
    active[rows, y] = -active.sum(axis=1)
    return delta * active
