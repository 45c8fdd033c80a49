"""Group testing: a wrong element of a large gradient is located, confirmed element-wise with an
honest bound, in about two forward evaluations per halving; a correct gradient raises no alarm
at any level of the search."""
from __future__ import annotations

import math

import numpy as np
import pytest

from gradcheck.ops import footprints, SPECS
from gradcheck.oracles import fd
from gradcheck.oracles.localise import locate, screen
from gradcheck.oracles.torch_oracle import torch_run
from gradcheck.cases.strategies import smooth_case
from gradcheck.oracles.magnitudes import magnitudes

CONV = {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1)}
POOL2 = {"kernel_size": (2, 2), "stride": (2, 2), "padding": (0, 0)}
POOL3 = {"kernel_size": (3, 3), "stride": (2, 2), "padding": (1, 1)}

#: Moderately large cases (above the battery's SCREEN_ABOVE), one per footprint kind and op family.
LARGE = {
    "conv2d": ({"x": (2, 8, 20, 20), "w": (8, 8, 3, 3), "b": (8,)}, CONV),
    "conv2d_tanh": ({"x": (2, 8, 20, 20), "w": (8, 8, 3, 3), "b": (8,)}, {"stride": (2, 1), "padding": (0, 1), "dilation": (1, 2)}),
    "max_pool2d": ({"x": (2, 8, 24, 24)}, POOL2),
    "avg_pool2d": ({"x": (2, 8, 24, 24)}, POOL3),
    "l2_pool2d": ({"x": (2, 8, 24, 24)}, POOL3),
    "tanh": ({"x": (4, 8, 16, 16)}, {}),
    "dense": ({"x": (64, 96), "w": (48, 96), "b": (48,)}, {}),
    "mse": ({"y": (64, 80), "t": (64, 80)}, {}),
}


def _setup(op: str):
    spec = SPECS[op]
    shapes, params = LARGE[op]
    case = next(c for c in (smooth_case(op, shapes, params, seed=s, scale=1.0) for s in range(20)) if c is not None)

    def fwd(inputs):
        return torch_run(spec, inputs, case.params, case.delta)[0]

    grads = torch_run(spec, case.inputs, case.params, case.delta)[1]
    mags = magnitudes(spec, case)
    K = spec.reduction(case.shapes, case.params)
    allowed = {q: fd.allowed_error(q, mags[q], K[q], "float64") for q in spec.grads}
    return spec, case, fwd, grads, allowed, mags


def _colours(spec, case, name):
    return int(footprints.colours(spec.footprints[name], case.inputs[name].shape, case.params, case.shapes.get("w")).max()) + 1


@pytest.mark.parametrize("op", list(LARGE))
def test_a_correct_gradient_raises_no_alarm_anywhere_in_the_search(op):
    spec, case, fwd, grads, allowed, mags = _setup(op)
    found = locate(spec, case, fwd, grads, allowed=allowed, forward_magnitude=mags["forward"], force=True)
    tests = list(found.inputs.values()) + found.trail
    assert all(t.agrees for t in tests), [t for t in tests if not t.agrees]
    assert not any(found.located.values()) and sum(found.flagged.values()) == 0
    # the forced search did reach a leaf colour of every input, through every level
    assert set(found.examined) == set(spec.grads)
    levels = sum(math.floor(math.log2(_colours(spec, case, n))) for n in spec.grad_inputs)
    assert len(found.trail) >= 2 * levels  # both halves tested at every level


@pytest.mark.parametrize("op,q", [(op, q) for op in LARGE for q in SPECS[op].grads])
def test_a_planted_wrong_element_is_located_with_an_honest_bound(op, q):
    spec, case, fwd, grads, allowed, mags = _setup(op)
    g = grads[q]
    rng = np.random.default_rng(7)
    index = tuple(int(rng.integers(n)) for n in g.shape)
    bad = {**grads, q: g.copy()}
    bad[q][index] += 1e-2 * float(np.sqrt(np.mean(g * g)))
    found = locate(spec, case, fwd, bad, allowed=allowed, forward_magnitude=mags["forward"])
    f = found.located[q][0]
    assert f.index == index
    assert f.abs_err > f.allowed and f.bound > 0
    # the element-wise estimate is within its own bound of the truth
    assert abs(f.expected - g[index]) <= 2 * f.bound
    assert all(t.agrees for p, t in found.inputs.items() if p != q)
    # about two evaluations per halving: whole-input tests, one descent, the leaf and the confirmation
    halvings = math.ceil(math.log2(_colours(spec, case, q[1:])))
    assert found.forwards <= 1 + 4 * len(spec.grads) + 4 * halvings + 8


def test_several_wrong_elements_the_worst_is_among_those_located():
    spec, case, fwd, grads, allowed, mags = _setup("conv2d")
    bad = {**grads, "dx": grads["dx"].copy()}
    planted = {(0, 1, 3, 4): 0.05, (1, 6, 17, 2): 0.5, (1, 3, 9, 11): 0.2}  # three colours
    for index, err in planted.items():
        bad["dx"][index] += err
    found = locate(spec, case, fwd, bad, allowed=allowed, forward_magnitude=mags["forward"])
    got = [f.index for f in found.located["dx"]]
    assert (1, 6, 17, 2) in got and len(got) >= 2 and set(got) <= set(planted)
    assert found.forwards <= 100


def test_the_screen_fails_the_located_gradient_and_passes_the_others():
    spec, case, fwd, grads, allowed, mags = _setup("dense")
    bad = {**grads, "dw": grads["dw"].copy()}
    bad["dw"][5, 7] += 0.05
    details: dict = {}
    recs = screen(spec, "dense", case, fwd, bad, dtype="float64", details=details)
    rec = recs[("dw", "fd")]
    assert rec.status == "fail" and rec.worst.index == [5, 7] and rec.worst.abs_err > rec.worst.tolerance
    n = details["localisation"].forwards + 5
    assert f"{n} forward evaluations" in rec.message and "error bound" in rec.message
    assert recs[("dx", "fd")].status == "pass" and recs[("db", "fd")].status == "pass"


def test_a_disagreement_no_element_can_confirm_is_left_to_the_element_wise_check():
    """An error below every element's own bound, spread over the whole gradient: the screen
    sees it, no single element is beyond its bound, so nothing is claimed (``None``)."""
    spec, case, fwd, grads, allowed, mags = _setup("conv2d")
    bad = {**grads, "dw": grads["dw"] * (1 + 3e-8)}
    a, n, bound = fd.directional(spec, case, fwd, bad)
    assert abs(a - n) > bound  # the screen disagrees
    assert screen(spec, "conv2d", case, fwd, bad, dtype="float64") is None
    assert screen(spec, "conv2d", case, fwd, grads, dtype="float64")[("dw", "fd")].status == "pass"
