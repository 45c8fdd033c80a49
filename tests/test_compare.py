"""compare(): verdicts, the worst element, messages for what a candidate returns."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from gradcheck.cases import SMALL_ARRAY, Case
from gradcheck.judge.compare import compare
from gradcheck.ops import SPECS
from gradcheck.oracles.torch_oracle import torch_run
from gradcheck.records import Record
from gradcheck.oracles.magnitudes import magnitudes
from gradcheck.tolerances import tolerance_for

SHAPE = (2, 1, 2, 3)


def _case(shape=SHAPE, dtype="float64") -> Case:
    x = np.zeros(shape)
    return Case("relu", {"x": x}, {}, np.zeros(shape), dtype=dtype, seed=7)


def _data(shape=SHAPE, seed=0):
    rng = np.random.default_rng(seed)
    expected = rng.standard_normal(shape)
    magnitude = np.abs(expected) + rng.uniform(0.5, 2.0, shape)
    return expected, magnitude


def _bound(dtype, quantity, K, magnitude):
    """The documented per-element bound (tolerances.py), from the tolerance table."""
    tol = tolerance_for(dtype, quantity)
    return tol.atol + tol.rtol(K) * magnitude + tol.normwise * magnitude.max()


def _cmp(actual, expected, magnitude, *, dtype=None, quantity="dx", K=10, case=None, **kw) -> Record:
    case = case or _case(np.shape(expected), dtype or "float64")
    return compare(actual, expected, case=case, quantity=quantity, oracle="torch", reduction=K, magnitude=magnitude,
                   dtype=dtype, **kw)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("quantity,K", [("forward", 1), ("forward", 50), ("dx", 3), ("dw", 4000)])
def test_pass_within_tolerance(dtype, quantity, K):
    expected, mag = _data()
    bound = _bound(dtype, quantity, K, mag)
    signs = np.where(np.arange(expected.size).reshape(expected.shape) % 2, 1.0, -1.0)
    actual = expected + 0.8 * bound * signs  # 0.8: room for the rounding of the sum itself
    rec = _cmp(actual, expected, mag, dtype=dtype, quantity=quantity, K=K)
    assert rec.status == "pass", rec.message
    assert rec.worst is None and rec.arrays is None and rec.counterexample is None and rec.message == ""
    assert rec.examples == 1
    assert rec.max_abs_err == pytest.approx(float(np.abs(actual - expected).max()), rel=1e-6)
    assert rec.tolerance == tolerance_for(dtype, quantity).rtol(K)


@pytest.mark.parametrize("index", [(0, 0, 0, 0), (1, 0, 1, 2), (0, 0, 1, 1)], ids=lambda i: "at" + "".join(map(str, i)))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fail_names_the_worst_element(index, dtype):
    expected, mag = _data(seed=1)
    bound = _bound(dtype, "dx", 10, mag)
    actual = expected + 0.5 * bound
    other = (1, 0, 0, 1) if index != (1, 0, 0, 1) else (0, 0, 0, 2)
    actual[other] = expected[other] + 2.0 * bound[other]  # beyond, but less so
    actual[index] = expected[index] - 5.0 * bound[index]  # the worst, relative to its own bound
    rec = _cmp(actual, expected, mag, dtype=dtype)
    assert rec.status == "fail"
    assert rec.worst.index == list(index)
    assert rec.worst.actual == actual[index]
    assert rec.worst.expected == expected[index]
    assert rec.worst.abs_err == abs(actual[index] - expected[index])
    assert rec.worst.abs_err == pytest.approx(5.0 * bound[index], rel=0.05)
    assert rec.worst.tolerance == pytest.approx(bound[index], rel=1e-12)
    assert "2 of 12 elements beyond tolerance" in rec.message
    assert f"worst at {list(index)}" in rec.message
    assert rec.counterexample is not None and rec.counterexample.seed == 7


def test_the_worst_element_is_judged_against_its_own_bound():
    """A larger absolute error on an element with a larger bound is not the worst."""
    expected = np.zeros((1, 1, 1, 2))
    mag = np.array([[[[1000.0, 1.0]]]])
    bound = _bound("float64", "dx", 10, mag)
    actual = expected + np.array([[[[1.5, 3.0]]]]) * bound
    assert abs(actual[0, 0, 0, 0]) > abs(actual[0, 0, 0, 1])  # the absolute error is larger at [0]
    rec = _cmp(actual, expected, mag)
    assert rec.status == "fail" and rec.worst.index == [0, 0, 0, 1]
    assert "2 of 2 elements" in rec.message


@pytest.mark.parametrize(
    "actual,needles",
    [
        pytest.param(None, ["dx: expected an ndarray of shape (2, 1, 2, 3), got None"], id="None"),
        pytest.param([[1.0, 2.0]], ["got list [[1.0, 2.0]]"], id="list"),
        pytest.param(3.5, ["got float 3.5"], id="python-float"),
        pytest.param(torch.zeros(SHAPE, dtype=torch.float64), ["got torch.Tensor (a numpy array was expected)"],
                     id="torch-tensor"),
        pytest.param(np.zeros((2, 1, 3, 2)), ["dx: shape (2, 1, 3, 2), expected (2, 1, 2, 3)"], id="wrong-shape"),
        pytest.param(np.zeros((2, 1, 2, 3, 1)), ["shape (2, 1, 2, 3, 1), expected (2, 1, 2, 3)"], id="extra-axis"),
        pytest.param(np.zeros(SHAPE, dtype=np.int64), ["dx: dtype int64, expected a floating dtype (float64)"],
                     id="integer-dtype"),
        pytest.param(np.zeros(SHAPE, dtype=bool), ["dtype bool, expected a floating dtype"], id="bool-dtype"),
    ],
)
def test_what_came_back_is_described(actual, needles):
    expected = np.zeros(SHAPE)
    rec = _cmp(actual, expected, np.ones(SHAPE))
    assert rec.status == "fail"
    for needle in needles:
        assert needle in rec.message
    assert rec.counterexample is not None
    assert rec.max_abs_err is None  # no figures for something that is not comparable


def test_a_long_value_is_cut_short_in_the_message():
    rec = _cmp(list(range(1000)), np.zeros(SHAPE), np.ones(SHAPE))
    assert rec.status == "fail" and "..." in rec.message and len(rec.message) < 200


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_non_finite_values_fail_and_are_named(bad, dtype):
    expected, mag = _data(seed=2)
    actual = expected.astype(dtype)
    actual[1, 0, 0, 2] = bad
    rec = _cmp(actual, expected, mag * 1e6, dtype=dtype)  # however generous the bound
    assert rec.status == "fail"
    assert "1 of 12 non-finite values" in rec.message
    assert rec.worst.index == [1, 0, 0, 2]
    assert rec.max_abs_err == np.inf
    err = np.array(rec.arrays["error"])
    assert np.isfinite(err).all()  # the arrays stay JSON-friendly
    assert (err > 1).sum() == 1 and err[1, 0, 0, 2] > 1


@pytest.mark.parametrize("n,small", [(6, True), (SMALL_ARRAY, True), (SMALL_ARRAY + 1, False), (3000, False)],
                         ids=["6", "SMALL_ARRAY", "SMALL_ARRAY+1", "3000"])
def test_arrays_only_for_small_arrays_and_error_above_one_exactly_where_wrong(n, small):
    shape = (1, 1, 1, n)
    expected, mag = _data(shape, seed=3)
    bound = _bound("float32", "dw", 40, mag)  # float32: the bound is far above float64 rounding
    rng = np.random.default_rng(n)
    wrong = rng.random(shape) < 0.3
    wrong.flat[0] = True
    # right elements up to 0.99 of their bound, wrong ones from 1.01 of it
    factor = np.where(wrong, rng.uniform(1.01, 50.0, shape), rng.uniform(0.0, 0.99, shape))
    actual = expected + factor * bound * rng.choice([-1.0, 1.0], shape)
    rec = _cmp(actual, expected, mag, dtype="float32", quantity="dw", K=40)
    assert rec.status == "fail"
    assert f"{int(wrong.sum())} of {n} elements" in rec.message
    if not small:
        assert rec.arrays is None
        return
    assert set(rec.arrays) == {"expected", "actual", "error"}
    np.testing.assert_array_equal(np.array(rec.arrays["expected"]), expected)
    np.testing.assert_array_equal(np.array(rec.arrays["actual"]), actual)
    err = np.array(rec.arrays["error"])
    np.testing.assert_array_equal(err > 1, wrong)
    np.testing.assert_allclose(err, factor, rtol=1e-9)


def test_uncertainty_widens_the_bound_element_by_element():
    expected, mag = _data(seed=4)
    bound = _bound("float64", "dx", 10, mag)
    actual = expected.copy()
    actual[0, 0, 1, 1] += 2.5 * bound[0, 0, 1, 1]
    assert _cmp(actual, expected, mag).status == "fail"
    unc = np.zeros(SHAPE)
    unc[0, 0, 1, 1] = bound[0, 0, 1, 1]  # bound + 2 * uncertainty = 3 * bound > 2.5 * bound
    assert _cmp(actual, expected, mag, uncertainty=unc).status == "pass"
    elsewhere = np.roll(unc, 1)  # the same allowance on another element does not help
    assert _cmp(actual, expected, mag, uncertainty=elsewhere).status == "fail"
    assert _cmp(actual, expected, mag, uncertainty=0.6 * unc).status == "fail"


def test_dtype_argument_overrides_the_case_dtype():
    expected, mag = _data(seed=5)
    actual = expected + 1e3 * _bound("float64", "dx", 10, mag)
    assert _cmp(actual, expected, mag, case=_case(SHAPE, "float64")).status == "fail"
    assert _cmp(actual, expected, mag, case=_case(SHAPE, "float64"), dtype="float32").status == "pass"
    assert _cmp(actual, expected, mag, case=_case(SHAPE, "float32")).status == "pass"


def _mse_case(dtype, seed=0):
    rng = np.random.default_rng(seed)
    y, t = (rng.standard_normal((3, 4)).astype(dtype).astype(np.float64) for _ in "yt")
    return Case("mse", {"y": y, "t": t}, {}, np.array(1.5), dtype=dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_zero_dimensional_mse_forward(dtype):
    case = _mse_case(dtype)
    spec = SPECS["mse"]
    truth, _ = torch_run(spec, case.inputs, case.params, case.delta)
    assert truth.shape == ()
    y, t = (case.inputs[k].astype(dtype) for k in "yt")
    mine = np.asarray(0.5 * ((t - y) ** 2).sum(), dtype=dtype)
    kw = {"case": case, "quantity": "forward", "oracle": "torch", "dtype": dtype,
          "reduction": spec.reduction(case.shapes, {})["forward"], "magnitude": magnitudes(spec, case)["forward"]}
    ok = compare(mine, truth, **kw)
    assert ok.status == "pass", ok.message
    bad = compare(np.asarray(mine * (1 + 1e-3)), truth, **kw)
    assert bad.status == "fail"
    assert bad.worst.index == [] and "1 of 1 elements" in bad.message and "worst at []" in bad.message
    assert bad.arrays["expected"] == float(truth)
    assert compare(np.zeros(1), truth, **kw).message.endswith("shape (1,), expected ()")


def test_relative_error_is_taken_where_the_terms_are_not_all_zero():
    expected = np.array([[[[1.0, 0.0, 2.0]]]])
    mag = np.array([[[[1.0, 0.0, 2.0]]]])
    actual = expected + np.array([[[[0.5, 0.25, 0.0]]]])  # wrong where the magnitude is 1, and where it is 0
    rec = _cmp(actual, expected, mag)
    assert rec.status == "fail"
    assert rec.max_abs_err == 0.5 and rec.max_rel_err == 0.5  # not 0.25 / 1e-300
    assert _cmp(np.full((1, 1, 1, 2), 0.5), np.zeros((1, 1, 1, 2)), np.zeros((1, 1, 1, 2))).max_rel_err == 0.0


def test_a_failure_message_is_figures_then_patterns_and_names_what_it_compares_with():
    expected, mag = _data(seed=3)
    rec = _cmp(np.zeros(SHAPE), expected, mag, expected_name="nearest valid")
    figures, *patterns = rec.message.split("\n")
    assert "nearest valid" in figures and "expected" not in figures
    assert patterns == ["Pattern: your dx is zero everywhere: nothing reaches it (a stub that returns zeros, or a "
                        "result computed but never written back)."]
    shape = _cmp(np.zeros((2, 1, 0, 0)), expected, mag).message.split("\n")
    assert shape[0] == "dx: shape (2, 1, 0, 0), expected (2, 1, 2, 3)" and shape[1].startswith("Pattern: ")
