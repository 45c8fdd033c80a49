"""The colouring behind batched finite differences matches the ops' real dependency structure.

Two things make coloured finite differences exact: every output an element really moves lies
in its *stated* footprint (the one ``attribute`` sums over), and elements of one colour have
disjoint stated footprints. Both are checked against torch's Jacobian.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck.ops import footprints, SPECS
from gradcheck.oracles.fd import finite_differences
from gradcheck.oracles.torch_oracle import torch_run
from gradcheck.cases.strategies import cases

SMALL = {"max_batch": 2, "max_channels": 2, "max_extra": 2}
OPS = ["conv2d", "max_pool2d", "avg_pool2d", "l2_pool2d", "relu", "dense", "mse", "conv2d_tanh"]


def _draw(op, data):
    return data.draw(cases(op, **({} if op in ("dense", "mse", "relu") else SMALL)))


def _true_footprints(spec, case, name):
    """element -> outputs it moves: the nonzero pattern of torch's Jacobian, (elements, outputs)."""
    import torch

    t = {k: torch.tensor(v) for k, v in case.inputs.items()}

    def f(v):
        return spec.torch_forward({**t, name: v}, case.params).reshape(-1)

    jac = torch.autograd.functional.jacobian(f, t[name]).numpy()
    return (jac.reshape(jac.shape[0], -1) != 0).T


def _stated_footprints(spec, case, name):
    """element -> outputs ``attribute`` counts for it, one one-hot output at a time."""
    x = case.inputs[name]
    o_shape = spec.out_shape(case.shapes, case.params)
    n_out = int(np.prod(o_shape))
    cols = []
    for flat in range(n_out):
        e = np.zeros(n_out)
        e[flat] = 1.0
        a = footprints.attribute(spec.footprints[name], e.reshape(o_shape), x.shape, case.params, case.shapes.get("w"))
        cols.append(np.asarray(a).ravel() != 0)
    return np.array(cols).T


@pytest.mark.parametrize("op", OPS)
@settings(max_examples=10)
@given(data=st.data())
def test_true_footprint_lies_within_the_stated_one(op, data):
    spec, case = SPECS[op], _draw(op, data)
    for name in spec.grad_inputs:
        true, stated = _true_footprints(spec, case, name), _stated_footprints(spec, case, name)
        assert not (true & ~stated).any(), f"{op}.{name}: an element moves an output outside its stated footprint"


@pytest.mark.parametrize("op", OPS)
@settings(max_examples=10)
@given(data=st.data())
def test_same_colour_never_shares_a_stated_output(op, data):
    spec, case = SPECS[op], _draw(op, data)
    for name in spec.grad_inputs:
        col = footprints.colours(spec.footprints[name], case.inputs[name].shape, case.params, case.shapes.get("w")).ravel()
        stated = _stated_footprints(spec, case, name)
        for c in np.unique(col):
            assert (stated[col == c].sum(axis=0) <= 1).all(), f"{op}.{name}: colour {c} shares an output"


@pytest.mark.parametrize("op", OPS)
@settings(max_examples=10)
@given(data=st.data())
def test_coloured_fd_equals_one_element_at_a_time(op, data):
    spec, case = SPECS[op], _draw(op, data)

    def fwd(inputs):
        return torch_run(spec, inputs, case.params, case.delta)[0]

    many = finite_differences(spec, case, fwd)
    single = finite_differences(spec, case, fwd, single=True)
    for q in many.grads:
        bound = many.uncertainty[q] + single.uncertainty[q] + 1e-12
        assert (np.abs(many.grads[q] - single.grads[q]) <= bound).all(), q


@pytest.mark.parametrize("op", OPS)
@settings(max_examples=6)
@given(data=st.data())
def test_reach_is_the_union_of_the_stated_footprints(op, data):
    """``reach`` (the outputs a set of elements can move) is the transpose of ``attribute``."""
    spec, case = SPECS[op], _draw(op, data)
    o_shape = spec.out_shape(case.shapes, case.params)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    for name in spec.grad_inputs:
        stated = _stated_footprints(spec, case, name)  # (elements, outputs)
        for p in (0.0, 0.1, 0.5):
            mask = rng.random(case.inputs[name].shape) < p
            got = np.asarray(footprints.reach(spec.footprints[name], mask, o_shape, case.params, case.shapes.get("w")))
            assert got.shape == tuple(o_shape)
            assert (got.ravel() == stated[mask.ravel()].any(axis=0)).all(), (op, name, p)


def test_a_wrong_stated_footprint_is_caught():
    """The check above can fail: a window one row too short misses outputs the element moves."""
    spec = SPECS["conv2d"]
    rng = np.random.default_rng(0)
    from gradcheck.cases import Case

    params = {"stride": (1, 1), "padding": (0, 0), "dilation": (1, 1)}
    case = Case("conv2d", {"x": rng.standard_normal((1, 1, 5, 5)), "w": rng.standard_normal((1, 1, 3, 3)),
                           "b": rng.standard_normal(1)}, params, rng.standard_normal((1, 1, 3, 3)))
    true = _true_footprints(spec, case, "x")
    # attribute as if the kernel had 2 rows instead of 3
    stated = np.array([np.asarray(footprints.attribute("window-mixing", e.reshape(1, 1, 3, 3), (1, 1, 5, 5), params,
                                                       (1, 1, 2, 3))).ravel() != 0 for e in np.eye(9)]).T
    assert (true & ~stated).any()


def test_colouring_cuts_forward_calls_for_conv():
    """x (4,8,16,16), w (8,8,3,3): colours grow with C*k1*k2, not with the input's size."""
    params = {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1)}
    assert footprints.colours("window-mixing", (4, 8, 16, 16), params, (8, 8, 3, 3)).max() + 1 == 8 * 3 * 3
    assert footprints.colours("filter", (8, 8, 3, 3), params).max() + 1 == 8 * 3 * 3


def test_window_adjoint_is_the_transpose_of_windowing():
    """<adjoint(g), x> == <g, window sums of x> (strides, padding, dilation)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 1, 9, 8))
    kernel, stride, pad, dil = (3, 2), (2, 3), (1, 2), (2, 1)
    spec = SPECS["conv2d"]
    params = {"stride": stride, "padding": pad, "dilation": dil}
    inputs = {"x": x, "w": np.ones((1, 1) + kernel), "b": np.zeros(1)}
    g = rng.standard_normal(spec.out_shape({k: v.shape for k, v in inputs.items()}, params))
    lhs = float((footprints.window_adjoint(g, (9, 8), kernel, stride, pad, dil) * x).sum())
    o, _ = torch_run(spec, inputs, params, g)
    assert abs(lhs - float((g * o).sum())) < 1e-10 * (1 + abs(lhs))
