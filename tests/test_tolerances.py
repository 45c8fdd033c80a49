"""The per-element bound follows the dtype and the length of the sum behind each element.

Correct results in float32 (torch, and the numpy reference run in float32) pass against the
float64 truth on long reductions; the same results with a 1e-3 relative error fail. Float64
likewise with 1e-9. A TF32-rounded conv passes only when TF32 was asked for.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import reference
from gradcheck.cases import Case
from gradcheck.judge.compare import compare
from gradcheck.ops import SPECS
from gradcheck.oracles.torch_oracle import torch_run
from gradcheck.cases.strategies import cases
from gradcheck.oracles.magnitudes import magnitudes
from gradcheck.tolerances import TOLERANCES, UNIT_ROUNDOFF, gamma, tolerance_for

CONV = SPECS["conv2d"]
QUANTITIES = ("forward", "dx", "dw", "db")
#: Long reductions: forward C*k1*k2 + 1 up to 401, dw and db N*Ho*Wo up to a few thousand.
LONG = {"max_batch": 4, "max_channels": 16, "max_filters": 4, "max_kernel": 5, "max_extra": 28}


def _draw(strategy, n: int) -> list:
    """``n`` examples of ``strategy`` (deterministic, no shrinking)."""
    out: list = []

    @settings(max_examples=n, derandomize=True, database=None, deadline=None, phases=[Phase.generate])
    @given(strategy)
    def collect(value):
        out.append(value)

    collect()
    return out


# --- correct implementations in lower precision --------------------------------------------------


def _torch_conv(case: Case, dtype: torch.dtype, inputs=None, delta=None) -> dict[str, np.ndarray]:
    ins = case.inputs if inputs is None else inputs
    t = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in ins.items()}
    o = CONV.torch_forward(t, case.params)
    o.backward(torch.tensor(case.delta if delta is None else delta, dtype=dtype))
    return {"forward": o.detach().numpy(), **{"d" + k: v.grad.numpy() for k, v in t.items()}}


def torch_float32(case: Case) -> dict[str, np.ndarray]:
    return _torch_conv(case, torch.float32)


def kw(case: Case) -> dict:
    """The case's hyper-parameters as the native protocol passes them (groups as an int)."""
    return SPECS[case.op].protocol.call_kwargs(case.params)


def reference_float32(case: Case) -> dict[str, np.ndarray]:
    ins = case.candidate_inputs()
    o = reference.conv2d_forward(ins["x"], ins["w"], ins["b"], **kw(case))
    dx, dw, db = reference.conv2d_backward(case.candidate_delta(), ins["x"], ins["w"], ins["b"], **kw(case))
    out = {"forward": o, "dx": dx, "dw": dw, "db": db}
    assert all(v.dtype == np.float32 for v in out.values())  # really computed in float32
    return out


def reference_float64(case: Case) -> dict[str, np.ndarray]:
    x, w, b = (case.inputs[k] for k in "xwb")
    dx, dw, db = reference.conv2d_backward(case.delta, x, w, b, **kw(case))
    return {"forward": reference.conv2d_forward(x, w, b, **kw(case)), "dx": dx, "dw": dw, "db": db}


def _tf32(a: np.ndarray) -> np.ndarray:
    """``a`` rounded to TF32's 10 explicit mantissa bits (11 significant bits)."""
    m, e = np.frexp(np.asarray(a, np.float64))
    return np.ldexp(np.round(m * 2.0**11) / 2.0**11, e)


def tf32_conv(case: Case) -> dict[str, np.ndarray]:
    """conv2d as a TF32 tensor core does it: operands rounded to TF32, products summed wide."""
    ins = {"x": _tf32(case.inputs["x"]), "w": _tf32(case.inputs["w"]), "b": case.inputs["b"]}
    return _torch_conv(case, torch.float64, ins, _tf32(case.delta))


def _truth(case: Case) -> dict[str, np.ndarray]:
    o, grads = torch_run(CONV, case.inputs, case.params, case.delta)
    return {"forward": o, **grads}


def _records(case: Case, actual: dict[str, np.ndarray], dtype: str | None = None, truth=None, reduction=None):
    truth = truth or _truth(case)
    K, mags = CONV.reduction(case.shapes, case.params), magnitudes(CONV, case)
    return {q: compare(actual[q], truth[q], case=case, quantity=q, oracle="torch",
                       reduction=K[q] if reduction is None else reduction, magnitude=mags[q], dtype=dtype)
            for q in QUANTITIES}


# --- no false alarms on long reductions ---------------------------------------------------------


def _K(case: Case, q: str) -> int:
    return CONV.reduction(case.shapes, case.params)[q]


