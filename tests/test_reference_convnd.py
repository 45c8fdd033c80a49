"""The N-d grouped and transposed convolution reference (``reference/convnd.py``) against torch.

Forward and backward (float64) against ``torch.nn.functional.conv{1,2,3}d`` /
``conv_transpose{1,2,3}d`` and autograd, over 1-3 spatial axes, groups (1, 2, depthwise),
stride, padding, dilation, non-square kernels and output_padding; the adjoint identity between
the two ops; dtype keeping, untouched inputs, argument errors and agreement with the 2-D
reference of ``reference/conv.py``.
"""
from __future__ import annotations

import inspect
import math
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from reference import conv as C2
from reference import convnd as R

F64 = {"rtol": 1e-11, "atol": 1e-12}
F32 = {"rtol": 2e-4, "atol": 2e-5}

TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
TORCH_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
HYPER = ("stride", "padding", "dilation", "groups")
HYPER_T = ("stride", "padding", "output_padding", "dilation", "groups")


@pytest.fixture(scope="module", autouse=True)
def _torch_single_thread():
    """Tiny tensors: torch's worker threads only add wake-up latency (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def rng_for(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def t64(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def check_conv_against_torch(x, w, b, rng, **hyper) -> None:
    """Forward and (dx, dw, db) of convnd against torch autograd, float64."""
    d = x.ndim - 2
    xt, wt, bt = t64(x), t64(w), t64(b)
    ot = TORCH_CONV[d](xt, wt, bt, **hyper)
    o = R.convnd_forward(x, w, b, **hyper)
    assert o.shape == tuple(ot.shape)
    assert_allclose(o, ot.detach().numpy(), **F64)
    delta = rng.standard_normal(o.shape)
    mine = R.convnd_backward(delta, x, w, b, **hyper)
    theirs = torch.autograd.grad(ot, [xt, wt, bt], torch.tensor(delta))
    for name, m, t in zip(("dx", "dw", "db"), mine, theirs):
        assert m.shape == tuple(t.shape), name
        assert_allclose(m, t.numpy(), **F64, err_msg=name)


def check_conv_t_against_torch(x, w, b, rng, **hyper) -> None:
    """Forward and (dx, dw, db) of conv_transposend against torch autograd, float64."""
    d = x.ndim - 2
    xt, wt, bt = t64(x), t64(w), t64(b)
    ot = TORCH_CONV_T[d](xt, wt, bt, **hyper)
    o = R.conv_transposend_forward(x, w, b, **hyper)
    assert o.shape == tuple(ot.shape)
    assert_allclose(o, ot.detach().numpy(), **F64)
    delta = rng.standard_normal(o.shape)
    mine = R.conv_transposend_backward(delta, x, w, b, **hyper)
    theirs = torch.autograd.grad(ot, [xt, wt, bt], torch.tensor(delta))
    for name, m, t in zip(("dx", "dw", "db"), mine, theirs):
        assert m.shape == tuple(t.shape), name
        assert_allclose(m, t.numpy(), **F64, err_msg=name)


# ---------------------------------------------------------------------------------------------
# convolution against torch
# ---------------------------------------------------------------------------------------------

# id: (x shape, w shape, stride, padding, dilation, groups)
CONV_CASES = {
    "1d-plain": ((2, 3, 9), (4, 3, 3), 1, 0, 1, 1),
    "1d-stride-pad-dilation": ((2, 4, 13), (6, 2, 3), 2, 2, 2, 2),
    "1d-depthwise-multiplier": ((3, 4, 10), (8, 1, 4), 3, 1, 1, 4),
    "2d-groups2-nonsquare": ((2, 4, 9, 7), (6, 2, 3, 2), (2, 1), (1, 0), (1, 2), 2),
    "2d-depthwise": ((2, 5, 8, 8), (5, 1, 3, 3), 1, 1, 1, 5),
    "2d-depthwise-stride-dilation": ((1, 3, 11, 10), (6, 1, 2, 3), 2, (0, 2), (3, 1), 3),
    "2d-uncovered-rows": ((1, 2, 8, 8), (2, 2, 3, 3), 2, 0, 1, 1),
    "2d-padding-beyond-kernel": ((1, 2, 3, 3), (2, 1, 2, 2), 1, 2, 1, 2),
    "2d-1x1-groups": ((2, 6, 4, 5), (3, 2, 1, 1), 1, 0, 1, 3),
    "3d-plain": ((2, 2, 5, 4, 6), (3, 2, 2, 3, 2), 1, 0, 1, 1),
    "3d-groups2-all": ((1, 4, 7, 6, 8), (4, 2, 3, 2, 3), (2, 1, 3), (1, 0, 2), (1, 2, 1), 2),
    "3d-depthwise": ((2, 3, 5, 5, 5), (3, 1, 3, 3, 3), 2, 1, 1, 3),
}


@pytest.mark.parametrize("case", list(CONV_CASES), ids=str)
def test_convnd_matches_torch(case):
    xs, ws, stride, padding, dilation, groups = CONV_CASES[case]
    rng = rng_for(case)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    check_conv_against_torch(x, w, b, rng, stride=stride, padding=padding, dilation=dilation, groups=groups)


# id: (x shape, w shape, stride, padding, output_padding, dilation, groups)
CONV_T_CASES = {
    "1d-plain": ((2, 3, 5), (3, 4, 3), 1, 0, 0, 1, 1),
    "1d-stride-output-padding": ((2, 4, 6), (4, 3, 4), 3, 1, 2, 1, 2),
    "1d-output-padding-below-dilation": ((1, 2, 5), (2, 2, 3), 1, 1, 1, 2, 1),
    "2d-groups2-nonsquare": ((2, 4, 5, 4), (4, 3, 3, 2), (2, 1), (1, 0), (1, 0), (1, 2), 2),
    "2d-depthwise": ((2, 5, 4, 6), (5, 1, 3, 3), 2, 1, 1, 1, 5),
    "2d-depthwise-multiplier": ((1, 3, 4, 4), (3, 2, 2, 3), (1, 3), (0, 1), (0, 2), (2, 1), 3),
    "2d-padding-crops-to-one": ((1, 2, 2, 2), (2, 1, 2, 2), 1, 1, 0, 1, 1),
    "3d-plain": ((2, 2, 3, 4, 3), (2, 3, 2, 3, 2), 1, 0, 0, 1, 1),
    "3d-groups2-all": ((1, 4, 3, 4, 3), (4, 1, 3, 2, 2), (2, 1, 3), (1, 0, 1), (1, 0, 2), (1, 2, 1), 2),
    "3d-depthwise-stride": ((2, 3, 3, 3, 3), (3, 1, 3, 3, 3), 2, 1, 1, 1, 3),
}


@pytest.mark.parametrize("case", list(CONV_T_CASES), ids=str)
def test_conv_transposend_matches_torch(case):
    xs, ws, stride, padding, output_padding, dilation, groups = CONV_T_CASES[case]
    rng = rng_for(case)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[1] * groups)
    check_conv_t_against_torch(
        x, w, b, rng, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation,
        groups=groups,
    )


@st.composite
def conv_geometries(draw, transposed: bool):
    """Small random geometries: d axes, groups, per-axis kernel / stride / padding / dilation."""
    d = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 3))
    per_group_in, per_group_out = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    n = draw(st.integers(1, 2))
    kernel, stride, padding, dilation, out_pad, size = [], [], [], [], [], []
    for _ in range(d):
        k, s, t = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
        span = t * (k - 1) + 1
        if transposed:
            size_in = draw(st.integers(1, 4))
            op = draw(st.integers(0, max(s, t) - 1))
            p = draw(st.integers(0, ((size_in - 1) * s + span - 1 + op) // 2))
            size.append(size_in)
            out_pad.append(op)
        else:
            p = draw(st.integers(0, 2))
            size.append(draw(st.integers(max(1, span - 2 * p), max(1, span - 2 * p) + 4)))
        kernel.append(k), stride.append(s), padding.append(p), dilation.append(t)
    hyper = {"stride": tuple(stride), "padding": tuple(padding), "dilation": tuple(dilation), "groups": groups}
    if transposed:
        hyper["output_padding"] = tuple(out_pad)
        shapes = ((n, groups * per_group_in, *size), (groups * per_group_in, per_group_out, *kernel))
    else:
        shapes = ((n, groups * per_group_in, *size), (groups * per_group_out, per_group_in, *kernel))
    return shapes, hyper, draw(st.integers(0, 2**32 - 1))


@settings(deadline=None)
@given(conv_geometries(transposed=False))
def test_convnd_matches_torch_on_drawn_geometries(case):
    (xs, ws), hyper, seed = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    check_conv_against_torch(x, w, b, rng, **hyper)


@settings(deadline=None)
@given(conv_geometries(transposed=True))
def test_conv_transposend_matches_torch_on_drawn_geometries(case):
    (xs, ws), hyper, seed = case
    rng = np.random.default_rng(seed)
    b = rng.standard_normal(ws[1] * hyper["groups"])
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    check_conv_t_against_torch(x, w, b, rng, **hyper)


# ---------------------------------------------------------------------------------------------
# structure: adjoint, groups, agreement with the 2-D reference
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [1, 2, 3])
def test_transposed_convolution_is_the_adjoint_of_convolution(d):
    """<K y, x> = <y, T x> for K the convolution and T the transposed one with the same w."""
    rng = rng_for(f"adjoint-{d}")
    hyper = {"stride": 2, "padding": 1, "dilation": (2, 1, 1)[:d], "groups": 2}
    y = rng.standard_normal((2, 4, *(9, 8, 7)[:d]))  # convolution input
    w = rng.standard_normal((6, 2, *(3, 2, 3)[:d]))  # (D, C/G, *k) = (C_in, C_out/G, *k) of T
    ky = R.convnd_forward(y, w, np.zeros(6), **hyper)
    x = rng.standard_normal(ky.shape)
    short = R.conv_transposend_forward(x, w, np.zeros(4), **hyper).shape[2:]
    out_pad = tuple(yy - tt for yy, tt in zip(y.shape[2:], short))  # the rows the floor in K dropped
    tx = R.conv_transposend_forward(x, w, np.zeros(4), output_padding=out_pad, **hyper)
    assert tx.shape == y.shape
    assert_allclose(np.vdot(ky, x), np.vdot(y, tx), rtol=1e-12)
    # and T's forward is K's dx, K's forward is T's dx
    dx_k, _, _ = R.convnd_backward(x, y, w, np.zeros(6), **hyper)
    assert_allclose(tx, dx_k, **F64)
    dx_t, _, _ = R.conv_transposend_backward(y, x, w, np.zeros(4), output_padding=out_pad, **hyper)
    assert_allclose(dx_t, ky, **F64)


@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "conv_transpose"])
def test_each_group_is_an_independent_convolution(transposed):
    """Block-diagonal channel map: a grouped op equals its groups run separately and stacked."""
    rng = rng_for(f"groups-{transposed}")
    g, cin, cout = 3, 2, 2  # channels per group
    hyper = {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)}
    x = rng.standard_normal((2, g * cin, 7, 6))
    if transposed:
        w, b = rng.standard_normal((g * cin, cout, 3, 2)), rng.standard_normal(g * cout)
        fwd, bwd = R.conv_transposend_forward, R.conv_transposend_backward
    else:
        w, b = rng.standard_normal((g * cout, cin, 3, 2)), rng.standard_normal(g * cout)
        fwd, bwd = R.convnd_forward, R.convnd_backward
    o = fwd(x, w, b, groups=g, **hyper)
    delta = rng.standard_normal(o.shape)
    dx, dw, db = bwd(delta, x, w, b, groups=g, **hyper)
    for i in range(g):
        xi, wi = x[:, i * cin : (i + 1) * cin], w[i * w.shape[0] // g : (i + 1) * w.shape[0] // g]
        out = slice(i * cout, (i + 1) * cout)
        oi = fwd(xi, wi, b[out], **hyper)
        assert_allclose(o[:, out], oi, **F64)
        dxi, dwi, dbi = bwd(delta[:, out], xi, wi, b[out], **hyper)
        assert_allclose(dx[:, i * cin : (i + 1) * cin], dxi, **F64)
        assert_allclose(dw[i * w.shape[0] // g : (i + 1) * w.shape[0] // g], dwi, **F64)
        assert_allclose(db[out], dbi, **F64)


@pytest.mark.parametrize(
    "xs, ws, hyper",
    [
        ((2, 3, 7, 6), (4, 3, 3, 2), {}),
        ((1, 2, 9, 8), (3, 2, 3, 3), {"stride": 2, "padding": 1, "dilation": 2}),
        ((2, 2, 9, 7), (3, 2, 3, 2), {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)}),
    ],
    ids=["plain", "stride-pad-dilation", "nonsquare-everything"],
)
def test_convnd_2d_agrees_with_conv2d_reference(xs, ws, hyper):
    rng = rng_for(f"conv2d-{xs}-{ws}")
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    o = R.convnd_forward(x, w, b, **hyper)
    assert_allclose(o, C2.conv2d_forward(x, w, b, **hyper), rtol=1e-13, atol=1e-13)
    delta = rng.standard_normal(o.shape)
    for m, r in zip(R.convnd_backward(delta, x, w, b, **hyper), C2.conv2d_backward(delta, x, w, b, **hyper)):
        assert m.shape == r.shape
        assert_allclose(m, r, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("run", [1, 2, 4, None], ids=["offset-by-offset", "runs-of-2", "runs-of-4", "all-at-once"])
@pytest.mark.parametrize("stride", [(2, 1), 1], ids=["strided", "stride1"])
@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "conv_transpose"])
def test_blocked_adjoint_does_not_depend_on_the_block_size(monkeypatch, transposed, stride, run):
    """dx and the transposed forward agree with torch whether eq. 20's 9 offsets come 1, 2, 4 or 9 at a time.

    Stride 1 on every axis takes the shifted-slice accumulation, any other stride the strided windows.
    """
    rng = rng_for(f"blocks-{transposed}-{stride}")
    x = rng.standard_normal((2, 4, 6, 5))
    hyper = {"stride": stride, "padding": 1, "dilation": (1, 2), "groups": 2}
    if transposed and stride == 1:
        hyper["output_padding"] = (0, 1)  # below the dilation
    if transposed:
        w, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(6)
        check, channels = check_conv_t_against_torch, 6
        narrow, wide = x.shape[2:], R.conv_transposend_forward(x, w, b, **hyper).shape[2:]
    else:
        w, b = rng.standard_normal((6, 2, 3, 3)), rng.standard_normal(6)
        check, channels = check_conv_against_torch, 4
        narrow, wide = R.convnd_forward(x, w, b, **hyper).shape[2:], x.shape[2:]
    if stride == 1:  # the blocks then cover the padded extent of the trailing axis
        narrow = (narrow[0], wide[1] + 2)
    per_offset = channels * 2 * math.prod(narrow)  # C_wide * N * positions
    if run is not None:
        monkeypatch.setattr(R, "BLOCK_ELEMENTS", run * per_offset)
    check(x, w, b, rng, **hyper)


def test_uncovered_input_gets_zero_gradient():
    rng = rng_for("uncovered")
    x, w = rng.standard_normal((1, 2, 10)), rng.standard_normal((2, 1, 2))
    o = R.convnd_forward(x, w, np.zeros(2), stride=3, groups=2)  # reads 0,1 3,4 6,7; never 2, 5, 8, 9
    dx, _, _ = R.convnd_backward(np.ones_like(o), x, w, np.zeros(2), stride=3, groups=2)
    assert_array_equal(dx[..., [2, 5, 8, 9]], 0.0)
    assert np.all(dx[..., [0, 1, 3, 4, 6, 7]] != 0.0)


def test_int_and_tuple_hyperparameters_agree():
    rng = rng_for("tuples")
    x, w, b = rng.standard_normal((1, 2, 7, 7, 7)), rng.standard_normal((2, 1, 2, 2, 2)), rng.standard_normal(2)
    a = R.convnd_forward(x, w, b, stride=2, padding=1, dilation=2, groups=2)
    t = R.convnd_forward(x, w, b, stride=(2, 2, 2), padding=[1, 1, 1], dilation=(np.int64(2),) * 3, groups=2)
    assert_array_equal(a, t)
    a = R.conv_transposend_forward(x, w, b[:1], stride=2, output_padding=1)
    t = R.conv_transposend_forward(x, w, b[:1], stride=(2, 2, 2), output_padding=(1, 1, 1))
    assert_array_equal(a, t)


# ---------------------------------------------------------------------------------------------
# wrappers, signatures, dtypes, inputs
# ---------------------------------------------------------------------------------------------

WRAPPERS = {
    "conv1d": (1, R.conv1d_forward, R.conv1d_backward, False),
    "conv3d": (3, R.conv3d_forward, R.conv3d_backward, False),
    "conv_transpose1d": (1, R.conv_transpose1d_forward, R.conv_transpose1d_backward, True),
    "conv_transpose2d": (2, R.conv_transpose2d_forward, R.conv_transpose2d_backward, True),
    "conv_transpose3d": (3, R.conv_transpose3d_forward, R.conv_transpose3d_backward, True),
}


def nd_pair(transposed: bool):
    """The N-d (forward, backward) pair of the convolution or the transposed convolution."""
    if transposed:
        return R.conv_transposend_forward, R.conv_transposend_backward
    return R.convnd_forward, R.convnd_backward


def wrapper_args(d: int, transposed: bool, rng: np.random.Generator, dtype=np.float64):
    x = rng.standard_normal((2, 4, *(5, 4, 3)[:d])).astype(dtype)
    w = rng.standard_normal((4, 3, *(3, 2, 2)[:d]) if transposed else (6, 2, *(3, 2, 2)[:d])).astype(dtype)
    b = rng.standard_normal(6).astype(dtype)
    hyper = {"stride": 2, "padding": 1, "groups": 2}
    if transposed:
        hyper["output_padding"] = 1
    return x, w, b, hyper


@pytest.mark.parametrize("name", list(WRAPPERS))
def test_wrappers_equal_the_nd_functions_and_check_d(name):
    d, fwd, bwd, transposed = WRAPPERS[name]
    rng = rng_for(f"wrap-{name}")
    x, w, b, hyper = wrapper_args(d, transposed, rng)
    nd_fwd, nd_bwd = nd_pair(transposed)
    o = fwd(x, w, b, **hyper)
    assert_array_equal(o, nd_fwd(x, w, b, **hyper))
    delta = rng.standard_normal(o.shape)
    for m, r in zip(bwd(delta, x, w, b, **hyper), nd_bwd(delta, x, w, b, **hyper)):
        assert_array_equal(m, r)
    other = 2 if d != 2 else 1
    x2, w2, b2, hyper2 = wrapper_args(other, transposed, rng)
    with pytest.raises(ValueError, match=f"{d} spatial axes"):
        fwd(x2, w2, b2, **hyper2)
    with pytest.raises(ValueError, match=f"{d} spatial axes"):
        bwd(np.zeros((2, 6, *(3,) * other)), x2, w2, b2, **hyper2)


ALL_PUBLIC = list(R.__all__)


@pytest.mark.parametrize("name", ALL_PUBLIC)
def test_public_signatures_follow_the_native_protocol(name):
    fn = getattr(R, name)
    params = inspect.signature(fn).parameters
    positional = [p for p, v in params.items() if v.kind is v.POSITIONAL_OR_KEYWORD]
    keyword = {p for p, v in params.items() if v.kind is v.KEYWORD_ONLY}
    inputs = ["x", "w", "b"]
    assert positional == (inputs if name.endswith("_forward") else ["delta", *inputs])
    assert keyword == set(HYPER_T if "transpose" in name else HYPER)
    assert all(params[k].default == (1 if k in ("stride", "dilation", "groups") else 0) for k in keyword)


@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "conv_transpose"])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_float32_stays_float32_and_float64_stays_float64(d, transposed):
    rng = rng_for(f"dtype-{d}-{transposed}")
    x, w, b, hyper = wrapper_args(d, transposed, rng, np.float32)
    fwd, bwd = nd_pair(transposed)
    o = fwd(x, w, b, **hyper)
    delta = rng.standard_normal(o.shape).astype(np.float32)
    grads = bwd(delta, x, w, b, **hyper)
    assert o.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    o64 = fwd(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **hyper)
    grads64 = bwd(delta.astype(np.float64), x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **hyper)
    assert o64.dtype == np.float64 and all(g.dtype == np.float64 for g in grads64)
    assert_allclose(o, o64, **F32)
    for g32, g64 in zip(grads, grads64):
        assert_allclose(g32, g64, **F32)
    # integers compute in float64
    ints = (np.ones(x.shape, dtype=np.int64), np.ones(w.shape, dtype=np.int32), np.zeros(b.shape, dtype=np.int64))
    oi = fwd(*ints, **hyper)
    assert oi.dtype == np.float64


@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "conv_transpose"])
def test_inputs_are_not_modified(transposed):
    rng = rng_for(f"untouched-{transposed}")
    x, w, b, hyper = wrapper_args(2, transposed, rng)
    fwd, bwd = nd_pair(transposed)
    o = fwd(x, w, b, **hyper)
    delta = rng.standard_normal(o.shape)
    arrays = (delta, x, w, b)
    copies = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False  # any write into an input raises
    fwd(x, w, b, **hyper)
    grads = bwd(delta, x, w, b, **hyper)
    for a, c in zip(arrays, copies):
        assert_array_equal(a, c)
    for g, a in zip(grads, (x, w, b)):
        assert not np.shares_memory(g, a)
        assert g.flags.writeable


# ---------------------------------------------------------------------------------------------
# bad arguments
# ---------------------------------------------------------------------------------------------

GOOD = (np.zeros((1, 4, 6, 6)), np.zeros((2, 2, 3, 3)), np.zeros(2))  # conv, groups=2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"stride": 0}, "stride must be >= 1"),
        ({"padding": -1}, "padding must be >= 0"),
        ({"dilation": 0}, "dilation must be >= 1"),
        ({"stride": (1, 2, 3)}, r"stride must be an int or a tuple of 2 ints"),
        ({"padding": 1.5}, r"padding must be an int or a tuple of 2 ints"),
        ({"dilation": True}, r"dilation must be an int or a tuple of 2 ints"),
        ({"groups": 0}, "groups must be a positive int"),
        ({"groups": 2.0}, "groups must be a positive int"),
        ({"groups": 3}, r"groups=3 must divide the number of input channels \(4\)"),
        ({"groups": 1}, r"w must be \(D, C/groups, \*k\) = \(2, 4, \.\.\.\)"),
    ],
    ids=["stride0", "negative-padding", "dilation0", "triple", "float", "bool", "groups0", "groups-float",
         "groups-not-dividing-C", "w-channels-vs-groups"],
)
def test_convnd_rejects_bad_hyperparameters(kwargs, match):
    hyper = {"groups": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        R.convnd_forward(*GOOD, **hyper)
    with pytest.raises(ValueError, match=match):
        R.convnd_backward(np.zeros((1, 2, 4, 4)), *GOOD, **hyper)


@pytest.mark.parametrize(
    "x, w, b, kwargs, match",
    [
        (np.zeros((1, 4, 6)), np.zeros((3, 2, 3)), np.zeros(3), {"groups": 2}, r"number of filters .* \(3\)"),
        (np.zeros((1, 4, 6)), np.zeros((2, 4, 3)), np.zeros(2), {"groups": 2}, r"\(2, 2, \.\.\.\)"),
        (np.zeros((1, 4, 6)), np.zeros((2, 4, 3)), np.zeros(3), {}, r"b must have shape \(2,\)"),
        (np.zeros((1, 4, 6)), np.zeros((2, 4, 3, 3)), np.zeros(2), {}, "w must be"),
        (np.zeros((4, 6)), np.zeros((2, 4)), np.zeros(2), {}, "1, 2 or 3 spatial axes"),
        (np.zeros((1, 1, 2, 2, 2, 2)), np.zeros((1, 1, 1, 1, 1, 1)), np.zeros(1), {}, "1, 2 or 3 spatial axes"),
        (np.zeros((1, 4, 6)), np.zeros((2, 4, 0)), np.zeros(2), {}, "kernel sizes must be >= 1"),
        (np.zeros((1, 4, 3)), np.zeros((2, 4, 3)), np.zeros(2), {"dilation": 2}, "does not fit"),
        (np.zeros((1, 4, 6)), np.zeros((2, 4, 3)), np.zeros((2, 1)), {}, "b must be 1-d"),
    ],
    ids=["groups-not-dividing-D", "w-channels", "bias", "w-rank", "x-rank-low", "x-rank-high", "empty-kernel",
         "window-too-large", "bias-rank"],
)
def test_convnd_rejects_bad_shapes(x, w, b, kwargs, match):
    with pytest.raises(ValueError, match=match):
        R.convnd_forward(x, w, b, **kwargs)


def test_backward_rejects_a_delta_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"delta has shape \(1, 2, 3, 3\), expected \(1, 2, 4, 4\)"):
        R.convnd_backward(np.zeros((1, 2, 3, 3)), *GOOD, groups=2)
    x, w, b = np.zeros((1, 4, 3, 3)), np.zeros((4, 1, 2, 2)), np.zeros(2)
    with pytest.raises(ValueError, match=r"delta has shape \(1, 2, 4, 4\), expected \(1, 2, 7, 7\)"):
        R.conv_transposend_backward(np.zeros((1, 2, 4, 4)), x, w, b, stride=2, output_padding=1, groups=2)


T_GOOD = (np.zeros((1, 4, 3, 3)), np.zeros((4, 1, 2, 2)), np.zeros(2))  # C_in 4, C_out 2, groups=2


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (T_GOOD, {"groups": 2, "stride": 2, "output_padding": 2}, "must be smaller than either stride or dilation"),
        (T_GOOD, {"groups": 2, "output_padding": 1}, "output_padding must be smaller than either stride or dilation"),
        (T_GOOD, {"groups": 2, "dilation": 2, "output_padding": (0, 2)}, "output_padding must be smaller"),
        (T_GOOD, {"groups": 2, "output_padding": -1}, "output_padding must be >= 0"),
        (T_GOOD, {"groups": 2, "output_padding": (1,)}, "output_padding must be an int or a tuple of 2 ints"),
        (T_GOOD, {"groups": 3}, r"groups=3 must divide the number of input channels \(4\)"),
        (T_GOOD, {"groups": 2, "padding": 3}, "output size -2 on spatial axis 0 is not positive"),
        (T_GOOD, {}, r"b must have shape \(C_out,\) = \(1,\)"),
        ((np.zeros((1, 3, 3, 3)), *T_GOOD[1:]), {"groups": 2}, r"C_in = 3"),
        ((T_GOOD[0], np.zeros((4, 1, 2)), T_GOOD[2]), {"groups": 2}, "w must be"),
    ],
    ids=["op-eq-stride", "op-ge-both", "op-ge-dilation", "op-negative", "op-length", "groups", "size",
         "bias", "w-cin", "w-rank"],
)
def test_conv_transposend_rejects_bad_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        R.conv_transposend_forward(*args, **kwargs)
    with pytest.raises(ValueError, match=match):
        R.conv_transposend_backward(np.zeros((1, 2, 4, 4)), *args, **kwargs)


@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "conv_transpose"])
def test_empty_batch_keeps_shapes(transposed):
    x, w, b = np.zeros((0, 4, 5, 5)), np.ones((4, 3, 2, 2) if transposed else (6, 2, 3, 3)), np.ones(6)
    hyper = {"stride": 2, "groups": 2}
    fwd, bwd, tfn = (
        (R.conv_transposend_forward, R.conv_transposend_backward, F.conv_transpose2d)
        if transposed else (R.convnd_forward, R.convnd_backward, F.conv2d)
    )
    o = fwd(x, w, b, **hyper)
    assert o.shape == tuple(tfn(torch.tensor(x), torch.tensor(w), torch.tensor(b), **hyper).shape)
    dx, dw, db = bwd(np.zeros(o.shape), x, w, b, **hyper)
    assert (dx.shape, dw.shape, db.shape) == (x.shape, w.shape, b.shape)
    assert_array_equal(dw, 0.0)
    assert_array_equal(db, 0.0)


# ---------------------------------------------------------------------------------------------
# the depthwise fast path (one input channel per group)
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def depthwise_calls(monkeypatch):
    """Counts the calls of the depthwise path, to tell which path a case took."""
    calls = []
    inner = R._depthwise

    def spy(*args, **kwargs):
        calls.append(sorted(k for k, v in kwargs.items() if v is not None))
        return inner(*args, **kwargs)

    monkeypatch.setattr(R, "_depthwise", spy)
    return calls


# id: (x shape, w shape, stride, padding, dilation); groups = C, D/groups = w.shape[0] / C
DEPTHWISE_CASES = {
    "1d-plain": ((3, 4, 17), (4, 1, 3), 1, 0, 1),
    "1d-stride-pad-dilation-mult2": ((2, 3, 19), (6, 1, 4), 3, 2, 2),
    "1d-1tap": ((2, 5, 7), (5, 1, 1), 2, 1, 1),
    "2d-plain": ((2, 5, 8, 8), (5, 1, 3, 3), 1, 1, 1),
    "2d-mult2-nonsquare": ((2, 3, 9, 7), (6, 1, 3, 2), 1, (2, 0), (1, 2)),
    "2d-stride-both": ((2, 4, 11, 10), (4, 1, 3, 3), 2, 1, 1),
    "2d-stride-first-axis": ((2, 4, 11, 10), (8, 1, 3, 2), (2, 1), (1, 2), (2, 1)),
    "2d-stride-last-axis": ((1, 3, 9, 12), (3, 1, 2, 3), (1, 3), 0, (1, 2)),
    "2d-uncovered-rows": ((1, 2, 8, 9), (2, 1, 2, 2), 3, 0, 1),
    "2d-padding-beyond-kernel": ((2, 2, 3, 3), (4, 1, 2, 2), 1, 3, 1),
    "2d-mult4": ((1, 2, 6, 6), (8, 1, 3, 3), 1, 1, 1),
    "3d-plain": ((2, 3, 5, 6, 4), (3, 1, 3, 3, 3), 1, 1, 1),
    "3d-mult2-all": ((1, 2, 7, 6, 8), (4, 1, 3, 2, 3), (2, 1, 1), (1, 0, 2), (1, 2, 1)),
    "3d-stride-middle": ((2, 2, 6, 9, 5), (2, 1, 2, 3, 2), (1, 2, 1), 1, (2, 1, 1)),
}


@pytest.mark.parametrize("chunk", [None, 1, 100], ids=["default-chunks", "one-channel-chunks", "small-chunks"])
@pytest.mark.parametrize("case", list(DEPTHWISE_CASES), ids=str)
def test_depthwise_path_matches_torch(monkeypatch, depthwise_calls, case, chunk):
    """C = groups: eq. 7 / 13 / 20 as per-offset multiply-adds and dots, against torch autograd.

    The chunk sizes put one channel per chunk (scalar weights, dots), a few per chunk with a
    remainder (columns of weights), or all of them in one.
    """
    xs, ws, stride, padding, dilation = DEPTHWISE_CASES[case]
    if chunk is not None:
        monkeypatch.setattr(R, "DEPTHWISE_CHUNK", chunk * math.prod(xs[2:]))
    rng = rng_for(f"depthwise-{case}")
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    check_conv_against_torch(x, w, b, rng, stride=stride, padding=padding, dilation=dilation, groups=xs[1])
    assert depthwise_calls == [["bias", "narrow_out", "wide"], ["narrow", "weight_out", "wide", "wide_out"]]


@pytest.mark.parametrize("case", list(DEPTHWISE_CASES), ids=str)
def test_depthwise_path_agrees_with_im2col_path(monkeypatch, case):
    """The fast path and the general path compute the same sums in another order: to rounding."""
    xs, ws, stride, padding, dilation = DEPTHWISE_CASES[case]
    hyper = {"stride": stride, "padding": padding, "dilation": dilation, "groups": xs[1]}
    rng = rng_for(f"depthwise-im2col-{case}")
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    o = R.convnd_forward(x, w, b, **hyper)
    delta = rng.standard_normal(o.shape)
    fast = (o, *R.convnd_backward(delta, x, w, b, **hyper))
    monkeypatch.setattr(R, "DEPTHWISE_MAX_MULTIPLIER", 0)
    slow = (R.convnd_forward(x, w, b, **hyper), *R.convnd_backward(delta, x, w, b, **hyper))
    for name, f, s in zip(("o", "dx", "dw", "db"), fast, slow):
        assert f.shape == s.shape and f.dtype == s.dtype, name
        assert_allclose(f, s, rtol=1e-13, atol=1e-13 * np.abs(s).max(), err_msg=name)


def test_depthwise_path_with_one_channel_per_chunk_by_size(depthwise_calls):
    """Channels larger than DEPTHWISE_CHUNK go one at a time (dots over one contiguous run)."""
    rng = rng_for("depthwise-large")
    xs = (2, 3, 130, 130)
    assert xs[0] * (xs[2] + 2) * (xs[3] + 2) > R.DEPTHWISE_CHUNK
    x, w, b = rng.standard_normal(xs), rng.standard_normal((3, 1, 3, 3)), rng.standard_normal(3)
    check_conv_against_torch(x, w, b, rng, padding=1, groups=3)
    assert len(depthwise_calls) == 2


@pytest.mark.parametrize("d", [1, 2, 3])
def test_depthwise_path_keeps_float32(depthwise_calls, d):
    """float32 in, float32 out, close to torch's float32 and to the float64 result."""
    rng = rng_for(f"depthwise-f32-{d}")
    x = rng.standard_normal((2, 4, *(9, 8, 7)[:d])).astype(np.float32)
    w = rng.standard_normal((8, 1, *(3, 2, 3)[:d])).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    hyper = {"stride": (2, 1, 1)[:d], "padding": 1, "dilation": (1, 2, 1)[:d], "groups": 4}
    o = R.convnd_forward(x, w, b, **hyper)
    delta = rng.standard_normal(o.shape).astype(np.float32)
    grads = R.convnd_backward(delta, x, w, b, **hyper)
    assert o.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    assert len(depthwise_calls) == 2
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ot = TORCH_CONV[d](xt, wt, bt, **hyper)
    assert_allclose(o, ot.detach().numpy(), **F32)
    for m, t in zip(grads, torch.autograd.grad(ot, [xt, wt, bt], torch.tensor(delta))):
        assert_allclose(m, t.numpy(), **F32)
    o64 = R.convnd_forward(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), **hyper)
    assert_allclose(o, o64, **F32)


