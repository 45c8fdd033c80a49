"""Kink cases judged by the subgradient rules: every valid choice passes, anything else fails."""
from __future__ import annotations

import re
from functools import cache
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from gradcheck.adapters.native import NativeAdapter
from gradcheck.judge.battery import Runner
from gradcheck.ops import SPECS
from gradcheck.cases.strategies import cases
from gradcheck.judge.subgradient import MAX_ONE_HOT, evaluate_kink, project_simplex

KINK_LIMITS = {"max_batch": 2, "max_channels": 2}  # as the explorer draws kink cases


def _draw(strategy, n: int) -> list:
    """``n`` examples of ``strategy`` (deterministic, no shrinking)."""
    out: list = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None, phases=[Phase.generate])
    @given(strategy)
    def collect(value):
        out.append(value)

    collect()
    return out


def _judge(op: str, candidate: SimpleNamespace, case):
    run = Runner(NativeAdapter(candidate, f"{op} candidate"), op, SPECS[op])
    return evaluate_kink(run, case)


# --- project_simplex ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "v,want",
    [
        pytest.param([0.2, 0.3, 0.5], [0.2, 0.3, 0.5], id="on-the-simplex"),
        pytest.param([1.0], [1.0], id="one-element"),
        pytest.param([-5.0], [1.0], id="one-negative-element"),
        pytest.param([1.0, 1.0], [0.5, 0.5], id="all-ties-split"),
        pytest.param([0.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], id="zero-vector"),
        pytest.param([2.0, 0.0], [1.0, 0.0], id="beyond-a-vertex"),
        pytest.param([3.0, 1.0, -2.0], [1.0, 0.0, 0.0], id="clipped-to-a-vertex"),
        pytest.param([0.6, 0.6, -1.0], [0.5, 0.5, 0.0], id="clipped-to-an-edge"),
        pytest.param([0.0, 1.0, 0.0], [0.0, 1.0, 0.0], id="vertex"),
        pytest.param([0.7, 0.1, 0.5], [0.6, 0.0, 0.4], id="shift-then-clip"),
        pytest.param([0.5, -0.1, 0.5], [0.5, 0.0, 0.5], id="clip-only"),
    ],
)
def test_project_simplex_examples(v, want):
    np.testing.assert_allclose(project_simplex(np.array(v)), want, atol=1e-15)


def test_project_simplex_of_nothing_is_nothing():
    assert project_simplex(np.zeros(0)).shape == (0,)


_vectors = st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False), min_size=1, max_size=12).map(np.array)


@settings(max_examples=60)
@given(_vectors)
def test_project_simplex_is_the_nearest_simplex_point(v):
    p = project_simplex(v)
    scale = 1.0 + float(np.abs(v).max())
    assert p.shape == v.shape
    assert (p >= 0).all()
    assert abs(p.sum() - 1.0) <= 1e-12 * scale
    # optimality: <v - p, q - p> <= 0 for every q of the simplex (its vertices suffice)
    assert ((v - p) @ (np.eye(v.size) - p).T).max() <= 1e-9 * scale**2
    np.testing.assert_allclose(project_simplex(p), p, atol=1e-12 * scale)  # idempotent


@settings(max_examples=40)
@given(st.lists(st.floats(0, 1e3, allow_subnormal=False), min_size=1, max_size=12).filter(lambda w: sum(w) > 0))
def test_project_simplex_leaves_simplex_points_alone(w):
    q = np.array(w) / sum(w)
    np.testing.assert_allclose(project_simplex(q), q, atol=1e-12)


# --- ReLU at 0 ----------------------------------------------------------------------------------


def _relu(c: float) -> SimpleNamespace:
    return SimpleNamespace(
        relu_forward=lambda x: np.maximum(x, 0.0),
        relu_backward=lambda delta, x: delta * np.where(x > 0, 1.0, np.where(x == 0, c, 0.0)),
    )


def _relu_on_kink(case) -> bool:
    return bool(((case.inputs["x"] == 0) & (case.delta != 0)).any())


@cache
def relu_cases() -> list:
    return _draw(cases("relu", kind="kink").filter(_relu_on_kink), 10)


