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

from typing import Any, Callable

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gradcheck.cases import Case
from gradcheck.dtypes import round_to
from gradcheck.ops import SPECS, conv_out_shape, pool_out_shape

__all__ = [
    "KINK_MARGIN",
    "conv_geometry",
    "pool_geometry",
    "dense_geometry",
    "elementwise_geometry",
    "mse_geometry",
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


def _pair(pick, lo: int, hi: int, square: bool = False) -> tuple[int, int]:
    first = pick(lo, hi)
    return (first, first) if square else (first, pick(lo, hi))


def _check(lowest: int = 1, **limits: int) -> None:
    for name, value in limits.items():
        if not isinstance(value, int) or value < lowest:
            what = "a positive" if lowest == 1 else "a non-negative"
            raise ValueError(f"{name} must be {what} int, got {value!r}")


def _touches(size: int, k: int, s: int, p: int, d: int, n_out: int) -> bool:
    """Whether some window along one axis covers an element of the unpadded input."""
    taps = np.arange(n_out)[:, None] * s - p + np.arange(k)[None, :] * d
    return bool(((taps >= 0) & (taps < size)).any())


Pick = Callable[[int, int], int]
Geometry = tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, int]]]


def _fixed(pair: Any) -> tuple[int, int] | None:
    """A ``fixed_*`` pair as ints (a layer's own geometry: the cases are drawn with it), or None."""
    return None if pair is None else (int(pair[0]), int(pair[1]))


def _conv(
    pick: Pick,
    *,
    max_batch: int = 3,
    max_channels: int = 3,
    max_filters: int = 3,
    max_kernel: int = 4,
    max_stride: int = 3,
    max_padding: int = 2,
    max_dilation: int = 2,
    max_extra: int = 5,
    square: bool = False,
    fixed_channels: int | None = None,
    fixed_filters: int | None = None,
    fixed_kernel: tuple[int, int] | None = None,
    fixed_stride: tuple[int, int] | None = None,
    fixed_padding: tuple[int, int] | None = None,
    fixed_dilation: tuple[int, int] | None = None,
) -> Geometry | None:
    _check(max_batch=max_batch, max_channels=max_channels, max_filters=max_filters, max_kernel=max_kernel,
           max_stride=max_stride, max_dilation=max_dilation)
    _check(0, max_padding=max_padding, max_extra=max_extra)
    n = pick(1, max_batch)
    c = fixed_channels if fixed_channels is not None else pick(1, max_channels)
    d = fixed_filters if fixed_filters is not None else pick(1, max_filters)
    k = _fixed(fixed_kernel) or _pair(pick, 1, max_kernel)
    dil = _fixed(fixed_dilation) or _pair(pick, 1, max_dilation, square)
    pad = _fixed(fixed_padding) or _pair(pick, 0, max_padding, square)
    stride = _fixed(fixed_stride) or _pair(pick, 1, max_stride, square)
    size = tuple(max(1, dl * (kk - 1) + 1 - 2 * p + pick(0, max_extra)) for kk, dl, p in zip(k, dil, pad))
    shapes = {"x": (n, c) + size, "w": (d, c) + k, "b": (d,)}
    params = {"stride": stride, "padding": pad, "dilation": dil}
    out = conv_out_shape(shapes, params)
    if not all(v > 0 for v in out):
        return None
    # at least one window must reach a real input element on each axis, or dx = dw = 0 tests nothing
    if not all(_touches(size[a], k[a], stride[a], pad[a], dil[a], out[2 + a]) for a in (0, 1)):
        return None
    return shapes, params


