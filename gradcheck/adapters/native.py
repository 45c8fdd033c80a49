"""The native protocol (``gradcheck.ops.protocol``): plain functions on numpy arrays."""
from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck.ops import PROTOCOL
from gradcheck.adapters.base import FunctionTable, LoadError, call_candidate
from gradcheck.adapters.constraints import call_kwargs, combine, limits_for, signature_limits

__all__ = ["NativeAdapter"]


class NativeAdapter(FunctionTable):
    """Looks up ``<op>_forward`` / ``<op>_backward`` on the target object.

    The arrays the battery passes are handed to the candidate as they are, so a write into
    one of them in place is seen by the ``inputs-unmodified`` check.

    Raises
    ------
    LoadError
        When the target provides no op's pair of functions (the message lists the names
        looked for), or when its declared constraints are malformed.
    """

    api = "native"

    def __init__(self, obj: Any, target: str):
        super().__init__(obj, target)
        provided = [op for op in PROTOCOL if self.missing(op) is None]
        if not provided:
            looked = ", ".join(f"{p.forward_name}/{p.backward_name}" for p in PROTOCOL.values())
            raise LoadError(f"{target} provides no function of the native convention; looked for the pairs {looked}")
        for op in provided:
            self.constraints(op)  # a malformed declaration is a load error, not a surprise mid-run

    def ops(self) -> dict[str, str]:
        """Label -> protocol op, for every op of the protocol (see :meth:`missing`)."""
        return {op: op for op in PROTOCOL}

    def missing(self, op: str) -> str | None:
        """Why ``op`` cannot be checked (a function of the pair is missing), or ``None``."""
        return self._missing(PROTOCOL[op].forward_name, PROTOCOL[op].backward_name)

    def constraints(self, op: str) -> dict[str, Any]:
        """The strategy limits the candidate declares for ``op`` (``gradcheck.adapters.constraints``)."""
        p = PROTOCOL[op]
        fns = (self._fn(p.forward_name), self._fn(p.backward_name))
        return combine(limits_for(self.obj, self.target, op, op, *fns), signature_limits(op, *fns))

    def _args(self, op: str, fn: Any, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> tuple[tuple, dict]:
        """Positional arrays (inputs, then labels) and keyword hyper-parameters of one call; an
        optional hyper-parameter the function does not take is left out."""
        p = PROTOCOL[op]
        kwargs = call_kwargs(op, fn, params)
        return (*(inputs[k] for k in p.inputs), *p.call_labels(params)), kwargs

    def forward(self, op: str, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> Any:
        p = PROTOCOL[op]
        fn = self._fn(p.forward_name)
        args, kwargs = self._args(op, fn, inputs, params)
        return call_candidate(p.forward_name, fn, *args, **kwargs)

    def backward(self, op: str, delta: np.ndarray, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> Any:
        p = PROTOCOL[op]
        fn = self._fn(p.backward_name)
        args, kwargs = self._args(op, fn, inputs, params)
        return call_candidate(p.backward_name, fn, delta, *args, **kwargs)
