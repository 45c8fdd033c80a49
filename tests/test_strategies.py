"""The hypothesis strategies: consistent, never-empty cases; the kink policy; the geometry they reach."""
from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import Phase, find, given, settings
from numpy.lib.stride_tricks import sliding_window_view

from gradcheck.cases import strategies
from gradcheck.ops import SPECS
from gradcheck.cases.strategies import KINK_MARGIN, cases
from gradcheck.cases.strategies import geometry, kink_ops

KINK_OPS = ("relu", "leaky_relu", "conv2d_relu", "max_pool2d", "l2_pool2d", "svm_loss")
OP_KINDS = [(op, "smooth") for op in SPECS] + [(op, "kink") for op in KINK_OPS]
CONV_OPS = [op for op, s in SPECS.items() if s.family.name == "conv"]
POOL_OPS = ("max_pool2d", "avg_pool2d", "l2_pool2d")
SCALES = (1.0, 1e-3, 1e3)


def _draw(strategy, n: int) -> list:
    """``n`` examples of ``strategy`` (deterministic, no shrinking)."""
    out: list = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None, phases=[Phase.generate])
    @given(strategy)
    def collect(value):
        out.append(value)

    collect()
    return out


def _find(strategy, condition, n: int = 400):
    quick = settings(max_examples=n, derandomize=True, database=None, deadline=None, phases=[Phase.generate])
    return find(strategy, condition, settings=quick)


def _torch_out(case) -> np.ndarray:
    spec = SPECS[case.op]
    t = {k: torch.tensor(v) for k, v in case.inputs.items()}
    return spec.torch_forward(t, case.params).numpy()


def _windows(case, fill: float) -> np.ndarray:
    """Every pooling window of ``x``, padded with ``fill``: (N, C, Ho, Wo, kh, kw)."""
    x = case.inputs["x"]
    (kh, kw), (sh, sw), (ph, pw) = case.params["kernel_size"], case.params["stride"], case.params["padding"]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    return sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def _preactivation(case) -> np.ndarray:
    t = {k: torch.tensor(v) for k, v in case.inputs.items()}
    return SPECS["conv2d"].torch_forward(t, case.params).numpy()


# --- shapes -------------------------------------------------------------------------------------


def _check_shapes(case) -> None:
    spec, s, p = SPECS[case.op], case.shapes, case.params
    assert tuple(case.inputs) == spec.inputs
    assert all(v.dtype == np.float64 for v in case.inputs.values()) and case.delta.dtype == np.float64
    assert set(p) == set(spec.params) | set(spec.protocol.labels)
    for name, value in p.items():
        assert isinstance(value, tuple) and all(isinstance(v, (int, float)) for v in value), (name, value)
        if name in spec.protocol.scalars:
            assert len(value) == 1, (name, value)
        elif name in spec.protocol.labels:
            assert len(value) == s[spec.inputs[0]][0] and all(0 <= v < s["x"][1] for v in value), (name, value)
        else:  # one int per spatial axis
            assert len(value) == len(s[spec.inputs[0]]) - 2 and all(type(v) is int for v in value), (name, value)
    out = spec.out_shape(s, p)
    assert case.delta.shape == tuple(out)
    assert all(v > 0 for v in out) and all(v > 0 for shape in s.values() for v in shape)
    assert _torch_out(case).shape == tuple(out)  # torch agrees on the output's shape
    if spec.family.name == "conv" or (spec.family.name.startswith("conv") and "transpose" not in spec.family.name):
        c, (d, c2) = s["x"][1], s["w"][:2]
        g = p.get("groups", (1,))[0]
        assert c2 * g == c and d % g == 0 and s["b"] == (d,)
        assert min(p["stride"]) >= 1 and min(p["dilation"]) >= 1 and min(p["padding"]) >= 0
    elif spec.family.name.startswith("conv_transpose"):
        c, (c_in, c_out) = s["x"][1], s["w"][:2]
        assert c_in == c and s["b"] == (c_out * p["groups"][0],) and c % p["groups"][0] == 0
        assert all(0 <= o < st for o, st in zip(p["output_padding"], p["stride"]))
    elif case.op in POOL_OPS:
        assert len(s["x"]) == 4
        for k, pad, st_ in zip(p["kernel_size"], p["padding"], p["stride"]):
            assert k >= 1 and st_ >= 1 and 0 <= pad <= k // 2  # torch allows at most half the window
        if case.op == "l2_pool2d":
            assert p["padding"] == (0, 0)
    elif case.op == "dense":
        (_, f), (k, f2) = s["x"], s["w"]
        assert f2 == f and s["b"] == (k,)
    elif case.op == "mse":
        assert s["y"] == s["t"] and len(s["y"]) == 2 and case.delta.shape == ()
    elif case.op == "batch_norm":
        assert len(s["x"]) in (2, 4) and s["gamma"] == s["beta"] == (s["x"][1],) and case.delta.shape == s["x"]
    elif case.op == "layer_norm":
        assert len(s["x"]) == 2 and s["gamma"] == s["beta"] == (s["x"][1],) and case.delta.shape == s["x"]
    elif case.op == "group_norm":
        assert len(s["x"]) in (2, 4) and s["gamma"] == s["beta"] == (s["x"][1],) and s["x"][1] % p["groups"][0] == 0
    elif case.op in ("softmax_cross_entropy", "svm_loss"):
        assert len(s["x"]) == 2 and case.delta.shape == ()
    elif case.op == "dropout":
        assert len(s["x"]) in (2, 4) and 0 < p["p"][0] < 1 and case.delta.shape == s["x"]
    else:
        assert len(s["x"]) == 4 and case.delta.shape == s["x"]


