"""The loss of eq. 9: E = 1/2 sum (t - y)^2, the mean-squared error without the mean.

y, t (P, K) -> 0-d E; the upstream gradient delta is 0-d and dy = delta (y - t). The loss sums
over the batch, so its samples are not independent of one another.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from gradcheck.ops.spec import Family, Geometry, ModuleMatch, OpProtocol, OpSpec, Params, Pick, Shapes, check_limits

__all__ = ["MseFamily", "MSE_FAMILY", "MSE", "SPECS"]


class MseFamily(Family):
    """Geometry of eq. 9's predictions and targets: P samples of K outputs."""

    name = "mse"
    features = ("P>1", "K>1")
    constraint_keys = {"batch": ("max", "max_batch"), "outputs": ("max", "max_outputs")}
    small = {"max_batch": 3, "max_outputs": 3}

    def geometry(self, pick: Pick, *, max_batch: int = 4, max_outputs: int = 5) -> Geometry:
        """Shapes ``{"y": (P,K), "t": (P,K)}`` of eq. 9's predictions and targets."""
        check_limits(max_batch=max_batch, max_outputs=max_outputs)
        shape = (pick(1, max_batch), pick(1, max_outputs))
        return {"y": shape, "t": shape}, {}

    def limits_within(self, shapes: Shapes, params: Params) -> dict[str, int]:
        return {"max_batch": shapes["y"][0], "max_outputs": shapes["y"][1]}

    def long_reduction(self, own: dict[str, Any]) -> Geometry:
        return {"y": (64, 32), "t": (64, 32)}, {}

    def features_of(self, shapes: Shapes, params: Params) -> set[str]:
        p, k = shapes["y"]
        return {name for name, v in {"P>1": p > 1, "K>1": k > 1}.items() if v}


MSE_FAMILY = MseFamily()


def _magnitudes(spec: OpSpec, case: Any, torch_run: Callable) -> dict[str, np.ndarray]:
    y, t = case.inputs["y"], case.inputs["t"]
    return {"forward": np.asarray(0.5 * ((np.abs(t) + np.abs(y)) ** 2).sum()),
            "dy": np.abs(case.delta) * (np.abs(y) + np.abs(t))}


MSE = OpSpec(
    OpProtocol("mse", ("y", "t"), ("dy",), ()), MSE_FAMILY,
    lambda t, p: 0.5 * ((t["t"] - t["y"]) ** 2).sum(),
    lambda t, p: f"0.5 * (({t['t']} - {t['y']}) ** 2).sum()",
    lambda s, p: (), {"y": "full"}, lambda s, p: {"forward": math.prod(s["y"]) + 1, "dy": 2},
    magnitudes=_magnitudes, batched=False, module=ModuleMatch(hints=("mse",)),
)

SPECS = (MSE,)