# id: (x shape, w shape, stride, padding, output_padding, dilation); groups = C_out = w.shape[1] * groups
DEPTHWISE_T_CASES = {
    "1d-stride-output-padding": ((2, 4, 6), (4, 1, 3), 3, 1, 2, 1),
    "2d-plain": ((2, 5, 4, 6), (5, 1, 3, 3), 1, 1, 0, 1),
    "2d-stride-dilation-mult2": ((1, 6, 4, 5), (6, 1, 2, 3), (2, 1), (0, 1), (1, 0), (1, 2)),
    "3d-stride": ((2, 3, 3, 3, 3), (3, 1, 3, 3, 3), 2, 1, 1, 1),
}


@pytest.mark.parametrize("case", list(DEPTHWISE_T_CASES), ids=str)
def test_depthwise_path_of_the_transposed_convolution_matches_torch(depthwise_calls, case):
    """C_out = groups: the transposed convolution's adjoint convolution is depthwise."""
    xs, ws, stride, padding, output_padding, dilation = DEPTHWISE_T_CASES[case]
    groups = xs[1] // 2 if "mult2" in case else xs[1]  # C_in / groups input channels per group
    rng = rng_for(f"depthwise-t-{case}")
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(groups)
    check_conv_t_against_torch(
        x, w, b, rng, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation, groups=groups
    )
    assert depthwise_calls == [["bias", "narrow", "wide_out"], ["narrow", "narrow_out", "weight_out", "wide"]]


