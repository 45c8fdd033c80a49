"""The N-d convolution family: conv1d, conv3d and the transposed convolutions, with groups.

conv{d}d: x (N, C, *S), w (D, C/groups, *k), b (D,) -> (N, D, *So); stride, padding and
dilation one int per spatial axis, ``groups`` dividing C and D (``groups = C``: depthwise).

conv_transpose{d}d, in torch's weight layout: x (N, C_in, *S), w (C_in, C_out/groups, *k),
b (C_out,) -> (N, C_out, *So) with ``So = (S - 1) stride - 2 padding + dilation (k - 1) +
output_padding + 1``; ``output_padding < stride`` per axis. The transposed convolution is
the adjoint of the convolution with the same weights (its forward is eq. 20's input gradient,
its dx is eq. 7), which is how the scipy closed forms below compute it.

conv2d itself (with groups) lives in :mod:`gradcheck.ops.conv`, whose 2-D geometry and
footprints the kink-bearing layers share. The scipy forms use ``scipy.signal.correlate`` and
``convolve`` over N-d arrays, one sample, group and filter at a time: for small cases.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradcheck.ops.spec import (Bench, Family, Geometry, OpProtocol, OpSpec, Params, Pick, Shapes, check_limits, cover,
                                out_len, torch)

__all__ = ["ConvNdFamily", "SPECS", "correlate", "adjoint", "scipy_conv", "CONV1D", "CONV3D", "CONV_TRANSPOSE1D", "CONV_TRANSPOSE2D", "CONV_TRANSPOSE3D"]

CONV_PARAMS = ("stride", "padding", "dilation", "groups")
TRANSPOSED_PARAMS = ("stride", "padding", "output_padding", "dilation", "groups")


def _g(p: Params) -> int:
    return int(p.get("groups", (1,))[0])  # conv2d's cases may leave groups out (groups = 1)


def transposed_len(size: int, k: int, s: int, p: int, op: int, d: int) -> int:
    """Output length of a transposed convolution along one axis (as torch)."""
    return (size - 1) * s - 2 * p + d * (k - 1) + op + 1


def _conv_out(shapes: Shapes, params: Params) -> tuple[int, ...]:
    x, w = shapes["x"], shapes["w"]
    sizes = tuple(out_len(n, k, s, p, d) for n, k, s, p, d in
                  zip(x[2:], w[2:], params["stride"], params["padding"], params["dilation"]))
    return (x[0], w[0]) + sizes


def _transposed_out(shapes: Shapes, params: Params) -> tuple[int, ...]:
    x, w = shapes["x"], shapes["w"]
    sizes = tuple(transposed_len(n, k, s, p, o, d) for n, k, s, p, o, d in
                  zip(x[2:], w[2:], params["stride"], params["padding"], params["output_padding"], params["dilation"]))
    return (x[0], w[1] * _g(params)) + sizes


def _conv_reduction(shapes: Shapes, params: Params) -> dict[str, int]:
    w, out = shapes["w"], _conv_out(shapes, params)
    taps = math.prod(cover(k, s) for k, s in zip(w[2:], params["stride"]))
    long = out[0] * math.prod(out[2:])
    return {"forward": w[1] * math.prod(w[2:]) + 1, "dx": w[0] // _g(params) * taps, "dw": long, "db": long}


def _transposed_reduction(shapes: Shapes, params: Params) -> dict[str, int]:
    x, w, out = shapes["x"], shapes["w"], _transposed_out(shapes, params)
    taps = math.prod(cover(k, s) for k, s in zip(w[2:], params["stride"]))
    return {"forward": x[1] // _g(params) * taps + 1, "dx": w[1] * math.prod(w[2:]),
            "dw": x[0] * math.prod(x[2:]), "db": out[0] * math.prod(out[2:])}


# -- scipy closed forms (N-d) ----------------------------------------------------------------------
def _dilate(a: np.ndarray, steps: tuple[int, ...]) -> np.ndarray:
    """Insert ``step - 1`` zeros between the elements of each of the last ``len(steps)`` axes."""
    d = len(steps)
    lead = a.shape[:-d]
    out = np.zeros(lead + tuple((n - 1) * s + 1 for n, s in zip(a.shape[-d:], steps)), dtype=a.dtype)
    out[(...,) + tuple(slice(None, None, s) for s in steps)] = a
    return out


def _pad(x: np.ndarray, padding: tuple[int, ...]) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding))


def correlate(x: np.ndarray, w: np.ndarray, p: Params, out: tuple[int, ...]) -> np.ndarray:
    """One group: x (N, C, *S), w (D, C, *k) -> (N, D, *So), no bias, by ``scipy.signal.correlate``."""
    from scipy import signal

    xp, wd = _pad(x, p["padding"]), _dilate(w, p["dilation"])
    o = np.empty((x.shape[0], w.shape[0]) + out)
    take = (0,) + tuple(slice(None, (n - 1) * s + 1, s) for n, s in zip(out, p["stride"]))
    for n in range(x.shape[0]):
        for d in range(w.shape[0]):
            o[n, d] = signal.correlate(xp[n], wd[d], mode="valid")[take]
    return o


def adjoint(delta: np.ndarray, x: np.ndarray, w: np.ndarray, p: Params) -> tuple[np.ndarray, np.ndarray]:
    """One group: (dx, dw) of ``<delta, correlate(x, w)>``; dx by ``convolve(delta_s, w, 'full')``
    (eqs. 20-22), dw by ``correlate(xp, delta_s)`` (eq. 13)."""
    from scipy import signal

    dims = x.ndim - 2
    xp, wd = _pad(x, p["padding"]), _dilate(w, p["dilation"])
    ds = _dilate(delta, p["stride"])
    dxp, dw = np.zeros_like(xp), np.zeros(w.shape)
    pick = (slice(None),) + tuple(slice(None, (k - 1) * t + 1, t) for k, t in zip(w.shape[2:], p["dilation"]))
    for n in range(x.shape[0]):
        for d in range(w.shape[0]):
            corr = signal.correlate(xp[n], ds[n, d][None], mode="valid")
            dw[d] += corr[pick]
            full = signal.convolve(ds[n, d][None], wd[d], mode="full")
            dxp[(n,) + tuple(slice(None, m) for m in full.shape)] += full
    crop = (slice(None), slice(None)) + tuple(slice(q, q + s) for q, s in zip(p["padding"], x.shape[2:]))
    assert len(crop) == dims + 2
    return dxp[crop], dw


def _groups_of(a: np.ndarray, g: int, axis: int) -> list[np.ndarray]:
    return np.split(a, g, axis=axis)


def scipy_conv(spec: OpSpec, case: Any):
    i, p = case.inputs, case.params
    g, out = _g(p), _conv_out(case.shapes, p)
    xs, ws, ds = _groups_of(i["x"], g, 1), _groups_of(i["w"], g, 0), _groups_of(case.delta, g, 1)
    o = np.concatenate([correlate(x, w, p, out[2:]) for x, w in zip(xs, ws)], axis=1)
    o += i["b"].reshape((1, -1) + (1,) * (o.ndim - 2))
    parts = [adjoint(d, x, w, p) for d, x, w in zip(ds, xs, ws)]
    axes = (0,) + tuple(range(2, o.ndim))
    return o, {"dx": np.concatenate([a for a, _ in parts], axis=1), "dw": np.concatenate([b for _, b in parts], axis=0),
               "db": case.delta.sum(axis=axes)}


def _scipy_transposed(spec: OpSpec, case: Any):
    """The transposed convolution as the adjoint of the convolution from the output's space
    (size So) to the input's (size S): forward = dx of that convolution at delta = x; dx =
    the convolution of delta; dw = its dw with the roles of input and delta swapped."""
    i, p = case.inputs, case.params
    g, out = _g(p), _transposed_out(case.shapes, p)
    xs, ws, ds = _groups_of(i["x"], g, 1), _groups_of(i["w"], g, 0), _groups_of(case.delta, g, 1)
    o = np.concatenate([adjoint(x, np.zeros((x.shape[0], w.shape[1]) + out[2:]), w, p)[0] for x, w in zip(xs, ws)],
                       axis=1)
    o += i["b"].reshape((1, -1) + (1,) * (o.ndim - 2))
    dx = np.concatenate([correlate(d, w, p, x.shape[2:]) for d, x, w in zip(ds, xs, ws)], axis=1)
    dw = np.concatenate([adjoint(x, d, w, p)[1] for d, x, w in zip(ds, xs, ws)], axis=0)
    axes = (0,) + tuple(range(2, o.ndim))
    return o, {"dx": dx, "dw": dw, "db": case.delta.sum(axis=axes)}


# -- the family ------------------------------------------------------------------------------------
class ConvNdFamily(Family):
    """Geometry of a ``dims``-d convolution (``transposed``: of its transpose): batch, groups,
    channels and filters as multiples of the groups, per-axis kernels, stride, padding,
    dilation (and output_padding below the stride)."""

    features = ("stride>1", "padding>0", "dilation>1", "non-cubic kernel", "non-cubic input", "N>1", "C>1", "D>1",
                "groups>1", "depthwise", "1-tap kernel")
    constraint_keys = {"stride": ("count", "max_stride"), "padding": ("count", "max_padding"),
                       "dilation": ("count", "max_dilation"), "kernel": ("max", "max_kernel"),
                       "batch": ("max", "max_batch"), "channels": ("max", "max_channels"),
                       "filters": ("max", "max_filters"), "groups": ("count", "max_groups")}
    small = {"max_batch": 2, "max_channels": 2, "max_filters": 2, "max_kernel": 2, "max_size": 3}
    bench_group = "convs"

    def __init__(self, dims: int, transposed: bool):
        self.dims, self.transposed = dims, transposed
        if dims == 1:
            self.features = tuple(f for f in self.features if not f.startswith("non-cubic"))
        self.name = f"conv_transpose{dims}d" if transposed else f"conv{dims}d"
        if transposed:
            self.features = self.features + ("output_padding>0",)
            self.constraint_keys = {**self.constraint_keys, "output_padding": ("count", "max_output_padding")}
            self.weight_shapes = {"w": "(C_in, C_out/groups, *k)", "b": "(C_out,)"}
        else:
            self.weight_shapes = {"w": "(D, C/groups, *k)", "b": "(D,)"}
        self.weight_dims = dims + 2

    def _tuple(self, pick: Pick, lo: int, hi: int) -> tuple[int, ...]:
        return tuple(pick(lo, hi) for _ in range(self.dims))

    def geometry(self, pick: Pick, *, max_batch: int = 2, max_channels: int = 3, max_filters: int = 3,
                 max_kernel: int = 3, max_stride: int = 2, max_padding: int = 1, max_dilation: int = 2,
                 max_groups: int = 3, max_size: int | None = None, max_output_padding: int = 1) -> Geometry | None:
        """Shapes ``{"x", "w", "b"}`` and params of one case.

        - ``max_batch``, ``max_channels``, ``max_filters``: bounds of N, of the input channels
          and of the output channels (multiples of the groups).
        - ``max_kernel``, ``max_stride``, ``max_padding``, ``max_dilation``: per axis, drawn apart.
        - ``max_groups``: bound of ``groups``; ``max_size``: bound of each spatial input length
          (default 6 for 1-d, 5 for 2-d, 4 for 3-d); ``max_output_padding`` (transposed only,
          always below the stride).
        """
        check_limits(max_batch=max_batch, max_channels=max_channels, max_filters=max_filters, max_kernel=max_kernel,
                     max_stride=max_stride, max_dilation=max_dilation, max_groups=max_groups)
        check_limits(0, max_padding=max_padding, max_output_padding=max_output_padding)
        max_size = max_size or {1: 6, 2: 5}.get(self.dims, 4)
        check_limits(max_size=max_size)
        n = pick(1, max_batch)
        g = pick(1, min(max_groups, max_channels, max_filters))
        c, d = g * pick(1, max(1, max_channels // g)), g * pick(1, max(1, max_filters // g))
        k = self._tuple(pick, 1, max_kernel)
        dil, pad, stride = self._tuple(pick, 1, max_dilation), self._tuple(pick, 0, max_padding), \
            self._tuple(pick, 1, max_stride)
        size = self._tuple(pick, 1, max_size)
        groups = (g,)
        if self.transposed:
            outpad = tuple(pick(0, min(max_output_padding, s - 1)) for s in stride)
            shapes = {"x": (n, c) + size, "w": (c, d // g) + k, "b": (d,)}
            params = {"stride": stride, "padding": pad, "output_padding": outpad, "dilation": dil, "groups": groups}
            out = _transposed_out(shapes, params)
        else:
            shapes = {"x": (n, c) + size, "w": (d, c // g) + k, "b": (d,)}
            params = {"stride": stride, "padding": pad, "dilation": dil, "groups": groups}
            out = _conv_out(shapes, params)
        if not all(v > 0 for v in out):
            return None
        return shapes, params

    def limits_within(self, shapes: Shapes, params: Params) -> dict[str, int]:
        x, w = shapes["x"], shapes["w"]
        out = {"max_batch": x[0], "max_channels": x[1], "max_filters": shapes["b"][0], "max_kernel": max(w[2:]),
               "max_stride": max(params["stride"]), "max_padding": max(params["padding"]),
               "max_dilation": max(params["dilation"]), "max_groups": _g(params), "max_size": max(x[2:])}
        if self.transposed:
            out["max_output_padding"] = max(params["output_padding"])
        return out

    def long_reduction(self, own: dict[str, Any]) -> Geometry:
        size = {1: (256,), 2: (16, 16)}.get(self.dims, (6, 6, 6))
        k = (3,) * self.dims
        ones, zeros = (1,) * self.dims, (0,) * self.dims
        if self.transposed:
            return ({"x": (4, 2) + size, "w": (2, 2) + k, "b": (2,)},
                    {"stride": ones, "padding": ones, "output_padding": zeros, "dilation": ones, "groups": (1,)})
        return ({"x": (4, 2) + size, "w": (2, 2) + k, "b": (2,)},
                {"stride": ones, "padding": ones, "dilation": ones, "groups": (1,)})

    def features_of(self, shapes: Shapes, params: Params) -> set[str]:
        x, w = shapes["x"], shapes["w"]
        g = _g(params)
        c = x[1]
        on = {
            "stride>1": max(params["stride"]) > 1,
            "padding>0": max(params["padding"]) > 0,
            "dilation>1": any(t > 1 and k > 1 for t, k in zip(params["dilation"], w[2:])),
            "non-cubic kernel": len(set(w[2:])) > 1,
            "non-cubic input": len(set(x[2:])) > 1,
            "N>1": x[0] > 1,
            "C>1": c > 1,
            "D>1": shapes["b"][0] > 1,
            "groups>1": g > 1,
            "depthwise": g == c > 1,
            "1-tap kernel": all(k == 1 for k in w[2:]),
            "output_padding>0": self.transposed and max(params["output_padding"]) > 0,
        }
        return {f for f, v in on.items() if v and f in self.features}


def _conv_spec(dims: int) -> OpSpec:
    fam = ConvNdFamily(dims, transposed=False)
    fn = f"conv{dims}d"

    def fwd(t: dict[str, Any], p: Params):
        return getattr(torch().nn.functional, fn)(t["x"], t["w"], t["b"], stride=p["stride"], padding=p["padding"],
                                                  dilation=p["dilation"], groups=_g(p))

    def src(t: dict[str, str], p: Params) -> str:
        return (f"F.{fn}({t['x']}, {t['w']}, {t['b']}, stride={tuple(p['stride'])}, padding={tuple(p['padding'])}, "
                f"dilation={tuple(p['dilation'])}, groups={_g(p)})")

    big = {1: ((32, 64, 1024), (64, 64, 3)), 3: ((8, 16, 16, 16, 16), (16, 16, 3, 3, 3))}[dims]
    quick = {1: ((4, 8, 64), (8, 8, 3)), 3: ((2, 4, 6, 6, 6), (4, 4, 3, 3, 3))}[dims]
    ones = (1,) * dims
    params = {"stride": ones, "padding": ones, "dilation": ones, "groups": (1,)}
    return OpSpec(
        OpProtocol(fn, ("x", "w", "b"), ("dx", "dw", "db"), CONV_PARAMS, scalars=("groups",)), fam, fwd, src,
        _conv_out, {"x": "sample", "w": "filter", "b": "out-channel"}, _conv_reduction, scipy=scipy_conv,
        scipy_grads=True, divide_by_scale=("w",), normwise=("x", "w"),
        bench=(Bench({"x": big[0], "w": big[1], "b": (big[1][0],)}, params, fn,
                     {"x": quick[0], "w": quick[1], "b": (quick[1][0],)}),),
    )


def _transposed_spec(dims: int) -> OpSpec:
    fam = ConvNdFamily(dims, transposed=True)
    fn = f"conv_transpose{dims}d"

    def fwd(t: dict[str, Any], p: Params):
        return getattr(torch().nn.functional, fn)(t["x"], t["w"], t["b"], stride=p["stride"], padding=p["padding"],
                                                  output_padding=p["output_padding"], groups=_g(p),
                                                  dilation=p["dilation"])

    def src(t: dict[str, str], p: Params) -> str:
        return (f"F.{fn}({t['x']}, {t['w']}, {t['b']}, stride={tuple(p['stride'])}, padding={tuple(p['padding'])}, "
                f"output_padding={tuple(p['output_padding'])}, groups={_g(p)}, dilation={tuple(p['dilation'])})")

    big = {1: ((32, 64, 512), (64, 64, 4)), 2: ((16, 64, 16, 16), (64, 32, 4, 4)),
           3: ((4, 16, 8, 8, 8), (16, 16, 4, 4, 4))}[dims]
    quick = {1: ((4, 8, 32), (8, 8, 4)), 2: ((2, 8, 8, 8), (8, 4, 4, 4)), 3: ((2, 4, 4, 4, 4), (4, 4, 4, 4, 4))}[dims]
    twos, ones, zeros = (2,) * dims, (1,) * dims, (0,) * dims
    params = {"stride": twos, "padding": ones, "output_padding": zeros, "dilation": ones, "groups": (1,)}
    return OpSpec(
        OpProtocol(fn, ("x", "w", "b"), ("dx", "dw", "db"), TRANSPOSED_PARAMS, scalars=("groups",)), fam, fwd, src,
        _transposed_out, {"x": "sample", "w": "full", "b": "out-channel"}, _transposed_reduction,
        scipy=_scipy_transposed, scipy_grads=True, divide_by_scale=("w",), normwise=("x", "w"),
        bench=(Bench({"x": big[0], "w": big[1], "b": (big[1][1],)}, params, fn,
                     {"x": quick[0], "w": quick[1], "b": (quick[1][1],)}),),
    )


CONV1D, CONV3D = _conv_spec(1), _conv_spec(3)
CONV_TRANSPOSE1D, CONV_TRANSPOSE2D, CONV_TRANSPOSE3D = (_transposed_spec(d) for d in (1, 2, 3))

SPECS = (CONV1D, CONV3D, CONV_TRANSPOSE1D, CONV_TRANSPOSE2D, CONV_TRANSPOSE3D)
