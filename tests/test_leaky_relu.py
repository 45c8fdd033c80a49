"""leaky_relu: o = x for x > 0, 0.01 x otherwise; at 0 any slope in [0.01, 1] is valid."""
from __future__ import annotations

import numpy as np
import pytest

import gradcheck
import reference

FEW = dict(max_examples=8, kink_examples=4, isolate=False)


def _statuses(result):
    return {(r.quantity, r.oracle): r.status for r in result.records if r.op == "leaky_relu"}


def test_the_reference_passes_every_check():
    result = gradcheck.check({"leaky_relu": (reference.leaky_relu_forward, reference.leaky_relu_backward)}, ops="leaky_relu",
                             **FEW)
    assert result.passed, [r.message for r in result.records if r.status != "pass"]
    assert ("dx", "subgradient") in _statuses(result)


def test_a_backward_with_relus_derivative_fails_at_dx():
    def backward(delta, x):
        return delta * (x > 0)  # forgets the 0.01 slope

    result = gradcheck.check({"leaky_relu": (reference.leaky_relu_forward, backward)}, ops="leaky_relu", **FEW)
    s = _statuses(result)
    assert s[("dx", "fd")] == s[("dx", "torch")] == s[("dx", "subgradient")] == "fail"
    assert s[("forward", "torch")] == "pass"


@pytest.mark.parametrize("at_zero,valid", [(1.0, True), (0.5, True), (0.01, True), (0.0, False)])
def test_the_derivative_at_zero_may_be_any_slope_between_the_two_sides(at_zero, valid):
    def backward(delta, x):
        return delta * np.where(x > 0, 1.0, np.where(x < 0, 0.01, at_zero))

    result = gradcheck.check({"leaky_relu": (reference.leaky_relu_forward, backward)}, ops="leaky_relu", **FEW)
    rec = next(r for r in result.records if (r.quantity, r.oracle) == ("dx", "subgradient"))
    assert (rec.status == "pass") is valid, rec.message
    if not valid:
        assert "For leaky ReLU, at x = 0 the derivative may be any c in [0.01, 1]" in rec.message


def test_the_reference_agrees_with_torch():
    import torch

    x = np.linspace(-2, 2, 41)
    t = torch.tensor(x, requires_grad=True)
    o = torch.nn.functional.leaky_relu(t)
    o.backward(torch.ones_like(t))
    assert np.allclose(reference.leaky_relu_forward(x), o.detach().numpy())
    assert np.allclose(reference.leaky_relu_backward(np.ones_like(x), x), t.grad.numpy())
