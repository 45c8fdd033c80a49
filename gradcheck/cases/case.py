"""A case: one op's inputs, hyper-parameters and upstream gradient, as the oracles see it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcheck.dtypes import carry
from gradcheck.records import Counterexample

__all__ = ["Case", "Expected", "SMALL_ARRAY"]

#: Arrays of at most this many elements are written into counterexamples and reproductions.
SMALL_ARRAY = 400


@dataclass
class Case:
    """Inputs of one op in float64, already rounded to the candidate's dtype.

    - ``inputs``: ``{"x": (N,C,H,W), "w": (D,C,k1,k2), "b": (D,)}`` for conv2d, ``{"x": ...}``
      for pools and activations, ``{"y", "t"}`` for mse, ``{"x": (N,F), "w": (K,F), "b": (K,)}``
      for dense.
    - ``params``: hyper-parameters as ``(h, w)`` tuples.
    - ``delta``: the upstream gradient dE/do, of the output's shape (0-d for mse).
    - ``kind``: ``"smooth"`` (clear of kinks and ties by more than the finite-difference step)
      or ``"kink"`` (values exactly on ReLU zeros and pooling ties).
    - ``dtype``: the dtype the candidate is given (one of ``gradcheck.dtypes.DTYPES``).
    """

    op: str
    inputs: dict[str, np.ndarray]
    params: dict[str, tuple[int, int]]
    delta: np.ndarray
    kind: str = "smooth"
    dtype: str = "float64"
    seed: int | None = None

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in self.inputs.items()}

    def size(self) -> int:
        return sum(v.size for v in self.inputs.values())

    def candidate_inputs(self) -> dict[str, np.ndarray]:
        """Fresh copies of the inputs in the candidate's dtype (``gradcheck.dtypes.carry``)."""
        return {k: carry(v, self.dtype) for k, v in self.inputs.items()}

    def candidate_delta(self) -> np.ndarray:
        return carry(self.delta, self.dtype)

    def counterexample(self) -> Counterexample:
        arrays: dict[str, Any] | None = None
        if self.size() + self.delta.size <= SMALL_ARRAY:
            arrays = {k: v.tolist() for k, v in self.inputs.items()}
            arrays["delta"] = self.delta.tolist()
        return Counterexample(
            shapes={k: list(s) for k, s in self.shapes.items()},
            params={k: list(v) for k, v in self.params.items()},
            dtype=self.dtype,
            seed=self.seed,
            kind=self.kind,
            inputs=arrays,
        )


@dataclass
class Expected:
    """What an oracle says about a case.

    - ``forward``: the output (``None`` when the oracle does not give one).
    - ``grads``: ``{"dx": ..., "dw": ...}`` — the gradients it gives (possibly a subset).
    - ``uncertainty``: per quantity, the oracle's own per-element absolute error bound (finite
      differences); absent quantities are exact up to float64 rounding.
    """

    oracle: str
    forward: np.ndarray | None = None
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    uncertainty: dict[str, np.ndarray] = field(default_factory=dict)

    def quantities(self) -> dict[str, np.ndarray]:
        out = dict(self.grads)
        if self.forward is not None:
            out = {"forward": self.forward, **out}
        return out
