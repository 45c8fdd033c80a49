"""The mask oracle, for ops that draw a random mask (dropout): the truth read from the
candidate's own forward.

There is no mask independent of the candidate (each draws its own from its seed), so the mask
is taken from its forward, ``keep = o != 0``, and the truth is the op on that mask:
``o = x * keep / (1 - p)``, ``dx = delta * keep / (1 - p)``. A forward that scales wrongly
disagrees with its own mask's truth; a backward that draws a fresh mask disagrees with dx.
Whether the masks are random as they should be is ``mask-statistics``
(:func:`mask_statistics`), over many seeds.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradcheck.cases import Case, Expected
from gradcheck.ops import OpSpec

__all__ = ["mask_oracle", "on_mask", "covers", "mask_statistics", "SEEDS", "P_VALUE"]

#: Seeds a mask's statistics are taken over, and the p-value below which they fail.
SEEDS = 48
P_VALUE = 1e-6


def covers(spec: OpSpec) -> tuple[bool, bool]:
    return (spec.random, spec.random)


def on_mask(x: np.ndarray, delta: np.ndarray, o: np.ndarray, p: float) -> tuple[np.ndarray, np.ndarray]:
    """``(o, dx)`` of inverted dropout on the mask read from ``o`` (``keep = o != 0``, finite)."""
    keep = (np.asarray(o) != 0) & np.isfinite(o)
    scale = 1.0 / (1.0 - p)
    return np.where(keep, x * scale, 0.0), np.where(keep, delta * scale, 0.0)


def mask_oracle(spec: OpSpec, case: Case, forward: Callable | None = None) -> Expected | None:
    """The truth on the candidate's own mask (``None`` without its forward or for other ops)."""
    if forward is None or not spec.random:
        return None
    x = np.asarray(case.inputs["x"], np.float64)
    o = np.asarray(forward(case.inputs), np.float64)
    if o.shape != x.shape:
        return None
    truth, dx = on_mask(x, case.delta, o, float(case.params["p"][0]))
    return Expected("mask", forward=truth, grads={"dx": dx})


def mask_statistics(spec: OpSpec, case: Case, forward_with: Callable[[dict[str, Any]], Any]) -> tuple[bool, str]:
    """``(passed, message)``: over :data:`SEEDS` seeds, whether the number of dropped elements
    is Binomial(n, p) (two-sided test, p-value above :data:`P_VALUE`) and the masks depend on
    the seed. ``forward_with(params)`` is the candidate's forward on the case's inputs."""
    from scipy.stats import binomtest

    p = float(case.params["p"][0])
    seed = int(case.params["seed"][0])
    masks = []
    for s in range(SEEDS):
        o = np.asarray(forward_with({**case.params, "seed": (seed + 1 + s,)}), np.float64)
        masks.append(o == 0)
    drops = int(sum(int(m.sum()) for m in masks))
    n = SEEDS * masks[0].size
    test = binomtest(drops, n, p)
    distinct = len({m.tobytes() for m in masks})
    said = f"dropped {drops} of {n} elements over {SEEDS} seeds ({drops / n:.3f}, p = {p:g}; binomial p-value {test.pvalue:.2g})"
    if test.pvalue < P_VALUE:
        return False, f"the mask does not drop with probability p: {said}"
    if distinct == 1 and masks[0].size * min(p, 1 - p) >= 1:
        return False, f"the mask is the same for every seed ({SEEDS} seeds): it does not depend on the seed"
    return True, said
