"""The floating-point types a candidate may be given, and how their values travel.

numpy has ``float16`` but no ``bfloat16``. Values of a bfloat16 case are therefore carried in
float32 arrays of the subclass :class:`Bfloat16Array` (every bfloat16 value is a float32 value,
exactly): the torch adapter turns them into ``torch.bfloat16`` tensors and its bfloat16 results
back into such arrays, so the shape-and-dtype check can tell a bfloat16 result from a float32
one. A numpy candidate cannot take bfloat16 (``--dtype bfloat16`` needs ``--api torch``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["DTYPES", "LOW_PRECISION", "Bfloat16Array", "round_to", "carry", "dtype_of", "unit_roundoff", "to_tensor", "to_array"]

#: Every dtype a run may give the candidate.
DTYPES = ("float64", "float32", "float16", "bfloat16")

#: Dtypes judged against the framework's own error in the same dtype (``gradcheck.judge.lowprec``).
LOW_PRECISION = ("float16", "bfloat16")

_U = {"float64": 2.0**-53, "float32": 2.0**-24, "float16": 2.0**-11, "bfloat16": 2.0**-8}


class Bfloat16Array(np.ndarray):
    """A float32 array whose values are bfloat16 values (see the module docstring)."""


def unit_roundoff(dtype: str) -> float:
    return _U[dtype]


def round_to(a: Any, dtype: str) -> np.ndarray:
    """``a`` rounded to ``dtype`` (to nearest, ties to even), as float64."""
    a = np.asarray(a, dtype=np.float64)
    if dtype != "bfloat16":
        with np.errstate(over="ignore"):  # beyond the dtype's range is inf, as the cast says
            return a.astype(dtype).astype(np.float64)
    import torch

    return torch.from_numpy(a.copy()).to(torch.bfloat16).to(torch.float64).numpy()


def carry(a: Any, dtype: str) -> np.ndarray:
    """A fresh array of ``a``'s values (already rounded to ``dtype``) as the candidate gets them."""
    if dtype == "bfloat16":
        return np.array(a, dtype=np.float32).view(Bfloat16Array)
    return np.array(a, dtype=dtype)


def dtype_of(value: np.ndarray) -> str:
    """The dtype name a result stands for (``bfloat16`` for a :class:`Bfloat16Array`)."""
    return "bfloat16" if isinstance(value, Bfloat16Array) else str(value.dtype)


def to_tensor(a: np.ndarray, device: str = "cpu", requires_grad: bool = False):
    """A fresh torch tensor of ``a`` on ``device``: bfloat16 for a :class:`Bfloat16Array`, else
    ``a``'s own dtype."""
    import torch

    if isinstance(a, Bfloat16Array):
        t = torch.from_numpy(np.array(a, dtype=np.float32)).to(device=device, dtype=torch.bfloat16)
    else:
        t = torch.tensor(np.asarray(a), device=device)
    return t.requires_grad_(requires_grad) if requires_grad else t


def to_array(t) -> np.ndarray:
    """A tensor's values as a numpy array (a :class:`Bfloat16Array` for a bfloat16 tensor)."""
    import torch

    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        return t.to(torch.float32).numpy().view(Bfloat16Array)
    return t.numpy()
