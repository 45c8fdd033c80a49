"""Every hypothesis strategy of the harness, in one module.

Geometry (shapes and hyper-parameters) is drawn so that outputs are never empty: batch 1 and
more, 1×1 kernels, kernels as large as the padded input, strides larger than the kernel,
dilation, overlapping pooling windows, non-square everything. Values are drawn on purpose:

- ``kind="smooth"``: values from a seeded generator (hypothesis draws the seed and the scale),
  then moved clear of kinks: every ReLU input at least ``KINK_MARGIN`` from 0, every max-pool
  value at least ``KINK_MARGIN`` from every other value of the sample, so the finite-difference
  step never crosses a kink or a tie. Shrinking acts on the geometry and the seed.
- ``kind="kink"``: small integers drawn by hypothesis, so ReLU inputs sit exactly on 0 and
  pooling windows hold ties (and all-zero L2 windows); these cases are judged by the
  subgradient rules (``gradcheck.judge.subgradient``), never by finite differences.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradcheck.cases import Case
from gradcheck.dtypes import round_to
from gradcheck.ops import SPECS, OpSpec
from gradcheck.ops.spec import Geometry

__all__ = [
    "KINK_MARGIN",
    "geometry",
    "sample_geometry",
    "limits_within",
    "long_reduction",
    "smooth_case",
    "scales",
    "kink_case",
    "cases",
    "kink_ops",
]

#: Smooth cases keep kinks and ties at least this far away (relative to the values' scale).
KINK_MARGIN = 1e-3

_SCALES = (1.0, 1e-3, 1e3)

#: float16 tops out at 65504 and goes subnormal below 6e-5: its values stay within (1/16, 16).
_FLOAT16_SCALES = (1.0, 0.0625, 16.0)


def scales(dtype: str) -> tuple[float, ...]:
    """The value scales smooth cases of ``dtype`` are drawn at (products and sums of them stay
    finite and normal in that dtype)."""
    return _FLOAT16_SCALES if dtype == "float16" else _SCALES


def _strategy(spec: OpSpec, own: dict[str, Any] | None = None):
    @st.composite
    def strategy(draw, **limits: Any) -> Geometry:
        g = spec.geometry(lambda lo, hi: draw(st.integers(lo, hi)), **{**(own or {}), **limits})
        assume(g is not None)
        return g

    strategy.__doc__ = spec.family.geometry.__doc__
    return strategy


def geometry(op: str, **limits: Any) -> st.SearchStrategy:
    """The geometry strategy of ``op`` (limits are passed on to its family's geometry, whose
    docstring lists them)."""
    return _strategy(SPECS[op])(**limits)


def sample_geometry(op: str, rng: np.random.Generator, **limits: Any) -> Geometry | None:
    """One geometry of ``op`` drawn with ``rng`` from the same ranges as :func:`geometry`
    (``None`` where the strategy would reject the draw); the covering designs pick from these."""
    return SPECS[op].geometry(lambda lo, hi: int(rng.integers(lo, hi + 1)), **limits)


def long_reduction(op: str) -> Geometry:
    """One geometry of ``op`` whose sums are long (dw and db of a conv over N·Ho·Wo = 2304
    terms, a dense layer's over N = 512): where a kernel that accumulates in low precision
    shows."""
    return SPECS[op].long_reduction()


def limits_within(op: str, shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> dict[str, int]:
    """Limits under which :func:`geometry` draws only geometries no larger than this one
    (every bound taken from it), so a search for a smaller failing case stays in its region."""
    return SPECS[op].family.limits_within(shapes, params)


def kink_ops() -> tuple[str, ...]:
    """Ops that have kink cases (ReLU zeros, pooling ties, all-zero L2 windows)."""
    return tuple(name for name, spec in SPECS.items() if spec.kinks is not None)


def _round(a: np.ndarray, dtype: str) -> np.ndarray:
    return round_to(a, dtype)


def _distinct(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """Values pairwise at least ``scale * KINK_MARGIN`` apart (per sample: no pooling ties)."""
    n = int(np.prod(shape[1:]))
    ranks = np.argsort(rng.random((shape[0], n)), axis=1)
    spacing = max(2.0 / max(n, 1), 4 * KINK_MARGIN)
    jitter = rng.uniform(0, spacing / 4, size=ranks.shape)
    return ((ranks - n / 2) * spacing + jitter).reshape(shape) * scale


def _smooth_values(spec: OpSpec, shapes: dict[str, tuple[int, ...]], rng: np.random.Generator, scale: float):
    kink = spec.kink
    if kink is not None and kink.spread:
        return {k: _distinct(rng, s, scale) for k, s in shapes.items()}
    inputs = {k: rng.standard_normal(s) * scale for k, s in shapes.items()}
    if kink is not None and kink.away:
        for k in spec.inputs[:1]:
            x = inputs[k]
            inputs[k] = np.where(np.abs(x) < KINK_MARGIN * scale, np.copysign(KINK_MARGIN * scale, x) + x, x)
    for k in spec.divide_by_scale:
        inputs[k] = inputs[k] / scale  # keep pre-activations O(scale), not O(scale**2)
    return inputs


def smooth_case(op: str, shapes: dict[str, tuple[int, ...]], params: dict[str, Any], *, seed: int, scale: float,
                dtype: str = "float64") -> Case | None:
    """The smooth case of ``op`` on one geometry, its values from ``seed`` at ``scale``.

    ``None`` when the values land too near a kink for finite differences (a conv2d+ReLU
    pre-activation or an L2 window norm within ``KINK_MARGIN`` of 0): draw another seed.
    """
    spec = SPECS[op]
    rng = np.random.default_rng(seed)
    inputs = {k: _round(v, dtype) for k, v in _smooth_values(spec, shapes, rng, scale).items()}
    delta = rng.standard_normal(spec.out_shape(shapes, params))
    case = Case(op, inputs, params, _round(delta, dtype), kind="smooth", dtype=dtype, seed=seed)
    if spec.kink is not None and spec.kink.clear is not None and not spec.kink.clear(case, scale, KINK_MARGIN):
        return None
    return case


def kink_case(op: str, shapes: dict[str, tuple[int, ...]], params: dict[str, Any], *, seed: int,
              dtype: str = "float64") -> Case:
    """A kink case of ``op`` on one geometry that sits on the kink by construction: small
    integers from ``seed``, then one ReLU input (or one conv pre-activation) set to exactly 0,
    the first pooling window made a tie of its largest value, or the first L2 window zeroed."""
    spec = SPECS[op]
    rng = np.random.default_rng(seed)
    lo, hi = spec.kink.values
    inputs = {k: rng.integers(lo, hi + 1, size=s).astype(np.float64) for k, s in shapes.items()}
    spec.kink.place(inputs, params, lo, hi)
    delta = rng.integers(-3, 4, size=spec.out_shape(shapes, params)).astype(np.float64)
    inputs = {k: _round(v, dtype) for k, v in inputs.items()}
    return Case(op, inputs, params, _round(delta, dtype), kind="kink", dtype=dtype, seed=seed)


@st.composite
def cases(draw, op: str, *, kind: str = "smooth", dtype: str = "float64", **limits: int) -> Case:
    """A :class:`~gradcheck.cases.Case` of ``op``.

    - ``kind``: ``"smooth"`` or ``"kink"`` (see the module docstring).
    - ``dtype``: the candidate's dtype; inputs are rounded to it before anyone sees them.
    - ``limits``: passed to the op's geometry strategy (e.g. ``max_batch=1``).
    """
    if op not in SPECS:
        raise ValueError(f"unknown op {op!r}; known: {', '.join(SPECS)}")
    if kind not in ("smooth", "kink"):
        raise ValueError(f"kind must be 'smooth' or 'kink', got {kind!r}")
    spec = SPECS[op]
    if kind == "kink" and spec.kink is None:
        raise ValueError(f"{op} has no kinks")
    shapes, params = draw(geometry(op, **limits))
    seed = draw(st.integers(0, 2**32 - 1))
    if kind == "smooth":
        case = smooth_case(op, shapes, params, seed=seed, scale=draw(st.sampled_from(scales(dtype))), dtype=dtype)
        assume(case is not None)
        return case
    rng = np.random.default_rng(seed)
    lo, hi = spec.kink.values
    inputs = {k: draw(hnp.arrays(np.float64, s, elements=st.integers(lo, hi).map(float))) for k, s in shapes.items()}
    if spec.kink.sparse:
        x = spec.inputs[0]
        inputs[x] = inputs[x] * (rng.random(shapes[x]) < 0.5)
    inputs = {k: _round(v, dtype) for k, v in inputs.items()}
    delta = draw(hnp.arrays(np.float64, spec.out_shape(shapes, params), elements=st.integers(-3, 3).map(float)))
    return Case(op, inputs, params, _round(delta, dtype), kind=kind, dtype=dtype, seed=seed)
