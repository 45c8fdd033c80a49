"""The numpy references for normalisation, dropout and classification losses
(``reference/norm.py``, ``reference/dropout.py``, ``reference/classify.py``) against torch."""
from __future__ import annotations

import inspect
import zlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import binomtest

from reference import classify as C
from reference import dropout as D
from reference import norm as N

F64 = {"rtol": 1e-10, "atol": 1e-11}
F32 = {"rtol": 2e-4, "atol": 2e-5}


@pytest.fixture(scope="module", autouse=True)
def _torch_single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def rng_for(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def t64(a: np.ndarray, grad: bool = True) -> torch.Tensor:
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def torch_grads(out: torch.Tensor, leaves: list[torch.Tensor], delta) -> list[np.ndarray]:
    grads = torch.autograd.grad(out, leaves, torch.as_tensor(np.asarray(delta, dtype=np.float64)))
    return [g.numpy() for g in grads]


def close(actual, expected, scale=1.0, rtol=F64["rtol"], atol=F64["atol"]) -> None:
    """``actual == expected`` within ``rtol``, and ``atol`` relative to ``max(scale, |expected|)``."""
    expected = np.asarray(expected)
    atol = atol * max(scale, float(np.max(np.abs(expected), initial=0.0)))
    assert_allclose(actual, expected, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------
# torch's side of each norm
# ---------------------------------------------------------------------------------------------


def torch_bn(x, g, b, d, eps=1e-5):
    xt, gt, bt = t64(x), t64(g), t64(b)
    # torch.batch_norm is the kernel behind F.batch_norm, without its "more than 1 value per
    # channel" guard (so N = 1 can be compared too); for N * prod(spatial) > 1 they coincide.
    o = torch.batch_norm(xt, gt, bt, None, None, True, 0.1, eps, False)
    return [o.detach().numpy(), *torch_grads(o, [xt, gt, bt], d)]


def torch_ln(x, g, b, d, eps=1e-5):
    xt, gt, bt = t64(x), t64(g), t64(b)
    o = F.layer_norm(xt, tuple(np.shape(g)), gt, bt, eps)
    return [o.detach().numpy(), *torch_grads(o, [xt, gt, bt], d)]


def torch_gn(x, g, b, d, groups, eps=1e-5):
    xt, gt, bt = t64(x), t64(g), t64(b)
    if np.size(x) // (np.shape(x)[0] * groups) == 1:  # F.group_norm refuses one-value groups
        o = torch.group_norm(xt, groups, gt, bt, eps, False)
    else:
        o = F.group_norm(xt, groups, gt, bt, eps)
    return [o.detach().numpy(), *torch_grads(o, [xt, gt, bt], d)]


def ours_bn(x, g, b, d, eps=1e-5):
    return [N.batch_norm_forward(x, g, b, eps=eps), *N.batch_norm_backward(d, x, g, b, eps=eps)]


def ours_ln(x, g, b, d, eps=1e-5):
    return [N.layer_norm_forward(x, g, b, eps=eps), *N.layer_norm_backward(d, x, g, b, eps=eps)]


def ours_gn(x, g, b, d, groups, eps=1e-5):
    return [
        N.group_norm_forward(x, g, b, groups=groups, eps=eps),
        *N.group_norm_backward(d, x, g, b, groups=groups, eps=eps),
    ]


def compare_all(ours, theirs, names=("o", "dx", "dgamma", "dbeta"), **tol) -> None:
    for name, a, e in zip(names, ours, theirs):
        assert np.shape(a) == np.shape(e), name
        try:
            close(a, e, **tol)
        except AssertionError as exc:
            raise AssertionError(f"{name} differs from torch") from exc


def norm_inputs(name: str, shape, pshape, offset: float = 0.0, spread: float = 1.0):
    rng = rng_for(name + str(shape))
    x = offset + spread * rng.standard_normal(shape)
    g, b = rng.standard_normal(pshape), rng.standard_normal(pshape)
    d = rng.standard_normal(shape)
    return x, g, b, d


BN_SHAPES = [(5, 3), (64, 16), (6, 4, 3, 5), (2, 3, 4, 2, 3), (1, 4, 3), (7, 6, 1, 1), (3, 2, 9)]
LN_SHAPES = [((5, 3), (3,)), ((4, 3, 5), (5,)), ((4, 3, 5), (3, 5)), ((2, 3, 4, 5), (3, 4, 5)), ((6,), (6,))]
GN_CASES = [((4, 6, 5), 1), ((4, 6, 5), 2), ((4, 6, 5), 3), ((4, 6, 5), 6), ((3, 4), 2),
            ((2, 8, 3, 3), 4), ((2, 4, 2, 2), 2), ((1, 6, 10), 3)]


# ---------------------------------------------------------------------------------------------
# batch / layer / group norm against torch
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
def test_batch_norm_matches_torch(shape):
    x, g, b, d = norm_inputs("bn", shape, (shape[1],))
    compare_all(ours_bn(x, g, b, d), torch_bn(x, g, b, d))


def test_batch_norm_functional_agrees_with_the_kernel_used_above():
    x, g, b, d = norm_inputs("bn-f", (6, 4, 3), (4,))
    xt, gt, bt = t64(x), t64(g), t64(b)
    o = F.batch_norm(xt, None, None, gt, bt, training=True)
    compare_all(ours_bn(x, g, b, d), [o.detach().numpy(), *torch_grads(o, [xt, gt, bt], d)])


@pytest.mark.parametrize("shape,pshape", LN_SHAPES, ids=str)
def test_layer_norm_matches_torch(shape, pshape):
    x, g, b, d = norm_inputs("ln", shape, pshape)
    compare_all(ours_ln(x, g, b, d), torch_ln(x, g, b, d))


@pytest.mark.parametrize("shape,groups", GN_CASES, ids=str)
def test_group_norm_matches_torch(shape, groups):
    x, g, b, d = norm_inputs("gn", shape, (shape[1],))
    compare_all(ours_gn(x, g, b, d, groups), torch_gn(x, g, b, d, groups))


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of a few hundred elements, and the thread pool from 1024 elements on."""
    N._spans.cache_clear()
    monkeypatch.setattr(N, "CHUNK", 256)
    monkeypatch.setattr(N, "MIN_ELEMENTS", 1024)
    yield
    N._spans.cache_clear()


def test_chunked_and_threaded_runs_match_torch_and_are_deterministic(small_chunks, monkeypatch):
    shape = (12, 4, 6, 6)
    x, g, b, d = norm_inputs("chunks", shape, (4,), offset=0.5)
    gl, bl = norm_inputs("chunks-ln", (6, 6), (6, 6))[1:3]
    assert len(N._spans(shape[0], int(np.prod(shape[1:])))) > 1
    runs = []
    for min_elements in (1024, 1 << 40):  # threaded, then on the calling thread
        monkeypatch.setattr(N, "MIN_ELEMENTS", min_elements)
        runs.append([ours_bn(x, g, b, d), ours_gn(x, g, b, d, 2), ours_ln(x, gl, bl, d)])
    compare_all(runs[0][0], torch_bn(x, g, b, d))
    compare_all(runs[0][1], torch_gn(x, g, b, d, 2))
    compare_all(runs[0][2], torch_ln(x, gl, bl, d))
    for threaded, serial in zip(runs[0], runs[1]):
        for a, e in zip(threaded, serial):
            assert_array_equal(a, e)


@given(
    n=st.integers(1, 5), c=st.integers(1, 4), spatial=st.lists(st.integers(1, 4), max_size=2),
    offset=st.sampled_from([0.0, 3.0, -40.0]), spread=st.sampled_from([1e-2, 1.0, 30.0]),
    eps=st.sampled_from([1e-5, 1e-3, 0.5]), seed=st.integers(0, 2**16),
)
def test_norms_match_torch_on_drawn_shapes(n, c, spatial, offset, spread, eps, seed):
    shape = (n, c, *spatial)
    rng = np.random.default_rng(seed)
    x = offset + spread * rng.standard_normal(shape)
    g, b, d = rng.standard_normal(c), rng.standard_normal(c), rng.standard_normal(shape)
    tol = {"rtol": 1e-9, "atol": 1e-10}
    compare_all(ours_bn(x, g, b, d, eps), torch_bn(x, g, b, d, eps), **tol)
    groups = max(k for k in range(1, c + 1) if c % k == 0 and k <= 2)
    compare_all(ours_gn(x, g, b, d, groups, eps), torch_gn(x, g, b, d, groups, eps), **tol)
    pshape = shape[1:]
    gl, bl = rng.standard_normal(pshape), rng.standard_normal(pshape)
    compare_all(ours_ln(x, gl, bl, d, eps), torch_ln(x, gl, bl, d, eps), **tol)


def _longdouble_bn(x, g, b, d, eps):
    """Batch norm and its gradients in extended precision (the derivation, term by term)."""
    ld = np.longdouble
    x, g, b, d = (np.asarray(a, dtype=ld) for a in (x, g, b, d))
    axes = (0,) + tuple(range(2, x.ndim))
    shp = (1, -1) + (1,) * (x.ndim - 2)
    mu = x.mean(axis=axes, keepdims=True)
    xc = x - mu
    s = np.sqrt((xc * xc).mean(axis=axes, keepdims=True) + ld(eps))
    xh = xc / s
    o = g.reshape(shp) * xh + b.reshape(shp)
    mean = lambda a: a.mean(axis=axes, keepdims=True)
    dx = g.reshape(shp) / s * (d - mean(d) - xh * mean(d * xh))
    return [o, dx, (d * xh).sum(axis=axes), d.sum(axis=axes)]


@pytest.mark.parametrize("offset", [1e3, -1e5, 1e7], ids=lambda v: f"mean{v:g}")
def test_batch_norm_is_accurate_when_the_mean_dominates(offset):
    """Re-centring keeps a large mean from cancelling the variance (checked in long double)."""
    x, g, b, d = norm_inputs("offset", (16, 3, 5), (3,), offset=offset)
    ref = [np.asarray(r, dtype=np.float64) for r in _longdouble_bn(x, g, b, d, 1e-5)]
    compare_all(ours_bn(x, g, b, d), ref, rtol=1e-10, atol=1e-10)


def test_layer_and_group_norm_are_accurate_when_the_mean_dominates():
    x, g, b, d = norm_inputs("offset-lg", (4, 6, 7), (6,), offset=2e5)
    compare_all(ours_gn(x, g, b, d, 3), torch_gn(x, g, b, d, 3), rtol=1e-7, atol=1e-7)
    gl, bl = g.repeat(7).reshape(6, 7), b.repeat(7).reshape(6, 7)
    # torch's moments lose about log2(mean / std) bits here; the reference must stay exact
    # enough to sit within torch's error of the long-double result
    ours, theirs = ours_ln(x, gl, bl, d), torch_ln(x, gl, bl, d)
    compare_all(ours, theirs, rtol=1e-7, atol=1e-7)
    xt = x.reshape(4, -1)
    mean = xt.astype(np.longdouble).mean(axis=1, keepdims=True)
    var = ((xt - mean) ** 2).mean(axis=1, keepdims=True)
    xh = np.asarray((xt - mean) / np.sqrt(var + np.longdouble(1e-5)), dtype=np.float64).reshape(x.shape)
    close(ours[0], xh * gl + bl, rtol=1e-11, atol=1e-11)


# ---------------------------------------------------------------------------------------------
# variance 0
# ---------------------------------------------------------------------------------------------


def test_batch_norm_constant_channels_give_beta_and_finite_gradients():
    rng = rng_for("bn-const")
    x = np.broadcast_to(np.array([0.1, -3.0, 0.0])[None, :, None], (4, 3, 5)).copy()
    g, b, d = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(x.shape)
    ours, theirs = ours_bn(x, g, b, d), torch_bn(x, g, b, d)
    assert all(np.all(np.isfinite(a)) for a in ours)
    close(ours[0], np.broadcast_to(b[None, :, None], x.shape), atol=1e-9)
    close(ours[2], np.zeros(3), atol=1e-9)
    compare_all(ours, theirs, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("shape", [(1, 5), (1, 3, 1, 1)], ids=str)
def test_batch_norm_with_one_value_per_channel(shape):
    """N = 1 (no spatial extent): x^ = 0, o = beta, dx = 0, dgamma = 0, dbeta = delta, as torch's kernel."""
    x, g, b, d = norm_inputs("bn-one", shape, (shape[1],))
    ours, theirs = ours_bn(x, g, b, d), torch_bn(x, g, b, d)
    assert_array_equal(ours[0], np.broadcast_to(b.reshape((1, -1) + (1,) * (len(shape) - 2)), shape))
    assert_array_equal(ours[1], np.zeros(shape))
    assert_array_equal(ours[2], np.zeros(shape[1]))
    assert_array_equal(ours[3], d.reshape(shape[1]))
    compare_all(ours, theirs)


def test_layer_and_group_norm_constant_sets():
    rng = rng_for("lg-const")
    x = np.zeros((3, 4, 5))
    x[0] = 2.5
    x[1, :2] = -1.0  # group 0 of sample 1 constant, group 1 not
    x[1, 2:] = rng.standard_normal((2, 5))
    x[2] = rng.standard_normal((4, 5))
    g, b, d = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(x.shape)
    ours, theirs = ours_gn(x, g, b, d, 2), torch_gn(x, g, b, d, 2)
    assert all(np.all(np.isfinite(a)) for a in ours)
    close(ours[0][0], np.broadcast_to(b[:, None], (4, 5)), atol=1e-9)
    compare_all(ours, theirs, rtol=1e-9, atol=1e-9)
    gl, bl = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    ours, theirs = ours_ln(x, gl, bl, d), torch_ln(x, gl, bl, d)
    close(ours[0][0], bl, atol=1e-9)
    assert all(np.all(np.isfinite(a)) for a in ours)
    compare_all(ours, theirs, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------------------------------------
# eval mode and running statistics
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 2)], ids=str)
def test_batch_norm_eval_matches_torch(shape):
    x, g, b, _ = norm_inputs("bn-eval", shape, (shape[1],))
    rng = rng_for("bn-eval-stats")
    rm, rv = rng.standard_normal(shape[1]), rng.random(shape[1]) + 0.1
    rv[0] = 0.0  # a zero running variance: eps keeps it finite
    expected = F.batch_norm(t64(x, False), t64(rm, False), t64(rv, False), t64(g, False), t64(b, False),
                            training=False, eps=1e-3)
    close(N.batch_norm_eval_forward(x, g, b, rm, rv, eps=1e-3), expected.numpy())


