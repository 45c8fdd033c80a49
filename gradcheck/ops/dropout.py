"""Dropout in training mode, inverted: ``o = x * keep / (1 - p)``, ``dx = delta * keep / (1 - p)``.

x (N, C, H, W) or (N, F); ``p`` is the drop probability (torch's), ``seed`` makes the mask
reproducible: the native protocol's ``dropout_forward(x, *, p, seed)`` and
``dropout_backward(delta, x, *, p, seed)`` must draw the same mask for the same seed, so the
backward uses the forward's mask. Each candidate draws its mask its own way, so there is no
truth independent of it: the mask is read from the candidate's own forward
(``gradcheck.oracles.mask``: ``keep = o != 0``), the forward must then be exactly ``x / (1 - p)``
where kept and 0 elsewhere, and the gradient ``delta / (1 - p)`` on the same mask; finite
differences of the forward catch a backward that draws a fresh mask; the mask's statistics over
many seeds are tested against Binomial(n, p) (``mask-statistics``). Eval mode (the identity) is
the reference's ``dropout_eval_forward``.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradcheck.ops.spec import (Bench, CS231n, Family, Geometry, ModuleMatch, OpProtocol, OpSpec, Params, Pick, Shapes, TorchCall,
                                check_limits, torch)

__all__ = ["DropoutFamily", "DROPOUT_FAMILY", "DROPOUT", "SPECS", "P_CHOICES"]

#: The drop probabilities cases are drawn with (hypothesis shrinks towards the first).
P_CHOICES = (0.5, 0.2, 0.8)


class DropoutFamily(Family):
    """Geometry of a dropout: (N, F) or (N, C, H, W), a drop probability and a seed."""

    name = "dropout"
    features = ("N>1", "spatial", "p=0.2", "p=0.5", "p=0.8")
    constraint_keys = {"batch": ("max", "max_batch"), "size": ("max", "max_size")}
    small = {"max_batch": 2, "max_size": 3}

    def geometry(self, pick: Pick, *, max_batch: int = 4, max_size: int = 6, spatial: bool | None = None) -> Geometry:
        """Shapes ``{"x"}``, params ``{"p": (p,), "seed": (s,)}``: ``max_batch`` bounds N,
        ``max_size`` F (or C, H, W); ``spatial``: True only 4-d, False only 2-d."""
        check_limits(max_batch=max_batch, max_size=max_size)
        n = pick(1, max_batch)
        four = bool(pick(0, 1)) if spatial is None else spatial
        x = (n, pick(1, 3), pick(1, max_size), pick(1, max_size)) if four else (n, pick(1, max_size * 4))
        return {"x": x}, {"p": (P_CHOICES[pick(0, len(P_CHOICES) - 1)],), "seed": (pick(0, 2**16),)}

    def limits_within(self, shapes: Shapes, params: Params) -> dict[str, Any]:
        x = shapes["x"]
        return {"max_batch": x[0], "max_size": max(x[2:]) if len(x) == 4 else max(1, -(-x[1] // 4)),
                "spatial": len(x) == 4}

    def long_reduction(self, own: dict[str, Any]) -> Geometry:
        return {"x": (8, 4, 16, 16)}, {"p": (0.5,), "seed": (0,)}

    def features_of(self, shapes: Shapes, params: Params) -> set[str]:
        x = shapes["x"]
        on = {"N>1": x[0] > 1, "spatial": len(x) == 4, f"p={params['p'][0]:g}": True}
        return {f for f, v in on.items() if v and f in self.features}


DROPOUT_FAMILY = DropoutFamily()


def _torch(t: dict[str, Any], p: Params):
    """torch's own dropout under the case's seed: its mask is torch's, not the candidate's (the
    oracles read the candidate's; this serves the benchmark)."""
    tc = torch()
    tc.manual_seed(int(p["seed"][0]))
    return tc.nn.functional.dropout(t["x"], p=float(p["p"][0]), training=True)


def _magnitudes(spec: OpSpec, case: Any, torch_run: Callable) -> dict[str, np.ndarray]:
    scale = 1.0 / (1.0 - float(case.params["p"][0]))
    return {"forward": np.abs(case.inputs["x"]) * scale, "dx": np.abs(case.delta) * scale}


def _dropout_param(p: Params) -> tuple[str, dict[str, Any]]:
    # CS231n's p is the probability of keeping a unit
    return "dropout_param", {"mode": "train", "p": 1.0 - float(p["p"][0]), "seed": int(p["seed"][0])}


DROPOUT = OpSpec(
    OpProtocol("dropout", ("x",), ("dx",), ("p", "seed"), scalars=("p", "seed")), DROPOUT_FAMILY, _torch,
    lambda t, p: (f"(torch.manual_seed({p['seed'][0]}), F.dropout({t['x']}, p={p['p'][0]}, training=True))[1]"),
    lambda s, p: s["x"], {"x": "elementwise"}, lambda s, p: {"forward": 2, "dx": 2},
    magnitudes=_magnitudes, random=True,
    cs231n=(CS231n("dropout_forward", "dropout_backward", ("x",), param=_dropout_param),),
    module=ModuleMatch(hints=("dropout",), rank=1),
    torch_call=TorchCall("dropout", lambda fn, t, p: fn(t["x"], p=float(p["p"][0]), training=True), seeded=True,
                         source="fn(x, p=params['p'], training=True)"),
    bench=(Bench({"x": (32, 64, 32, 32)}, {"p": (0.5,), "seed": (0,)}, "dropout", {"x": (4, 8, 16, 16)}),),
)

SPECS = (DROPOUT,)
