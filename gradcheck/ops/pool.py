"""The pooling family: max, average (zero padding counted, as torch) and L2-norm pooling.

x (N, C, H, W) -> (N, C, Ho, Wo); hyper-parameters kernel_size, stride, padding, each an
``(h, w)`` pair (padding at most half the window, as torch allows; L2 pooling has none). The
scipy closed forms are ``ndimage`` filters (``maximum_filter``, ``uniform_filter``; L2: of
``x**2``, square-rooted) and cover the forward only. Max pooling has ties, L2 pooling all-zero
windows: their kink rules are in ``gradcheck.judge.subgradient``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck.ops.spec import (Bench, CS231n, Family, Geometry, Kink, ModuleMatch, OpProtocol, OpSpec, Params, Pick, Shapes,
                                check_limits, cover, fixed_pair, int_pair, out_len, pair, torch)

__all__ = ["PoolFamily", "POOL", "SPECS", "pool_out_shape", "pool_forward", "windows", "MAX_POOL2D", "AVG_POOL2D",
           "L2_POOL2D"]

PARAMS = ("kernel_size", "stride", "padding")


def pool_out_shape(shapes: Shapes, params: Params) -> tuple[int, ...]:
    n, c, h, w = shapes["x"]
    (kh, kw), (sh, sw), (ph, pw) = params["kernel_size"], params["stride"], params["padding"]
    return (n, c, out_len(h, kh, sh, ph), out_len(w, kw, sw, pw))


def _reduction(shapes: Shapes, params: Params) -> dict[str, int]:
    (kh, kw), (sh, sw) = params["kernel_size"], params["stride"]
    return {"forward": kh * kw, "dx": cover(kh, sh) * cover(kw, sw) * (1 + kh * kw)}


def _pad(x: np.ndarray, ph: int, pw: int, value: float = 0.0) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def pool_forward(kind: str, x: np.ndarray, params: Params) -> np.ndarray:
    """``kind`` ("max", "avg", "l2") pooling of x (N,C,H,W) by ``scipy.ndimage`` filters."""
    from scipy import ndimage

    (kh, kw), (sh, sw), (ph, pw) = params["kernel_size"], params["stride"], params["padding"]
    _, _, ho, wo = pool_out_shape({"x": x.shape}, params)
    size, origin = (1, 1, kh, kw), (0, 0, -(kh // 2), -(kw // 2))
    if kind == "max":
        y = ndimage.maximum_filter(_pad(x, ph, pw, -np.inf), size=size, origin=origin, mode="constant", cval=-np.inf)
    elif kind == "avg":
        y = ndimage.uniform_filter(_pad(x, ph, pw), size=size, origin=origin, mode="constant")
    else:
        y = np.sqrt(np.maximum(ndimage.uniform_filter(_pad(x, ph, pw) ** 2, size=size, origin=origin,
                                                      mode="constant") * kh * kw, 0))
    return y[:, :, : (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw]


def windows(x: np.ndarray, params: Params, fill: float) -> np.ndarray:
    """Pooling windows of x (N,C,H,W) as (N,C,Ho,Wo,kh*kw), padding filled with ``fill``."""
    (kh, kw), (sh, sw), (ph, pw) = params["kernel_size"], params["stride"], params["padding"]
    v = np.lib.stride_tricks.sliding_window_view(_pad(x, ph, pw, fill), (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return v.reshape(v.shape[:4] + (kh * kw,))


class PoolFamily(Family):
    """Geometry of a pooling op: non-square windows, overlapping (stride < window) and skipping
    (stride > window), padding."""

    name = "pool"
    features = ("overlapping windows", "stride > window", "padding>0", "non-square window", "non-square input",
                "N>1", "C>1")
    constraint_keys = {"square": ("flag", "square"), "padding": ("switch", "padding"),
                       "stride": ("count", "max_stride"), "window": ("max", "max_window"),
                       "batch": ("max", "max_batch"), "channels": ("max", "max_channels")}
    small = {"max_batch": 2, "max_channels": 2, "max_window": 3, "max_extra": 2}

    def geometry(self, pick: Pick, *, max_batch: int = 3, max_channels: int = 3, max_window: int = 4,
                 max_stride: int = 3, max_extra: int = 5, padding: bool = True, square: bool = False,
                 fixed_window: tuple[int, int] | None = None, fixed_stride: tuple[int, int] | None = None,
                 fixed_padding: tuple[int, int] | None = None) -> Geometry | None:
        """Shapes ``{"x"}`` and params ``{"kernel_size", "stride", "padding"}`` of a pooling op.

        - ``max_window``: upper bound of each window side, drawn apart (non-square windows).
        - ``max_stride``: strides below the window give overlapping windows, above it skipped rows.
        - ``padding``: whether to draw padding (at most half the window, as torch allows).
        - ``square``: one stride for both axes (CS231n's ``pool_param``); windows stay non-square.
        - ``fixed_window``, ``fixed_stride``, ``fixed_padding``: a pooling layer's own geometry.
        """
        check_limits(max_batch=max_batch, max_channels=max_channels, max_window=max_window, max_stride=max_stride)
        check_limits(0, max_extra=max_extra)
        n, c = pick(1, max_batch), pick(1, max_channels)
        k = fixed_pair(fixed_window) or pair(pick, 1, max_window)
        stride = fixed_pair(fixed_stride) or pair(pick, 1, max_stride, square)
        pad = fixed_pair(fixed_padding) or tuple(pick(0, kk // 2) if padding else 0 for kk in k)
        size = tuple(max(1, kk - 2 * p + pick(0, max_extra)) for kk, p in zip(k, pad))
        shapes = {"x": (n, c) + size}
        params = {"kernel_size": k, "stride": stride, "padding": pad}
        if not all(v > 0 for v in pool_out_shape(shapes, params)):
            return None
        return shapes, params

    def limits_within(self, shapes: Shapes, params: Params) -> dict[str, int]:
        n, c, h, w = shapes["x"]
        (kh, kw), (sh, sw), (ph, pw) = params["kernel_size"], params["stride"], params["padding"]
        extra = max(0, h - (kh - 2 * ph), w - (kw - 2 * pw))
        return {"max_batch": n, "max_channels": c, "max_window": max(kh, kw), "max_stride": max(sh, sw),
                "max_extra": extra}

    def long_reduction(self, own: dict[str, Any]) -> Geometry:
        pad = (0, 0) if own.get("padding") is False else (1, 1)
        return {"x": (2, 2, 32, 32)}, {"kernel_size": (3, 3), "stride": (2, 2), "padding": pad}

    def features_of(self, shapes: Shapes, params: Params) -> set[str]:
        n, c, h, w = shapes["x"]
        (kh, kw), (sh, sw), (ph, pw) = params["kernel_size"], params["stride"], params["padding"]
        ho, wo = out_len(h, kh, sh, ph), out_len(w, kw, sw, pw)
        on = {
            "overlapping windows": (sh < kh and ho > 1) or (sw < kw and wo > 1),
            "stride > window": (sh > kh and ho > 1) or (sw > kw and wo > 1),
            "padding>0": ph > 0 or pw > 0,
            "non-square window": kh != kw,
            "non-square input": h != w,
            "N>1": n > 1,
            "C>1": c > 1,
        }
        return {f for f, v in on.items() if v}

    def module_params(self, module: Any, op: str, weights: dict[str, Any], where: str) -> tuple[Shapes, Params]:
        if not hasattr(module, "kernel_size"):
            raise ValueError(f"{where}: a {op} module needs a kernel_size attribute (and stride, padding), "
                             "as nn.MaxPool2d has")
        kernel = int_pair(module.kernel_size, "kernel_size", where)
        stride = getattr(module, "stride", None)
        stride = kernel if stride is None or stride == [] else int_pair(stride, "stride", where)
        padding = int_pair(getattr(module, "padding", 0), "padding", where)
        for attr, ok in (("ceil_mode", False), ("return_indices", False), ("divisor_override", None),
                         ("count_include_pad", True)):
            if hasattr(module, attr) and getattr(module, attr) != ok:
                raise ValueError(f"{where}: {attr}={getattr(module, attr)!r}; {op} is checked with {attr}={ok!r}")
        if int_pair(getattr(module, "dilation", 1), "dilation", where) != (1, 1):
            raise ValueError(f"{where}: dilation={module.dilation!r}; {op} is checked without dilation")
        norm = getattr(module, "norm_type", None)
        if norm is not None and norm != 2:
            raise ValueError(f"{where}: norm_type={norm!r}; {op} is the norm of type 2")
        return {}, {"kernel_size": kernel, "stride": stride, "padding": padding}

    def module_limits(self, shapes: Shapes, params: Params) -> tuple[dict[str, Any], dict[str, Any]]:
        (kh, kw), (sh, sw), (ph, pw) = params["kernel_size"], params["stride"], params["padding"]
        limits: dict[str, Any] = {"max_window": max(kh, kw), "max_stride": max(sh, sw)}
        if (ph, pw) == (0, 0):
            limits["padding"] = False
        if sh == sw:
            limits["square"] = True
        return limits, {"fixed_window": (kh, kw), "fixed_stride": (sh, sw), "fixed_padding": (ph, pw)}


POOL = PoolFamily()


# -- kinks -----------------------------------------------------------------------------------------
def _corner(params: Params) -> tuple[slice, slice]:
    """The real (unpadded) part of the first window."""
    (kh, kw), (ph, pw) = params["kernel_size"], params["padding"]
    return slice(0, max(0, kh - ph)), slice(0, max(0, kw - pw))


def _tie(inputs: dict[str, np.ndarray], params: Params, lo: int, hi: int) -> None:
    rows, cols = _corner(params)
    inputs["x"][:, :, rows, cols] = float(hi)


def _zero_window(inputs: dict[str, np.ndarray], params: Params, lo: int, hi: int) -> None:
    rows, cols = _corner(params)
    inputs["x"][:, :, rows, cols] = 0.0


def _ties(case: Any) -> set[str]:
    win = windows(case.inputs["x"], case.params, -np.inf)
    return {"tie"} if ((win == win.max(axis=-1, keepdims=True)).sum(axis=-1) > 1).any() else set()


def _zero_windows(case: Any) -> set[str]:
    win = windows(case.inputs["x"], case.params, 0.0)
    return {"zero window"} if (np.abs(win).sum(axis=-1) == 0).any() else set()


def _norms_clear(case: Any, scale: float, margin: float) -> bool:
    return bool(pool_forward("l2", case.inputs["x"], case.params).min() > margin * scale)


MAX_KINK = Kink("max", ("tie",), _ties, _tie, values=(0, 2), spread=True)
L2_KINK = Kink("l2", ("zero window",), _zero_windows, _zero_window, values=(0, 2), sparse=True, clear=_norms_clear)


# -- the ops ---------------------------------------------------------------------------------------
def _torch_pool(kind: str):
    def f(t: dict[str, Any], p: Params):
        F = torch().nn.functional
        k, s, pad = p["kernel_size"], p["stride"], p["padding"]
        if kind == "max":
            return F.max_pool2d(t["x"], k, s, pad)
        if kind == "avg":
            return F.avg_pool2d(t["x"], k, s, pad, count_include_pad=True)
        return F.lp_pool2d(F.pad(t["x"], (pad[1], pad[1], pad[0], pad[0])), 2, k, s)

    return f


def _source(kind: str):
    def f(t: dict[str, str], p: Params) -> str:
        k, s, (ph, pw) = tuple(p["kernel_size"]), tuple(p["stride"]), p["padding"]
        if kind == "max":
            return f"F.max_pool2d({t['x']}, {k}, {s}, {(ph, pw)})"
        if kind == "avg":
            return f"F.avg_pool2d({t['x']}, {k}, {s}, {(ph, pw)}, count_include_pad=True)"
        return f"F.lp_pool2d(F.pad({t['x']}, ({pw}, {pw}, {ph}, {ph})), 2, {k}, {s})"

    return f


def _pool_param(p: Params) -> tuple[str, dict[str, int]]:
    (kh, kw), (s, _) = p["kernel_size"], p["stride"]
    return "pool_param", {"pool_height": kh, "pool_width": kw, "stride": s}


#: The CS231n convention has one stride for both axes and no padding.
_CS = dict(arrays=("x",), param=_pool_param, limits={"square": True, "padding": False})


def _bench(anchor: str) -> tuple[Bench, ...]:
    return tuple(Bench({"x": (32, 64, 32, 32)}, {"kernel_size": (k, k), "stride": (s, s), "padding": (0, 0)}, anchor,
                       {"x": (4, 8, 16, 16)}, suffix=f"k{k}s{s}") for k, s in ((2, 2), (3, 2)))


def _pool(kind: str, name: str, kink: Kink | None, module: ModuleMatch, limits: dict[str, Any] | None = None,
          cs231n: tuple[CS231n, ...] = (), anchor: str = "") -> OpSpec:
    return OpSpec(
        OpProtocol(name, ("x",), ("dx",), PARAMS), POOL, _torch_pool(kind), _source(kind), pool_out_shape,
        {"x": "window"}, _reduction, kink=kink, limits=limits or {},
        scipy=lambda spec, case: (pool_forward(kind, case.inputs["x"], case.params), None),
        absolute=kind != "max", cs231n=cs231n, module=module, bench=_bench(anchor or name),
    )


MAX_POOL2D = _pool("max", "max_pool2d", MAX_KINK, ModuleMatch(("MaxPool2d",), ("maxpool",), rank=1),
                   cs231n=(CS231n("max_pool_forward_naive", "max_pool_backward_naive", **_CS),
                           CS231n("max_pool_forward_fast", "max_pool_backward_fast", **_CS, variant="fast",
                                  optional=True)))
AVG_POOL2D = _pool("avg", "avg_pool2d", None, ModuleMatch(("AvgPool2d",), ("avgpool", "averagepool"), rank=1))
L2_POOL2D = _pool("l2", "l2_pool2d", L2_KINK, ModuleMatch(("LPPool2d",), ("l2pool", "lppool"), rank=1),
                  limits={"padding": False}, anchor="lp_pool2d")

SPECS = (MAX_POOL2D, AVG_POOL2D, L2_POOL2D)
