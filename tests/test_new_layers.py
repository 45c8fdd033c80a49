"""The layers beyond the seed: grouped and N-d convolution, transposed convolution, group norm,
dropout and the classification losses, through every convention.

The reference passes every one; ``torch.nn.functional`` passes every op it has under the torch
convention (by its own names and signatures); the dropout mask is read from the candidate's
forward and its statistics tested; the hinge loss is judged at margin ties by its subgradient
rule; hyper-parameters a candidate does not take (conv2d's groups) hold its cases at their
default and are said to be left out.
"""
from __future__ import annotations

import types

import numpy as np
import pytest

import gradcheck
import reference
from gradcheck.adapters import load
from gradcheck.cases import Case
from gradcheck.config import RunConfig
from gradcheck.judge.battery import Runner, check_keys, evaluate
from gradcheck.judge.search import check_op
from gradcheck.judge.subgradient import evaluate_kink
from gradcheck.ops import SPECS
from gradcheck.oracles.mask import mask_statistics

NEW = ("conv1d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "group_norm", "dropout",
       "softmax_cross_entropy", "svm_loss")
#: the ops torch.nn.functional has, by its names (svm_loss has no F counterpart, l2_pool2d and the
#: conv + activation layers neither, mse is 1/2 sum rather than F.mse_loss's mean)
F_OPS = ("conv2d", "conv1d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "relu", "sigmoid",
         "tanh", "leaky_relu", "max_pool2d", "avg_pool2d", "dense", "batch_norm", "layer_norm", "group_norm", "dropout",
         "softmax_cross_entropy")
SMALL = RunConfig(isolate=False, max_examples=6, kink_examples=3)


def _failing(recs) -> dict:
    return {r.key: r.message for r in recs if r.status not in ("pass", "not-provided")}


@pytest.mark.parametrize("op", NEW)
def test_the_reference_passes_the_new_ops(op):
    recs = check_op(load("reference", "native"), op, op, SMALL)
    assert not _failing(recs), _failing(recs)
    assert all(r.examples > 0 for r in recs)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("op", F_OPS)
def test_torch_nn_functional_passes_every_op_it_has(op, dtype):
    impl = load("torch.nn.functional", "torch")
    assert op in impl.entries
    recs = check_op(impl, op, op, RunConfig(isolate=False, max_examples=4, kink_examples=2, dtype=dtype))
    assert not _failing(recs), _failing(recs)


def test_torch_nn_functional_is_found_by_its_own_names():
    impl = load("torch.nn.functional", "torch")
    assert impl.entries["dense"].name == "linear" and impl.entries["softmax_cross_entropy"].name == "cross_entropy"
    assert "svm_loss" not in impl.entries


def test_a_conv2d_without_groups_is_checked_at_groups_1_and_says_so():
    def conv2d_forward(x, w, b, *, stride, padding, dilation):
        return reference.conv2d_forward(x, w, b, stride=stride, padding=padding, dilation=dilation)

    def conv2d_backward(delta, x, w, b, *, stride, padding, dilation):
        return reference.conv2d_backward(delta, x, w, b, stride=stride, padding=padding, dilation=dilation)

    ns = types.SimpleNamespace(conv2d_forward=conv2d_forward, conv2d_backward=conv2d_backward)
    run = gradcheck.check(ns, "native", ops="conv2d", max_examples=6, kink_examples=0)
    assert run.passed
    conv = [r for r in run.records if r.op == "conv2d"]
    assert not any("groups>1" in r.covered for r in conv)
    assert all("max_groups=1" in r.excluded.get("groups>1", "") for r in conv if r.examples)


def test_a_conv2d_that_ignores_groups_is_caught():
    def conv2d_forward(x, w, b, *, stride, padding, dilation, groups):
        w_full = np.tile(w, (1, groups, 1, 1))  # every filter sees every channel
        return reference.conv2d_forward(x, w_full, b, stride=stride, padding=padding, dilation=dilation)

    def conv2d_backward(delta, x, w, b, *, stride, padding, dilation, groups):
        return reference.conv2d_backward(delta, x, w, b, stride=stride, padding=padding, dilation=dilation,
                                         groups=groups)

    ns = types.SimpleNamespace(conv2d_forward=conv2d_forward, conv2d_backward=conv2d_backward)
    run = gradcheck.check(ns, "native", ops="conv2d", max_examples=10, kink_examples=0)
    assert not run.passed
    assert any(r.quantity == "forward" and r.status == "fail" for r in run.records)


# -- dropout ---------------------------------------------------------------------------------------
def _dropout_case(p: float, seed: int = 5, shape=(4, 50)) -> Case:
    rng = np.random.default_rng(1)
    return Case("dropout", {"x": rng.standard_normal(shape) + 3.0}, {"p": (p,), "seed": (seed,)},
                rng.standard_normal(shape), seed=0)