@pytest.mark.parametrize("c", [0.0, 0.5, 1.0, 0.25], ids=lambda c: f"f'(0)={c:g}")
def test_relu_any_subgradient_at_zero_passes(c):
    for case in relu_cases():
        recs = _judge("relu", _relu(c), case)
        assert set(recs) == {("forward", "torch"), ("dx", "subgradient")}
        assert all(r.status == "pass" for r in recs.values()), [r.message for r in recs.values()]


def test_relu_choice_may_vary_element_by_element():
    rng = np.random.default_rng(0)
    cand = SimpleNamespace(
        relu_forward=lambda x: np.maximum(x, 0.0),
        relu_backward=lambda delta, x: delta * np.where(x > 0, 1.0, np.where(x == 0, rng.random(x.shape), 0.0)),
    )
    for case in relu_cases():
        assert _judge("relu", cand, case)[("dx", "subgradient")].status == "pass"


@pytest.mark.parametrize("c", [2.0, -1.0, 1.01, -0.01], ids=lambda c: f"f'(0)={c:g}")
def test_relu_outside_the_subdifferential_fails(c):
    for case in relu_cases():
        rec = _judge("relu", _relu(c), case)[("dx", "subgradient")]
        assert rec.status == "fail"
        idx = tuple(rec.worst.index)
        assert case.inputs["x"][idx] == 0 and case.delta[idx] != 0  # located on the kink


def test_relu_wrong_away_from_the_kink_fails():
    cand = SimpleNamespace(relu_forward=lambda x: np.maximum(x, 0.0),
                           relu_backward=lambda delta, x: delta * (x >= 0) * np.where(x > 0, 0.5, 1.0))
    found = [c for c in relu_cases() if ((c.inputs["x"] > 0) & (c.delta != 0)).any()]
    assert found
    for case in found:
        assert _judge("relu", cand, case)[("dx", "subgradient")].status == "fail"


# --- max pooling --------------------------------------------------------------------------------


def _windows(x, kernel_size, stride, padding, fill):
    """Every window of the padded ``x``: (N, C, Ho, Wo, kh*kw)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    w = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return w.reshape(w.shape[:4] + (kh * kw,))


def _scatter(weights, x_shape, kernel_size, stride, padding):
    """The adjoint of _windows: sum each window's weights back onto the (unpadded) input."""
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    n, c, ho, wo, _ = weights.shape
    dxp = np.zeros((n, c, x_shape[2] + 2 * ph, x_shape[3] + 2 * pw))
    for a in range(kh):
        for b in range(kw):
            dxp[:, :, a:a + sh * (ho - 1) + 1:sh, b:b + sw * (wo - 1) + 1:sw] += weights[..., a * kw + b]
    return dxp[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]]


def _one_hot(index, size):
    return np.eye(size)[index]


def _max_routes(policy: str):
    """The share of each window's delta each unit gets, under a routing ``policy``."""

    def routes(x, kernel_size, stride, padding):
        w = _windows(x, kernel_size, stride, padding, -np.inf)
        real = _windows(np.ones_like(x), kernel_size, stride, padding, 0.0) > 0
        is_max = w == w.max(axis=-1, keepdims=True)
        size = w.shape[-1]
        if policy == "first":
            return _one_hot(np.argmax(is_max, axis=-1), size)
        if policy == "last":
            return _one_hot(size - 1 - np.argmax(is_max[..., ::-1], axis=-1), size)
        if policy == "split":
            return is_max / is_max.sum(axis=-1, keepdims=True)
        if policy == "every-tie":
            return is_max.astype(np.float64)
        if policy == "non-maximal":  # the first real unit below the maximum (a maximum if none is)
            below = real & ~is_max
            return _one_hot(np.where(below.any(axis=-1), np.argmax(below, axis=-1), np.argmax(is_max, axis=-1)), size)
        if policy in ("nan", "inf"):
            return np.full(w.shape, float(policy))
        raise AssertionError(policy)

    return routes


def _max_pool(policy: str) -> SimpleNamespace:
    routes = _max_routes(policy)

    def forward(x, *, kernel_size, stride, padding):
        return _windows(x, kernel_size, stride, padding, -np.inf).max(axis=-1)

    def backward(delta, x, *, kernel_size, stride, padding):
        r = routes(x, kernel_size, stride, padding)
        return _scatter(delta[..., None] * r, x.shape, kernel_size, stride, padding)

    return SimpleNamespace(max_pool2d_forward=forward, max_pool2d_backward=backward)


