"""batch_norm (training mode) and layer_norm: the reference passes, cancellation and variance 0 raise no false
alarm, the CS231n pairs are found, and the classic bugs are caught where they are."""
from __future__ import annotations

import numpy as np
import pytest

import gradcheck
import reference
from gradcheck.cases import Case
from gradcheck.judge.battery import Runner, evaluate
from gradcheck.adapters.native import NativeAdapter
from gradcheck.ops import SPECS

FEW = dict(max_examples=10, kink_examples=0, isolate=False)
PAIR = {"batch_norm": (reference.batch_norm_forward, reference.batch_norm_backward)}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_reference_passes_and_covers_both_layouts(dtype):
    result = gradcheck.check(PAIR, ops="batch_norm", dtype=dtype, **FEW)
    assert result.passed, [r.message for r in result.records if r.status != "pass"]
    covered = set().union(*(set(r.covered or ()) for r in result.records))
    assert {"N>1", "F>1", "spatial"} <= covered


@pytest.mark.parametrize("shape,scale", [((2, 3), 1e3), ((2, 3), 1e-3), ((1, 4), 1.0), ((1, 2, 1, 1), 1.0)],
                         ids=["N=2 large", "N=2 small", "N=1", "one value per channel"])
def test_nearly_cancelling_and_zero_variance_cases_are_no_false_alarm(shape, scale):
    rng = np.random.default_rng(7)
    f = shape[1]
    case = Case("batch_norm", {"x": rng.standard_normal(shape) * scale, "gamma": rng.standard_normal(f),
                               "beta": rng.standard_normal(f)}, {}, rng.standard_normal(shape), seed=7)
    recs = evaluate(Runner(NativeAdapter(reference, "reference"), "batch_norm", SPECS["batch_norm"]), case)
    bad = {k: r.message for k, r in recs.items() if r.status != "pass"}
    assert bad == {}


def test_the_cs231n_pairs_are_checked_each_within_its_layout():
    def forward(x, gamma, beta, bn_param):
        return reference.batch_norm_forward(x, gamma, beta, eps=bn_param["eps"]), (x, gamma, beta, bn_param["eps"])

    def backward(dout, cache):
        x, gamma, beta, eps = cache
        return reference.batch_norm_backward(dout, x, gamma, beta, eps=eps)

    flat = gradcheck.check({"batch_norm": (forward, backward)}, api="cs231n", ops="batch_norm", **FEW)
    assert flat.passed, [r.message for r in flat.records if r.status != "pass"]
    dx = next(r for r in flat.records if (r.quantity, r.oracle) == ("dx", "torch"))
    assert "spatial" in dx.excluded and "spatial" not in dx.covered  # batchnorm_* is never given NCHW input
    both = gradcheck.check({"batch_norm": (forward, backward), "batch_norm:spatial": (forward, backward)},
                           api="cs231n", ops="batch_norm,batch_norm:spatial", **FEW)
    assert both.passed and any("spatial" in (r.covered or ()) for r in both.records)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_layer_norm_reference_passes_with_its_samples_independent(dtype):
    pair = {"layer_norm": (reference.layer_norm_forward, reference.layer_norm_backward)}
    result = gradcheck.check(pair, ops="layer_norm", dtype=dtype, **FEW)
    assert result.passed, [r.message for r in result.records if r.status != "pass"]
    assert any(r.quantity == "batch-independence" and r.status == "pass" for r in result.records)


def test_the_cs231n_layernorm_pair_is_found():
    def forward(x, gamma, beta, ln_param):
        return reference.layer_norm_forward(x, gamma, beta, eps=ln_param["eps"]), (x, gamma, beta)

    def backward(dout, cache):
        return reference.layer_norm_backward(dout, *cache)

    result = gradcheck.check({"layer_norm": (forward, backward)}, api="cs231n", ops="layer_norm", **FEW)
    assert result.passed, [r.message for r in result.records if r.status != "pass"]