def _pool(
    pick: Pick, *, max_batch: int = 3, max_channels: int = 3, max_window: int = 4, max_stride: int = 3, max_extra: int = 5,
    padding: bool = True, square: bool = False, fixed_window: tuple[int, int] | None = None,
    fixed_stride: tuple[int, int] | None = None, fixed_padding: tuple[int, int] | None = None,
) -> Geometry | None:
    _check(max_batch=max_batch, max_channels=max_channels, max_window=max_window, max_stride=max_stride)
    _check(0, max_extra=max_extra)
    n, c = pick(1, max_batch), pick(1, max_channels)
    k = _fixed(fixed_window) or _pair(pick, 1, max_window)
    stride = _fixed(fixed_stride) or _pair(pick, 1, max_stride, square)
    pad = _fixed(fixed_padding) or tuple(pick(0, kk // 2) if padding else 0 for kk in k)
    size = tuple(max(1, kk - 2 * p + pick(0, max_extra)) for kk, p in zip(k, pad))
    shapes = {"x": (n, c) + size}
    params = {"kernel_size": k, "stride": stride, "padding": pad}
    if not all(v > 0 for v in pool_out_shape(shapes, params)):
        return None
    return shapes, params


def _dense(pick: Pick, *, max_batch: int = 4, max_features: int = 6, max_outputs: int = 5,
           fixed_features: int | None = None, fixed_outputs: int | None = None) -> Geometry:
    _check(max_batch=max_batch, max_features=max_features, max_outputs=max_outputs)
    n = pick(1, max_batch)
    f = fixed_features if fixed_features is not None else pick(1, max_features)
    k = fixed_outputs if fixed_outputs is not None else pick(1, max_outputs)
    return {"x": (n, f), "w": (k, f), "b": (k,)}, {}


def _elementwise(pick: Pick, *, max_batch: int = 3, max_channels: int = 3, max_size: int = 6) -> Geometry:
    _check(max_batch=max_batch, max_channels=max_channels, max_size=max_size)
    return {"x": (pick(1, max_batch), pick(1, max_channels)) + _pair(pick, 1, max_size)}, {}


def _mse(pick: Pick, *, max_batch: int = 4, max_outputs: int = 5) -> Geometry:
    _check(max_batch=max_batch, max_outputs=max_outputs)
    shape = (pick(1, max_batch), pick(1, max_outputs))
    return {"y": shape, "t": shape}, {}


def _strategy(fn: Callable[..., Geometry | None], doc: str):
    @st.composite
    def strategy(draw, **limits: Any) -> Geometry:
        g = fn(lambda lo, hi: draw(st.integers(lo, hi)), **limits)
        assume(g is not None)
        return g

    strategy.__doc__ = doc
    return strategy


conv_geometry = _strategy(_conv, """Shapes ``{"x", "w", "b"}`` and params ``{"stride", "padding", "dilation"}`` of a conv2d.

    - ``max_batch``, ``max_channels``, ``max_filters``: upper bounds of N, C, D (from 1).
    - ``max_kernel``: upper bound of k1 and k2, drawn apart (non-square kernels).
    - ``max_stride``, ``max_padding``, ``max_dilation``: per axis, drawn apart.
    - ``max_extra``: how far the padded input may exceed the dilated kernel; 0 makes the kernel
      exactly as large as the padded input.
    - ``square``: one stride, one padding and one dilation for both axes (conventions such as
      CS231n's ``conv_param`` have a single value); kernels and inputs stay non-square.
    - ``fixed_channels``, ``fixed_filters``, ``fixed_kernel``, ``fixed_stride``,
      ``fixed_padding``, ``fixed_dilation``: a layer's own geometry, drawn as given (an
      ``nn.Conv2d`` instance); batch and input size are still drawn.
    """)
pool_geometry = _strategy(_pool, """Shapes ``{"x"}`` and params ``{"kernel_size", "stride", "padding"}`` of a pooling op.

    - ``max_window``: upper bound of each window side, drawn apart (non-square windows).
    - ``max_stride``: strides below the window give overlapping windows, above it skipped rows.
    - ``padding``: whether to draw padding (at most half the window, as torch allows).
    - ``square``: one stride for both axes (CS231n's ``pool_param``); windows stay non-square.
    - ``fixed_window``, ``fixed_stride``, ``fixed_padding``: a pooling layer's own geometry.
    """)
dense_geometry = _strategy(_dense, """Shapes ``{"x": (N,F), "w": (K,F), "b": (K,)}``; no params
    (``fixed_features``, ``fixed_outputs``: a linear layer's own F and K).""")
elementwise_geometry = _strategy(_elementwise, """Shape ``{"x": (N,C,H,W)}`` of an activation's input; no params.""")
mse_geometry = _strategy(_mse, """Shapes ``{"y": (P,K), "t": (P,K)}`` of eq. 9's predictions and targets.""")


def _geometry_of(op: str) -> tuple[Callable[..., Geometry | None], dict[str, Any]]:
    """The geometry function of ``op`` and the limits the op itself sets."""
    spec = SPECS[op]
    if spec.is_conv:
        return _conv, {}
    if op == "l2_pool2d":
        return _pool, {"padding": False}
    if op.endswith("_pool2d"):
        return _pool, {}
    if op == "dense":
        return _dense, {}
    if op == "mse":
        return _mse, {}
    return _elementwise, {}


def geometry(op: str, **limits: Any) -> st.SearchStrategy:
    """The geometry strategy of ``op`` (limits are passed on to it)."""
    fn, own = _geometry_of(op)
    return _strategy(fn, "")(**{**own, **limits})


def sample_geometry(op: str, rng: np.random.Generator, **limits: Any) -> Geometry | None:
    """One geometry of ``op`` drawn with ``rng`` from the same ranges as :func:`geometry`
    (``None`` where the strategy would reject the draw); the covering designs pick from these."""
    fn, own = _geometry_of(op)
    return fn(lambda lo, hi: int(rng.integers(lo, hi + 1)), **{**own, **limits})


def long_reduction(op: str) -> Geometry:
    """One geometry of ``op`` whose sums are long (dw and db of a conv over N·Ho·Wo = 2304
    terms, a dense layer's over N = 512): where a kernel that accumulates in low precision
    shows."""
    fn, own = _geometry_of(op)
    if fn is _conv:
        return ({"x": (4, 2, 24, 24), "w": (2, 2, 3, 3), "b": (2,)},
                {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1)})
    if fn is _pool:
        return {"x": (2, 2, 32, 32)}, {"kernel_size": (3, 3), "stride": (2, 2), "padding": (0, 0) if "padding" in own else (1, 1)}
    if fn is _dense:
        return {"x": (512, 8), "w": (4, 8), "b": (4,)}, {}
    if fn is _mse:
        return {"y": (64, 32), "t": (64, 32)}, {}
    return {"x": (2, 2, 32, 32)}, {}


def limits_within(op: str, shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> dict[str, int]:
    """Limits under which :func:`geometry` draws only geometries no larger than this one
    (every bound taken from it), so a search for a smaller failing case stays in its region."""
    fn, _ = _geometry_of(op)
    if fn is _conv:
        n, c, h, w = shapes["x"]
        d, _, k1, k2 = shapes["w"]
        (sh, sw), (ph, pw), (dh, dw) = params["stride"], params["padding"], params["dilation"]
        extra = max(0, h - (dh * (k1 - 1) + 1 - 2 * ph), w - (dw * (k2 - 1) + 1 - 2 * pw))
        return {"max_batch": n, "max_channels": c, "max_filters": d, "max_kernel": max(k1, k2), "max_stride": max(sh, sw),
                "max_padding": max(ph, pw), "max_dilation": max(dh, dw), "max_extra": extra}
    if fn is _pool:
        n, c, h, w = shapes["x"]
        (kh, kw), (sh, sw), (ph, pw) = params["kernel_size"], params["stride"], params["padding"]
        extra = max(0, h - (kh - 2 * ph), w - (kw - 2 * pw))
        return {"max_batch": n, "max_channels": c, "max_window": max(kh, kw), "max_stride": max(sh, sw), "max_extra": extra}
    if fn is _dense:
        return {"max_batch": shapes["x"][0], "max_features": shapes["x"][1], "max_outputs": shapes["w"][0]}
    if fn is _mse:
        return {"max_batch": shapes["y"][0], "max_outputs": shapes["y"][1]}
    n, c, h, w = shapes["x"]
    return {"max_batch": n, "max_channels": c, "max_size": max(h, w)}


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


def _smooth_values(op: str, shapes: dict[str, tuple[int, ...]], params: dict[str, Any], rng: np.random.Generator, scale: float):
    spec = SPECS[op]
    if spec.kinks == "max":
        return {"x": _distinct(rng, shapes["x"], scale)}
    inputs = {k: rng.standard_normal(s) * scale for k, s in shapes.items()}
    if spec.kinks == "relu" and not spec.is_conv:
        x = inputs["x"]
        inputs["x"] = np.where(np.abs(x) < KINK_MARGIN * scale, np.copysign(KINK_MARGIN * scale, x) + x, x)
    if op == "conv2d" or spec.is_conv:
        inputs["w"] = inputs["w"] / scale  # keep pre-activations O(scale), not O(scale**2)
    return inputs


def smooth_case(op: str, shapes: dict[str, tuple[int, ...]], params: dict[str, Any], *, seed: int, scale: float,
                dtype: str = "float64") -> Case | None:
    """The smooth case of ``op`` on one geometry, its values from ``seed`` at ``scale``.

    ``None`` when the values land too near a kink for finite differences (a conv2d+ReLU
    pre-activation or an L2 window norm within ``KINK_MARGIN`` of 0): draw another seed.
    """
    spec = SPECS[op]
    rng = np.random.default_rng(seed)
    inputs = {k: _round(v, dtype) for k, v in _smooth_values(op, shapes, params, rng, scale).items()}
    delta = rng.standard_normal(spec.out_shape(shapes, params))
    case = Case(op, inputs, params, _round(delta, dtype), kind="smooth", dtype=dtype, seed=seed)
    if spec.kinks == "relu" and spec.is_conv:
        from gradcheck.oracles.scipy_oracle import conv_forward

        z = conv_forward(inputs["x"], inputs["w"], inputs["b"], params)
        if not np.abs(z).min() > KINK_MARGIN * float(np.abs(z).max()):  # clear of 0 on the scale of z
            return None
    if spec.kinks == "l2":
        from gradcheck.oracles.scipy_oracle import _pool_forward

        if not _pool_forward("l2", inputs["x"], params).min() > KINK_MARGIN * scale:
            return None
    return case


def kink_case(op: str, shapes: dict[str, tuple[int, ...]], params: dict[str, Any], *, seed: int,
              dtype: str = "float64") -> Case:
    """A kink case of ``op`` on one geometry that sits on the kink by construction: small
    integers from ``seed``, then one ReLU input (or one conv pre-activation) set to exactly 0,
    the first pooling window made a tie of its largest value, or the first L2 window zeroed."""
    spec = SPECS[op]
    rng = np.random.default_rng(seed)
    lo, hi = (0, 2) if spec.kinks in ("max", "l2") else (-2, 2)
    inputs = {k: rng.integers(lo, hi + 1, size=s).astype(np.float64) for k, s in shapes.items()}
    x = inputs[spec.inputs[0]]
    if spec.kinks == "relu" and not spec.is_conv:
        x.flat[0] = 0.0
    elif spec.kinks == "relu":
        from gradcheck.oracles.scipy_oracle import conv_forward

        z = conv_forward(inputs["x"], inputs["w"], np.zeros_like(inputs["b"]), params)
        inputs["b"][0] = -z[0, 0, 0, 0]
    else:
        (kh, kw), (ph, pw) = params["kernel_size"], params["padding"]
        rows = slice(0, max(0, kh - ph))
        cols = slice(0, max(0, kw - pw))
        x[:, :, rows, cols] = 0.0 if spec.kinks == "l2" else float(hi)
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
    if kind == "kink" and spec.kinks is None:
        raise ValueError(f"{op} has no kinks")
    shapes, params = draw(geometry(op, **limits))
    seed = draw(st.integers(0, 2**32 - 1))
    if kind == "smooth":
        case = smooth_case(op, shapes, params, seed=seed, scale=draw(st.sampled_from(scales(dtype))), dtype=dtype)
        assume(case is not None)
        return case
    rng = np.random.default_rng(seed)
    lo, hi = (0, 2) if spec.kinks in ("max", "l2") else (-2, 2)
    inputs = {k: draw(hnp.arrays(np.float64, s, elements=st.integers(lo, hi).map(float))) for k, s in shapes.items()}
    if spec.kinks == "l2":
        inputs["x"] = inputs["x"] * (rng.random(shapes["x"]) < 0.5)
    inputs = {k: _round(v, dtype) for k, v in inputs.items()}
    delta = draw(hnp.arrays(np.float64, spec.out_shape(shapes, params), elements=st.integers(-3, 3).map(float)))
    return Case(op, inputs, params, _round(delta, dtype), kind=kind, dtype=dtype, seed=seed)