@pytest.mark.parametrize("momentum", [0.1, 0.0, 1.0, 0.37])
@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4, 5), (2, 3)], ids=str)
def test_batch_norm_running_stats_match_torch(shape, momentum):
    x, _, _, _ = norm_inputs("bn-run", shape, (shape[1],), offset=2.0)
    rng = rng_for("bn-run-stats")
    rm, rv = rng.standard_normal(shape[1]), rng.random(shape[1]) + 0.5
    rm_t, rv_t = torch.tensor(rm), torch.tensor(rv)
    F.batch_norm(t64(x, False), rm_t, rv_t, training=True, momentum=momentum)
    new_mean, new_var = N.batch_norm_running_stats(x, rm, rv, momentum=momentum)
    close(new_mean, rm_t.numpy())
    close(new_var, rv_t.numpy())


def test_batch_norm_running_stats_use_the_unbiased_variance():
    x = np.array([[1.0], [3.0]])  # biased variance 1, unbiased 2
    m, v = N.batch_norm_running_stats(x, np.zeros(1), np.zeros(1), momentum=1.0)
    assert_array_equal(m, [2.0])
    assert_array_equal(v, [2.0])


# ---------------------------------------------------------------------------------------------
# dtypes, purity, signatures, validation (norms)
# ---------------------------------------------------------------------------------------------


