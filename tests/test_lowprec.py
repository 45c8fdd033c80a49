"""Low-precision verdicts: float16 and bfloat16 kernels judged against torch's own error in the
same dtype. Correct kernels that sum another way pass; planted errors fail at their quantity."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gradcheck.adapters import load
from gradcheck.config import RunConfig
from gradcheck.dtypes import Bfloat16Array, carry, round_to
from gradcheck.judge.search import _designed, check_op
from gradcheck.judge.lowprec import K_FRAMEWORK, error_ratios

HERE = Path(__file__).parent / "lowprec"

CORRECT = ["torch.nn.functional", "conv_unfold.py", "conv_channel_loop.py", "conv_fft.py"]
# file -> the quantity its planted error is found at, per dtype (None: correct in that dtype)
PLANTED = {
    "conv_dw_bf16_sequential.py": {"bfloat16": "dw", "float16": "dw"},
    "conv_dx_scaled.py": {"bfloat16": "dx", "float16": "dx"},
    "conv_dx_last_row.py": {"bfloat16": "dx", "float16": "dx"},
    # a float16 forward beside a float32 gradient: every gradient disagrees with the forward's
    # finite differences in bfloat16; in float16 it is torch's own computation
    "conv_forward_fp16.py": {"bfloat16": "dx dw db", "float16": None},
}


def _target(name: str) -> str:
    return name if name.startswith("torch.") else str(HERE / name)


def _cfg(dtype: str) -> RunConfig:
    return RunConfig(isolate=False, dtype=dtype, max_examples=2, kink_examples=0)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", CORRECT)
def test_correct_kernels_that_sum_another_way_pass(name, dtype):
    recs = check_op(load(_target(name), "torch"), "conv2d", "conv2d", _cfg(dtype))
    bad = [(r.key, r.status, r.message[:200]) for r in recs if r.status != "pass"]
    assert not bad, bad


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name", list(PLANTED))
def test_planted_low_precision_errors_fail_at_their_quantity(name, dtype):
    want = PLANTED[name][dtype]
    recs = check_op(load(_target(name), "torch"), "conv2d", "conv2d", _cfg(dtype))
    failed = {r.quantity for r in recs if r.status == "fail"}
    if want is None:
        assert not failed, failed
    else:
        assert set(want.split()) <= failed, [(r.key, r.status) for r in recs]
        assert failed <= set(want.split()) | {"forward"}, failed


def test_k_separates_correct_from_planted_on_measured_ratios():
    # the long reduction among them; these candidates take no groups
    cases = _designed("conv2d", "smooth", {"max_groups": 1}, RunConfig(isolate=False, dtype="bfloat16"))[-3:]
    correct = max(max(error_ratios(load(_target(n), "torch"), "conv2d", "conv2d", "bfloat16", cases).values())
                  for n in CORRECT)
    assert correct <= K_FRAMEWORK
    sequential = error_ratios(load(_target("conv_dw_bf16_sequential.py"), "torch"), "conv2d", "conv2d", "bfloat16", cases)
    assert sequential["dw"] > 2 * K_FRAMEWORK


def test_low_precision_cases_include_a_long_reduction():
    cases = _designed("conv2d", "smooth", {}, RunConfig(isolate=False, dtype="bfloat16"))
    n, _, ho, wo = max(c.delta.shape for c in cases)
    assert n * ho * wo >= 2000


def test_bfloat16_values_travel_as_bfloat16():
    import torch

    a = round_to(np.array([1.0, 1 / 3, 1e3 + 0.7]), "bfloat16")
    assert np.array_equal(torch.tensor(a).to(torch.bfloat16).double().numpy(), a)
    c = carry(a, "bfloat16")
    assert isinstance(c, Bfloat16Array) and c.dtype == np.float32 and np.array_equal(c, a)
    recs = {(r.quantity, r.oracle): r for r in check_op(load("torch.nn.functional", "torch"), "relu", "relu",
                                                        _cfg("bfloat16"))}
    assert recs[("shape-dtype", "structure")].status == "pass"


def test_a_float32_result_for_bfloat16_inputs_is_a_dtype_failure():
    recs = {(r.quantity, r.oracle): r for r in check_op(load(str(HERE / "relu_float32_out.py"), "torch"), "relu", "relu",
                                                        _cfg("bfloat16"))}
    r = recs[("shape-dtype", "structure")]
    assert r.status == "fail" and "float32" in r.message and "bfloat16" in r.message


def test_float16_numpy_sums_in_float16_show_on_the_long_reduction():
    # numpy adds float16 arrays in float16: a 512-term db is then far less accurate than torch's
    recs = {(r.quantity, r.oracle): r for r in check_op(load("reference", "native"), "dense", "dense", _cfg("float16"))}
    assert recs[("db", "torch")].status == "fail" and recs[("dx", "torch")].status == "pass"


def test_float16_numpy_reference_passes_conv_and_pooling():
    impl = load("reference", "native")
    for op in ("conv2d", "max_pool2d", "avg_pool2d"):
        recs = check_op(impl, op, op, _cfg("float16"))
        assert all(r.status in ("pass", "not-provided") for r in recs), \
            [(r.key, r.message[:120]) for r in recs if r.status not in ("pass", "not-provided")]