def test_more_filters_per_group_than_the_limit_take_the_im2col_path(depthwise_calls):
    rng = rng_for("depthwise-mult5")
    m = R.DEPTHWISE_MAX_MULTIPLIER + 1
    x, w, b = rng.standard_normal((2, 2, 7, 6)), rng.standard_normal((2 * m, 1, 3, 3)), rng.standard_normal(2 * m)
    check_conv_against_torch(x, w, b, rng, padding=1, groups=2)
    assert depthwise_calls == []


def test_depthwise_path_leaves_inputs_alone(depthwise_calls):
    rng = rng_for("depthwise-untouched")
    x, w, b = rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((6, 1, 3, 2)), rng.standard_normal(6)
    hyper = {"stride": (1, 2), "padding": 1, "groups": 3}
    delta = rng.standard_normal(R.convnd_forward(x, w, b, **hyper).shape)
    arrays = (delta, x, w, b)
    copies = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False
    o = R.convnd_forward(x, w, b, **hyper)
    grads = R.convnd_backward(delta, x, w, b, **hyper)
    for a, c in zip(arrays, copies):
        assert_array_equal(a, c)
    for g in (o, *grads):
        assert g.flags.writeable and g.flags.c_contiguous
        assert not any(np.shares_memory(g, a) for a in arrays)
    assert len(depthwise_calls) == 3  # two forwards, one backward


