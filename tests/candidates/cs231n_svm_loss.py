"""A correct CS231n-style vectorised ``svm_loss(x, y)``: the mean multiclass hinge loss with
margin 1 (the label's own term zeroed), returning ``(loss, dx)`` with dx = (a_ij - [j = y_i]
count_i) / N, a_ij = [margin_ij > 0], the gradient for an upstream 1."""
import numpy as np


def svm_loss(x, y):
    N = x.shape[0]
    correct_class_scores = x[np.arange(N), y]
    margins = np.maximum(0, x - correct_class_scores[:, np.newaxis] + 1.0)
    margins[np.arange(N), y] = 0
    loss = np.sum(margins) / N
    num_pos = np.sum(margins > 0, axis=1)
    dx = np.zeros_like(x)
    dx[margins > 0] = 1
    dx[np.arange(N), y] -= num_pos
    dx /= N
    return loss, dx