@pytest.mark.parametrize("op,kind", OP_KINDS, ids=[f"{o}-{k}" for o, k in OP_KINDS])
def test_cases_are_consistent_and_never_empty(op, kind):
    for case in _draw(cases(op, kind=kind), 8):
        assert (case.op, case.kind, case.dtype) == (op, kind, "float64")
        _check_shapes(case)


@pytest.mark.parametrize(
    "name,strategy",
    [
        pytest.param(name, strategy, id=name)
        for name, strategy in [
            ("conv", geometry("conv2d")),
            ("conv-tight", geometry("conv2d", max_padding=0, max_extra=0, max_stride=5)),
            ("conv-wide", geometry("conv2d", max_kernel=6, max_padding=4, max_dilation=3, max_stride=5)),
            ("pool", geometry("max_pool2d")),
            ("pool-no-padding", geometry("max_pool2d", padding=False, max_extra=0)),
            ("dense", geometry("dense")),
            ("elementwise", geometry("relu")),
            ("mse", geometry("mse")),
        ]
    ],
)
def test_geometries_are_never_empty(name, strategy):
    out_shape = {"conv": SPECS["conv2d"], "pool": SPECS["max_pool2d"], "dense": SPECS["dense"],
                 "elementwise": SPECS["relu"], "mse": SPECS["mse"]}[name.split("-")[0]].out_shape
    for shapes, params in _draw(strategy, 40):
        assert all(v > 0 for shape in shapes.values() for v in shape)
        assert all(v > 0 for v in out_shape(shapes, params))
        if name == "pool-no-padding":
            assert params["padding"] == (0, 0)


@pytest.mark.parametrize("op", CONV_OPS + list(POOL_OPS))
def test_square_gives_one_value_for_both_axes(op):
    conv = SPECS[op].family.name == "conv"
    seen_nonsquare = False
    for shapes, params in _draw(geometry(op, square=True), 30):
        for name in ("stride", "padding", "dilation") if conv else ("stride",):
            assert params[name][0] == params[name][1], (name, params)
        kernel = shapes["w"][2:] if conv else params["kernel_size"]
        seen_nonsquare |= kernel[0] != kernel[1]
    assert seen_nonsquare  # kernels and windows stay free


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_pools_without_padding(op):
    for _, params in _draw(geometry(op, square=True, padding=False), 20):
        assert params["padding"] == (0, 0) and params["stride"][0] == params["stride"][1]


def test_square_reaches_cases():
    for case in _draw(cases("conv2d", square=True), 10):
        assert all(v[0] == v[1] for k, v in case.params.items() if k != "groups")


@pytest.mark.parametrize("op,kind", OP_KINDS, ids=[f"{o}-{k}" for o, k in OP_KINDS])
def test_values_are_already_rounded_to_the_dtype(op, kind):
    for case in _draw(cases(op, kind=kind, dtype="float32"), 6):
        assert case.dtype == "float32"
        for name, v in {**case.inputs, "delta": case.delta}.items():
            assert np.array_equal(v.astype(np.float32).astype(np.float64), v), name
        for name, v in case.candidate_inputs().items():
            assert v.dtype == np.float32 and np.array_equal(v, case.inputs[name])


def test_smooth_float32_values_are_not_all_representable_by_accident():
    """The rounding test above has teeth: float64 cases hold values float32 cannot represent."""
    case = _draw(cases("conv2d"), 1)[0]
    assert not np.array_equal(case.inputs["x"].astype(np.float32).astype(np.float64), case.inputs["x"])


