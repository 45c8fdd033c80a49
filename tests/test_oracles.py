"""The three oracles agree with one another on every op they cover, and can tell right from wrong."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck.ops import SPECS
from gradcheck.oracles import finite_differences, scipy_oracle, torch_oracle
from gradcheck.oracles.fd import convergence, directional
from gradcheck.oracles.torch_oracle import torch_run
from gradcheck.cases.strategies import cases
from gradcheck.oracles.magnitudes import magnitudes

SMALL = {"max_batch": 2, "max_channels": 2, "max_extra": 3}


def _limits(op):
    """Small cases: SMALL where the op's geometry takes it (windowed ops), else its defaults."""
    return SMALL if "max_extra" in SPECS[op].family.small else {}


def _fwd(spec, case):
    return lambda inputs: torch_run(spec, inputs, case.params, case.delta)[0]


@pytest.mark.parametrize("op", [op for op, s in SPECS.items() if s.scipy])
@settings(max_examples=15)
@given(data=st.data())
def test_scipy_agrees_with_torch(op, data):
    spec = SPECS[op]
    case = data.draw(cases(op, **_limits(op)))
    want, got = torch_oracle(spec, case), scipy_oracle(spec, case)
    if got is None:
        return
    mags = magnitudes(spec, case)
    for q, v in got.quantities().items():
        err = np.abs(v - want.quantities()[q])
        assert (err <= 1e-12 * (mags[q] + 1e-300) + 1e-300).all(), (q, float(err.max()))


@pytest.mark.parametrize("op", list(SPECS))
@settings(max_examples=8)
@given(data=st.data())
def test_finite_differences_agree_with_torch_within_their_error_bound(op, data):
    spec = SPECS[op]
    case = data.draw(cases(op, **_limits(op)))
    fd, want = finite_differences(spec, case, _fwd(spec, case)), torch_oracle(spec, case)
    for q, v in fd.grads.items():
        err = np.abs(v - want.grads[q])
        assert (err <= fd.uncertainty[q] + 1e-300).all(), (q, float(err.max()))
        # and the bound is informative, not vacuous: far below the size of what is summed
        mags = magnitudes(spec, case)
        scale = float(mags[q].max()) + float(np.abs(case.delta * mags["forward"]).sum())
        # (1e-5: at scale 1e-3 a sigmoid after a conv is differenced with a step of eps**(1/3) |x|, the
        # rounding of its O(1) output then dominates: 1.9e-7 against a scale of 0.063 in the worst case found)
        assert float(fd.uncertainty[q].max()) <= 1e-5 * scale


def test_convergence_slope_tells_a_right_gradient_from_a_wrong_one():
    spec = SPECS["conv2d"]
    rng = np.random.default_rng(3)
    params = {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1)}
    from gradcheck.cases import Case

    case = Case("conv2d", {"x": rng.standard_normal((1, 2, 4, 4)), "w": rng.standard_normal((2, 2, 3, 3)),
                           "b": rng.standard_normal(2)}, params, rng.standard_normal((1, 2, 4, 4)))
    # make the function non-linear in w by composing with tanh, so the remainder is O(h^2)
    spec = SPECS["conv2d_tanh"]
    fwd = _fwd(spec, case)
    grads = torch_oracle(spec, case).grads
    idx = (1, 0, 2, 1)

    def slope(rows):
        h = np.log10([r["h"] for r in rows[2:6]])
        e = np.log10([max(r["err"], 1e-300) for r in rows[2:6]])
        return float(np.polyfit(h, e, 1)[0])

    right = convergence(spec, case, fwd, "dw", idx, float(grads["dw"][idx]))
    wrong = convergence(spec, case, fwd, "dw", idx, float(grads["dw"][idx]) + 0.1)
    assert 1.7 < slope(right) < 2.3
    assert 0.8 < slope(wrong) < 1.2


def test_directional_screen_passes_right_and_flags_wrong_gradients():
    spec = SPECS["conv2d"]
    rng = np.random.default_rng(4)
    from gradcheck.cases import Case

    params = {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)}
    inputs = {"x": rng.standard_normal((2, 3, 7, 8)), "w": rng.standard_normal((4, 3, 3, 2)), "b": rng.standard_normal(4)}
    o, _ = torch_run(spec, inputs, params, np.zeros(spec.out_shape({k: v.shape for k, v in inputs.items()}, params)))
    case = Case("conv2d", inputs, params, rng.standard_normal(o.shape))
    grads = torch_oracle(spec, case).grads
    a, n, bound = directional(spec, case, _fwd(spec, case), grads)
    assert abs(a - n) <= bound
    bad = dict(grads)
    bad["dw"] = grads["dw"].copy()
    bad["dw"][1, 2, 0, 1] *= 1.01
    a, n, bound = directional(spec, case, _fwd(spec, case), bad)
    assert abs(a - n) > bound