#: Hypothesis cases of three kinds: anything, long forward sums, long dw and db sums.
REGIMES = {
    "any": cases("conv2d", dtype="float32", **LONG),
    "forward-K>=150": cases("conv2d", dtype="float32", **LONG).filter(lambda c: _K(c, "forward") >= 150),
    "dw-K>=1000": cases("conv2d", dtype="float32", max_batch=4, max_channels=2, max_filters=2, max_kernel=3,
                        max_extra=40).filter(lambda c: _K(c, "dw") >= 1000),
}


@pytest.mark.parametrize("regime", list(REGIMES))
@pytest.mark.parametrize("impl", [torch_float32, reference_float32], ids=["torch", "reference"])
@settings(max_examples=8)
@given(data=st.data())
def test_correct_float32_conv2d_passes(impl, regime, data):
    case = data.draw(REGIMES[regime])
    recs = _records(case, impl(case))
    assert all(r.status == "pass" for r in recs.values()), [r.message for r in recs.values() if r.status != "pass"]


def _long_case(shapes, params, seed=0, scale=1.0, dtype="float32") -> Case:
    rng = np.random.default_rng(seed)
    inputs = {k: (rng.standard_normal(s) * scale).astype(dtype).astype(np.float64) for k, s in shapes.items()}
    inputs["w"] /= scale
    delta = rng.standard_normal(CONV.out_shape(shapes, params)).astype(dtype).astype(np.float64)
    return Case("conv2d", inputs, params, delta, dtype=dtype, seed=seed)


P1 = {"stride": (1, 1), "padding": (0, 0), "dilation": (1, 1)}
LONG_CASES = {
    # id: (shapes, params, {quantity: its reduction length})
    "forward-K=401": ({"x": (1, 16, 7, 7), "w": (2, 16, 5, 5), "b": (2,)}, P1, {"forward": 401}),
    "forward-K=577-dilated": ({"x": (1, 64, 9, 9), "w": (2, 64, 3, 3), "b": (2,)},
                              {"stride": (1, 1), "padding": (1, 1), "dilation": (2, 2)}, {"forward": 577}),
    "dx-K=800": ({"x": (1, 2, 9, 9), "w": (32, 2, 5, 5), "b": (32,)}, P1, {"dx": 800}),
    "dw-db-K=3600": ({"x": (4, 2, 32, 32), "w": (2, 2, 3, 3), "b": (2,)}, P1, {"dw": 3600, "db": 3600}),
    "dw-db-K=4096-padded": ({"x": (1, 3, 64, 64), "w": (2, 3, 3, 3), "b": (2,)},
                            {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1)}, {"dw": 4096, "db": 4096}),
}


@pytest.mark.parametrize("scale", [1.0, 1e-3, 1e3], ids=lambda s: f"scale={s:g}")
@pytest.mark.parametrize("impl", [torch_float32, reference_float32], ids=["torch", "reference"])
@pytest.mark.parametrize("name", list(LONG_CASES))
def test_long_reductions_in_float32_pass(name, impl, scale):
    shapes, params, lengths = LONG_CASES[name]
    case = _long_case(shapes, params, scale=scale)
    K = CONV.reduction(case.shapes, case.params)
    assert {q: K[q] for q in lengths} == lengths  # the case is as long as it says
    recs = _records(case, impl(case))
    assert all(r.status == "pass" for r in recs.values()), [r.message for r in recs.values() if r.status != "pass"]


# --- but a relative error of 1e-3 (float32) or 1e-9 (float64) fails ------------------------------
#
# Judged on the same cases with every value made non-negative: then nothing cancels, each element is
# as large as the sum of its terms (|o| = M), and a relative error is an error relative to M. (Where
# terms cancel, |o| << M and rounding may legitimately be larger than 1e-3 |o|: that is what M is for.)


def _positive(case: Case) -> Case:
    return Case(case.op, {k: np.abs(v) for k, v in case.inputs.items()}, case.params, np.abs(case.delta),
                kind=case.kind, dtype=case.dtype, seed=case.seed)


def _perturbed(case, actual, rel, how):
    """Per quantity: (the record of ``actual`` with a relative error ``rel``, where it was put, K)."""
    truth, mags = _truth(case), magnitudes(CONV, case)
    K = CONV.reduction(case.shapes, case.params)
    out = {}
    for q in QUANTITIES:
        if not truth[q].any():
            continue  # every window in the padding: dx and dw are 0, there is nothing to scale
        a = np.array(actual[q], dtype=np.float64)
        where = tuple(int(i) for i in np.unravel_index(int(np.argmax(truth[q])), truth[q].shape))
        if how == "scaled":
            a *= 1 + rel
        else:
            a[where] *= 1 + rel
        rec = compare(a, truth[q], case=case, quantity=q, oracle="torch", reduction=K[q], magnitude=mags[q])
        out[q] = (rec, where, K[q])
    return out