NORM_CALLS = {
    "batch_norm_forward": lambda x, g, b, d: N.batch_norm_forward(x, g, b),
    "batch_norm_backward": lambda x, g, b, d: N.batch_norm_backward(d, x, g, b),
    "batch_norm_eval_forward": lambda x, g, b, d: N.batch_norm_eval_forward(x, g, b, g * 0.5, np.abs(b)),
    "batch_norm_running_stats": lambda x, g, b, d: N.batch_norm_running_stats(x, g * 0.5, np.abs(b)),
    "group_norm_forward": lambda x, g, b, d: N.group_norm_forward(x, g, b, groups=2),
    "group_norm_backward": lambda x, g, b, d: N.group_norm_backward(d, x, g, b, groups=2),
    "layer_norm_forward": lambda x, g, b, d: N.layer_norm_forward(x, g[:1].repeat(5), b[:1].repeat(5)),
    "layer_norm_backward": lambda x, g, b, d: N.layer_norm_backward(d, x, g[:1].repeat(5), b[:1].repeat(5)),
}


def _outputs(result):
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("name", list(NORM_CALLS))
def test_norms_keep_the_input_dtype(name, dtype):
    x, g, b, d = (a.astype(dtype) for a in norm_inputs("dt", (3, 4, 5), (4,)))
    for out in _outputs(NORM_CALLS[name](x, g, b, d)):
        assert out.dtype == dtype