def _pool_args(case):
    p = case.params
    return p["kernel_size"], p["stride"], p["padding"]


def _tie_with_delta(case) -> bool:
    w = _windows(case.inputs["x"], *_pool_args(case), -np.inf)
    ties = (w == w.max(axis=-1, keepdims=True)).sum(axis=-1) > 1
    return bool((ties & (case.delta != 0)).any())


def _non_max_with_delta(case) -> bool:
    w = _windows(case.inputs["x"], *_pool_args(case), -np.inf)
    real = _windows(np.ones_like(case.inputs["x"]), *_pool_args(case), 0.0) > 0
    below = (real & (w < w.max(axis=-1, keepdims=True))).any(axis=-1)
    return bool((below & (case.delta != 0)).any())


def _overlapping(case) -> bool:
    (kh, kw), (sh, sw) = case.params["kernel_size"], case.params["stride"]
    ho, wo = case.delta.shape[2:]
    return (sh < kh and ho > 1) or (sw < kw and wo > 1)


def _small(case) -> bool:
    return case.delta.size <= MAX_ONE_HOT


_MAX_FILTERS = {
    "any": (),
    "ties": (_tie_with_delta,),
    "overlapping-ties": (_tie_with_delta, _overlapping),
    "below-the-max": (_non_max_with_delta,),
}


@cache
def max_cases(which: str) -> list:
    strategy = cases("max_pool2d", kind="kink", **KINK_LIMITS).filter(_small)
    for f in _MAX_FILTERS[which]:
        strategy = strategy.filter(f)
    return _draw(strategy, 6)


def test_the_max_pool_candidate_agrees_with_torch():
    """The hand-written candidate is itself right: forward and first-max routing as torch."""
    for case in max_cases("any") + max_cases("overlapping-ties"):
        x = torch.tensor(case.inputs["x"], requires_grad=True)
        o = torch.nn.functional.max_pool2d(x, *_pool_args(case))
        o.backward(torch.tensor(case.delta))
        cand = _max_pool("first")
        np.testing.assert_array_equal(cand.max_pool2d_forward(case.inputs["x"], **case.params), o.detach().numpy())
        if (np.abs(case.delta) > 0).any() and not _overlapping(case):
            np.testing.assert_array_equal(cand.max_pool2d_backward(case.delta, case.inputs["x"], **case.params),
                                          x.grad.numpy())


@pytest.mark.parametrize("cases_of", ["any", "ties", "overlapping-ties"])
@pytest.mark.parametrize("policy", ["first", "last", "split"])
def test_max_pool_any_valid_routing_passes(policy, cases_of):
    for case in max_cases(cases_of):
        recs = _judge("max_pool2d", _max_pool(policy), case)
        assert set(recs) == {("forward", "torch"), ("dx", "subgradient")}
        assert all(r.status == "pass" for r in recs.values()), [r.message for r in recs.values()]


@pytest.mark.parametrize("policy,cases_of", [("every-tie", "ties"), ("every-tie", "overlapping-ties"),
                                             ("non-maximal", "below-the-max")])
def test_max_pool_invalid_routing_fails(policy, cases_of):
    for case in max_cases(cases_of):
        recs = _judge("max_pool2d", _max_pool(policy), case)
        assert recs[("forward", "torch")].status == "pass"
        assert recs[("dx", "subgradient")].status == "fail", case


@pytest.mark.parametrize("policy", ["nan", "inf"])
def test_max_pool_non_finite_routes_fail_not_crash(policy):
    for case in max_cases("ties")[:3]:
        with np.errstate(invalid="ignore"):
            rec = _judge("max_pool2d", _max_pool(policy), case)[("dx", "subgradient")]
        assert rec.status == "fail" and "non-finite" in rec.message