# --- the kink policy ----------------------------------------------------------------------------


@pytest.fixture(params=SCALES, ids=lambda s: f"scale={s:g}")
def scale(request):
    """Pin the value scale the strategy draws from, so the margins can be checked exactly."""
    with mock.patch.object(strategies, "_SCALES", (request.param,)):
        yield request.param


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_smooth_relu_inputs_keep_the_margin_from_zero(scale, dtype):
    for case in _draw(cases("relu", dtype=dtype, max_batch=4, max_channels=4, max_size=16), 12):
        assert np.abs(case.inputs["x"]).min() >= KINK_MARGIN * scale * (1 - 2.0**-23)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_smooth_max_pool_values_are_pairwise_separated_per_sample(scale, dtype):
    for case in _draw(cases("max_pool2d", dtype=dtype, max_channels=4, max_extra=8), 12):
        x = case.inputs["x"]
        gaps = np.diff(np.sort(x.reshape(x.shape[0], -1), axis=1), axis=1)
        assert gaps.size == 0 or gaps.min() >= KINK_MARGIN * scale


def test_smooth_conv2d_relu_preactivations_are_clear_of_zero(scale):
    for case in _draw(cases("conv2d_relu"), 10):
        z = _preactivation(case)
        assert np.abs(z).min() > KINK_MARGIN * float(np.abs(z).max())
        # and so beyond any finite-difference step's reach: a step moves z by about h·sum|w|
        h = np.finfo(np.float64).eps ** (1 / 3) * float(np.abs(case.inputs["x"]).max())
        assert np.abs(z).min() > 10 * h * float(np.abs(case.inputs["w"]).sum())


def test_smooth_l2_windows_are_nonzero(scale):
    for case in _draw(cases("l2_pool2d"), 10):
        assert _torch_out(case).min() > KINK_MARGIN * scale


def _relu_zero(case) -> bool:
    return bool((case.inputs["x"] == 0).any())


def _preactivation_zero(case) -> bool:
    return bool((_preactivation(case) == 0).any())


def _tied_maxima(case) -> bool:
    w = _windows(case, -np.inf)
    return bool(((w == w.max(axis=(-2, -1), keepdims=True)).sum(axis=(-2, -1)) > 1).any())


def _zero_window(case) -> bool:
    return bool(((_windows(case, 0.0) ** 2).sum(axis=(-2, -1)) == 0).any())


KINKS = {"relu": _relu_zero, "leaky_relu": _relu_zero, "conv2d_relu": _preactivation_zero, "max_pool2d": _tied_maxima, "l2_pool2d": _zero_window,
         "svm_loss": lambda case: bool((SPECS["svm_loss"].kink.features_of(case)))}


@pytest.mark.parametrize("op", KINK_OPS)
def test_kink_cases_sit_on_kinks(op):
    has_kink = KINKS[op]
    drawn = _draw(cases(op, kind="kink"), 12)
    assert sum(map(has_kink, drawn)) >= len(drawn) // 3  # most of them, not by luck
    for case in drawn:  # small integers: exact zeros and ties survive rounding
        for v in case.inputs.values():
            assert np.array_equal(v, np.round(v))


@pytest.mark.parametrize("op", KINK_OPS)
def test_smooth_cases_never_sit_on_kinks(op):
    assert not any(map(KINKS[op], _draw(cases(op), 15)))


def test_ties_are_reached_in_overlapping_windows():
    def overlapping_tie(case):
        k, s = case.params["kernel_size"], case.params["stride"]
        return any(si < ki for si, ki in zip(s, k)) and _tied_maxima(case)

    case = _find(cases("max_pool2d", kind="kink"), overlapping_tie)
    assert overlapping_tie(case)


def test_kink_ops_are_the_ops_with_a_kink_policy():
    assert set(kink_ops()) == set(KINK_OPS)


