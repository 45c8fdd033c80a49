"""Native tanh whose backward uses 1 - x**2 instead of 1 - tanh(x)**2."""
import numpy as np


def tanh_forward(x):
    return np.tanh(x)


def tanh_backward(delta, x):
    return delta * (1.0 - x ** 2)
