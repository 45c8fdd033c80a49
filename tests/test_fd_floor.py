"""Element-wise finite differences at the colouring's floor: step halving only where the first
estimate is inconclusive changes no verdict; stacked copies change no estimate beyond its bound
and are refused by a candidate whose samples are not independent."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck.ops import footprints
from gradcheck.cases import Case
from gradcheck.ops import SPECS
from gradcheck.judge.fd_check import elementwise_check
from gradcheck.oracles.fd import allowed_error, finite_differences
from gradcheck.oracles.torch_oracle import torch_run
from gradcheck.cases.strategies import cases
from gradcheck.oracles.magnitudes import magnitudes

SMALL = {"max_batch": 2, "max_channels": 2, "max_extra": 3}
CONV = {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1)}


def _fwd(spec, case, calls=None):
    """The op's forward in torch, any batch size; ``calls`` collects the batch of each call."""
    import torch

    def f(inputs):
        if calls is not None:
            calls.append(next(iter(inputs.values())).shape[0])
        with torch.no_grad():
            return spec.torch_forward({k: torch.tensor(v) for k, v in inputs.items()}, case.params).numpy()

    return f


def _verdicts(actual, exp, allowed):
    return {q: np.abs(actual[q] - exp.grads[q]) <= allowed[q] + 2 * exp.uncertainty[q] for q in exp.grads}


@pytest.mark.parametrize("op", list(SPECS))
@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_refining_only_inconclusive_colours_changes_no_verdict(op, data):
    """Per element, pass/fail is the same as with step halving everywhere, for right and wrong
    gradients alike, wrong by amounts around their bound."""
    spec = SPECS[op]
    case = data.draw(cases(op, **(SMALL if "max_extra" in SPECS[op].family.small else {})))
    fwd = _fwd(spec, case)
    mags = magnitudes(spec, case)
    K = spec.reduction(case.shapes, case.params)
    allowed = {q: allowed_error(q, mags[q], K[q], "float64") for q in spec.grads}
    full = finite_differences(spec, case, fwd, forward_magnitude=mags["forward"])
    truth = torch_run(spec, case.inputs, case.params, case.delta)[1]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    actual = {}
    for q, g in truth.items():
        bound = allowed[q] + 2 * full.uncertainty[q]
        off = rng.choice([0.0, 0.5, 0.9, 1.1, 3.0], size=g.shape) * bound * rng.choice([-1.0, 1.0], size=g.shape)
        actual[q] = g + off * (rng.random(g.shape) < 0.3)
    report: dict = {}
    fast = finite_differences(spec, case, fwd, forward_magnitude=mags["forward"], against=actual, allowed=allowed,
                              report=report)
    want, got = _verdicts(actual, full, allowed), _verdicts(actual, fast, allowed)
    for q in want:
        assert (want[q] == got[q]).all(), q
        assert report[q]["refined"] <= report[q]["colours"]


@pytest.mark.parametrize("omega", [30.0, 300.0])
def test_the_same_where_truncation_decides(omega):
    """A forward that bends fast, ``sin(omega x)``, one element at a time: the step halving's
    truncation estimate decides verdicts the first estimate alone would get wrong, and refining
    only where the first estimate is inconclusive still decides every one the same way."""
    from gradcheck.oracles.fd import _steps

    spec = SPECS["tanh"]  # an element-wise op: K = 4
    rng = np.random.default_rng(int(omega))
    x = rng.uniform(-1, 1, (2, 3, 6, 6))
    delta = rng.standard_normal(x.shape)
    case = Case("tanh", {"x": x}, {}, delta)

    def fwd(inputs):
        return np.sin(omega * inputs["x"])

    fm = np.ones(x.shape)
    full = finite_differences(spec, case, fwd, single=True, forward_magnitude=fm)
    true = delta * omega * np.cos(omega * x)
    allowed = {"dx": np.full(x.shape, 1e-12)}
    bound = allowed["dx"] + 2 * full.uncertainty["dx"]
    actual = {"dx": true + rng.choice([0.0, 0.5, 0.9, 1.1, 2.0], size=x.shape) * bound * rng.choice([-1.0, 1.0], size=x.shape)}
    report: dict = {}
    fast = finite_differences(spec, case, fwd, single=True, forward_magnitude=fm, against=actual, allowed=allowed,
                              report=report)
    want, got = _verdicts(actual, full, allowed)["dx"], _verdicts(actual, fast, allowed)["dx"]
    assert (want == got).all()
    assert 0 < report["dx"]["refined"] < report["dx"]["colours"]
    # the first estimate with its rounding bound alone would decide some elements otherwise
    h = _steps(x, float(np.finfo(np.float64).eps))
    g1 = delta * (np.sin(omega * (x + h)) - np.sin(omega * (x - h))) / ((x + h) - (x - h))
    rounding = 2 * 4 * np.finfo(np.float64).eps * np.abs(delta) * np.maximum(np.abs(np.sin(omega * x)), fm) / h
    first = np.abs(actual["dx"] - g1) <= allowed["dx"] + 2 * rounding
    assert (first != want).any()


