"""The normalisation family: batch normalisation in training mode, layer and group normalisation.

batch_norm: x (N, F) normalised over N, or x (N, C, H, W) over N, H and W (spatial batch
norm), with the biased batch variance, as torch; gamma, beta (F,) or (C,); eps = 1e-5 (torch's
default). o = gamma x^ + beta with x^ = (x - mu) / sqrt(var + eps); gradients dx, dgamma,
dbeta (``reference/norm.py`` derives them). Running statistics are state, not differentiated.

dx is a difference of terms that nearly cancel (with N = 2 it is close to 0 at any scale), so
its magnitudes are those of the terms, ``|gamma| / s (|delta| + mean|delta| + |x^| mean|delta
x^|)``, not of the result. A set of one value (N = 1 and no spatial axes) has variance 0: x^ = 0,
o = beta, dx = 0, as torch computes it.

group_norm: x (N, C, *spatial), each sample's C channels split into ``groups`` groups of C/groups
consecutive channels, each group normalised over its channels and positions; gamma, beta (C,).
``groups = 1`` normalises a whole sample (a layer norm with per-channel gamma), ``groups = C``
each channel of each sample (instance norm).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradcheck.ops.spec import (Bench, CS231n, Family, Geometry, ModuleMatch, OpProtocol, OpSpec, Params, Pick, Shapes,
                                TorchCall, check_limits, torch)

__all__ = ["NormFamily", "GroupNormFamily", "NORM", "GROUP_NORM_FAMILY", "BATCH_NORM", "LAYER_NORM", "GROUP_NORM",
           "SPECS", "EPS"]

#: torch's default eps.
EPS = 1e-5


def _axes(x_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes one statistic is taken over: all but the channel axis 1."""
    return (0,) + tuple(range(2, len(x_shape)))


def _set_size(shapes: Shapes) -> int:
    x = shapes["x"]
    return int(np.prod([x[a] for a in _axes(x)]))


class NormFamily(Family):
    """Geometry of a batch norm: (N, F) features, or (N, C, H, W) maps (``spatial``)."""

    name = "norm"
    features = ("N>1", "F>1", "spatial", "non-square input")
    constraint_keys = {"batch": ("max", "max_batch"), "features": ("max", "max_features"),
                       "spatial": ("switch", "spatial")}
    small = {"max_batch": 3, "max_features": 3, "max_size": 3}

    def geometry(self, pick: Pick, *, max_batch: int = 4, max_features: int = 4, max_size: int = 4,
                 spatial: bool | None = None, min_set: int = 1) -> Geometry | None:
        """Shapes ``{"x", "gamma", "beta"}`` of a batch norm; no params.

        - ``max_batch``, ``max_features``: upper bounds of N and of F (or C).
        - ``max_size``: upper bound of H and W of a spatial case (drawn apart).
        - ``spatial``: ``True`` only (N, C, H, W), ``False`` only (N, F), ``None`` both.
        - ``min_set``: the fewest values one batch statistic may be taken over (N·H·W;
          ``F.batch_norm`` refuses a set of one value).
        """
        check_limits(max_batch=max_batch, max_features=max_features, max_size=max_size, min_set=min_set)
        n, f = pick(1, max_batch), pick(1, max_features)
        four = bool(pick(0, 1)) if spatial is None else spatial
        x = (n, f, pick(1, max_size), pick(1, max_size)) if four else (n, f)
        if _set_size({"x": x}) < min_set:
            return None
        return {"x": x, "gamma": (f,), "beta": (f,)}, {}

    def limits_within(self, shapes: Shapes, params: Params) -> dict[str, Any]:
        x = shapes["x"]
        out: dict[str, Any] = {"max_batch": x[0], "max_features": x[1], "spatial": len(x) == 4}
        if len(x) == 4:
            out["max_size"] = max(x[2:])
        return out

    def long_reduction(self, own: dict[str, Any]) -> Geometry:
        return {"x": (8, 2, 16, 16), "gamma": (2,), "beta": (2,)}, {}

    def features_of(self, shapes: Shapes, params: Params) -> set[str]:
        x = shapes["x"]
        on = {"N>1": x[0] > 1, "F>1": x[1] > 1, "spatial": len(x) == 4,
              "non-square input": len(x) == 4 and x[2] != x[3]}
        return {f for f, v in on.items() if v}


NORM = NormFamily()