#: The float32 gradient bound is about 8 K u M, so 1e-3 M is beyond it for reductions of up to
#: about two thousand terms: these limits keep dw and db below that (N Ho Wo <= 2 * 26 * 26).
FLOAT32_VISIBLE = {"max_batch": 2, "max_channels": 16, "max_filters": 4, "max_kernel": 5, "max_extra": 20}
VISIBLE_REGIMES = {
    "any": cases("conv2d", dtype="float32", **FLOAT32_VISIBLE),
    "forward-K>=150": cases("conv2d", dtype="float32", **FLOAT32_VISIBLE).filter(lambda c: _K(c, "forward") >= 150),
    "dw-K>=500": cases("conv2d", dtype="float32", **{**FLOAT32_VISIBLE, "max_channels": 2}).filter(
        lambda c: _K(c, "dw") >= 500),
}


@pytest.mark.parametrize("regime", list(VISIBLE_REGIMES))
@pytest.mark.parametrize("how", ["scaled", "one-element"])
@settings(max_examples=8)
@given(data=st.data())
def test_float32_relative_error_of_1e_3_fails(how, regime, data):
    case = _positive(data.draw(VISIBLE_REGIMES[regime]))
    assert all(r.status == "pass" for r in _records(case, torch_float32(case)).values())
    for q, (rec, where, K) in _perturbed(case, torch_float32(case), 1e-3, how).items():
        assert rec.status == "fail", (q, K)
        assert how == "scaled" or tuple(rec.worst.index) == where


@pytest.mark.parametrize("how", ["scaled", "one-element"])
@settings(max_examples=15)
@given(case=cases("conv2d", **LONG))
def test_float64_relative_error_of_1e_9_fails(how, case):
    assert all(r.status == "pass" for r in _records(case, reference_float64(case)).values())
    case = _positive(case)
    assert all(r.status == "pass" for r in _records(case, reference_float64(case)).values())
    for q, (rec, where, K) in _perturbed(case, reference_float64(case), 1e-9, how).items():
        assert rec.status == "fail", (q, K)
        assert how == "scaled" or tuple(rec.worst.index) == where


@pytest.mark.parametrize("name", list(LONG_CASES))
def test_float64_long_reductions_pass_and_1e_9_fails(name):
    shapes, params, lengths = LONG_CASES[name]
    case = _long_case(shapes, params, dtype="float64")
    assert all(r.status == "pass" for r in _records(case, reference_float64(case)).values())
    case = _positive(case)
    for q in lengths:
        rec, _, _ = _perturbed(case, reference_float64(case), 1e-9, "one-element")[q]
        assert rec.status == "fail"


@pytest.mark.parametrize("name", [n for n in LONG_CASES if "forward" in n or "dx" in n])
def test_float32_long_reductions_1e_3_fails(name):
    shapes, params, lengths = LONG_CASES[name]
    case = _positive(_long_case(shapes, params))
    for q in lengths:
        rec, _, _ = _perturbed(case, torch_float32(case), 1e-3, "one-element")[q]
        assert rec.status == "fail"


# --- the bound follows the dtype -----------------------------------------------------------------


def test_a_float32_result_fails_float64_tolerances():
    inexact = 0
    for case in _draw(cases("conv2d", dtype="float32"), 10):
        actual, truth = torch_float32(case), _truth(case)
        for q, rec in _records(case, actual, dtype="float64", truth=truth).items():
            exact = np.array_equal(actual[q], truth[q])
            inexact += not exact
            assert rec.status == ("pass" if exact else "fail"), q
    assert inexact >= 20  # most results are not exact in float32


def test_tf32_is_held_to_tf32_roundoff_only_when_asked_for():
    drawn = _draw(cases("conv2d", dtype="float32"), 12)
    failed_as_float32 = 0
    for case in drawn:
        tf32 = tf32_conv(case)
        assert all(r.status == "pass" for r in _records(case, tf32, dtype="tf32").values())
        failed_as_float32 += any(r.status == "fail" for r in _records(case, tf32, dtype="float32").values())
    assert failed_as_float32 >= len(drawn) - 1


def test_tf32_roundoff_is_larger_than_float32s():
    assert UNIT_ROUNDOFF["float64"] < UNIT_ROUNDOFF["float32"] < UNIT_ROUNDOFF["tf32"] <= UNIT_ROUNDOFF["bfloat16"]
    for q in QUANTITIES:
        lo, hi = tolerance_for("float32", q), tolerance_for("tf32", q)
        assert hi.normwise > lo.normwise
        for K in (1, 10, 401, 4096, 10**6):
            assert hi.rtol(K) > lo.rtol(K)


