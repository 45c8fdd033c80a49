"""The torch adapter on CUDA: correct float32 kernels pass, TF32 only when asked for, bugs fail.

Runs where torch sees a CUDA device; elsewhere each test is skipped with the reason.
"""
from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch")

from gradcheck.config import RunConfig  # noqa: E402
from gradcheck.run.runner import run_check  # noqa: E402

HERE = Path(__file__).parent / "cuda"


def _run(target, dtype, ops, **kw):
    return run_check(target, "torch", RunConfig(ops=ops, dtype=dtype, device="cuda", max_examples=6, kink_examples=3, **kw))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_torch_functional_passes_on_cuda(dtype):
    run = _run("torch.nn.functional", dtype, ["conv2d", "relu", "sigmoid", "tanh", "max_pool2d", "avg_pool2d"])
    assert run.passed, [f"{r.key}: {r.message}" for r in run.records if r.status != "pass"]


def test_tf32_passes_when_asked_for():
    run = _run("torch.nn.functional", "float32", ["conv2d"], allow_tf32=True)
    assert run.passed, [f"{r.key}: {r.message}" for r in run.records if r.status != "pass"]


@pytest.mark.parametrize("name, quantity", [("conv_dw_scaled.py", "dw"), ("conv_tf32_inside.py", "forward")])
def test_cuda_bugs_are_caught(name, quantity):
    run = _run(str(HERE / name), "float32", ["conv2d"])
    assert not run.passed
    assert quantity in {r.quantity for r in run.records if r.status == "fail"}


LOWPREC = Path(__file__).parent / "lowprec"


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_torch_functional_passes_in_low_precision_on_cuda(dtype):
    run = _run("torch.nn.functional", dtype, ["conv2d", "relu", "sigmoid", "tanh", "max_pool2d", "avg_pool2d", "dense"])
    assert run.passed, [f"{r.key}: {r.message}" for r in run.records if r.status not in ("pass", "not-provided")]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name, quantity", [("conv_dx_scaled.py", "dx"), ("conv_dw_bf16_sequential.py", "dw")])
def test_low_precision_bugs_are_caught_on_cuda(name, quantity, dtype):
    run = _run(str(LOWPREC / name), dtype, ["conv2d"])
    assert quantity in {r.quantity for r in run.records if r.status == "fail"}


def test_tf32_is_judged_against_torch_own_tf32_error():
    # a conv that computes in TF32 itself passes when TF32 was asked for (judged like torch's
    # own TF32 kernel), and fails when it was not
    inside = str(HERE / "conv_tf32_inside.py")
    assert _run(inside, "float32", ["conv2d"], allow_tf32=True).passed
    assert not _run(inside, "float32", ["conv2d"]).passed
