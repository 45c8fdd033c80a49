"""Finite differences of the candidate's own forward.

The quantity estimated is the gradient of ``L = <delta, forward(inputs)>`` with respect to each
differentiable input, element by element, by central differences in float64 with a step scaled
to each element (``h = eps**(1/3) * max(|x|, rms(x))``, eps of the forward's output dtype). The
rounding error of the forward, amplified by ``1/h``, bounds the first estimate's rounding part;
one step halving and Richardson extrapolation give a refined estimate and, from the difference
of the two steps, a truncation estimate. A disagreement can so be told apart from
finite-difference noise.

Elements with disjoint footprints are perturbed together (``gradcheck.ops.footprints``): a conv
layer's ``x`` costs ``2 * C * k1 * k2`` forward evaluations, not ``2 * x.size``. ``single=True``
perturbs one element at a time instead (used to confirm a disagreement and by tests).

Two options bring the element-wise check to that floor of two evaluations a colour:

- ``against`` (the candidate's gradients, with ``allowed`` their own tolerance): the step
  halving runs only for the colours where some element's first estimate ``g1`` disagrees with
  the candidate's value ``a`` beyond ``allowed + 2 r`` (``r`` the rounding bound). This changes
  no verdict of :func:`gradcheck.judge.compare.compare`: where ``|a - g1| <= t + 2 r`` (``t`` the
  tolerance), the refined estimate ``R = (4 g2 - g1) / 3`` with its bound ``|g2 - g1| + r``
  would have passed too, for ``|a - R| <= |a - g1| + 4/3 |g2 - g1| <= t + 2 (|g2 - g1| + r)``.
  Colours left unrefined keep ``g1`` with the bound ``r``; refined ones get ``R`` with the
  full bound, as without ``against``.
- ``stack``: the caller vouches that the candidate's samples are independent (the battery's
  batch-independence check). Then perturbed copies of the batch-major input are stacked along
  the batch axis, several colours to one call, while the stacked array stays small
  (:data:`STACK_ELEMENTS`): small cases stop paying a call's overhead per colour. The candidate
  then sees a larger batch, so stacking is first probed: the stack ``[x, other samples...,
  x]`` must give back the plain forward's output on both copies of ``x`` within rounding, or
  nothing is stacked.

Long because the estimate, its colouring, stacking, step halving and convergence measure share
one set of private helpers; split, they would import each other's internals.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from gradcheck.ops import footprints
from gradcheck.dtypes import round_to, unit_roundoff
from gradcheck.cases import Case, Expected
from gradcheck.ops import OpSpec
from gradcheck.oracles.magnitudes import magnitudes
from gradcheck.tolerances import allowed_error

__all__ = ["finite_differences", "directional", "convergence", "Forward", "STACK_ELEMENTS",
           "colour_groups", "forward_rounding", "allowed_error"]

Forward = Callable[[dict[str, np.ndarray]], np.ndarray]

#: Stacked perturbed copies stay under this many input elements per call: a batch of about a
#: CPU cache, past which a larger batch is no faster per sample (and memory stays bounded).
STACK_ELEMENTS = 1 << 15


def _eps(dtype: np.dtype) -> float:
    return float(np.finfo(dtype).eps) if np.issubdtype(dtype, np.floating) else float(np.finfo(np.float64).eps)


def effective_eps(o: np.ndarray) -> float:
    """The machine epsilon the forward really computed in. A forward given float64 inputs may
    still compute in float32 or lower inside (``x.float()``, a half-precision kernel) and cast
    back: its outputs are then all values of that dtype, which a float64 computation almost
    never gives (odds 2**-29 an element), and its rounding is that dtype's, not float64's."""
    eps = _eps(o.dtype)
    if o.dtype != np.float64 or not np.isfinite(o).all():
        return eps
    telling = o[o != np.round(o)]  # integers are values of every dtype: they tell nothing
    if telling.size == 0:
        return eps
    for name in ("bfloat16", "float16", "float32"):
        if np.array_equal(round_to(telling, name), telling):
            return 2.0 * unit_roundoff(name)
    return eps


def _steps(x: np.ndarray, eps: float) -> np.ndarray:
    """``eps**(1/3) * max(|x_i|, rms(x))``: scaled to each element and to the array's own scale.

    The array's scale (rather than 1) keeps the step small against the curvature of
    scale-invariant ops (an L2 pool of values near 1e-3 bends on that scale, not on 1).
    """
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    return eps ** (1.0 / 3.0) * np.maximum(np.abs(x), rms if rms > 0 else 1.0)


def _geometry(spec: OpSpec, case: Case):
    return case.params, case.shapes.get("w")


def forward_rounding(spec: OpSpec, case: Case, o0: np.ndarray, forward_magnitude: np.ndarray | None) -> tuple[float, np.ndarray]:
    """``(eps, e)``: the unit roundoff of the forward's output and, per output, a bound on the
    rounding error of one evaluation of the forward.

    Each output is off by up to about ``K eps M`` (``M`` the sum of the absolute values of its
    ``K`` terms), so ``delta * (f(x+) - f(x-))`` is off by up to ``2 |delta| e``.
    """
    eps = effective_eps(o0)
    K = spec.reduction(case.shapes, case.params)["forward"]
    if forward_magnitude is None:
        forward_magnitude = magnitudes(spec, case)["forward"]
    M = np.maximum(np.abs(o0), forward_magnitude) if o0.shape == np.shape(case.delta) else np.abs(o0)
    return eps, K * eps * M


def colour_groups(col: np.ndarray) -> list[np.ndarray]:
    """Flat indices of the elements of each colour present in ``col``, colour by colour."""
    flat = col.ravel()
    if not flat.size:
        return []
    order = np.argsort(flat, kind="stable")
    counts = np.bincount(flat)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return [order[bounds[c]:bounds[c + 1]] for c in range(len(counts)) if counts[c]]


def _stack_copies(forward: Forward, inputs: dict[str, np.ndarray], name: str, o0: np.ndarray, tol: np.ndarray,
                  wanted: int) -> int:
    """How many perturbed copies of ``inputs[name]`` one call may carry (1: no stacking).

    The probe stacks ``[x, x rolled and negated..., x]`` and keeps stacking only when both
    copies of ``x`` give back ``o0`` within ``tol`` (the forward's own rounding): the
    candidate's output for a sample depends neither on the batch size nor on the other samples.
    """
    x = inputs[name]
    if x.ndim == 0 or x.shape[0] == 0 or o0.ndim == 0 or o0.shape[0] != x.shape[0]:
        return 1
    m = min(STACK_ELEMENTS // max(x.size, 1), wanted)
    if m < 2:
        return 1
    n = x.shape[0]
    stack = [x] + [(-1.0) ** k * np.roll(x, k, axis=0) for k in range(1, m - 1)] + [x]
    try:
        o = np.asarray(forward({**inputs, name: np.concatenate(stack)}), np.float64)
    except Exception:  # noqa: BLE001 - a candidate that cannot take a larger batch is called as it is
        return 1
    if o.shape != (m * n, *o0.shape[1:]):
        return 1
    first, last = o[:n], o[-n:]
    if not (np.abs(first - o0) <= tol).all() or not (np.abs(last - o0) <= tol).all():
        return 1
    return m


def _differences(forward: Forward, inputs: dict[str, np.ndarray], name: str, delta: np.ndarray,
                 items: list[tuple[np.ndarray, np.ndarray]], copies: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For each ``(flat indices, offsets)`` in ``items``: ``delta * (f(x + s) - f(x - s))`` and
    the steps ``(x + s) - (x - s)`` actually taken at those indices, ``copies`` perturbed
    copies to a call (stacked along the batch axis when ``copies > 1``).

    Unstacked, one buffer is moved and put back between calls: ``forward`` must neither keep
    nor modify its inputs (the battery's float64 forward hands the candidate copies).
    """
    x = inputs[name]
    per_call = max(1, copies // 2)
    if per_call == 1:
        buf = x.copy()
        for idx, off in items:
            base = x.flat[idx]
            plus, minus = base + off, base - off
            buf.flat[idx] = plus
            D = np.array(forward({**inputs, name: buf}), dtype=np.float64)  # a copy: the next call may reuse its buffer
            buf.flat[idx] = minus
            with np.errstate(invalid="ignore", over="ignore"):  # a non-finite forward is the finite check's
                np.subtract(D, np.asarray(forward({**inputs, name: buf}), np.float64), out=D)
                D *= delta
            buf.flat[idx] = base
            yield D, plus - minus
        return
    for start in range(0, len(items), per_call):
        chunk = items[start:start + per_call]
        arrays = []
        for idx, off in chunk:
            xp, xm = x.copy(), x.copy()
            xp.flat[idx] += off
            xm.flat[idx] -= off
            arrays += [xp, xm]
        o = np.asarray(forward({**inputs, name: np.concatenate(arrays)}), np.float64)
        if o.shape[0] == len(arrays) * x.shape[0]:
            outs = np.split(o, len(arrays))
        else:
            outs = [np.array(forward({**inputs, name: a}), dtype=np.float64) for a in arrays]
        for k, (idx, _) in enumerate(chunk):
            yield delta * (outs[2 * k] - outs[2 * k + 1]), arrays[2 * k].flat[idx] - arrays[2 * k + 1].flat[idx]


def _coloured(forward: Forward, inputs: dict[str, np.ndarray], name: str, delta: np.ndarray, groups: list[np.ndarray],
              h: np.ndarray, scale: float, kind: str, params: dict[str, Any], w_shape, copies: int,
              out: np.ndarray) -> None:
    """Central differences of every element of the colours ``groups`` at step ``scale * h``, into ``out``."""
    x = inputs[name]
    items = [(idx, scale * h.flat[idx]) for idx in groups]
    for (idx, _), (D, step) in zip(items, _differences(forward, inputs, name, delta, items, copies)):
        att = footprints.attribute(kind, D, x.shape, params, w_shape)
        out.flat[idx] = att[np.unravel_index(idx, x.shape)] / step


def finite_differences(spec: OpSpec, case: Case, forward: Forward | None, *, single: bool = False,
                       forward_magnitude: np.ndarray | None = None, against: dict[str, Any] | None = None,
                       allowed: dict[str, np.ndarray] | None = None, stack: bool = False,
                       report: dict[str, Any] | None = None) -> Expected | None:
    """Gradient estimates of ``<delta, forward>`` for every input in ``spec.grad_inputs``.

    Parameters
    ----------
    forward_magnitude : ndarray of the output's shape, optional
        The forward's sums of absolute terms (``tolerances.magnitudes``), when the caller has it.
    against : {"dx": ndarray, ...}, optional
        The candidate's gradients: the step halving then runs only where a first estimate
        disagrees with them (module docstring). Anything not a finite array of the right shape
        is refined everywhere.
    allowed : {"dx": ndarray, ...}, optional
        The candidate's per-element tolerance (``compare``'s bound without the oracle's
        uncertainty); zero when absent, which refines more, never less.
    stack : bool
        The candidate's samples are independent: perturbed copies may be stacked along the
        batch axis (probed first; module docstring).
    report : dict, optional
        Filled with ``{"dx": {"colours": n, "refined": k, "copies": m}, ...}``.

    Returns
    -------
    Expected
        ``grads`` and ``uncertainty`` (per-element absolute error bounds), each of its input's
        shape; ``forward`` is ``None`` (finite differences say nothing about the forward).
    """
    if forward is None:
        return None
    inputs = {k: v.astype(np.float64) for k, v in case.inputs.items()}
    delta = np.asarray(case.delta, dtype=np.float64)
    o0 = np.asarray(forward(inputs))
    eps, e = forward_rounding(spec, case, o0, forward_magnitude)
    noise = 2 * np.abs(delta) * e
    params, w_shape = _geometry(spec, case)
    out = Expected("fd")
    for name in spec.grad_inputs:
        q = "d" + name
        kind = "full" if single else spec.footprints[name]
        x = inputs[name]
        h = _steps(x, eps)
        groups = colour_groups(footprints.colours(kind, x.shape, params, w_shape))
        copies = 1
        if stack and not single and name == spec.inputs[0]:
            copies = _stack_copies(forward, inputs, name, np.asarray(o0, np.float64), 2 * e, 2 * len(groups))
        rounding = np.asarray(footprints.attribute(kind, noise, x.shape, params, w_shape)) / h
        g1 = np.zeros_like(x)
        _coloured(forward, inputs, name, delta, groups, h, 1.0, kind, params, w_shape, copies, g1)
        refine = groups
        a = None if against is None else against.get(q)
        if isinstance(a, np.ndarray) and a.shape == x.shape and np.issubdtype(a.dtype, np.floating):
            t = np.zeros_like(x) if allowed is None or q not in allowed else np.broadcast_to(allowed[q], x.shape)
            ok = (np.abs(a.astype(np.float64) - g1) <= t + 2 * rounding).ravel()
            refine = [idx for idx in groups if not ok[idx].all()]
        grads, unc = g1.copy(), rounding.copy()
        if refine:
            g2 = np.zeros_like(x)
            _coloured(forward, inputs, name, delta, refine, h, 0.5, kind, params, w_shape, copies, g2)
            idx = np.concatenate(refine)
            grads.flat[idx] = (4 * g2.flat[idx] - g1.flat[idx]) / 3
            unc.flat[idx] = np.abs(g2.flat[idx] - g1.flat[idx]) + rounding.flat[idx]
        out.grads[q], out.uncertainty[q] = grads, unc
        if report is not None:
            report[q] = {"colours": len(groups), "refined": len(refine), "copies": copies}
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
    eps = effective_eps(o0)
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
