"""Hypothesis strategies for the equation ledger: the small inputs every entry is checked on.

Each strategy draws one *case*: a plain ``dict`` of float64 arrays (2-D, ``H x W``, the seed's
single-channel setting) and a few ints or names. Shapes stay tiny (sides up to 5 or 6, kernels
up to 3) so the literal, loop-by-loop transcriptions run in microseconds, and shrinking ends at
the smallest shapes and the simplest values (0, 1).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

__all__ = [
    "Case",
    "values",
    "grid_values",
    "image_kernel_cases",
    "multichannel_cases",
    "forward_cases",
    "activation_cases",
    "mse_cases",
    "dw_cases",
    "dx_cases",
    "pool_cases",
]

#: One drawn input: argument name -> array, int or name.
Case = dict[str, Any]

#: Side lengths and kernel sizes drawn.
MAX_SIDE = 5
MAX_KERNEL = 3


def values() -> st.SearchStrategy[float]:
    """Finite float64 values in [-2, 2], no subnormals (they shrink to 0 and 1)."""
    return st.floats(min_value=-2.0, max_value=2.0, allow_nan=False, allow_infinity=False,
                     allow_subnormal=False, width=64)


def grid_values() -> st.SearchStrategy[float]:
    """Multiples of 1/4 in [-2, 2]: exact ties are possible, near-ties are not."""
    return st.integers(-8, 8).map(lambda v: v / 4.0)


def _array(shape: tuple[int, ...], elements: st.SearchStrategy[float] | None = None
           ) -> st.SearchStrategy[np.ndarray]:
    """A float64 array of ``shape`` (hypothesis' sparse fill: shrinks to one non-zero value
    at the first index, so shapes shrink too)."""
    return arrays(np.float64, shape, elements=values() if elements is None else elements)


@st.composite
def image_kernel_cases(draw: st.DrawFn, *, bias: bool = False) -> Case:
    """``I`` (H, W) and ``K`` (k1, k2) with ``k1 <= H``, ``k2 <= W`` (eqs. 1-3, 5).

    - ``bias``: also draw a scalar ``b``.
    """
    H = draw(st.integers(1, MAX_SIDE))
    W = draw(st.integers(1, MAX_SIDE))
    k1 = draw(st.integers(1, min(H, MAX_KERNEL)))
    k2 = draw(st.integers(1, min(W, MAX_KERNEL)))
    case = {"I": draw(_array((H, W))), "K": draw(_array((k1, k2)))}
    if bias:
        case["b"] = draw(values())
    return case


@st.composite
def multichannel_cases(draw: st.DrawFn) -> Case:
    """``I`` (H, W, C), ``K`` (k1, k2, C) and a scalar ``b``: one filter of eq. 4."""
    C = draw(st.integers(1, 3))
    H = draw(st.integers(1, 4))
    W = draw(st.integers(1, 4))
    k1 = draw(st.integers(1, min(H, MAX_KERNEL)))
    k2 = draw(st.integers(1, min(W, MAX_KERNEL)))
    return {"I": draw(_array((H, W, C))), "K": draw(_array((k1, k2, C))), "b": draw(values())}


@st.composite
def forward_cases(draw: st.DrawFn) -> Case:
    """``o_prev`` (H, W), ``w`` (k1, k2), scalar ``b``: one layer's forward (eqs. 5-7)."""
    H = draw(st.integers(1, MAX_SIDE))
    W = draw(st.integers(1, MAX_SIDE))
    k1 = draw(st.integers(1, min(H, MAX_KERNEL)))
    k2 = draw(st.integers(1, min(W, MAX_KERNEL)))
    return {"o_prev": draw(_array((H, W))), "w": draw(_array((k1, k2))), "b": draw(values())}


@st.composite
def activation_cases(draw: st.DrawFn) -> Case:
    """``x`` (H, W) and an activation name ``f`` in relu / tanh / sigmoid (eq. 8)."""
    H = draw(st.integers(1, MAX_SIDE))
    W = draw(st.integers(1, MAX_SIDE))
    return {"x": draw(_array((H, W))), "f": draw(st.sampled_from(["relu", "tanh", "sigmoid"]))}