def test_max_pool_routing_that_depends_on_delta_fails():
    """Routing to the first maximum for positive delta and to the last for negative is not linear."""
    first, last = _max_pool("first"), _max_pool("last")

    def backward(delta, x, **p):
        up, down = np.maximum(delta, 0), np.minimum(delta, 0)
        return first.max_pool2d_backward(up, x, **p) + last.max_pool2d_backward(down, x, **p)

    cand = SimpleNamespace(max_pool2d_forward=first.max_pool2d_forward, max_pool2d_backward=backward)

    def mixed(case):  # a tied window with negative delta: the one-hot routes (delta = +1) say "first"
        w = _windows(case.inputs["x"], *_pool_args(case), -np.inf)
        is_max = w == w.max(axis=-1, keepdims=True)
        return bool(((is_max.sum(axis=-1) > 1) & (case.delta < 0)).any())

    found = [c for c in max_cases("ties") + max_cases("overlapping-ties") if mixed(c)]
    assert found
    for case in found:
        assert _judge("max_pool2d", cand, case)[("dx", "subgradient")].status == "fail"


# --- L2 pooling ---------------------------------------------------------------------------------


def _l2_zero_route(name: str, size: int) -> np.ndarray:
    """What a candidate routes from an all-zero window of ``size`` units (per unit of delta)."""
    rng = np.random.default_rng(size)
    direction = rng.standard_normal(size)
    direction /= np.linalg.norm(direction)
    e0 = np.eye(size)[0]
    return {
        "zeros": np.zeros(size),
        "first-unit": e0,
        "last-unit": np.eye(size)[-1],
        "uniform-unit": np.ones(size) / np.sqrt(size),
        "half-norm": 0.5 * direction,
        "norm-0.999": 0.999 * direction,
        "norm-1.01": 1.01 * e0,
        "norm-2": 2.0 * direction,
        "minus-norm-1.5": -1.5 * e0,
    }[name]


def _l2_pool(zero_route: str) -> SimpleNamespace:
    def forward(x, *, kernel_size, stride, padding):
        return np.sqrt((_windows(x, kernel_size, stride, padding, 0.0) ** 2).sum(axis=-1))

    def backward(delta, x, *, kernel_size, stride, padding):
        w = _windows(x, kernel_size, stride, padding, 0.0)
        o = np.sqrt((w**2).sum(axis=-1, keepdims=True))
        r = np.where(o > 0, w / np.where(o > 0, o, 1.0), _l2_zero_route(zero_route, w.shape[-1]))
        return _scatter(delta[..., None] * r, x.shape, kernel_size, stride, padding)

    return SimpleNamespace(l2_pool2d_forward=forward, l2_pool2d_backward=backward)


def _zero_window_with_delta(case) -> bool:
    w = _windows(case.inputs["x"], *_pool_args(case), 0.0)
    return bool((((w**2).sum(axis=-1) == 0) & (case.delta != 0)).any())


@cache
def l2_cases() -> list:
    """Kink cases with an all-zero window that receives a nonzero delta; some with overlapping windows."""
    strategy = cases("l2_pool2d", kind="kink", **KINK_LIMITS).filter(_small).filter(_zero_window_with_delta)
    return _draw(strategy, 6) + _draw(strategy.filter(_overlapping), 3)


def test_the_l2_candidate_agrees_with_torch():
    for case in l2_cases():
        o = torch.nn.functional.lp_pool2d(torch.tensor(case.inputs["x"]), 2, *_pool_args(case)[:2])
        np.testing.assert_allclose(_l2_pool("zeros").l2_pool2d_forward(case.inputs["x"], **case.params), o.numpy(),
                                   rtol=1e-14)


@pytest.mark.parametrize("route", ["zeros", "first-unit", "last-unit", "uniform-unit", "half-norm", "norm-0.999"])
def test_l2_zero_window_routed_within_the_unit_ball_passes(route):
    for case in l2_cases():
        recs = _judge("l2_pool2d", _l2_pool(route), case)
        assert set(recs) == {("forward", "torch"), ("dx", "subgradient")}
        assert all(r.status == "pass" for r in recs.values()), [r.message for r in recs.values()]


@pytest.mark.parametrize("route", ["norm-1.01", "norm-2", "minus-norm-1.5"])
def test_l2_zero_window_routed_beyond_the_unit_ball_fails(route):
    for case in l2_cases():
        rec = _judge("l2_pool2d", _l2_pool(route), case)[("dx", "subgradient")]
        assert rec.status == "fail"