def test_depthwise_path_non_finite_values(monkeypatch):
    """The widened grid's zero deltas meet no infinite weight (dx) and no unread infinite input (dw).

    An infinite weight sends dx (and the transposed forward) to the general path: the same
    values as before the fast path (whose stride-1 shift also multiplies zeros by it). An infinite input that no window
    reads leaves dw finite, as in torch.
    """
    rng = rng_for("depthwise-inf")
    x, w, b = rng.standard_normal((1, 2, 5, 6)), rng.standard_normal((2, 1, 2, 3)), np.zeros(2)
    w[0, 0, 0, 1] = np.inf
    delta = rng.standard_normal((1, 2, 4, 4))
    with np.errstate(invalid="ignore"):
        fast = R.convnd_backward(delta, x, w, b, groups=2)
        fast_t = R.conv_transposend_forward(delta, w, b, groups=2)
        monkeypatch.setattr(R, "DEPTHWISE_MAX_MULTIPLIER", 0)
        slow = R.convnd_backward(delta, x, w, b, groups=2)
        slow_t = R.conv_transposend_forward(delta, w, b, groups=2)
    for f, s in zip((*fast, fast_t), (*slow, slow_t)):  # NaN and inf where they were; dw, db to rounding
        assert_allclose(f, s, rtol=1e-13, atol=1e-13)
    assert not np.isfinite(fast[0]).all() and not np.isfinite(fast_t).all()
    monkeypatch.undo()
    # dilation 4 over 5 positions reads positions 0 and 4 only
    x, w = rng.standard_normal((2, 3, 5)), rng.standard_normal((3, 1, 2))
    x[0, 1, 2] = np.inf
    delta = rng.standard_normal((2, 3, 1))
    xt, wt = t64(x), t64(w)
    ot = F.conv1d(xt, wt, torch.zeros(3, dtype=torch.float64), dilation=4, groups=3)
    with np.errstate(invalid="ignore"):
        dx, dw, _ = R.convnd_backward(delta, x, w, np.zeros(3), dilation=4, groups=3)
        dx_t, dw_t, _ = R.conv_transposend_backward(x, delta, w, np.zeros(3), dilation=4, groups=3)
    tdx, tdw = torch.autograd.grad(ot, [xt, wt], torch.tensor(delta))
    assert np.isfinite(dw).all() and np.isfinite(dw_t).all()
    assert_allclose(dw, tdw.numpy(), **F64)
    assert_allclose(dx, tdx.numpy(), **F64)
    assert_allclose(dw_t, tdw.numpy(), **F64)  # the transposed op's dw is eq. 13 with x and delta swapped
