"""The CS231n ``layers.py`` convention: ``(out, cache)`` forwards, ``(dout, cache)`` backwards.

Each op that has functions in the convention lists them in its spec (``OpSpec.cs231n``, a
:class:`~gradcheck.ops.spec.CS231n` per pair, written beside the op in ``gradcheck.ops``): e.g.
``conv_forward_naive(x, w, b, conv_param)`` with ``conv_param = {"stride": s, "pad": p}`` and
``conv_backward_naive`` returning ``(dx, dw, db)``, ``max_pool_forward_naive(x, pool_param)``,
``relu_forward(x)``, ``affine_forward(x, w, b)`` with w of shape (F, K), and their ``_fast``
variants where present. This adapter reads that table: the label of a pair is its op
(``"conv2d"``) or ``op:variant`` (``"conv2d:fast"``).

What the convention cannot express (one stride and one padding for both axes, no dilation, no
pooling padding) is each pair's ``limits``: cases are drawn within it, and within what the
candidate declares on top (``gradcheck.adapters.constraints``). An input the convention holds
transposed (the affine weight) is handed over transposed, as a copy; what the candidate writes
into it in place is copied back, so the ``inputs-unmodified`` check sees it as it sees writes
into the other arrays.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck.adapters.base import BadReturn, FunctionTable, LoadError, call_candidate
from gradcheck.adapters.constraints import combine, limits_for
from gradcheck.ops import SPECS
from gradcheck.ops.spec import CS231n

__all__ = ["CS231nAdapter", "OPS", "call_args"]

#: label -> (protocol op, the pair's entry), in protocol order
OPS: dict[str, tuple[str, CS231n]] = {
    (op if c.variant is None else f"{op}:{c.variant}"): (op, c) for op, spec in SPECS.items() for c in spec.cs231n
}


def call_args(conv: CS231n, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> tuple[tuple, dict[str, np.ndarray]]:
    """The forward's positional arguments (arrays, labels, scalars, the param dict), and the
    transposed or reshaped copies among them (by input)."""
    held = {k: np.ascontiguousarray(inputs[k].T) for k in conv.transposed}
    held.update({k: inputs[k].reshape(shape(inputs[k].shape)).copy() for k, shape in conv.shaped.items()})
    args = [held.get(k, inputs[k]) for k in conv.arrays]
    args += [np.asarray(params[k], dtype=np.int64) for k in conv.labels]
    args += [params[k][0] for k in conv.scalars]
    if conv.param is not None:
        args.append(conv.param(params)[1])
    return tuple(args), held


def _unpack(name: str, value: Any, n: int) -> Any:
    if not isinstance(value, tuple) or len(value) != n:
        what = f"a tuple of length {len(value)}" if isinstance(value, tuple) else type(value).__name__
        raise BadReturn(f"{name} must return a tuple of {n}, returned {what}")
    return value


def _copy_back(inputs: dict[str, np.ndarray], held: dict[str, np.ndarray], conv: CS231n) -> None:
    """Write transposed or reshaped copies back into ``inputs`` where the candidate changed them."""
    for k, v in held.items():
        back = v.T if k in conv.transposed else v
        back = back.reshape(inputs[k].shape) if back.size == inputs[k].size else np.full(inputs[k].shape, np.nan)
        if not np.array_equal(back, inputs[k], equal_nan=True):
            np.copyto(inputs[k], back)


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
            looked = ", ".join(f"{c.forward}/{c.backward}" for _, c in OPS.values())
            raise LoadError(f"{target} provides no function of the cs231n convention; looked for the pairs {looked}")
        for label in provided:
            self.constraints(label)

    def ops(self) -> dict[str, str]:
        return {
            label: op
            for label, (op, c) in OPS.items()
            if self._fn(c.forward) or self._fn(c.backward) or not c.optional
        }

    def missing(self, label: str) -> str | None:
        _, c = OPS[label]
        return self._missing(*(n for n in (c.forward, c.backward) if n is not None))

    def constraints(self, label: str) -> dict[str, Any]:
        """The convention's limits, combined with what the candidate declares for the op."""
        op, c = OPS[label]
        return combine(dict(c.limits), limits_for(self.obj, self.target, label, op, self._fn(c.forward),
                                                  self._fn(c.backward) if c.backward else None))

    def _forward(self, label: str, inputs, params) -> tuple[Any, Any, dict[str, np.ndarray]]:
        _, c = OPS[label]
        args, held = call_args(c, inputs, params)
        try:
            out = call_candidate(c.forward, self._fn(c.forward), *args)
        finally:
            _copy_back(inputs, held, c)
        return (*_unpack(c.forward, out, 2), held)

    def forward(self, label: str, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> Any:
        out = self._forward(label, inputs, params)[0]
        return np.asarray(out) if OPS[label][1].backward is None and np.isscalar(out) else out

    def backward(self, label: str, delta: np.ndarray, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> Any:
        op, c = OPS[label]
        _, cache, held = self._forward(label, inputs, params)
        if c.backward is None:  # (loss, dx): the gradient of the loss itself, times delta
            if not isinstance(cache, np.ndarray):
                raise BadReturn(f"{c.forward} must return (loss, dx) with dx an ndarray, returned dx as "
                                f"{type(cache).__name__}")
            return cache * np.asarray(delta, dtype=cache.dtype)
        try:
            grads = call_candidate(c.backward, self._fn(c.backward), delta, cache)
        finally:
            _copy_back(inputs, held, c)
        names = SPECS[op].grads
        if len(names) > 1:
            grads = _unpack(c.backward, grads, len(names))
            grads = tuple(_back(g, inputs[n[1:]].shape, n[1:] in c.transposed) if n[1:] in held else g
                          for n, g in zip(names, grads))
        return grads


def _back(g: Any, shape: tuple[int, ...], transposed: bool) -> Any:
    """A gradient of an input handed over transposed or reshaped, in the input's own shape
    (left as it is when it does not fit: the shape check reports it)."""
    if not isinstance(g, np.ndarray):
        return g
    if transposed:
        return g.T if g.ndim == 2 else g
    return g.reshape(shape) if g.size == int(np.prod(shape)) else g
