"""The convolution family: conv2d (cross-correlation plus bias, eqs. 4/7 and 10-22).

x (N, C, H, W), w (D, C/groups, k1, k2), b (D,) -> (N, D, Ho, Wo); hyper-parameters stride,
padding and dilation, each an ``(h, w)`` pair, and ``groups`` (optional: a candidate whose
functions do not take it is checked at ``groups = 1``; ``groups = C`` is depthwise). The scipy
closed forms (those of :mod:`gradcheck.ops.convnd`, group by group) are computed by other hands
than the reference's unfolding: ``scipy.signal.correlate`` for the forward and dw (eqs. 13-14),
``convolve(delta_s, w, 'full')`` for dx (eqs. 20-22). Loops there run over samples and
filters, never over pixels; the oracle is for small cases. The activations after a conv
(conv2d_relu, ...) are in :mod:`gradcheck.ops.layer`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck.ops.convnd import adjoint, correlate, scipy_conv
from gradcheck.ops.spec import (Bench, CS231n, Family, Geometry, ModuleMatch, OpProtocol, OpSpec, Params, Pick, Shapes,
                                check_limits, cover, fixed_pair, int_pair, out_len, pair, torch)

__all__ = ["CONV2D", "SPECS", "ConvFamily", "CONV", "conv_out_shape", "conv_forward", "conv_grads", "conv_reduction",
           "conv_torch", "conv_source", "CONV_CS231N"]

PARAMS = ("stride", "padding", "dilation")


def _groups(p: Params) -> int:
    return int(p.get("groups", (1,))[0])


def conv_out_shape(shapes: Shapes, params: Params) -> tuple[int, ...]:
    n, _, h, w = shapes["x"]
    d, _, k1, k2 = shapes["w"]
    (sh, sw), (ph, pw), (dh, dw) = params["stride"], params["padding"], params["dilation"]
    return (n, d, out_len(h, k1, sh, ph, dh), out_len(w, k2, sw, pw, dw))


def conv_reduction(shapes: Shapes, params: Params) -> dict[str, int]:
    d, c, k1, k2 = shapes["w"]  # c: channels per group
    n, _, ho, wo = conv_out_shape(shapes, params)
    sh, sw = params["stride"]
    return {"forward": c * k1 * k2 + 1, "dx": d // _groups(params) * cover(k1, sh) * cover(k2, sw), "dw": n * ho * wo,
            "db": n * ho * wo}


def conv_torch(t: dict[str, Any], p: Params):
    return torch().nn.functional.conv2d(t["x"], t["w"], t["b"], stride=p["stride"], padding=p["padding"],
                                        dilation=p["dilation"], groups=_groups(p))


def conv_source(t: dict[str, str], p: Params) -> str:
    return (f"F.conv2d({t['x']}, {t['w']}, {t['b']}, stride={tuple(p['stride'])}, padding={tuple(p['padding'])}, "
            f"dilation={tuple(p['dilation'])}" + (f", groups={_groups(p)})" if _groups(p) != 1 else ")"))


# -- scipy closed forms (the N-d ones of gradcheck.ops.convnd, at d = 2) ---------------------------
def conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, params: Params) -> np.ndarray:
    """x (N,C,H,W), w (D,C,k1,k2), b (D,) -> (N,D,Ho,Wo) by ``scipy.signal.correlate`` (one group)."""
    out = conv_out_shape({"x": x.shape, "w": w.shape}, params)
    return correlate(x, w, params, out[2:]) + b.reshape(1, -1, 1, 1)


def conv_grads(delta: np.ndarray, x: np.ndarray, w: np.ndarray, params: Params) -> dict[str, np.ndarray]:
    """dx, dw, db of ``<delta, conv2d(x, w, b)>`` (one group); delta (N,D,Ho,Wo)."""
    dx, dw = adjoint(delta, x, w, params)
    return {"dx": dx, "dw": dw, "db": delta.sum(axis=(0, 2, 3))}


# -- the family ------------------------------------------------------------------------------------
def _touches(size: int, k: int, s: int, p: int, d: int, n_out: int) -> bool:
    """Whether some window along one axis covers an element of the unpadded input."""
    taps = np.arange(n_out)[:, None] * s - p + np.arange(k)[None, :] * d
    return bool(((taps >= 0) & (taps < size)).any())


def _conv_param(p: Params) -> tuple[str, dict[str, int]]:
    return "conv_param", {"stride": p["stride"][0], "pad": p["padding"][0]}


#: The CS231n convention has one stride and one padding for both axes, no dilation, no groups.
_CS_LIMITS = {"square": True, "max_dilation": 1, "max_groups": 1}
CONV_CS231N = dict(arrays=("x", "w", "b"), param=_conv_param, limits=_CS_LIMITS)


class ConvFamily(Family):
    """Geometry of a conv: batch, channels, filters, non-square kernels, stride, padding and
    dilation per axis, groups, inputs from the dilated kernel up to ``max_extra`` larger."""

    name = "conv"
    features = ("stride_h>1", "stride_w>1", "padding>0", "dilation>1", "non-square kernel", "non-square input",
                "N>1", "C>1", "D>1", "kernel = padded input", "1x1 kernel", "groups>1", "depthwise")
    constraint_keys = {"square": ("flag", "square"), "stride": ("count", "max_stride"),
                       "padding": ("count", "max_padding"), "dilation": ("count", "max_dilation"),
                       "kernel": ("max", "max_kernel"), "batch": ("max", "max_batch"),
                       "channels": ("max", "max_channels"), "filters": ("max", "max_filters"),
                       "groups": ("count", "max_groups")}
    small = {"max_batch": 2, "max_channels": 2, "max_filters": 2, "max_kernel": 3, "max_extra": 2}
    module_geometry = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups")
    weight_dims = 4
    weight_shapes = {"w": "(D, C/groups, k1, k2)", "b": "(D,)"}

    def geometry(self, pick: Pick, *, max_batch: int = 3, max_channels: int = 3, max_filters: int = 3,
                 max_kernel: int = 4, max_stride: int = 3, max_padding: int = 2, max_dilation: int = 2,
                 max_extra: int = 5, square: bool = False, max_groups: int = 1, fixed_channels: int | None = None,
                 fixed_filters: int | None = None, fixed_kernel: tuple[int, int] | None = None,
                 fixed_stride: tuple[int, int] | None = None, fixed_padding: tuple[int, int] | None = None,
                 fixed_dilation: tuple[int, int] | None = None, fixed_groups: int | None = None) -> Geometry | None:
        """Shapes ``{"x", "w", "b"}`` and params ``{"stride", "padding", "dilation", "groups"}``
        of a conv2d (ops without ``groups`` drop it: ``OpSpec.geometry``).

        - ``max_batch``, ``max_channels``, ``max_filters``: upper bounds of N, C, D (from 1).
        - ``max_kernel``: upper bound of k1 and k2, drawn apart (non-square kernels).
        - ``max_stride``, ``max_padding``, ``max_dilation``: per axis, drawn apart.
        - ``max_extra``: how far the padded input may exceed the dilated kernel; 0 makes the
          kernel exactly as large as the padded input.
        - ``square``: one stride, one padding and one dilation for both axes (conventions such as
          CS231n's ``conv_param`` have a single value); kernels and inputs stay non-square.
        - ``max_groups``: upper bound of ``groups`` (C and D are then drawn as multiples of it,
          within ``max_channels`` and ``max_filters``; ``C = groups`` is depthwise).
        - ``fixed_channels``, ``fixed_filters``, ``fixed_kernel``, ``fixed_stride``,
          ``fixed_padding``, ``fixed_dilation``, ``fixed_groups``: a layer's own geometry, drawn
          as given (an ``nn.Conv2d`` instance); batch and input size are still drawn.
        """
        check_limits(max_batch=max_batch, max_channels=max_channels, max_filters=max_filters, max_kernel=max_kernel,
                     max_stride=max_stride, max_dilation=max_dilation, max_groups=max_groups)
        check_limits(0, max_padding=max_padding, max_extra=max_extra)
        n = pick(1, max_batch)
        g = fixed_groups if fixed_groups is not None else pick(1, min(max_groups, max_channels, max_filters))
        c = fixed_channels if fixed_channels is not None else g * pick(1, max(1, max_channels // g))
        d = fixed_filters if fixed_filters is not None else g * pick(1, max(1, max_filters // g))
        if c % g or d % g:
            return None
        k = fixed_pair(fixed_kernel) or pair(pick, 1, max_kernel)
        dil = fixed_pair(fixed_dilation) or pair(pick, 1, max_dilation, square)
        pad = fixed_pair(fixed_padding) or pair(pick, 0, max_padding, square)
        stride = fixed_pair(fixed_stride) or pair(pick, 1, max_stride, square)
        size = tuple(max(1, dl * (kk - 1) + 1 - 2 * p + pick(0, max_extra)) for kk, dl, p in zip(k, dil, pad))
        shapes = {"x": (n, c) + size, "w": (d, c // g) + k, "b": (d,)}
        params = {"stride": stride, "padding": pad, "dilation": dil, "groups": (g,)}
        out = conv_out_shape(shapes, params)
        if not all(v > 0 for v in out):
            return None
        # at least one window must reach a real input element on each axis, or dx = dw = 0 tests nothing
        if not all(_touches(size[a], k[a], stride[a], pad[a], dil[a], out[2 + a]) for a in (0, 1)):
            return None
        return shapes, params

    def limits_within(self, shapes: Shapes, params: Params) -> dict[str, int]:
        n, c, h, w = shapes["x"]
        d, _, k1, k2 = shapes["w"]
        (sh, sw), (ph, pw), (dh, dw) = params["stride"], params["padding"], params["dilation"]
        extra = max(0, h - (dh * (k1 - 1) + 1 - 2 * ph), w - (dw * (k2 - 1) + 1 - 2 * pw))
        return {"max_batch": n, "max_channels": c, "max_filters": d, "max_kernel": max(k1, k2), "max_stride": max(sh, sw),
                "max_padding": max(ph, pw), "max_dilation": max(dh, dw), "max_extra": extra, "max_groups": _groups(params)}

    def long_reduction(self, own: dict[str, Any]) -> Geometry:
        return ({"x": (4, 2, 24, 24), "w": (2, 2, 3, 3), "b": (2,)},
                {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1), "groups": (1,)})

    def features_of(self, shapes: Shapes, params: Params) -> set[str]:
        n, c, h, w = shapes["x"]
        d, _, k1, k2 = shapes["w"]
        (sh, sw), (ph, pw), (dh, dw) = params["stride"], params["padding"], params["dilation"]
        on = {
            "stride_h>1": sh > 1,
            "stride_w>1": sw > 1,
            "padding>0": ph > 0 or pw > 0,
            "dilation>1": (dh > 1 and k1 > 1) or (dw > 1 and k2 > 1),
            "non-square kernel": k1 != k2,
            "non-square input": h != w,
            "N>1": n > 1,
            "C>1": c > 1,
            "D>1": d > 1,
            "kernel = padded input": h + 2 * ph == dh * (k1 - 1) + 1 and w + 2 * pw == dw * (k2 - 1) + 1,
            "1x1 kernel": k1 == k2 == 1,
            "groups>1": _groups(params) > 1,
            "depthwise": _groups(params) == c > 1,
        }
        return {f for f, v in on.items() if v}

    # ---- nn.Conv2d and its kind ----------------------------------------------------------------
    def module_params(self, module: Any, op: str, weights: dict[str, Any], where: str) -> tuple[Shapes, Params]:
        d, c, k1, k2 = tuple(weights["w"].shape)
        stride = int_pair(getattr(module, "stride", 1), "stride", where)
        dilation = int_pair(getattr(module, "dilation", 1), "dilation", where)
        padding = getattr(module, "padding", 0)
        if isinstance(padding, str):
            if padding == "valid":
                padding = (0, 0)
            elif padding == "same" and all(dl * (k - 1) % 2 == 0 for dl, k in zip(dilation, (k1, k2))):
                padding = tuple(dl * (k - 1) // 2 for dl, k in zip(dilation, (k1, k2)))
            else:
                raise ValueError(f"{where}: padding={padding!r} with kernel {(k1, k2)} pads the two sides unequally; "
                                 f"{op} pads both sides alike: give the padding as numbers")
        groups = getattr(module, "groups", 1)
        if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
            raise ValueError(f"{where}: groups={groups!r}; {op} takes a positive int")
        if groups != 1 and "groups" not in SPECS_WITH_GROUPS.get(op, ()):
            raise ValueError(f"{where}: groups={groups}; {op} is checked with groups=1")
        mode = getattr(module, "padding_mode", "zeros")
        if mode != "zeros":
            raise ValueError(f"{where}: padding_mode={mode!r}; {op} pads with zeros")
        params = {"stride": stride, "padding": int_pair(padding, "padding", where), "dilation": dilation,
                  "groups": (groups,)}
        return {"x": (-1, c * groups, -1, -1), "w": (d, c, k1, k2), "b": (d,)}, params

    def module_limits(self, shapes: Shapes, params: Params) -> tuple[dict[str, Any], dict[str, Any]]:
        (sh, sw), (ph, pw), (dh, dw) = params["stride"], params["padding"], params["dilation"]
        d, _, k1, k2 = shapes["w"]
        c, g = shapes["x"][1], _groups(params)
        limits = {"max_channels": c, "max_filters": d, "max_kernel": max(k1, k2), "max_stride": max(sh, sw),
                  "max_padding": max(ph, pw), "max_dilation": max(dh, dw), "max_groups": g}
        if sh == sw and ph == pw and dh == dw:
            limits["square"] = True
        exact = {"fixed_channels": c, "fixed_filters": d, "fixed_kernel": (k1, k2), "fixed_stride": (sh, sw),
                 "fixed_padding": (ph, pw), "fixed_dilation": (dh, dw), "fixed_groups": g}
        return limits, exact

    def factory_args(self, inputs: dict[str, np.ndarray], params: Params) -> dict[str, Any]:
        d, _, k1, k2 = inputs["w"].shape
        out = {"in_channels": inputs["x"].shape[1], "out_channels": d, "kernel_size": (k1, k2), **params}
        if "groups" in out:
            out["groups"] = _groups(params)
        return out

    def factory_limits(self, takes: set[str]) -> dict[str, int]:
        """Limits for a module factory that does not take some hyper-parameters (they stay at
        their smallest)."""
        return {limit: smallest for name, limit, smallest in (("stride", "max_stride", 1), ("padding", "max_padding", 0),
                                                               ("dilation", "max_dilation", 1), ("groups", "max_groups", 1))
                if name not in takes}


CONV = ConvFamily()
#: The ops of this family whose protocol has each optional hyper-parameter (module checks).
SPECS_WITH_GROUPS = {"conv2d": ("groups",)}
FOOTPRINTS = {"x": "window-mixing", "w": "filter", "b": "out-channel"}

CONV2D = OpSpec(
    OpProtocol("conv2d", ("x", "w", "b"), ("dx", "dw", "db"), PARAMS + ("groups",), scalars=("groups",),
               optional=(("groups", "max_groups", 1),)),
    CONV, conv_torch, conv_source, conv_out_shape, FOOTPRINTS, conv_reduction, scipy=scipy_conv, scipy_grads=True,
    divide_by_scale=("w",), limits={"max_groups": 3}, normwise=("x", "w"),
    cs231n=(CS231n("conv_forward_naive", "conv_backward_naive", **CONV_CS231N),
            CS231n("conv_forward_fast", "conv_backward_fast", **CONV_CS231N, variant="fast", optional=True)),
    module=ModuleMatch(types=("Conv2d",), hints=("conv",), weight_dims=4),
    bench=(Bench({"x": (32, 64, 32, 32), "w": (64, 64, 3, 3), "b": (64,)},
                 {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1)}, "conv2d",
                 {"x": (4, 8, 16, 16), "w": (8, 8, 3, 3), "b": (8,)}),
           Bench({"x": (32, 64, 32, 32), "w": (64, 16, 3, 3), "b": (64,)},
                 {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1), "groups": (4,)}, "conv2d",
                 {"x": (4, 8, 16, 16), "w": (8, 2, 3, 3), "b": (8,)}, suffix="groups4"),
           Bench({"x": (32, 64, 32, 32), "w": (64, 1, 3, 3), "b": (64,)},
                 {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1), "groups": (64,)}, "conv2d",
                 {"x": (2, 64, 8, 8), "w": (64, 1, 3, 3), "b": (64,)}, suffix="depthwise")),
)

SPECS = (CONV2D,)