def test_norms_in_float32_agree_with_torch_in_float32():
    x, g, b, d = (a.astype(np.float32) for a in norm_inputs("f32", (4, 6, 5), (6,)))
    for ours, fn in ((ours_bn(x, g, b, d), "bn"), (ours_gn(x, g, b, d, 3), "gn")):
        xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, g, b))
        if fn == "bn":
            o = torch.batch_norm(xt, gt, bt, None, None, True, 0.1, 1e-5, False)
        else:
            o = F.group_norm(xt, 3, gt, bt)
        grads = torch.autograd.grad(o, (xt, gt, bt), torch.tensor(d))
        compare_all(ours, [o.detach().numpy(), *(t.numpy() for t in grads)], **F32)


@pytest.mark.parametrize("name", list(NORM_CALLS))
def test_norms_do_not_modify_or_alias_their_inputs(name):
    inputs = norm_inputs("pure", (3, 4, 5), (4,), offset=50.0)  # offset: the re-centring path
    copies = [a.copy() for a in inputs]
    outs = _outputs(NORM_CALLS[name](*inputs))
    for a, c in zip(inputs, copies):
        assert_array_equal(a, c)
    for out in outs:
        assert not any(np.shares_memory(out, a) for a in inputs)


def test_norms_accept_non_contiguous_and_integer_inputs():
    x, g, b, d = norm_inputs("nc", (5, 4, 6), (4,))
    xs, ds = np.asfortranarray(x), d[:, :, ::-1].copy()[:, :, ::-1]
    compare_all(ours_bn(xs, g, b, ds), ours_bn(x, g, b, d), rtol=1e-14, atol=1e-14)
    xi = np.arange(24).reshape(4, 6) % 5
    out = N.group_norm_forward(xi, np.ones(6), np.zeros(6), groups=3)
    assert out.dtype == np.float64
    close(out, ours_gn(xi.astype(float), np.ones(6), np.zeros(6), np.ones((4, 6)), 3)[0])