# --- invalid arguments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,kwargs,message",
    [
        pytest.param(("bogus",), {}, r"unknown op 'bogus'; known: conv2d, conv1d, ", id="unknown-op"),
        pytest.param(("conv2d",), {"kind": "bogus"}, r"kind must be 'smooth' or 'kink', got 'bogus'", id="bogus-kind"),
        pytest.param(("sigmoid",), {"kind": "kink"}, r"sigmoid has no kinks", id="kink-of-sigmoid"),
        pytest.param(("conv2d",), {"kind": "kink"}, r"conv2d has no kinks", id="kink-of-conv2d"),
        pytest.param(("conv2d",), {"max_batch": 0}, r"max_batch must be a positive int, got 0", id="max_batch=0"),
        pytest.param(("max_pool2d",), {"max_window": -1}, r"max_window must be a positive int, got -1",
                     id="max_window=-1"),
        pytest.param(("dense",), {"max_features": 2.5}, r"max_features must be a positive int, got 2.5",
                     id="float-limit"),
        pytest.param(("conv2d",), {"max_padding": -1}, r"max_padding must be a non-negative int, got -1",
                     id="max_padding=-1"),
        pytest.param(("avg_pool2d",), {"max_extra": -2}, r"max_extra must be a non-negative int, got -2",
                     id="max_extra=-2"),
    ],
)
def test_invalid_arguments_raise_value_error(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _draw(cases(*args, **kwargs), 1)


@pytest.mark.parametrize("limits", [{"max_padding": 0}, {"max_extra": 0}, {"max_padding": 0, "max_extra": 0}],
                         ids=["max_padding=0", "max_extra=0", "both-0"])
def test_zero_padding_and_extra_are_valid_limits(limits):
    for shapes, params in _draw(geometry("conv2d", **limits), 10):
        if "max_padding" in limits:
            assert params["padding"] == (0, 0)
        assert all(v > 0 for v in SPECS["conv2d"].out_shape(shapes, params))


# --- coverage of the geometry space ---------------------------------------------------------------


def _dilated(shapes, params, axis):
    return params["dilation"][axis] * (shapes["w"][2 + axis] - 1) + 1


def _padded(shapes, params, axis):
    return shapes["x"][2 + axis] + 2 * params["padding"][axis]


def _pool_out(shapes, params, axis):
    return SPECS["max_pool2d"].out_shape(shapes, params)[2 + axis]


CONV_REACHES = {
    "batch-1": lambda s, p: s["x"][0] == 1,
    "batch>1": lambda s, p: s["x"][0] > 1,
    "1x1-kernel": lambda s, p: s["w"][2:] == (1, 1),
    "kernel-as-large-as-padded-input": lambda s, p: max(s["w"][2:]) > 1
    and all(_dilated(s, p, a) == _padded(s, p, a) for a in (0, 1)),
    "stride>kernel": lambda s, p: any(p["stride"][a] > _dilated(s, p, a) for a in (0, 1)),
    "non-square-kernel": lambda s, p: s["w"][2] != s["w"][3],
    "dilation>1": lambda s, p: max(p["dilation"]) > 1,
    "non-square-stride": lambda s, p: p["stride"][0] != p["stride"][1],
    "padding>0": lambda s, p: max(p["padding"]) > 0,
    "multi-channel-multi-filter": lambda s, p: s["x"][1] > 1 and s["w"][0] > 1,
}

POOL_REACHES = {
    "batch-1": lambda s, p: s["x"][0] == 1,
    "batch>1": lambda s, p: s["x"][0] > 1,
    "1x1-window": lambda s, p: p["kernel_size"] == (1, 1),
    "overlapping-windows": lambda s, p: any(p["stride"][a] < p["kernel_size"][a] and _pool_out(s, p, a) > 1
                                            for a in (0, 1)),
    "stride>window": lambda s, p: any(p["stride"][a] > p["kernel_size"][a] and _pool_out(s, p, a) > 1 for a in (0, 1)),
    "window-as-large-as-padded-input": lambda s, p: max(p["kernel_size"]) > 1
    and all(p["kernel_size"][a] == s["x"][2 + a] + 2 * p["padding"][a] for a in (0, 1)),
    "non-square-window": lambda s, p: p["kernel_size"][0] != p["kernel_size"][1],
    "padding>0": lambda s, p: max(p["padding"]) > 0,
}


@pytest.mark.parametrize("what", list(CONV_REACHES))
def test_conv_geometry_reaches(what):
    shapes, params = _find(geometry("conv2d"), lambda g: CONV_REACHES[what](*g))
    assert CONV_REACHES[what](shapes, params)


@pytest.mark.parametrize("what", list(POOL_REACHES))
def test_pool_geometry_reaches(what):
    shapes, params = _find(geometry("max_pool2d"), lambda g: POOL_REACHES[what](*g))
    assert POOL_REACHES[what](shapes, params)


@pytest.mark.parametrize("what", ["batch-1", "batch>1", "1x1-kernel", "dilation>1", "non-square-kernel",
                                  "kernel-as-large-as-padded-input"])
def test_conv2d_relu_smooth_cases_reach(what):
    """The pre-activation filter of conv2d_relu does not cut off parts of the geometry."""
    case = _find(cases("conv2d_relu"), lambda c: CONV_REACHES[what](c.shapes, c.params), n=600)
    assert CONV_REACHES[what](case.shapes, case.params)