def test_l2_zero_over_zero_fails():
    """The classic slip: delta * x / o is 0/0 = NaN on an all-zero window."""

    def backward(delta, x, *, kernel_size, stride, padding):
        w = _windows(x, kernel_size, stride, padding, 0.0)
        with np.errstate(invalid="ignore"):
            r = w / np.sqrt((w**2).sum(axis=-1, keepdims=True))
        return _scatter(delta[..., None] * r, x.shape, kernel_size, stride, padding)

    cand = SimpleNamespace(l2_pool2d_forward=_l2_pool("zeros").l2_pool2d_forward, l2_pool2d_backward=backward)
    for case in l2_cases()[:3]:
        rec = _judge("l2_pool2d", cand, case)[("dx", "subgradient")]
        assert rec.status == "fail" and "non-finite" in rec.message


def test_l2_nonzero_window_must_route_x_over_o():
    def backward(delta, x, *, kernel_size, stride, padding):  # x / o**2: wrong wherever o != 1
        w = _windows(x, kernel_size, stride, padding, 0.0)
        o2 = (w**2).sum(axis=-1, keepdims=True)
        r = np.where(o2 > 0, w / np.where(o2 > 0, o2, 1.0), 0.0)
        return _scatter(delta[..., None] * r, x.shape, kernel_size, stride, padding)

    cand = SimpleNamespace(l2_pool2d_forward=_l2_pool("zeros").l2_pool2d_forward, l2_pool2d_backward=backward)

    def off(case):
        o = cand.l2_pool2d_forward(case.inputs["x"], **case.params)
        return bool(((o > 0) & (o != 1) & (case.delta != 0)).any())

    found = [c for c in l2_cases() if off(c)]
    assert found
    for case in found:
        assert _judge("l2_pool2d", cand, case)[("dx", "subgradient")].status == "fail"


# --- conv2d followed by ReLU --------------------------------------------------------------------


def _conv_relu_grads(c, delta, x, w, b, *, stride, padding, dilation):
    t = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    z = torch.nn.functional.conv2d(*t, stride=stride, padding=padding, dilation=dilation)
    zn = z.detach().numpy()
    z.backward(torch.tensor(delta * np.where(zn > 0, 1.0, np.where(zn == 0, c, 0.0))))
    return tuple(v.grad.numpy() for v in t)


def _conv_relu(c: float) -> SimpleNamespace:
    def forward(x, w, b, *, stride, padding, dilation):
        z = torch.nn.functional.conv2d(*(torch.tensor(v) for v in (x, w, b)), stride=stride, padding=padding,
                                       dilation=dilation)
        return np.maximum(z.numpy(), 0.0)

    return SimpleNamespace(conv2d_relu_forward=forward,
                           conv2d_relu_backward=lambda *a, **p: _conv_relu_grads(c, *a, **p))


def _conventions_differ(case) -> bool:
    """Whether f'(0) = 0, 1/2 and 1 give three different gradients on this case."""
    args = (case.delta, *(case.inputs[k] for k in "xwb"))
    g = [np.concatenate([v.ravel() for v in _conv_relu_grads(c, *args, **case.params)]) for c in (0.0, 0.5, 1.0)]
    return all(np.abs(g[i] - g[j]).max() > 0.25 for i, j in ((0, 1), (1, 2), (0, 2)))


@cache
def conv_cases() -> list:
    return _draw(cases("conv2d_relu", kind="kink", **KINK_LIMITS).filter(_conventions_differ), 4)


@pytest.mark.parametrize("c", [0.0, 0.5, 1.0], ids=lambda c: f"f'(0)={c:g}")
def test_conv2d_relu_conventions_pass_and_are_named(c):
    for case in conv_cases():
        recs = _judge("conv2d_relu", _conv_relu(c), case)
        assert set(recs) == {("forward", "torch"), ("dx", "subgradient"), ("dw", "subgradient"), ("db", "subgradient")}
        assert all(r.status == "pass" for r in recs.values()), [r.message for r in recs.values()]
        for q in ("dx", "dw", "db"):
            assert recs[(q, "subgradient")].message == f"follows f'(0) = {c:g}"


