"""Tolerances as data: per dtype, forward and gradients apart, scaled by what is summed.

A correct implementation that sums ``K`` products in floating point of unit roundoff ``u`` is
off from the exact result by at most ``gamma_K * M`` where ``gamma_K = K u / (1 - K u)`` and
``M`` is the same sum taken over the absolute values of the terms (Higham, *Accuracy and
Stability of Numerical Algorithms*, §3.1). The harness allows, per element::

    |actual - expected| <= ATOL[dtype] + SAFETY[quantity kind] * gamma_K * M
                           + NORMWISE[dtype] * max(M) + oracle uncertainty

``M`` comes from :func:`magnitudes` (the op run on absolute values), ``K`` from the op's
``reduction``. The normwise term admits algorithms that are only normwise stable (FFT and
Winograd convolutions); nothing scales silently with array size. A candidate that runs conv
in TF32 is held to TF32's roundoff, but only when TF32 was asked for.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gradcheck.cases import Case
from gradcheck.ops import OpSpec

__all__ = ["Tolerance", "UNIT_ROUNDOFF", "TOLERANCES", "tolerance_for", "magnitudes", "gamma"]

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


def magnitudes(spec: OpSpec, case: Case) -> dict[str, np.ndarray]:
    """For the forward and each gradient, the sum of the absolute values of its terms (``M``).

    Linear parts are run on absolute values (``conv2d(|x|, |w|) + |b|``, gradients with
    ``|delta|``); elementwise activations contribute ``|f(x)| + |f'(x)|``, which also covers
    the cancellation in ``1 - tanh(x)**2`` and ``s (1 - s)``.
    """
    from gradcheck.oracles.torch_oracle import torch_run

    absd = np.abs(case.delta)
    absin = {k: np.abs(v) for k, v in case.inputs.items()}
    if spec.activation is not None and spec.is_conv:
        import torch

        # o = f(z): |dz| = |delta * f'(z)|, then the linear conv part on absolute values.
        zspec = _conv_spec()
        z, _ = torch_run(zspec, case.inputs, case.params, np.zeros_like(case.delta))
        fz, fpz = _activation_values(spec.activation, z)
        # f'(z) computed as 1 - f**2 or f (1 - f) is off by about u |f|, not u |f'|
        mfwd, grads = torch_run(zspec, absin, case.params, absd * (np.abs(fpz) + np.abs(fz)))
        return {"forward": mfwd + np.abs(fz), **grads}
    if spec.activation is not None:
        fx, fpx = _activation_values(spec.activation, case.inputs["x"])
        return {"forward": np.abs(fx) + 1e-300, "dx": absd * (np.abs(fx) + np.abs(fpx))}
    if spec.name == "mse":
        y, t = case.inputs["y"], case.inputs["t"]
        return {"forward": np.asarray(0.5 * ((np.abs(t) + np.abs(y)) ** 2).sum()), "dy": absd * (np.abs(y) + np.abs(t))}
    inputs = absin if spec.name in ("conv2d", "dense", "avg_pool2d") else case.inputs
    if spec.name == "l2_pool2d":
        inputs = absin
    o, grads = torch_run(spec, inputs, case.params, absd)
    return {"forward": np.abs(o), **{k: np.abs(v) for k, v in grads.items()}}


def _conv_spec() -> OpSpec:
    from gradcheck.ops import SPECS

    return SPECS["conv2d"]


def _activation_values(name: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if name == "relu":
        return np.maximum(z, 0), (z > 0).astype(np.float64)
    if name == "sigmoid":
        from scipy.special import expit

        s = expit(z)
        return s, s * (1 - s)
    t = np.tanh(z)
    return t, 1 - t * t
