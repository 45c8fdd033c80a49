"""The native protocol (``gradcheck.protocol``): plain functions on numpy arrays."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..protocol import PROTOCOL
from .base import FunctionTable, call_candidate

__all__ = ["NativeAdapter"]


class NativeAdapter(FunctionTable):
    """Looks up ``<op>_forward`` / ``<op>_backward`` on the target object."""

    api = "native"

    def ops(self) -> dict[str, str]:
        """Label -> protocol op, for every op of the protocol (see :meth:`missing`)."""
        return {op: op for op in PROTOCOL}

    def missing(self, op: str) -> str | None:
        """Why ``op`` cannot be checked (a function of the pair is missing), or ``None``."""
        return self._missing(PROTOCOL[op].forward_name, PROTOCOL[op].backward_name)

    def forward(self, op: str, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> Any:
        p = PROTOCOL[op]
        return call_candidate(p.forward_name, self._fn(p.forward_name), *(inputs[k] for k in p.inputs), **params)

    def backward(self, op: str, delta: np.ndarray, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> Any:
        p = PROTOCOL[op]
        return call_candidate(p.backward_name, self._fn(p.backward_name), delta, *(inputs[k] for k in p.inputs), **params)