@pytest.mark.parametrize(
    "name,params",
    [
        ("batch_norm", ("x", "gamma", "beta")),
        ("layer_norm", ("x", "gamma", "beta")),
        ("group_norm", ("x", "gamma", "beta")),
    ],
)
def test_norm_signatures_follow_the_native_protocol(name, params):
    fwd = inspect.signature(getattr(N, f"{name}_forward")).parameters
    bwd = inspect.signature(getattr(N, f"{name}_backward")).parameters
    positional = lambda ps: tuple(p for p, v in ps.items() if v.kind is v.POSITIONAL_OR_KEYWORD)
    keyword = lambda ps: {p for p, v in ps.items() if v.kind is v.KEYWORD_ONLY}
    assert positional(fwd) == params
    assert positional(bwd) == ("delta", *params)
    assert keyword(fwd) == keyword(bwd) and "eps" in keyword(fwd)
    assert ("groups" in keyword(fwd)) == (name == "group_norm")


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: N.batch_norm_forward(np.ones(3), np.ones(3), np.ones(3)), "x must be"),
        (lambda: N.batch_norm_forward(np.ones((0, 3)), np.ones(3), np.ones(3)), "empty"),
        (lambda: N.batch_norm_forward(np.ones((2, 3)), np.ones(4), np.ones(3)),
         r"gamma and beta must be \(3,\)"),
        (lambda: N.batch_norm_forward(np.ones((2, 3)), np.ones(3), np.ones((3, 1))), "gamma and beta"),
        (lambda: N.batch_norm_forward(np.ones((2, 3)), np.ones(3), np.ones(3), eps=0.0), "eps must be"),
        (lambda: N.batch_norm_forward(np.ones((2, 3)), np.ones(3), np.ones(3), eps=-1e-5), "eps must be"),
        (lambda: N.batch_norm_forward(np.ones((2, 3)), np.ones(3), np.ones(3), eps=float("nan")),
         "eps must be"),
        (lambda: N.batch_norm_backward(np.ones((2, 4)), np.ones((2, 3)), np.ones(3), np.ones(3)),
         "delta has shape"),
        (lambda: N.batch_norm_eval_forward(np.ones((2, 3)), np.ones(3), np.ones(3), np.ones(2), np.ones(3)),
         "running_mean and running_var"),
        (lambda: N.batch_norm_eval_forward(np.ones((2, 3)), np.ones(3), np.ones(3), np.ones(3), -np.ones(3)),
         "non-negative"),
        (lambda: N.batch_norm_running_stats(np.ones((1, 3)), np.ones(3), np.ones(3)), "at least 2 values"),
        (lambda: N.batch_norm_running_stats(np.ones((2, 3)), np.ones(3), np.ones(3), momentum=1.5),
         "momentum"),
        (lambda: N.layer_norm_forward(np.ones((2, 3)), np.ones(2), np.ones(2)), "trailing shape"),
        (lambda: N.layer_norm_forward(np.ones((2, 3)), np.ones(()), np.ones(())), "at least one axis"),
        (lambda: N.layer_norm_forward(np.ones(3), np.ones((1, 3)), np.ones((1, 3))), "trailing shape"),
        (lambda: N.layer_norm_backward(np.ones((2, 2)), np.ones((2, 3)), np.ones(3), np.ones(3)),
         "delta has shape"),
        (lambda: N.group_norm_forward(np.ones((2, 6)), np.ones(6), np.ones(6), groups=4), "does not divide"),
        (lambda: N.group_norm_forward(np.ones((2, 6)), np.ones(6), np.ones(6), groups=0), "positive int"),
        (lambda: N.group_norm_forward(np.ones((2, 6)), np.ones(6), np.ones(6), groups=True), "positive int"),
        (lambda: N.group_norm_forward(np.ones((2, 6)), np.ones(6), np.ones(6), groups=2.0), "positive int"),
        (lambda: N.group_norm_forward(np.ones(6), np.ones(6), np.ones(6), groups=1), "x must be"),
        (lambda: N.group_norm_backward(np.ones((2, 6)), np.ones((2, 6, 1)), np.ones(6), np.ones(6),
                                       groups=2),
         "delta has shape"),
    ],
)
def test_norms_reject_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_mask_is_the_documented_draw(p):
    shape = (3, 70_000)  # above one draw buffer: chunked draws must give the same stream
    assert_array_equal(D.dropout_mask(shape, p=p, seed=7), np.random.default_rng(7).random(shape) >= p)
    assert_array_equal(D.dropout_mask(5, p=p, seed=7), np.random.default_rng(7).random(5) >= p)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.75])
