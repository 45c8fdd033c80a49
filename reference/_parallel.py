"""Split a large batch across threads: samples are independent and numpy releases the GIL.

torch's CPU kernels use every core; this lets the pooling ops do the same without changing
what they compute (each sample's result is the same whichever chunk it lands in).
"""
from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

__all__ = ["over_batch", "MIN_ELEMENTS"]

#: Below this many input elements a single thread is faster than splitting.
MIN_ELEMENTS = 1 << 19

_pool: ThreadPoolExecutor | None = None


def _threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="reference")
    return _pool


def over_batch(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``fn(*arrays, **params)`` on chunks of the leading (batch) axis of every positional
    array, in threads, and concatenate the results (arrays, or tuples of arrays) along it.

    Only for functions whose positional arguments all lead with the batch axis and whose
    samples do not interact (the pooling ops).
    """

    @functools.wraps(fn)
    def wrapper(*arrays: Any, **params: Any) -> Any:
        arrays = tuple(np.asarray(a) for a in arrays)
        n = arrays[-1].shape[0] if arrays[-1].ndim else 0
        workers = min(_threads(), n)
        if workers < 2 or arrays[-1].size < MIN_ELEMENTS or any(a.ndim == 0 or a.shape[0] != n for a in arrays):
            return fn(*arrays, **params)
        bounds = np.linspace(0, n, workers + 1).astype(int)
        parts = list(_executor().map(lambda i: fn(*(a[bounds[i]:bounds[i + 1]] for a in arrays), **params), range(workers)))
        if isinstance(parts[0], tuple):
            return tuple(np.concatenate(p, axis=0) for p in zip(*parts))
        return np.concatenate(parts, axis=0)

    return wrapper
