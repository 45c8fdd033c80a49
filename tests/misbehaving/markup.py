"""Markup everywhere a candidate controls text.

relu_backward raises an error whose message is a script tag, from a function whose name is
an HTML tag; tanh_backward returns an object whose repr is an HTML tag with a handler.
"""
import numpy as np


def relu_forward(x):
    return np.maximum(x, 0.0)


def _raiser(delta, x):
    raise ValueError("<script>alert(1)</script>")


# A function whose name (as a traceback prints it) is markup.
_raiser.__code__ = _raiser.__code__.replace(co_name="<svg onload=alert(2)>")


def relu_backward(delta, x):
    return _raiser(delta, x)


class _Evil:
    def __repr__(self):
        return "<img src=x onerror=alert(3)>"


def tanh_forward(x):
    return np.tanh(x)


def tanh_backward(delta, x):
    return _Evil()