class GroupNormFamily(NormFamily):
    """Geometry of a group norm: (N, C) or (N, C, H, W) with ``groups`` dividing C."""

    name = "group_norm"
    features = ("N>1", "spatial", "non-square input", "groups>1", "C/groups>1", "groups=C")
    constraint_keys = {**NormFamily.constraint_keys, "groups": ("max", "max_groups")}
    bench_group = "norms"

    def geometry(self, pick: Pick, *, max_batch: int = 3, max_features: int = 6, max_size: int = 3,
                 spatial: bool | None = None, max_groups: int = 3, min_set: int = 1) -> Geometry | None:
        """Shapes ``{"x", "gamma", "beta"}`` and ``{"groups": (G,)}``: ``max_groups`` bounds G,
        C is a multiple of G within ``max_features``; ``min_set`` bounds N·(C/G)·H·W from below
        (what ``F.group_norm`` checks); the other limits as a batch norm's."""
        check_limits(max_batch=max_batch, max_features=max_features, max_size=max_size, max_groups=max_groups,
                     min_set=min_set)
        n = pick(1, max_batch)
        g = pick(1, min(max_groups, max_features))
        c = g * pick(1, max(1, max_features // g))
        four = bool(pick(0, 1)) if spatial is None else spatial
        x = (n, c, pick(1, max_size), pick(1, max_size)) if four else (n, c)
        if int(np.prod(x)) // g < min_set:
            return None
        return {"x": x, "gamma": (c,), "beta": (c,)}, {"groups": (g,)}

    def limits_within(self, shapes: Shapes, params: Params) -> dict[str, Any]:
        return {**super().limits_within(shapes, params), "max_groups": params["groups"][0]}

    def long_reduction(self, own: dict[str, Any]) -> Geometry:
        return {"x": (4, 4, 16, 16), "gamma": (4,), "beta": (4,)}, {"groups": (2,)}

    def features_of(self, shapes: Shapes, params: Params) -> set[str]:
        x, g = shapes["x"], params["groups"][0]
        on = {"N>1": x[0] > 1, "spatial": len(x) == 4, "non-square input": len(x) == 4 and x[2] != x[3],
              "groups>1": g > 1, "C/groups>1": x[1] // g > 1, "groups=C": g == x[1] > 1}
        return {f for f, v in on.items() if v}


GROUP_NORM_FAMILY = GroupNormFamily()


def _layer_axes(x_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The axes a layer norm's statistic is taken over: all but the batch axis 0."""
    return tuple(range(1, len(x_shape)))


def _stats(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """(x^, 1/s broadcastable, axes) of a normalisation over ``axes``, in float64."""
    mu = x.mean(axis=axes, keepdims=True)
    inv_s = 1.0 / np.sqrt(((x - mu) ** 2).mean(axis=axes, keepdims=True) + EPS)
    return (x - mu) * inv_s, inv_s, axes


def _channel(v: np.ndarray, ndim: int) -> np.ndarray:
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def _magnitudes_over(stat_axes: Callable[[tuple[int, ...]], tuple[int, ...]], layer: bool):
    def magnitudes(spec: OpSpec, case: Any, torch_run: Callable) -> dict[str, np.ndarray]:
        return _magnitudes(case, stat_axes, layer)

    return magnitudes


def _magnitudes(case: Any, stat_axes: Callable, layer: bool) -> dict[str, np.ndarray]:
    """The terms of each quantity, in absolute value (module docstring); gamma and beta are
    per channel (batch norm) or per feature of a sample (layer norm)."""
    x = np.asarray(case.inputs["x"], np.float64)
    xh, inv_s, axes = _stats(x, stat_axes(x.shape))
    per = (lambda v: np.abs(v)[None]) if layer else (lambda v: _channel(np.abs(v), x.ndim))
    gamma, beta = per(case.inputs["gamma"]), per(case.inputs["beta"])
    shared = (0,) if layer else axes  # the axes gamma and beta are shared along
    d = np.abs(case.delta)
    g = gamma * d  # |dE/dx^|
    mean_g = g.mean(axis=axes, keepdims=True)
    mean_gx = (g * np.abs(xh)).mean(axis=axes, keepdims=True)
    dx = inv_s * (g + mean_g + np.abs(xh) * mean_gx + np.abs(x) * inv_s * mean_gx)
    return {"forward": gamma * (np.abs(xh) + np.abs(x) * inv_s) + beta, "dx": dx + 1e-300,
            "dgamma": (d * (np.abs(xh) + np.abs(x) * inv_s)).sum(axis=shared), "dbeta": d.sum(axis=shared)}


def _torch(t: dict[str, Any], p: Params):
    # the kernel under F.batch_norm, which refuses a set of one value (N = 1, no spatial axes)
    return torch().batch_norm(t["x"], t["gamma"], t["beta"], None, None, True, 0.1, EPS, False)


def _batch_norm_call(fn: Any, t: dict[str, Any], p: Params):
    return fn(t["x"], None, None, t["gamma"], t["beta"], True, 0.1, EPS)


def _reduction(shapes: Shapes, params: Params) -> dict[str, int]:
    m = _set_size(shapes)
    return {"forward": 2 * m + 4, "dx": 3 * m + 8, "dgamma": 2 * m + 4, "dbeta": m}


def _bn_param(p: Params) -> tuple[str, dict[str, Any]]:
    return "bn_param", {"mode": "train", "eps": EPS}


_CS = dict(arrays=("x", "gamma", "beta"), param=_bn_param)

BATCH_NORM = OpSpec(
    OpProtocol("batch_norm", ("x", "gamma", "beta"), ("dx", "dgamma", "dbeta"), ()), NORM, _torch,
    lambda t, p: f"torch.batch_norm({t['x']}, {t['gamma']}, {t['beta']}, None, None, True, 0.1, {EPS}, False)",
    lambda s, p: s["x"], {"x": "full", "gamma": "full", "beta": "full"}, _reduction,
    magnitudes=_magnitudes_over(_axes, layer=False), batched=False,
    cs231n=(CS231n("batchnorm_forward", "batchnorm_backward", **_CS, limits={"spatial": False}),
            CS231n("batchnorm_forward", "batchnorm_backward_alt", **_CS, limits={"spatial": False}, variant="alt",
                   optional=True),
            CS231n("spatial_batchnorm_forward", "spatial_batchnorm_backward", **_CS, limits={"spatial": True},
                   variant="spatial", optional=True)),
    module=ModuleMatch(hints=("batchnorm",), rank=1),
    torch_call=TorchCall("batch_norm", _batch_norm_call, limits={"min_set": 2},
                         source=f"fn(x, None, None, gamma, beta, True, 0.1, {EPS})"),
    bench=(Bench({"x": (64, 256), "gamma": (256,), "beta": (256,)}, {}, "batch_norm",
                 {"x": (16, 32), "gamma": (32,), "beta": (32,)}),
           Bench({"x": (32, 64, 16, 16), "gamma": (64,), "beta": (64,)}, {}, "batch_norm",
                 {"x": (4, 8, 8, 8), "gamma": (8,), "beta": (8,)}, suffix="spatial")),
)

def _ln_param(p: Params) -> tuple[str, dict[str, Any]]:
    return "ln_param", {"eps": EPS}


def _ln_reduction(shapes: Shapes, params: Params) -> dict[str, int]:
    f, n = int(np.prod(shapes["x"][1:])), shapes["x"][0]
    return {"forward": 2 * f + 4, "dx": 3 * f + 8, "dgamma": 2 * n + 4, "dbeta": n}


#: layer_norm: x (N, F) normalised over F per sample (as CS231n's layernorm_*); gamma, beta (F,).
LAYER_NORM = OpSpec(
    OpProtocol("layer_norm", ("x", "gamma", "beta"), ("dx", "dgamma", "dbeta"), ()), NORM,
    lambda t, p: torch().nn.functional.layer_norm(t["x"], tuple(t["gamma"].shape), t["gamma"], t["beta"], eps=EPS),
    lambda t, p: f"F.layer_norm({t['x']}, tuple({t['gamma']}.shape), {t['gamma']}, {t['beta']}, eps={EPS})",
    lambda s, p: s["x"], {"x": "full", "gamma": "full", "beta": "full"}, _ln_reduction,
    limits={"spatial": False}, magnitudes=_magnitudes_over(_layer_axes, layer=True),
    cs231n=(CS231n("layernorm_forward", "layernorm_backward", ("x", "gamma", "beta"), param=_ln_param),),
    module=ModuleMatch(hints=("layernorm",), rank=1),
    torch_call=TorchCall("layer_norm", lambda fn, t, p: fn(t["x"], tuple(t["gamma"].shape), t["gamma"], t["beta"],
                                                           eps=EPS),
                         source=f"fn(x, tuple(gamma.shape), gamma, beta, eps={EPS})"),
    bench=(Bench({"x": (64, 256), "gamma": (256,), "beta": (256,)}, {}, "layer_norm",
                 {"x": (16, 32), "gamma": (32,), "beta": (32,)}),),
)

def _gn_rows(x: np.ndarray, g: int) -> np.ndarray:
    return x.reshape(x.shape[0], g, -1)


def _gn_magnitudes(spec: OpSpec, case: Any, torch_run: Any) -> dict[str, np.ndarray]:
    """The terms of each quantity of a group norm, as :func:`_magnitudes`, per sample and group."""
    x = np.asarray(case.inputs["x"], np.float64)
    g = case.params["groups"][0]
    rows = _gn_rows(x, g)
    xh, inv_s, _ = _stats(rows, (2,))
    xh, inv_s = xh.reshape(x.shape), np.broadcast_to(inv_s, rows.shape).reshape(x.shape)
    gamma, beta = _channel(np.abs(case.inputs["gamma"]), x.ndim), _channel(np.abs(case.inputs["beta"]), x.ndim)
    d = np.abs(case.delta)
    gd = gamma * d
    mean_g = np.broadcast_to(_gn_rows(gd, g).mean(axis=2, keepdims=True), rows.shape).reshape(x.shape)
    mean_gx = np.broadcast_to(_gn_rows(gd * np.abs(xh), g).mean(axis=2, keepdims=True), rows.shape).reshape(x.shape)
    dx = inv_s * (gd + mean_g + np.abs(xh) * mean_gx + np.abs(x) * inv_s * mean_gx)
    shared = _axes(x.shape)
    return {"forward": gamma * (np.abs(xh) + np.abs(x) * inv_s) + beta, "dx": dx + 1e-300,
            "dgamma": (d * (np.abs(xh) + np.abs(x) * inv_s)).sum(axis=shared), "dbeta": d.sum(axis=shared)}


def _gn_reduction(shapes: Shapes, params: Params) -> dict[str, int]:
    x = shapes["x"]
    m = int(np.prod(x[1:])) // params["groups"][0]
    per_channel = int(np.prod(x)) // x[1]
    return {"forward": 2 * m + 4, "dx": 3 * m + 8, "dgamma": 2 * per_channel + 4, "dbeta": per_channel}


def _gn_torch(t: dict[str, Any], p: Params):
    # the kernel under F.group_norm, which refuses N·C/groups·H·W = 1
    return torch().group_norm(t["x"], p["groups"][0], t["gamma"], t["beta"], EPS, False)


def _gn_param(p: Params) -> tuple[str, dict[str, Any]]:
    return "gn_param", {"eps": EPS}


def _cs_channel(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (1, shape[0], 1, 1)


#: group_norm: F.group_norm(x, groups, gamma, beta, eps); CS231n's spatial_groupnorm_* hold gamma
#: and beta as (1, C, 1, 1) and take G positionally.
GROUP_NORM = OpSpec(
    OpProtocol("group_norm", ("x", "gamma", "beta"), ("dx", "dgamma", "dbeta"), ("groups",), scalars=("groups",)),
    GROUP_NORM_FAMILY, _gn_torch,
    lambda t, p: f"torch.group_norm({t['x']}, {p['groups'][0]}, {t['gamma']}, {t['beta']}, {EPS}, False)",
    lambda s, p: s["x"], {"x": "sample", "gamma": "full", "beta": "full"}, _gn_reduction, magnitudes=_gn_magnitudes,
    cs231n=(CS231n("spatial_groupnorm_forward", "spatial_groupnorm_backward", ("x", "gamma", "beta"), param=_gn_param,
                   shaped={"gamma": _cs_channel, "beta": _cs_channel}, scalars=("groups",),
                   limits={"spatial": True}),),
    module=ModuleMatch(hints=("groupnorm",), rank=1),
    torch_call=TorchCall("group_norm", lambda fn, t, p: fn(t["x"], p["groups"][0], t["gamma"], t["beta"], eps=EPS),
                         limits={"min_set": 2}, source=f"fn(x, params['groups'], gamma, beta, eps={EPS})"),
    bench=(Bench({"x": (32, 64, 16, 16), "gamma": (64,), "beta": (64,)}, {"groups": (8,)}, "group_norm",
                 {"x": (4, 8, 8, 8), "gamma": (8,), "beta": (8,)}),),
)

SPECS = (BATCH_NORM, LAYER_NORM, GROUP_NORM)
