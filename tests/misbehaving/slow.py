"""Correct relu, sigmoid and tanh; sigmoid and tanh backward sleep 2 s per call."""
import time

import numpy as np


def relu_forward(x):
    return np.maximum(x, 0.0)


def relu_backward(delta, x):
    return delta * (x > 0)


def sigmoid_forward(x):
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_backward(delta, x):
    time.sleep(2.0)
    s = sigmoid_forward(x)
    return delta * s * (1.0 - s)


def tanh_forward(x):
    return np.tanh(x)


def tanh_backward(delta, x):
    time.sleep(2.0)
    return delta * (1.0 - np.tanh(x) ** 2)
