"""gradcheck: is your convolution, activation or pooling layer's gradient right?

Checks an implementation three ways (finite differences of its own forward, PyTorch autograd,
``scipy.signal``) on cases hypothesis draws and shrinks, and says which element of which
gradient is wrong, on the smallest input found, with a reproduction.
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "check", "RunConfig", "RunResult", "Record", "Unsupported"]

from .adapters.base import Unsupported
from .config import RunConfig
from .records import Record, RunResult


def check(target: str, api: str = "native", **config) -> RunResult:
    """Check ``target`` (see ``gradcheck check --help``) and return the :class:`RunResult`.

    ``config`` goes to :class:`RunConfig` (``ops``, ``max_examples``, ``seed``, ``dtype``, ...).
    """
    from .runner import run_check

    return run_check(target, api, RunConfig(**config))