def test_dropout_forward_and_backward_use_the_same_mask_with_inverted_scaling(p):
    rng = rng_for(f"drop{p}")
    x, d = rng.standard_normal((4, 3, 5, 5)), rng.standard_normal((4, 3, 5, 5))
    keep = D.dropout_mask(x.shape, p=p, seed=11)
    o = D.dropout_forward(x, p=p, seed=11)
    (dx,) = D.dropout_backward(d, x, p=p, seed=11)
    assert_array_equal(o, x * keep * (1 / (1 - p)))
    assert_array_equal(dx, d * keep * (1 / (1 - p)))
    assert_array_equal(o != 0, keep)
    assert_array_equal(dx != 0, keep)
    # the backward is what autograd gives for the forward's mask
    xt = t64(x)
    ot = xt * torch.tensor(keep) / (1 - p)
    close(o, ot.detach().numpy())
    close(dx, torch_grads(ot, [xt], d)[0])


def test_dropout_p0_is_the_identity_and_p1_gives_zeros():
    rng = rng_for("drop01")
    x, d = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    o = D.dropout_forward(x, p=0, seed=1)
    assert_array_equal(o, x)
    assert not np.shares_memory(o, x)
    assert_array_equal(D.dropout_backward(d, x, p=0.0, seed=1)[0], d)
    assert_array_equal(D.dropout_mask(x.shape, p=0, seed=1), np.ones(x.shape, bool))
    with np.errstate(all="raise"):  # no division by 1 - p = 0
        o1 = D.dropout_forward(x, p=1, seed=1)
        (dx1,) = D.dropout_backward(d, x, p=1.0, seed=1)
    assert_array_equal(o1, np.zeros_like(x))
    assert_array_equal(dx1, np.zeros_like(x))
    assert not D.dropout_mask(x.shape, p=1, seed=1).any()
    # torch's F.dropout at the two ends
    assert_array_equal(F.dropout(t64(x, False), 0.0, training=True).numpy(), o)
    assert_array_equal(F.dropout(t64(x, False), 1.0, training=True).numpy(), o1)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keep_fraction_passes_a_binomial_test(p):
    n = 20_000
    for seed in range(12):
        kept = int(D.dropout_mask(n, p=p, seed=seed).sum())
        assert binomtest(kept, n, 1 - p).pvalue > 1e-3, (seed, kept)
    # and over all draws together
    total = sum(int(D.dropout_mask(n, p=p, seed=s).sum()) for s in range(12))
    assert binomtest(total, 12 * n, 1 - p).pvalue > 1e-3


def test_dropout_masks_depend_on_seed_and_shape_only():
    x = rng_for("drop-seed").standard_normal(1000)
    a, b = D.dropout_forward(x, p=0.5, seed=1), D.dropout_forward(x, p=0.5, seed=2)
    assert (a != 0).tolist() != (b != 0).tolist()
    assert_array_equal(D.dropout_forward(x * 3 + 1, p=0.5, seed=1) != 0, a != 0)
    assert_array_equal(D.dropout_forward(x, p=0.5, seed=1), a)  # reproducible
    assert_array_equal(D.dropout_forward(x, p=0.5, seed=np.int64(1)), a)


def test_dropout_eval_is_a_copy_of_the_input():
    x = rng_for("drop-eval").standard_normal((2, 3))
    o = D.dropout_eval_forward(x)
    assert_array_equal(o, x)
    assert not np.shares_memory(o, x)
    assert_array_equal(o, F.dropout(t64(x, False), 0.5, training=False).numpy())
    assert D.dropout_eval_forward(np.arange(3)).dtype == np.float64