def _conv_case(x=(2, 3, 9, 9), w=(4, 3, 3, 3), seed=0):
    rng = np.random.default_rng(seed)
    inputs = {"x": rng.standard_normal(x), "w": rng.standard_normal(w), "b": rng.standard_normal(w[0])}
    spec = SPECS["conv2d"]
    return spec, Case("conv2d", inputs, CONV, rng.standard_normal(spec.out_shape({k: v.shape for k, v in inputs.items()}, CONV)))


def _colours(spec, case):
    return sum(int(footprints.colours(spec.footprints[n], case.inputs[n].shape, case.params, case.shapes["w"]).max()) + 1
               for n in spec.grad_inputs)


def test_a_correct_conv_costs_two_evaluations_a_colour_and_a_wrong_element_one_more_pair():
    spec, case = _conv_case()
    truth = torch_run(spec, case.inputs, case.params, case.delta)[1]
    mags = magnitudes(spec, case)
    calls: list[int] = []
    report: dict = {}
    recs = elementwise_check(spec, "conv2d", case, _fwd(spec, case, calls), truth, mags=mags, dtype="float64",
                             confirm_limit=0, report=report)
    assert all(r.status == "pass" for r in recs.values())
    assert len(calls) == 1 + 2 * _colours(spec, case) and all(r["refined"] == 0 for r in report.values())
    wrong = {**truth, "dx": truth["dx"].copy()}
    wrong["dx"][1, 2, 4, 5] += 0.01
    calls.clear()
    recs = elementwise_check(spec, "conv2d", case, _fwd(spec, case, calls), wrong, mags=mags, dtype="float64",
                             confirm_limit=0, report=report)
    assert recs["dx"].status == "fail" and recs["dx"].worst.index == [1, 2, 4, 5]
    assert recs["dw"].status == "pass" and recs["db"].status == "pass"
    # one more pair for the wrong element's colour, and the Taylor remainder of the worst (1 + 9 steps)
    assert report["dx"]["refined"] == 1 and len(calls) == 1 + 2 * _colours(spec, case) + 2 + 10


def test_stacked_copies_agree_with_one_call_each_and_take_fewer_calls():
    spec, case = _conv_case()
    fwd = _fwd(spec, case)
    one = finite_differences(spec, case, fwd)
    calls: list[int] = []
    report: dict = {}
    stacked = finite_differences(spec, case, _fwd(spec, case, calls), stack=True, report=report)
    assert report["dx"]["copies"] > 1 and report["dw"]["copies"] == 1  # only the batch-major input stacks
    n = case.inputs["x"].shape[0]
    assert max(calls) > n and len(calls) < 1 + 4 * _colours(spec, case)
    for q in one.grads:
        assert (np.abs(stacked.grads[q] - one.grads[q]) <= one.uncertainty[q] + stacked.uncertainty[q]).all(), q


def test_a_candidate_whose_samples_interact_is_not_stacked():
    """Subtracting the batch mean couples the samples: the probe sees it, nothing is stacked."""
    spec, case = _conv_case()

    def coupled(inputs):
        import torch

        t = {k: torch.tensor(v) for k, v in inputs.items()}
        y = spec.torch_forward(t, case.params)
        return (y - y.mean(dim=0, keepdim=True)).numpy()

    report: dict = {}
    stacked = finite_differences(spec, case, coupled, stack=True, report=report)
    plain = finite_differences(spec, case, coupled)
    assert report["dx"]["copies"] == 1
    assert np.array_equal(stacked.grads["dx"], plain.grads["dx"])


def test_a_candidate_that_refuses_another_batch_size_is_not_stacked():
    spec, case = _conv_case()
    fwd = _fwd(spec, case)
    n = case.inputs["x"].shape[0]

    def strict(inputs):
        if inputs["x"].shape[0] != n:
            raise ValueError("batch size is fixed")
        return fwd(inputs)

    report: dict = {}
    stacked = finite_differences(spec, case, strict, stack=True, report=report)
    assert report["dx"]["copies"] == 1
    assert np.array_equal(stacked.grads["dx"], finite_differences(spec, case, fwd).grads["dx"])
