"""relu raises from a helper function; tanh is correct.

Default: ``relu_backward`` raises. ``:forward``: ``relu_forward`` raises instead.
"""
from types import SimpleNamespace

import numpy as np

from _correct import tanh_backward, tanh_forward


def _check_positive(a):
    raise ValueError("boom: the candidate's own error")


def relu_forward(x):
    return np.maximum(x, 0.0)


def relu_backward(delta, x):
    return _check_positive(delta) * (x > 0)


def _bad_forward(x):
    return _check_positive(x)


forward = SimpleNamespace(relu_forward=_bad_forward, relu_backward=relu_backward,
                          tanh_forward=tanh_forward, tanh_backward=tanh_backward)