def test_dropout_keeps_float32_and_does_not_modify_inputs():
    x = rng_for("drop-32").standard_normal((4, 5)).astype(np.float32)
    d = x[::-1].copy()
    xc, dc = x.copy(), d.copy()
    o = D.dropout_forward(x, p=0.3, seed=5)
    (dx,) = D.dropout_backward(d, x, p=0.3, seed=5)
    assert o.dtype == dx.dtype == D.dropout_eval_forward(x).dtype == np.float32
    assert_array_equal(x, xc)
    assert_array_equal(d, dc)
    keep = D.dropout_mask(x.shape, p=0.3, seed=5)
    assert_array_equal(o, (x * keep * np.float32(1 / 0.7)).astype(np.float32))


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: D.dropout_forward(np.ones(3), p=-0.1, seed=0), r"\[0, 1\]"),
        (lambda: D.dropout_forward(np.ones(3), p=1.5, seed=0), r"\[0, 1\]"),
        (lambda: D.dropout_forward(np.ones(3), p=float("nan"), seed=0), r"\[0, 1\]"),
        (lambda: D.dropout_forward(np.ones(3), p=True, seed=0), "p must be"),
        (lambda: D.dropout_forward(np.ones(3), p="half", seed=0), "p must be"),
        (lambda: D.dropout_forward(np.ones(3), p=0.5, seed=-1), "seed"),
        (lambda: D.dropout_forward(np.ones(3), p=0.5, seed=1.0), "seed"),
        (lambda: D.dropout_forward(np.ones(3), p=0.5, seed=None), "seed"),
        (lambda: D.dropout_backward(np.ones(4), np.ones(3), p=0.5, seed=0), "delta has shape"),
        (lambda: D.dropout_mask((2, -1), p=0.5, seed=0), "shape"),
        (lambda: D.dropout_mask("ab", p=0.5, seed=0), "shape"),
    ],
)
def test_dropout_rejects_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---------------------------------------------------------------------------------------------
# softmax cross-entropy
# ---------------------------------------------------------------------------------------------


def torch_ce(x, y, delta=1.0):
    xt = t64(x)
    loss = F.cross_entropy(xt, torch.tensor(np.asarray(y), dtype=torch.long))
    return loss.detach().numpy(), torch_grads(loss, [xt], np.float64(delta))[0]


@given(n=st.integers(1, 6), k=st.integers(1, 7), scale=st.sampled_from([1e-3, 1.0, 30.0]),
       delta=st.sampled_from([1.0, -2.5]), seed=st.integers(0, 2**16))
def test_softmax_cross_entropy_matches_torch(n, k, scale, delta, seed):
    rng = np.random.default_rng(seed)
    x, y = scale * rng.standard_normal((n, k)), rng.integers(0, k, n)
    loss, dx = torch_ce(x, y, delta)
    close(C.softmax_cross_entropy_forward(x, y), loss)
    close(C.softmax_cross_entropy_backward(delta, x, y)[0], dx)


