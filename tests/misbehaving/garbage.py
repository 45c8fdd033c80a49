"""relu_backward returns something the protocol does not allow, one kind per variant.

``:none`` None; ``:list`` nested lists; ``:shape`` the right values flattened; ``:float32``
float32 for float64 inputs; ``:nan`` / ``:inf`` one non-finite element (the same on every
call); ``:tuple2`` a tuple of two arrays for relu's one gradient; ``:torch`` a torch tensor;
``:repr_raises`` / ``:repr_hangs`` an object whose ``repr`` raises / never returns (code of the
candidate's that runs outside its calls). relu_forward is correct.
"""
from types import SimpleNamespace

import numpy as np


def relu_forward(x):
    return np.maximum(x, 0.0)


def _dx(delta, x):
    return delta * (x > 0)


def _nonfinite(value):
    def backward(delta, x):
        dx = _dx(delta, x)
        dx.flat[0] = value
        return dx

    return backward


def _torch(delta, x):
    import torch

    return torch.from_numpy(_dx(delta, x))


class _ReprRaises:
    def __repr__(self):
        raise RuntimeError("repr of the candidate's object")


class _ReprHangs:
    def __repr__(self):
        while True:
            pass


_BACKWARDS = {
    "none": lambda delta, x: None,
    "list": lambda delta, x: _dx(delta, x).tolist(),
    "shape": lambda delta, x: _dx(delta, x).reshape(-1),
    "float32": lambda delta, x: _dx(delta, x).astype(np.float32),
    "nan": _nonfinite(np.nan),
    "inf": _nonfinite(np.inf),
    "tuple2": lambda delta, x: (_dx(delta, x), _dx(delta, x)),
    "torch": _torch,
    "repr_raises": lambda delta, x: _ReprRaises(),
    "repr_hangs": lambda delta, x: _ReprHangs(),
}

for _name, _backward in _BACKWARDS.items():
    globals()[_name] = SimpleNamespace(relu_forward=relu_forward, relu_backward=_backward)