@pytest.mark.parametrize("c", [2.0, -1.0, 0.25], ids=lambda c: f"f'(0)={c:g}")
def test_conv2d_relu_other_values_at_zero_fail(c):
    for case in conv_cases():
        recs = _judge("conv2d_relu", _conv_relu(c), case)
        assert recs[("forward", "torch")].status == "pass"
        assert any(recs[(q, "subgradient")].status == "fail" for q in ("dx", "dw", "db"))


def test_conv2d_relu_mixed_conventions_fail():
    """dx under f'(0) = 0 with dw, db under f'(0) = 1: no single convention explains it."""

    def backward(*a, **p):
        return _conv_relu_grads(0.0, *a, **p)[0], *_conv_relu_grads(1.0, *a, **p)[1:]

    cand = SimpleNamespace(conv2d_relu_forward=_conv_relu(0.0).conv2d_relu_forward, conv2d_relu_backward=backward)
    for case in conv_cases():
        recs = _judge("conv2d_relu", cand, case)
        dx0 = _conv_relu_grads(0.0, case.delta, *(case.inputs[k] for k in "xwb"), **case.params)[0]
        dx1 = _conv_relu_grads(1.0, case.delta, *(case.inputs[k] for k in "xwb"), **case.params)[0]
        if np.array_equal(dx0, dx1):
            continue
        assert any(r.status == "fail" for k, r in recs.items() if k[1] == "subgradient")


# --- what the messages say ----------------------------------------------------------------------


def _routing_pool(route) -> SimpleNamespace:
    """Max pooling (no padding, as drawn here) whose backward sends each window's gradient by
    ``route(window) -> weights``."""

    def forward(x, *, kernel_size, stride, padding):
        return torch.nn.functional.max_pool2d(torch.tensor(x), kernel_size, stride, padding).numpy()

    def backward(delta, x, *, kernel_size, stride, padding):
        (kh, kw), (sh, sw) = kernel_size, stride
        dx = np.zeros_like(x)
        for n, c, i, j in np.ndindex(*delta.shape):
            win = x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
            dx[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw] += route(win) * delta[n, c, i, j]
        return dx

    return SimpleNamespace(max_pool2d_forward=forward, max_pool2d_backward=backward)


def _every_max(win):
    return (win == win.max()).astype(float)


def _first_max(win):
    out = np.zeros_like(win)
    out[np.unravel_index(np.argmax(win), win.shape)] = 1.0
    return out


@cache
def tie_cases() -> list:
    def tied(case) -> bool:
        x, (kh, kw), (sh, sw) = case.inputs["x"], case.params["kernel_size"], case.params["stride"]
        if any(case.params["padding"]):
            return False
        wins = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        flat = wins.reshape(*wins.shape[:4], -1)
        return bool(((flat == flat.max(-1, keepdims=True)).sum(-1) > 1).any())

    return _draw(cases("max_pool2d", kind="kink", max_batch=2, max_channels=2).filter(tied), 6)


def test_a_max_pool_tie_message_states_the_valid_set_and_what_is_wrong():
    failing = [rec for case in tie_cases()
               if (rec := _judge("max_pool2d", _routing_pool(_every_max), case)[("dx", "subgradient")]).status == "fail"]
    assert failing, "no tie case showed the bug"
    for rec in failing:
        figures, rule, *_ = rec.message.split("\n")
        assert "nearest valid" in figures and "elements beyond tolerance" in figures
        assert "may go to any of its maximal units in any non-negative split summing to the upstream gradient" in rule
        assert "it routes the full gradient to every tied maximum" in rule
        assert re.search(r"yours sends (\S+) where (\S+) was due", rule)


def test_a_valid_tie_break_gets_no_message():
    for case in tie_cases():
        rec = _judge("max_pool2d", _routing_pool(_first_max), case)[("dx", "subgradient")]
        assert rec.status == "pass" and rec.message == ""


def test_a_relu_kink_message_states_the_valid_set():
    wrong = SimpleNamespace(relu_forward=lambda x: np.maximum(x, 0.0),
                            relu_backward=lambda delta, x: delta * np.where(x >= 0, 1.0, -1.0))
    rec = next(r for case in relu_cases() if (r := _judge("relu", wrong, case)[("dx", "subgradient")]).status == "fail")
    assert rec.message.split("\n")[1].startswith("For ReLU, at x = 0 the derivative may be any c in [0, 1]")
