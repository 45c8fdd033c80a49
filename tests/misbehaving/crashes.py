"""relu_backward ends its own process (one way per variant); tanh is correct.

- ``:exit3``: ``os._exit(3)``
- ``:segfault``: reads address 0 through ctypes (SIGSEGV)
- ``:sigkill``: ``os.kill(os.getpid(), SIGKILL)``
- ``:memory``: appends 32 MiB arrays to a list until the allocation fails
- ``:sysexit``: ``sys.exit(4)``
- ``:threads``: starts a non-daemon thread that never ends, then returns correctly
- ``:closes_pipe``: closes every inherited file descriptor above 2
"""
import ctypes
import os
import signal
import sys
import threading
import time
from types import SimpleNamespace

import numpy as np

from _correct import tanh_backward, tanh_forward


def relu_forward(x):
    return np.maximum(x, 0.0)


def _correct(delta, x):
    return delta * (x > 0)


def _exit3(delta, x):
    os._exit(3)


def _segfault(delta, x):
    ctypes.string_at(0)


def _sigkill(delta, x):
    os.kill(os.getpid(), signal.SIGKILL)


def _memory(delta, x):
    hoard = []
    while True:
        hoard.append(np.ones(4 << 20))  # 32 MiB, touched


def _sysexit(delta, x):
    sys.exit(4)


def _forever():
    while True:
        time.sleep(0.05)


def _threads(delta, x):
    threading.Thread(target=_forever, daemon=False).start()
    return _correct(delta, x)


def _closes_pipe(delta, x):
    os.closerange(3, 4096)
    return _correct(delta, x)


def _variant(backward):
    return SimpleNamespace(relu_forward=relu_forward, relu_backward=backward,
                           tanh_forward=tanh_forward, tanh_backward=tanh_backward)


exit3 = _variant(_exit3)
segfault = _variant(_segfault)
sigkill = _variant(_sigkill)
memory = _variant(_memory)
sysexit = _variant(_sysexit)
threads = _variant(_threads)
closes_pipe = _variant(_closes_pipe)
