"""Correct relu and tanh; the misbehaving candidates borrow the good op from here."""
import numpy as np


def relu_forward(x):
    return np.maximum(x, 0.0)


def relu_backward(delta, x):
    return delta * (x > 0)


def tanh_forward(x):
    return np.tanh(x)


def tanh_backward(delta, x):
    return delta * (1.0 - np.tanh(x) ** 2)
