"""Tolerances as data: per dtype, forward and gradients apart, scaled by what is summed.

A correct implementation that sums ``K`` products in floating point of unit roundoff ``u`` is
off from the exact result by at most ``gamma_K * M`` where ``gamma_K = K u / (1 - K u)`` and
``M`` is the same sum taken over the absolute values of the terms (Higham, *Accuracy and
Stability of Numerical Algorithms*, §3.1). The harness allows, per element::

    |actual - expected| <= ATOL[dtype] + SAFETY[quantity kind] * gamma_K * M
                           + NORMWISE[dtype] * max(M) + oracle uncertainty

``M`` comes from :func:`gradcheck.oracles.magnitudes.magnitudes` (the op run on absolute values), ``K`` from the op's
``reduction``. The normwise term admits algorithms that are only normwise stable (FFT and
Winograd convolutions); nothing scales silently with array size. A candidate that runs conv
in TF32 is held to TF32's roundoff, but only when TF32 was asked for.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np



__all__ = ["Tolerance", "UNIT_ROUNDOFF", "TOLERANCES", "tolerance_for", "gamma", "allowed_error"]

#: Unit roundoff of each arithmetic a candidate may use.
UNIT_ROUNDOFF = {"float64": 2.0**-53, "float32": 2.0**-24, "tf32": 2.0**-11, "float16": 2.0**-11, "bfloat16": 2.0**-8}


@dataclass(frozen=True)
class Tolerance:
    """The bound's coefficients for one dtype and one kind of quantity."""

    u: float  # unit roundoff
    safety: float  # multiplies gamma_K (input rounding, elementwise functions, order of sums)
    normwise: float  # times max(M): normwise-stable algorithms
    atol: float  # absolute floor, for outputs whose terms are all zero

    def rtol(self, K: int) -> float:
        return self.safety * gamma(K, self.u)


def gamma(K: int, u: float) -> float:
    """``K u / (1 - K u)``, capped so it stays finite for very long sums."""
    Ku = K * u
    return Ku / (1.0 - Ku) if Ku < 0.5 else 2 * Ku


#: dtype -> {"forward": Tolerance, "grad": Tolerance}
TOLERANCES: dict[str, dict[str, Tolerance]] = {
    name: {
        "forward": Tolerance(u, safety=4.0, normwise=8 * u, atol=1e-300 if name == "float64" else 1e-30),
        "grad": Tolerance(u, safety=8.0, normwise=16 * u, atol=1e-300 if name == "float64" else 1e-30),
    }
    for name, u in UNIT_ROUNDOFF.items()
}


def tolerance_for(dtype: str, quantity: str) -> Tolerance:
    return TOLERANCES[dtype]["forward" if quantity == "forward" else "grad"]


def allowed_error(quantity: str, magnitude, reduction: int, dtype: str, normwise: float | None = None):
    """The rounding a correct result of ``quantity`` may carry, per element (the module
    docstring's bound before an oracle's uncertainty): ``atol + rtol(K) * M + normwise * max(max(M),
    the operands' norm product)``; ``normwise`` is that product where the op has one
    (``gradcheck.oracles.magnitudes.normwise_scales``)."""
    tol = tolerance_for(dtype, quantity)
    mag = np.asarray(magnitude, np.float64)
    return tol.atol + tol.rtol(reduction) * mag + tol.normwise * max(float(mag.max(initial=0.0)), normwise or 0.0)
