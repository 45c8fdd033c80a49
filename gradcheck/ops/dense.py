"""The dense (fully connected) layer: o = x w^T + b.

x (N, F), w (K, F), b (K,) -> (N, K); gradients dx = delta w, dw = delta^T x, db = sum_N delta.
The CS231n convention (``affine_forward``) holds w as (F, K): it is handed over transposed.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck.ops.spec import (CS231n, Family, Geometry, ModuleMatch, OpProtocol, OpSpec, Params, Pick, Shapes, TorchCall,
                                check_limits, torch)

__all__ = ["DenseFamily", "DENSE_FAMILY", "DENSE", "SPECS"]


class DenseFamily(Family):
    """Geometry of a dense layer: batch N, features F, outputs K."""

    name = "dense"
    features = ("N>1", "F>1", "K>1")
    constraint_keys = {"batch": ("max", "max_batch"), "features": ("max", "max_features"),
                       "outputs": ("max", "max_outputs")}
    small = {"max_batch": 3, "max_features": 4, "max_outputs": 3}
    module_geometry = ("in_features", "out_features")
    weight_dims = 2
    weight_shapes = {"w": "(K, F)", "b": "(K,)"}

    def geometry(self, pick: Pick, *, max_batch: int = 4, max_features: int = 6, max_outputs: int = 5,
                 fixed_features: int | None = None, fixed_outputs: int | None = None) -> Geometry:
        """Shapes ``{"x": (N,F), "w": (K,F), "b": (K,)}``; no params (``fixed_features``,
        ``fixed_outputs``: a linear layer's own F and K)."""
        check_limits(max_batch=max_batch, max_features=max_features, max_outputs=max_outputs)
        n = pick(1, max_batch)
        f = fixed_features if fixed_features is not None else pick(1, max_features)
        k = fixed_outputs if fixed_outputs is not None else pick(1, max_outputs)
        return {"x": (n, f), "w": (k, f), "b": (k,)}, {}

    def limits_within(self, shapes: Shapes, params: Params) -> dict[str, int]:
        return {"max_batch": shapes["x"][0], "max_features": shapes["x"][1], "max_outputs": shapes["w"][0]}

    def long_reduction(self, own: dict[str, Any]) -> Geometry:
        return {"x": (512, 8), "w": (4, 8), "b": (4,)}, {}

    def features_of(self, shapes: Shapes, params: Params) -> set[str]:
        n, f = shapes["x"]
        k = shapes["w"][0]
        return {name for name, v in {"N>1": n > 1, "F>1": f > 1, "K>1": k > 1}.items() if v}

    def module_params(self, module: Any, op: str, weights: dict[str, Any], where: str) -> tuple[Shapes, Params]:
        k, f = tuple(weights["w"].shape)
        return {"x": (-1, f), "w": (k, f), "b": (k,)}, {}

    def module_limits(self, shapes: Shapes, params: Params) -> tuple[dict[str, Any], dict[str, Any]]:
        k, f = shapes["w"]
        return {"max_features": f, "max_outputs": k}, {"fixed_features": f, "fixed_outputs": k}

    def factory_args(self, inputs: dict[str, np.ndarray], params: Params) -> dict[str, Any]:
        k, f = inputs["w"].shape
        return {"in_features": f, "out_features": k}


DENSE_FAMILY = DenseFamily()

DENSE = OpSpec(
    OpProtocol("dense", ("x", "w", "b"), ("dx", "dw", "db"), ()), DENSE_FAMILY,
    lambda t, p: torch().nn.functional.linear(t["x"], t["w"], t["b"]),
    lambda t, p: f"F.linear({t['x']}, {t['w']}, {t['b']})",
    lambda s, p: (s["x"][0], s["w"][0]),
    {"x": "dense-rows", "w": "dense-weight", "b": "dense-bias"},
    lambda s, p: {"forward": s["x"][1] + 1, "dx": s["w"][0], "dw": s["x"][0], "db": s["x"][0]},
    cs231n=(CS231n("affine_forward", "affine_backward", ("x", "w", "b"), transposed=("w",)),),
    module=ModuleMatch(types=("Linear",), hints=("dense", "linear", "affine"), weight_dims=2),
    torch_call=TorchCall("linear"),
)

SPECS = (DENSE,)
