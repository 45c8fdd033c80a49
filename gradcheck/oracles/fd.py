"""Finite differences of the candidate's own forward.

The quantity estimated is the gradient of ``L = <delta, forward(inputs)>`` with respect to each
differentiable input, element by element, by central differences in float64 with a step scaled
to each element (``h = eps**(1/3) * max(|x|, rms(x))``, eps of the forward's output dtype) and one
step halving. Richardson extrapolation of the two gives the estimate; their difference, plus
the rounding error of the forward amplified by ``1/h``, gives a per-element error bound, so a
disagreement can be told apart from finite-difference noise.

Elements with disjoint footprints are perturbed together (``gradcheck.footprints``): a conv
layer's ``x`` costs ``4 * C * k1 * k2`` forward calls, not ``4 * x.size``. ``single=True``
perturbs one element at a time instead (used to confirm a disagreement and by tests).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .. import footprints
from ..cases import Case, Expected
from ..ops import OpSpec
from ..tolerances import magnitudes

__all__ = ["finite_differences", "directional", "convergence", "Forward"]

Forward = Callable[[dict[str, np.ndarray]], np.ndarray]


def _eps(dtype: np.dtype) -> float:
    return float(np.finfo(dtype).eps) if np.issubdtype(dtype, np.floating) else float(np.finfo(np.float64).eps)


def _steps(x: np.ndarray, eps: float) -> np.ndarray:
    """``eps**(1/3) * max(|x_i|, rms(x))``: scaled to each element and to the array's own scale.

    The array's scale (rather than 1) keeps the step small against the curvature of
    scale-invariant ops (an L2 pool of values near 1e-3 bends on that scale, not on 1).
    """
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    return eps ** (1.0 / 3.0) * np.maximum(np.abs(x), rms if rms > 0 else 1.0)


def _geometry(spec: OpSpec, case: Case):
    return case.params, case.shapes.get("w")


def finite_differences(spec: OpSpec, case: Case, forward: Forward | None, *, single: bool = False,
                       forward_magnitude: np.ndarray | None = None) -> Expected | None:
    """Gradient estimates of ``<delta, forward>`` for every input in ``spec.grad_inputs``.

    Returns an :class:`Expected` with ``grads`` and ``uncertainty`` (per-element absolute error
    bounds); ``forward`` is left ``None`` (finite differences say nothing about the forward).

    ``forward_magnitude`` (the forward's sums of absolute terms, ``tolerances.magnitudes``)
    saves recomputing it when the caller already has it.
    """
    if forward is None:
        return None
    inputs = {k: v.astype(np.float64) for k, v in case.inputs.items()}
    delta = np.asarray(case.delta, dtype=np.float64)
    o0 = np.asarray(forward(inputs))
    eps = _eps(o0.dtype)
    params, w_shape = _geometry(spec, case)
    # Each evaluation of the forward is off by up to about K eps M (M the sum of the absolute
    # terms of each output, K their number): that, seen through 1/h, bounds the rounding part.
    K = spec.reduction(case.shapes, case.params)["forward"]
    if forward_magnitude is None:
        forward_magnitude = magnitudes(spec, case)["forward"]
    M = np.maximum(np.abs(o0), forward_magnitude) if o0.shape == np.shape(case.delta) else np.abs(o0)
    noise = 2 * K * eps * np.abs(delta * M)
    out = Expected("fd")
    for name in spec.grad_inputs:
        kind = "full" if single else spec.footprints[name]
        x = inputs[name]
        h = _steps(x, eps)
        col = footprints.colours(kind, x.shape, params, w_shape)
        estimates = []
        for scale in (1.0, 0.5):
            g = np.zeros_like(x)
            for c in range(int(col.max()) + 1 if col.size else 0):
                mask = col == c
                if not mask.any():
                    continue
                xp, xm = x.copy(), x.copy()
                xp[mask] += scale * h[mask]
                xm[mask] -= scale * h[mask]
                step = (xp - xm)[mask]  # the steps actually taken, after rounding
                D = delta * (np.asarray(forward({**inputs, name: xp}), np.float64) - np.asarray(forward({**inputs, name: xm}), np.float64))
                g[mask] = footprints.attribute(kind, D, x.shape, params, w_shape)[mask] / step
            estimates.append(g)
        g1, g2 = estimates
        rounding = footprints.attribute(kind, noise, x.shape, params, w_shape) / h
        out.grads["d" + name] = (4 * g2 - g1) / 3
        out.uncertainty["d" + name] = np.abs(g2 - g1) + rounding
    return out


def directional(spec: OpSpec, case: Case, forward: Forward, grads: dict[str, np.ndarray], *, seed: int = 0) -> tuple[float, float, float]:
    """The cheap screen: ``<grad, u>`` against the central difference of ``L`` along ``u``.

    ``u`` is a random unit-scaled direction over all differentiable inputs at once (like
    ``torch.autograd.gradcheck``'s fast mode and jax's ``check_grads``). Returns
    ``(analytic, numeric, error_bound)``; the gradients are suspect when
    ``|analytic - numeric| > error_bound``.
    """
    rng = np.random.default_rng(seed)
    inputs = {k: v.astype(np.float64) for k, v in case.inputs.items()}
    delta = np.asarray(case.delta, dtype=np.float64)
    u = {n: rng.standard_normal(inputs[n].shape) for n in spec.grad_inputs}
    analytic = float(sum(np.vdot(np.asarray(grads["d" + n], np.float64), u[n]) for n in spec.grad_inputs))
    o0 = np.asarray(forward(inputs))
    eps = _eps(o0.dtype)
    h = eps ** (1.0 / 3.0) * max(1.0, max(float(np.abs(v).max(initial=0)) for v in inputs.values()))

    def L(t: float) -> float:
        moved = {k: (v + t * u[k] if k in u else v) for k, v in inputs.items()}
        return float(np.vdot(delta, np.asarray(forward(moved), np.float64)))

    n1 = (L(h) - L(-h)) / (2 * h)
    n2 = (L(h / 2) - L(-h / 2)) / h
    numeric = (4 * n2 - n1) / 3
    bound = abs(n2 - n1) + 4 * eps * float(np.abs(delta * o0).sum()) / h + 1e3 * eps * (abs(analytic) + abs(numeric))
    return analytic, numeric, bound


def convergence(
    spec: OpSpec, case: Case, forward: Forward, quantity: str, index: tuple[int, ...], actual: float, *, steps: int = 9
) -> list[dict[str, float]]:
    """The Taylor remainder ``|L(x + h e_i) - L(x) - h * actual|`` over decreasing steps ``h``.

    ``L = <delta, forward>`` and ``e_i`` is the unit vector of one element. With a correct
    gradient element the remainder falls like ``h**2`` (slope 2 on a log-log plot) until
    rounding takes over; with a wrong one the first-order term is left over and it falls like
    ``h`` (slope 1).
    """
    name = quantity[1:]
    inputs = {k: v.astype(np.float64) for k, v in case.inputs.items()}
    delta = np.asarray(case.delta, dtype=np.float64)
    x = inputs[name]
    base = max(1.0, abs(float(x[index])))
    L0 = float(np.vdot(delta, np.asarray(forward(inputs), np.float64)))
    rows = []
    for k in range(steps):
        xp = x.copy()
        xp[index] += base * 10.0 ** (-1 - 0.5 * k)
        h = float(xp[index] - x[index])
        L = float(np.vdot(delta, np.asarray(forward({**inputs, name: xp}), np.float64)))
        rows.append({"h": h, "err": abs(L - L0 - h * actual)})
    return rows
