"""gradcheck: is your convolution, activation or pooling layer's gradient right?

Checks an implementation three ways (finite differences of its own forward, PyTorch autograd,
``scipy.signal``) on cases hypothesis draws and shrinks, and says which element of which
gradient is wrong, on the smallest input found, with a reproduction.

Python API (``gradcheck.api``): :func:`check` returns the :class:`RunResult` of a target (a
string, a module, an object, an ``nn.Module``, a ``torch.autograd.Function`` or a mapping
``{op: (forward, backward)}``); :func:`assert_gradients` is the same for pytest, failing with
the terminal block of each failing check. A candidate declares what it supports with
:func:`supports` (or ``GRADCHECK_CONSTRAINTS``) and declines a case with :class:`Unsupported`.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "check", "assert_gradients", "supports", "RunConfig", "RunResult", "Record", "Unsupported",
           "LoadError"]

from gradcheck.adapters.base import LoadError, Unsupported
from gradcheck.adapters.constraints import supports
from gradcheck.api import assert_gradients, check
from gradcheck.config import RunConfig
from gradcheck.records import Record, RunResult
