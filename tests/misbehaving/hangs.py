"""relu_backward never returns: a Python loop (``python``) or a native wait SIGALRM cannot
interrupt (``native``: SIGALRM blocked, then libc ``pause()``). tanh is correct."""
import ctypes
import signal
from types import SimpleNamespace

import numpy as np

from _correct import tanh_backward, tanh_forward


def relu_forward(x):
    return np.maximum(x, 0.0)


def _loop(delta, x):
    n = 0
    while True:
        n += 1


def _native(delta, x):
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    ctypes.CDLL(None).pause()


python = SimpleNamespace(relu_forward=relu_forward, relu_backward=_loop, tanh_forward=tanh_forward, tanh_backward=tanh_backward)
native = SimpleNamespace(relu_forward=relu_forward, relu_backward=_native, tanh_forward=tanh_forward, tanh_backward=tanh_backward)