@st.composite
def mse_cases(draw: st.DrawFn) -> Case:
    """Targets ``t`` and predictions ``y``, both (P,) with P in 1..8 (eq. 9)."""
    P = draw(st.integers(1, 8))
    return {"t": draw(_array((P,))), "y": draw(_array((P,)))}


@st.composite
def dw_cases(draw: st.DrawFn) -> Case:
    """Layer ``l`` with an upstream linear loss: ``x = o_prev (x) w + b``, ``E = sum(G * x)``.

    ``o_prev`` (H, W), ``w`` (k1, k2), scalar ``b``, ``G`` (H-k1+1, W-k2+1), so
    ``delta^l = dE/dx^l = G`` (eqs. 10-15).
    """
    case = draw(forward_cases())
    H, W = case["o_prev"].shape
    k1, k2 = case["w"].shape
    case["G"] = draw(_array((H - k1 + 1, W - k2 + 1)))
    return case


@st.composite
def dx_cases(draw: st.DrawFn) -> Case:
    """Two layers: ``x`` (H, W) -> ``f`` -> ``(x) w_next + b_next`` -> ``E = sum(G * x_next)``.

    ``w_next`` (k1, k2), scalar ``b_next``, ``G`` (H-k1+1, W-k2+1) so ``delta^{l+1} = G``;
    ``f`` is ``tanh`` or ``sigmoid`` (smooth, so finite differences apply) (eqs. 15-22).
    """
    H = draw(st.integers(1, MAX_SIDE))
    W = draw(st.integers(1, MAX_SIDE))
    k1 = draw(st.integers(1, min(H, MAX_KERNEL)))
    k2 = draw(st.integers(1, min(W, MAX_KERNEL)))
    return {
        "x": draw(_array((H, W))),
        "w_next": draw(_array((k1, k2))),
        "b_next": draw(values()),
        "G": draw(_array((H - k1 + 1, W - k2 + 1))),
        "f": draw(st.sampled_from(["tanh", "sigmoid"])),
    }


def _distinct_nonzero(shape: tuple[int, int]) -> st.SearchStrategy[np.ndarray]:
    """Distinct non-zero values at least 0.01 apart: ``a + (k+1)/100`` for the k-th pixel in
    row-major order, ``a`` an integer in [-4, 4] (at most 36 pixels, so offsets stay < 0.37)."""
    offsets = (np.arange(shape[0] * shape[1]) + 1).reshape(shape) / 100.0
    return arrays(np.int64, shape, elements=st.integers(-4, 4)).map(lambda a: a + offsets)


@st.composite
def pool_cases(draw: st.DrawFn, *, overlap: bool = False, ties: bool = False,
               zeros: bool = False) -> Case:
    """``x`` (H, W), block size ``N``, stride ``s`` and ``delta`` (one value per window).

    - ``overlap``: ``False`` gives the seed's setting, ``N x N`` blocks tiling ``x``
      (``s = N``, ``H``, ``W`` multiples of ``N``); ``True`` gives ``1 <= s < N`` (windows
      overlap) and any ``H, W >= N``.
    - ``ties``: draw ``x`` from {0, 1/2, 1}, so blocks hold equal values.
    - ``zeros``: draw ``x`` from the multiples of 1/8 in [-1, 1], so blocks may be all zeros
      (``o = 0`` for L2 pooling).

    Otherwise ``x``'s values are distinct and non-zero, at least 0.01 apart, so no tie is
    near enough to disturb central differences.
    """
    if overlap:
        N = draw(st.integers(2, 3))
        s = draw(st.integers(1, N - 1))
        H = draw(st.integers(N, N + 2))
        W = draw(st.integers(N, N + 2))
    else:
        N = draw(st.integers(2 if ties else 1, 3))
        s = N
        H = N * draw(st.integers(1, 2))
        W = N * draw(st.integers(1, 2))
    if ties:
        x = draw(_array((H, W), st.sampled_from([0.0, 0.5, 1.0])))
    elif zeros:
        x = draw(_array((H, W), st.integers(-8, 8).map(lambda v: v / 8.0)))
    else:
        x = draw(_distinct_nonzero((H, W)))
    Ho, Wo = (H - N) // s + 1, (W - N) // s + 1
    delta = draw(_array((Ho, Wo), grid_values()))
    return {"x": x, "N": N, "s": s, "delta": delta}
