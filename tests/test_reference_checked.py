"""The reference, checked by the harness like any candidate — and the harness shows it can fail.

Every reference op goes through every oracle that applies (finite differences of its own
forward, torch, scipy, the subgradient rules at kinks and ties). Then deliberately broken
variants of the reference, one bug each, must be caught at the right op and quantity.
"""
from __future__ import annotations

import types

import numpy as np
import pytest

import reference
from gradcheck.adapters.native import NativeAdapter
from gradcheck.judge.battery import check_keys
from gradcheck.config import RunConfig
from gradcheck.judge.search import check_op
from gradcheck.ops import SPECS
from gradcheck.ops import OP_NAMES

CFG = RunConfig(max_examples=6, kink_examples=4)


def _impl(**replaced):
    names = {n: getattr(reference, n) for n in dir(reference) if n.endswith(("_forward", "_backward"))}
    return NativeAdapter(types.SimpleNamespace(**{**names, **replaced}), "reference-variant")


@pytest.mark.parametrize("op", OP_NAMES)
def test_reference_passes_every_oracle(op):
    records = check_op(_impl(), op, op, CFG)
    assert [(r.quantity, r.oracle) for r in records] == check_keys(SPECS[op])
    bad = [f"{r.key}: {r.message}" for r in records if r.status != "pass"]
    assert not bad, bad
    assert all(r.examples > 0 for r in records)


# --- deliberately broken variants -------------------------------------------------------------


def _dw_wrong_stride(delta, x, w, b, *, stride=1, padding=0, dilation=1):
    """dw computed as if the stride were 1: the strided deltas are read densely."""
    dx, _, db = reference.conv2d_backward(delta, x, w, b, stride=stride, padding=padding, dilation=dilation)
    _, dw, _ = reference.conv2d_backward(
        np.repeat(np.repeat(delta, stride[0], axis=2), stride[1], axis=3)[:, :, : delta.shape[2], : delta.shape[3]],
        x, w, b, stride=stride, padding=padding, dilation=dilation)
    return dx, dw, db


def _db_no_batch_sum(delta, x, w, b, **params):
    dx, dw, _ = reference.conv2d_backward(delta, x, w, b, **params)
    return dx, dw, delta[0].sum(axis=(1, 2))


def _pool_all_ties(delta, x, *, kernel_size, stride, padding):
    """Routes each window's delta to every unit equal to its maximum."""
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    o = reference.max_pool2d_forward(x, kernel_size=kernel_size, stride=stride, padding=padding)
    dxp = np.zeros_like(xp)
    for m in range(kh):
        for q in range(kw):
            view = xp[:, :, m : m + sh * (o.shape[2] - 1) + 1 : sh, q : q + sw * (o.shape[3] - 1) + 1 : sw]
            dxp[:, :, m : m + sh * (o.shape[2] - 1) + 1 : sh, q : q + sw * (o.shape[3] - 1) + 1 : sw] += delta * (view == o)
    return dxp[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]]


BROKEN = [
    pytest.param("conv2d", {"conv2d_backward": _dw_wrong_stride}, {"dw"}, id="dw-wrong-stride"),
    pytest.param("conv2d", {"conv2d_backward": _db_no_batch_sum}, {"db"}, id="db-missing-batch-sum"),
    pytest.param("max_pool2d", {"max_pool2d_backward": _pool_all_ties}, {"dx"}, id="maxpool-routes-to-every-tie"),
]


@pytest.mark.parametrize("op, replaced, wrong", BROKEN)
def test_broken_variant_is_caught_at_the_right_quantity(op, replaced, wrong):
    records = check_op(_impl(**replaced), op, op, CFG)
    failed = {r.quantity for r in records if r.status == "fail"}
    assert wrong <= failed, f"expected failures in {wrong}, got {failed}"
    assert not (failed - wrong - {"shape-dtype"}), f"misplaced failures: {failed - wrong}"
    rec = next(r for r in records if r.status == "fail" and r.quantity in wrong)
    assert rec.counterexample is not None and rec.worst is not None and rec.message


def test_every_tie_bug_is_only_visible_at_ties():
    """Smooth cases cannot see it; the subgradient rule at ties does."""
    records = check_op(_impl(max_pool2d_backward=_pool_all_ties), "max_pool2d", "max_pool2d", CFG)
    by = {(r.quantity, r.oracle): r.status for r in records}
    assert by[("dx", "fd")] == "pass" and by[("dx", "torch")] == "pass"
    assert by[("dx", "subgradient")] == "fail"