def test_every_dtype_has_both_kinds_of_tolerance():
    assert set(TOLERANCES) == set(UNIT_ROUNDOFF)
    for dtype, kinds in TOLERANCES.items():
        assert set(kinds) == {"forward", "grad"}
        for q in QUANTITIES:
            assert tolerance_for(dtype, q).u == UNIT_ROUNDOFF[dtype]
        assert tolerance_for(dtype, "dx") is kinds["grad"] and tolerance_for(dtype, "forward") is kinds["forward"]


# --- the bound follows the length of the sum -------------------------------------------------------


@pytest.mark.parametrize("term,K", [(0.1, 1000), (0.1, 10000), (1 / 3, 10000)],
                         ids=["0.1x1000", "0.1x10000", "1/3x10000"])
def test_naive_float32_sum_passes_at_its_length_only(term, K):
    """A left-to-right float32 sum of K equal terms is correct, and off by about K u |sum|."""
    terms = np.full(K, term, dtype=np.float32)
    actual = np.cumsum(terms, dtype=np.float32)[-1:]  # sequential, in float32
    exact = terms.astype(np.float64).sum(keepdims=True)
    case = Case("relu", {"x": np.zeros((1,))}, {}, np.zeros((1,)), dtype="float32")
    kw = {"case": case, "quantity": "forward", "oracle": "torch", "magnitude": exact}
    assert compare(actual, exact, reduction=K, **kw).status == "pass"
    assert compare(actual, exact, reduction=K // 100, **kw).status == "fail"
    assert compare(actual, exact, reduction=K, dtype="float64", **kw).status == "fail"


@settings(max_examples=40)
@given(K=st.integers(1, 10**9), L=st.integers(1, 10**9), u=st.sampled_from(sorted(UNIT_ROUNDOFF.values())))
def test_gamma_is_monotone_in_the_length(K, L, u):
    lo, hi = sorted((K, L))
    assert np.isfinite(gamma(hi, u))
    assert gamma(lo, u) <= gamma(hi, u)
    assert gamma(lo, u) >= lo * u  # never below the first-order term


@pytest.mark.parametrize("K", [1, 2, 100, 4096, 10**5, 10**8])
def test_gamma_is_monotone_in_the_roundoff(K):
    values = [gamma(K, u) for u in sorted(UNIT_ROUNDOFF.values())]
    assert values == sorted(values)


@pytest.mark.parametrize("u", sorted(UNIT_ROUNDOFF.values()), ids=sorted(UNIT_ROUNDOFF, key=UNIT_ROUNDOFF.get))
def test_gamma_is_continuous_where_it_is_capped(u):
    K = int(0.5 / u)  # K u = 1/2: the cap takes over here
    below, at, above = gamma(K - 1, u), gamma(K, u), gamma(K + 1, u)
    assert below <= at <= above and above - below < 0.05
    assert gamma(1, u) == pytest.approx(u / (1 - u), rel=1e-15)


@pytest.mark.parametrize("dtype, wrong_by", [("float64", 1e-10), ("float32", 1e-3)])
def test_an_fft_convolution_is_judged_by_the_norms_of_its_operands(dtype, wrong_by):
    """An FFT correlation's rounding scales with the whole input, including the element this
    case's stride, padding and dilation never read: the normwise bound admits it (it was 2.2
    times the elementwise bound here), and a real error still fails."""
    from gradcheck.adapters.loader import load_target
    from gradcheck.adapters.native import NativeAdapter
    from gradcheck.cases.case import Case
    from gradcheck.dtypes import round_to
    from gradcheck.judge.battery import Runner, evaluate

    path = Path(__file__).resolve().parent / "candidates" / "native_conv1d_fft.py"
    impl = NativeAdapter(load_target(str(path)), "fft")
    inputs = {"x": np.array([[[-2.221, 0.026]]]), "w": np.array([[[-0.539]]]), "b": np.array([-1.129])}
    case = Case("conv1d", {k: round_to(v, dtype) for k, v in inputs.items()},
                {"stride": (2,), "padding": (1,), "dilation": (2,), "groups": (1,)},
                round_to(np.array([[[-2.442, 0.7654]]]), dtype), dtype=dtype, seed=0)
    recs = evaluate(Runner(impl, "conv1d", SPECS["conv1d"]), case)
    assert all(r.status == "pass" for r in recs.values()), {k: r.message for k, r in recs.items() if r.status != "pass"}
    from gradcheck.judge.compare import compare
    from gradcheck.oracles.magnitudes import magnitudes, normwise_scales

    dw = np.array([[[0.0199]]])  # a relative error of wrong_by is far beyond the normwise bound
    rec = compare(dw * (1 + wrong_by), dw, case=case, quantity="dw", oracle="torch", reduction=2,
                  magnitude=magnitudes(SPECS["conv1d"], case)["dw"], normwise=normwise_scales(SPECS["conv1d"], case)["dw"])
    assert rec.status == "fail"