def test_softmax_cross_entropy_is_stable_at_large_logits():
    x = np.array([[1e3, -1e3, 0.0], [-1e3, 1e3, 5.0], [1e3, 1e3, -1e3]])
    y = np.array([1, 1, 0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        loss = C.softmax_cross_entropy_forward(x, y)
        (dx,) = C.softmax_cross_entropy_backward(1.0, x, y)
    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    # row 0: log(e^1000 + e^-1000 + 1) - (-1000) = 2000 (exactly, in float64); row 1: 0; row 2: log 2
    close(loss, (2000.0 + np.log1p(np.exp(-995.0)) + np.log(2.0)) / 3, rtol=1e-15, atol=1e-15)
    t_loss, t_dx = torch_ce(x, y)
    close(loss, t_loss, rtol=1e-15, atol=1e-15)
    close(dx, t_dx, rtol=1e-15, atol=1e-15)


def test_softmax_cross_entropy_gradient_rows_sum_to_zero_and_delta_scales():
    rng = rng_for("ce-rows")
    x, y = rng.standard_normal((5, 8)), rng.integers(0, 8, 5)
    (dx,) = C.softmax_cross_entropy_backward(1.0, x, y)
    close(dx.sum(axis=1), np.zeros(5), atol=1e-15)
    close(C.softmax_cross_entropy_backward(np.float64(3.0), x, y)[0], 3 * dx)


# ---------------------------------------------------------------------------------------------
# multiclass hinge (SVM) loss
# ---------------------------------------------------------------------------------------------


def torch_svm(x, y, delta=1.0):
    xt = t64(x)
    k = np.shape(x)[1]
    loss = F.multi_margin_loss(xt, torch.tensor(np.asarray(y), dtype=torch.long)) * k
    return loss.detach().numpy(), torch_grads(loss, [xt], np.float64(delta))[0]


def _cs231n_svm(x, y):
    """The CS231n loop: ``sum_{j != y} max(0, x_j - x_y + 1) / N``."""
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            if j != y[i]:
                total += max(0.0, x[i, j] - x[i, y[i]] + 1)
    return total / x.shape[0]


@given(n=st.integers(1, 6), k=st.integers(1, 7), scale=st.sampled_from([0.1, 1.0, 10.0]),
       delta=st.sampled_from([1.0, 0.5]), seed=st.integers(0, 2**16))
def test_svm_loss_is_k_times_multi_margin_loss(n, k, scale, delta, seed):
    rng = np.random.default_rng(seed)
    x, y = scale * rng.standard_normal((n, k)), rng.integers(0, k, n)
    loss, dx = torch_svm(x, y, delta)
    close(C.svm_loss_forward(x, y), loss)
    close(C.svm_loss_forward(x, y), _cs231n_svm(x, y))
    close(C.svm_loss_backward(delta, x, y)[0], dx)


def test_svm_loss_takes_the_zero_subgradient_at_margin_ties():
    # row 0: x_1 - x_0 + 1 = 0 exactly (a tie); x_2 active; row 1: every margin a tie
    x = np.array([[2.0, 1.0, 3.0], [1.0, 0.0, 0.0]])
    y = np.array([0, 0])
    (dx,) = C.svm_loss_backward(1.0, x, y)
    assert_array_equal(dx, np.array([[-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]) / 2)
    assert C.svm_loss_forward(x, y) == 1.0  # (0 + 2) + (0 + 0), over N = 2
    _, t_dx = torch_svm(x, y)
    close(dx, t_dx)


# ---------------------------------------------------------------------------------------------
# losses: dtypes, purity, signatures, validation
# ---------------------------------------------------------------------------------------------


LOSSES = [
    (C.softmax_cross_entropy_forward, C.softmax_cross_entropy_backward),
    (C.svm_loss_forward, C.svm_loss_backward),
]


@pytest.mark.parametrize("fwd,bwd", LOSSES, ids=["ce", "svm"])
def test_losses_keep_float32_and_do_not_modify_inputs(fwd, bwd):
    rng = rng_for("loss32")
    x, y = rng.standard_normal((4, 5)).astype(np.float32), rng.integers(0, 5, 4)
    xc, yc = x.copy(), y.copy()
    loss, (dx,) = fwd(x, y), bwd(1.0, x, y)
    assert loss.shape == () and loss.dtype == np.float32 and dx.dtype == np.float32
    assert bwd(np.float64(1.0), x, y)[0].dtype == np.float64  # a float64 delta promotes
    assert_array_equal(x, xc)
    assert_array_equal(y, yc)
    assert not np.shares_memory(dx, x)
    close(loss, fwd(x.astype(np.float64), y), **F32)
    close(dx, bwd(1.0, x.astype(np.float64), y)[0], **F32)


@pytest.mark.parametrize("fwd,bwd", LOSSES, ids=["ce", "svm"])
def test_loss_signatures_follow_the_native_protocol(fwd, bwd):
    assert list(inspect.signature(fwd).parameters) == ["x", "y"]
    assert list(inspect.signature(bwd).parameters) == ["delta", "x", "y"]


@pytest.mark.parametrize("fwd,bwd", LOSSES, ids=["ce", "svm"])
@pytest.mark.parametrize(
    "x,y,match",
    [
        (np.ones((2, 3)), np.array([0, 3]), "label 3 is out of range"),
        (np.ones((2, 3)), np.array([-1, 0]), "label -1 is out of range"),
        (np.ones((2, 3)), np.array([-100, 0]), "out of range"),
        (np.ones((2, 3)), np.array([0.0, 1.0]), "integer class labels"),
        (np.ones((2, 3)), np.array([True, False]), "integer class labels"),
        (np.ones((2, 3)), np.array([0, 1, 2]), r"y must be \(2,\)"),
        (np.ones(3), np.array([0]), r"logits \(N, K\)"),
        (np.ones((0, 3)), np.zeros(0, int), r"logits \(N, K\)"),
        (np.ones((2, 0)), np.array([0, 0]), r"logits \(N, K\)"),
    ],
)
def test_losses_reject_bad_arguments(fwd, bwd, x, y, match):
    with pytest.raises(ValueError, match=match):
        fwd(x, y)
    with pytest.raises(ValueError, match=match):
        bwd(1.0, x, y)


@pytest.mark.parametrize("fwd,bwd", LOSSES, ids=["ce", "svm"])
def test_loss_backward_needs_a_scalar_delta(fwd, bwd):
    with pytest.raises(ValueError, match="delta must be 0-d"):
        bwd(np.ones(2), np.ones((2, 3)), np.array([0, 1]))
