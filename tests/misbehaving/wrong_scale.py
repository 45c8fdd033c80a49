"""A correct relu_forward and a relu_backward off by a factor of 2 everywhere."""
import numpy as np


def relu_forward(x):
    return np.maximum(x, 0.0)


def relu_backward(delta, x):
    return 2.0 * delta * (x > 0)


def tanh_forward(x):
    return np.tanh(x)


def tanh_backward(delta, x):
    return delta * (1.0 - np.tanh(x) ** 2)