def _native(forward, backward):
    return load_ns(types.SimpleNamespace(dropout_forward=forward, dropout_backward=backward))


def load_ns(ns):
    from gradcheck.adapters.native import NativeAdapter

    return NativeAdapter(ns, "<ns>")


def test_dropout_checks_are_the_mask_oracle_and_its_statistics():
    keys = check_keys(SPECS["dropout"])
    assert ("forward", "mask") in keys and ("dx", "mask") in keys and ("dx", "fd") in keys
    assert ("mask-statistics", "structure") in keys and ("forward", "torch") not in keys


def test_the_reference_dropout_mask_is_binomial_and_depends_on_the_seed():
    for p in (0.2, 0.5, 0.8):
        case = _dropout_case(p)
        ok, message = mask_statistics(SPECS["dropout"], case, lambda params: reference.dropout_forward(
            case.inputs["x"], p=params["p"][0], seed=params["seed"][0]))
        assert ok, message


def test_a_mask_that_ignores_the_seed_or_drops_too_often_fails_the_statistics():
    case = _dropout_case(0.5)
    x = case.inputs["x"]
    same = mask_statistics(SPECS["dropout"], case, lambda params: reference.dropout_forward(x, p=0.5, seed=1))
    assert not same[0] and "same for every seed" in same[1]
    often = mask_statistics(SPECS["dropout"], case, lambda params: reference.dropout_forward(
        x, p=0.6, seed=params["seed"][0]))
    assert not often[0] and "binomial" in often[1]


def test_a_dropout_backward_with_a_fresh_mask_fails_at_dx():
    def fresh(delta, x, *, p, seed):
        return reference.dropout_backward(delta, x, p=p, seed=seed + 1)

    impl = _native(reference.dropout_forward, fresh)
    recs = evaluate(Runner(impl, "dropout", SPECS["dropout"]), _dropout_case(0.5))
    assert recs[("dx", "mask")].status == "fail" and recs[("dx", "fd")].status == "fail"
    assert recs[("forward", "mask")].status == "pass"


def test_torch_dropout_is_reproducible_by_seeding_its_generator():
    impl = load("torch.nn.functional", "torch")
    case = _dropout_case(0.5)
    first = impl.forward("dropout", case.candidate_inputs(), case.params)
    again = impl.forward("dropout", case.candidate_inputs(), case.params)
    assert np.array_equal(first, again) and 0 < (first == 0).mean() < 1


# -- the hinge ---------------------------------------------------------------------------------------
def _svm_tie_case() -> Case:
    x = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]])  # sample 0: margin of class 1 vs label 0 is exactly 0
    return Case("svm_loss", {"x": x}, {"y": (0, 2)}, np.array(1.5), kind="kink", seed=0)


def test_any_share_of_a_tied_margin_is_valid():
    for share in (0.0, 0.5, 1.0):
        def backward(delta, x, y, share=share):
            dx = reference.svm_loss_backward(delta, x, y)[0].copy()
            tied = (x + 1 - x[np.arange(len(y)), y][:, None]) == 0
            tied[np.arange(len(y)), y] = False
            dx[tied] = share * float(delta) / len(y)
            dx[np.arange(len(y)), y] = 0
            dx[np.arange(len(y)), y] = -dx.sum(axis=1)
            return dx

        impl = load_ns(types.SimpleNamespace(svm_loss_forward=reference.svm_loss_forward, svm_loss_backward=backward))
        recs = evaluate_kink(Runner(impl, "svm_loss", SPECS["svm_loss"]), _svm_tie_case())
        assert recs[("dx", "subgradient")].status == "pass", (share, recs[("dx", "subgradient")].message)


def test_a_tied_share_outside_0_1_or_inconsistent_at_the_label_fails():
    def backward(delta, x, y):
        dx = reference.svm_loss_backward(delta, x, y)[0].copy()
        dx[0, 1] = 2.0 * float(delta) / len(y)  # a share of 2 at the tie; the label's entry not adjusted
        return dx

    impl = load_ns(types.SimpleNamespace(svm_loss_forward=reference.svm_loss_forward, svm_loss_backward=backward))
    rec = evaluate_kink(Runner(impl, "svm_loss", SPECS["svm_loss"]), _svm_tie_case())[("dx", "subgradient")]
    assert rec.status == "fail" and "share c in [0, 1]" in rec.message


def test_softmax_cross_entropy_smooth_cases_reach_logits_of_1e3():
    from gradcheck.cases.strategies import smooth_case

    case = smooth_case("softmax_cross_entropy", {"x": (2, 3)}, {"y": (0, 2)}, seed=1, scale=1e3)
    assert np.abs(case.inputs["x"]).max() > 100
    impl = load("reference", "native")
    recs = evaluate(Runner(impl, "softmax_cross_entropy", SPECS["softmax_cross_entropy"]), case)
    assert not _failing(recs.values()), _failing(recs.values())
