"""The CS231n ``layers.py`` convention: ``(out, cache)`` forwards, ``(dout, cache)`` backwards.

================  ===============================================================
op                functions (``_fast`` variants are checked too where present)
================  ===============================================================
conv2d            ``conv_forward_naive(x, w, b, conv_param)`` with
                  ``conv_param = {"stride": s, "pad": p}``; ``conv_backward_naive``
                  returns ``(dx, dw, db)``; also ``conv_forward_fast`` / ``_backward_fast``
max_pool2d        ``max_pool_forward_naive(x, pool_param)`` with ``pool_param =
                  {"pool_height", "pool_width", "stride"}``; backward returns ``dx``
relu              ``relu_forward(x)`` / ``relu_backward(dout, cache)``
dense             ``affine_forward(x, w, b)`` with w of shape (F, K) / ``affine_backward``
conv2d_relu       ``conv_relu_forward(x, w, b, conv_param)`` / ``conv_relu_backward``
================  ===============================================================

The convention has one stride and one padding for both axes, no dilation and no pooling
padding; cases are drawn within it, and within what the candidate declares on top
(``gradcheck.adapters.constraints``). The affine weight is handed over transposed, as a copy;
what the candidate writes into it in place is copied back, so the ``inputs-unmodified`` check
sees it as it sees writes into the other arrays.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck.adapters.base import BadReturn, FunctionTable, LoadError, call_candidate
from gradcheck.adapters.constraints import combine, limits_for

__all__ = ["CS231nAdapter", "OPS"]

# label -> (protocol op, forward name, backward name)
_OPS = {
    "conv2d": ("conv2d", "conv_forward_naive", "conv_backward_naive"),
    "conv2d:fast": ("conv2d", "conv_forward_fast", "conv_backward_fast"),
    "max_pool2d": ("max_pool2d", "max_pool_forward_naive", "max_pool_backward_naive"),
    "max_pool2d:fast": ("max_pool2d", "max_pool_forward_fast", "max_pool_backward_fast"),
    "relu": ("relu", "relu_forward", "relu_backward"),
    "dense": ("dense", "affine_forward", "affine_backward"),
    "conv2d_relu": ("conv2d_relu", "conv_relu_forward", "conv_relu_backward"),
}
_OPTIONAL = {"conv2d:fast", "max_pool2d:fast", "conv2d_relu"}
#: label -> (protocol op, forward name, backward name)
OPS = _OPS


def _args(op: str, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> tuple:
    if op.startswith("conv2d"):
        return inputs["x"], inputs["w"], inputs["b"], {"stride": params["stride"][0], "pad": params["padding"][0]}
    if op == "max_pool2d":
        (kh, kw), (s, _) = params["kernel_size"], params["stride"]
        return inputs["x"], {"pool_height": kh, "pool_width": kw, "stride": s}
    if op == "dense":
        return inputs["x"], np.ascontiguousarray(inputs["w"].T), inputs["b"]
    return (inputs["x"],)


def _unpack(name: str, value: Any, n: int) -> Any:
    if not isinstance(value, tuple) or len(value) != n:
        what = f"a tuple of length {len(value)}" if isinstance(value, tuple) else type(value).__name__
        raise BadReturn(f"{name} must return a tuple of {n}, returned {what}")
    return value


def _copy_back(inputs: dict[str, np.ndarray], w_t: np.ndarray | None) -> None:
    """Write the transposed affine weight back into ``inputs["w"]`` where the candidate changed it."""
    if w_t is not None and not np.array_equal(w_t.T, inputs["w"], equal_nan=True):
        np.copyto(inputs["w"], w_t.T)


class CS231nAdapter(FunctionTable):
    """Looks up the CS231n function names (see the module docstring) on the target object.

    Raises
    ------
    LoadError
        When the target holds none of the convention's pairs (the message lists them), or
        when its declared constraints are malformed.
    """

    api = "cs231n"

    def __init__(self, obj: Any, target: str):
        super().__init__(obj, target)
        provided = [label for label in self.ops() if self.missing(label) is None]
        if not provided:
            looked = ", ".join(f"{f}/{b}" for _, f, b in _OPS.values())
            raise LoadError(f"{target} provides no function of the cs231n convention; looked for the pairs {looked}")
        for label in provided:
            self.constraints(label)

    def ops(self) -> dict[str, str]:
        return {
            label: op
            for label, (op, f, b) in _OPS.items()
            if self._fn(f) or self._fn(b) or label not in _OPTIONAL
        }

    def missing(self, label: str) -> str | None:
        return self._missing(*_OPS[label][1:])

    def constraints(self, label: str) -> dict[str, Any]:
        """The convention's limits, combined with what the candidate declares for the op."""
        op, f, b = _OPS[label]
        if op.startswith("conv2d"):
            own: dict[str, Any] = {"square": True, "max_dilation": 1}
        elif op == "max_pool2d":
            own = {"square": True, "padding": False}
        else:
            own = {}
        return combine(own, limits_for(self.obj, self.target, label, op, self._fn(f), self._fn(b)))

    def _forward(self, label: str, inputs, params) -> tuple[Any, Any, np.ndarray | None]:
        op, f, _ = _OPS[label]
        args = _args(op, inputs, params)
        w_t = args[1] if op == "dense" else None
        try:
            out = call_candidate(f, self._fn(f), *args)
        finally:
            _copy_back(inputs, w_t)
        return (*_unpack(f, out, 2), w_t)

    def forward(self, label: str, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> Any:
        return self._forward(label, inputs, params)[0]

    def backward(self, label: str, delta: np.ndarray, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> Any:
        op, _, b = _OPS[label]
        _, cache, w_t = self._forward(label, inputs, params)
        try:
            grads = call_candidate(b, self._fn(b), delta, cache)
        finally:
            _copy_back(inputs, w_t)
        if op in ("conv2d", "conv2d_relu", "dense"):
            grads = _unpack(b, grads, 3)
            if op == "dense" and isinstance(grads[1], np.ndarray) and grads[1].ndim == 2:
                grads = (grads[0], grads[1].T, grads[2])
        return grads
