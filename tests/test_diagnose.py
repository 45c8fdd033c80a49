"""gradcheck.judge.diagnose: every recogniser on an error it must recognise and on one it must not.

The positive examples are the bugs themselves (a candidate's value built the way the bug builds
it) compared with torch's truth; the negative ones are errors of another shape, on which the
recogniser must stay silent.
"""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck.judge import diagnose as D
from gradcheck.cases import Case
from gradcheck.judge.compare import compare
from gradcheck.ops import SPECS
from gradcheck.oracles.torch_oracle import torch_run
from gradcheck.oracles.magnitudes import magnitudes

RNG = np.random.default_rng(7)


def _conv(n=2, c=2, h=6, w=6, d=2, k=3, stride=(1, 1), padding=(0, 0), dilation=(1, 1), seed=0) -> Case:
    rng = np.random.default_rng(seed)
    inputs = {"x": rng.standard_normal((n, c, h, w)), "w": rng.standard_normal((d, c, k, k)),
              "b": rng.standard_normal(d)}
    params = {"stride": stride, "padding": padding, "dilation": dilation}
    out = SPECS["conv2d"].out_shape({k_: v.shape for k_, v in inputs.items()}, params)
    return Case("conv2d", inputs, params, rng.standard_normal(out), seed=seed)


def _pool(op="max_pool2d", n=1, c=1, h=6, w=6, k=(2, 2), stride=(1, 1), padding=(0, 0), seed=0) -> Case:
    rng = np.random.default_rng(seed)
    inputs = {"x": rng.standard_normal((n, c, h, w))}
    params = {"kernel_size": k, "stride": stride, "padding": padding}
    out = SPECS[op].out_shape({"x": inputs["x"].shape}, params)
    return Case(op, inputs, params, rng.standard_normal(out), seed=seed)


def _truth(case: Case, quantity: str, **changes) -> np.ndarray:
    inputs = dict(case.inputs, **{k: v for k, v in changes.items() if k in case.inputs})
    params = dict(case.params, **{k: v for k, v in changes.items() if k in case.params})
    delta = changes.get("delta", case.delta)
    out, grads = torch_run(SPECS[case.op], inputs, params, delta)
    return out if quantity == "forward" else grads[quantity]


def _said(case: Case, quantity: str, actual: np.ndarray, oracle: str = "torch") -> list[str]:
    expected = _truth(case, quantity)
    bound = np.full(expected.shape, 1e-9)
    return D.diagnose(actual, expected, case=case, quantity=quantity, bound=bound, oracle=oracle)


def _one(said: list[str]) -> str:
    assert len(said) >= 1, said
    return " ".join(said)


# -- explanations ------------------------------------------------------------------------------
def test_stride_ignored_is_recognised():
    case = _conv(stride=(2, 2), h=7, w=7)
    d = case.delta
    big = np.zeros((d.shape[0], d.shape[1], 5, 5))
    big[:, :, : d.shape[2], : d.shape[3]] = d
    buggy = _truth(case, "dw", stride=(1, 1), delta=big)  # windows read at (i, j)
    assert "stride [2, 2] is ignored in dw" in _one(_said(case, "dw", buggy))


def test_stride_ignored_is_not_said_of_another_error():
    case = _conv(stride=(2, 2), h=7, w=7)
    wrong = _truth(case, "dw") + RNG.standard_normal(case.inputs["w"].shape) * 0.1
    assert not any("stride" in s for s in _said(case, "dw", wrong))


def test_dilation_ignored_is_recognised():
    case = _conv(dilation=(2, 2), h=7, w=7)
    d = case.delta
    big = np.zeros((d.shape[0], d.shape[1], 5, 5))
    big[:, :, : d.shape[2], : d.shape[3]] = d
    buggy = _truth(case, "dx", dilation=(1, 1), delta=big)
    assert "dilation [2, 2] is ignored in dx" in _one(_said(case, "dx", buggy))


def test_flipped_kernel_is_recognised_and_a_plain_error_is_not():
    case = _conv()
    flipped = _truth(case, "dx", w=case.inputs["w"][..., ::-1, ::-1].copy())
    assert "rotated by 180°" in _one(_said(case, "dx", flipped))
    scaled = _truth(case, "dx") * 1.5
    assert not any("rotated" in s for s in _said(case, "dx", scaled))


def test_flipped_forward_is_recognised():
    case = _conv()
    out = _truth(case, "forward", w=case.inputs["w"][..., ::-1, ::-1].copy())
    said = _one(_said(case, "forward", out))
    assert "rotated by 180°" in said and "cross-correlation" in said


def test_transposed_kernel_is_recognised_and_a_flip_is_not_called_a_transpose():
    case = _conv()
    transposed = _truth(case, "dx", w=case.inputs["w"].transpose(0, 1, 3, 2).copy())
    assert "rows and columns swapped" in _one(_said(case, "dx", transposed))
    flipped = _truth(case, "dx", w=case.inputs["w"][..., ::-1, ::-1].copy())
    assert not any("swapped" in s for s in _said(case, "dx", flipped))


@pytest.mark.parametrize("k, which", [(0, "first"), (2, "last")])
def test_one_sample_of_the_batch_is_recognised(k, which):
    case = _conv(n=3)
    delta = np.zeros_like(case.delta)
    delta[k] = case.delta[k]
    said = _one(_said(case, "db", _truth(case, "db", delta=delta)))
    assert f"only the {which} sample" in said and "N = 3" in said
    if which == "last":
        assert "(+=)" in said


def test_one_sample_is_not_said_when_every_sample_counts_wrongly():
    case = _conv(n=3)
    assert not any("sample" in s for s in _said(case, "db", _truth(case, "db") * 0.5))


def test_explanations_are_skipped_for_subgradient_rules():
    case = _conv(stride=(2, 2), h=7, w=7)
    d = case.delta
    big = np.zeros((d.shape[0], d.shape[1], 5, 5))
    big[:, :, : d.shape[2], : d.shape[3]] = d
    buggy = _truth(case, "dw", stride=(1, 1), delta=big)
    assert not any("stride" in s for s in _said(case, "dw", buggy, oracle="subgradient"))


# -- patterns ----------------------------------------------------------------------------------
def test_zero_everywhere():
    case = _conv()
    assert "zero everywhere" in _one(_said(case, "dw", np.zeros(case.inputs["w"].shape)))
    assert not any("zero everywhere" in s for s in _said(case, "dw", _truth(case, "dw") * 2))


def test_upstream_gradient_unchanged():
    x = RNG.standard_normal((2, 2, 3, 3))
    case = Case("relu", {"x": x}, {}, RNG.standard_normal(x.shape))
    assert "passed on unchanged" in _one(_said(case, "dx", case.delta.copy()))
    assert not any("unchanged" in s for s in _said(case, "dx", -case.delta))


def test_constant_ratio_names_the_batch_size():
    case = _conv(n=4)
    said = _one(_said(case, "dw", _truth(case, "dw") / 4))
    assert "0.25 times the truth" in said and "1/N with N = 4" in said


def test_constant_ratio_without_a_name_and_no_ratio_for_noise():
    case = _conv(n=1, c=1, d=1)
    said = _one(_said(case, "dw", _truth(case, "dw") * 1.0001))
    assert "1.0001 times the truth" in said
    noisy = _truth(case, "dw") * (1 + 0.1 * RNG.standard_normal(case.inputs["w"].shape))
    assert not any("times the truth" in s for s in _said(case, "dw", noisy))


def test_constant_ratio_needs_two_elements():
    case = _conv(n=1, c=1, d=1, k=1, h=2, w=2)
    assert not any("times the truth" in s for s in _said(case, "dw", _truth(case, "dw") * 3))


def test_border_band():
    case = _pool("avg_pool2d", h=8, w=8, k=(3, 3), padding=(1, 1))
    truth = _truth(case, "dx")
    wrong = truth.copy()
    wrong[..., 0, :] *= 1.5
    wrong[..., -1, :] *= 1.5
    wrong[..., :, 0] *= 1.5
    wrong[..., :, -1] *= 1.5
    said = _one(D.diagnose(wrong, truth, case=case, quantity="dx", bound=np.full(truth.shape, 1e-9),
                           oracle="torch"))
    assert "band 1 wide along the border" in said and "padding is [1, 1]" in said
    cropped = truth.copy()
    cropped[..., :, -1] = 0
    cropped[..., -1, :] = 0
    assert not any("border" in s for s in D.diagnose(cropped, truth, case=case, quantity="dx",
                                                     bound=np.full(truth.shape, 1e-9)))


def test_every_sth_row():
    case = _pool(h=9, w=4, k=(1, 1), stride=(1, 1))
    truth = _truth(case, "dx")
    wrong = truth.copy()
    wrong[..., ::3, :] += 1.0
    said = _one(D.diagnose(wrong, truth, case=case, quantity="dx", bound=np.full(truth.shape, 1e-9)))
    assert "every 3rd row" in said and "rows 0, 3, 6" in said
    wrong = truth.copy()
    wrong[..., [0, 1, 5], :] += 1.0
    assert not any("every" in s for s in D.diagnose(wrong, truth, case=case, quantity="dx",
                                                    bound=np.full(truth.shape, 1e-9)))


def test_one_channel():
    case = _conv(n=2, c=3)
    truth = _truth(case, "dx")
    wrong = truth.copy()
    wrong[:, 1] += 1.0
    said = _one(D.diagnose(wrong, truth, case=case, quantity="dx", bound=np.full(truth.shape, 1e-9)))
    assert "only in channel 1 of 3" in said
    wrong = truth.copy()
    wrong[:, 1] += 1.0
    wrong[0, 2, 0, 0] += 1.0
    assert not any("only in channel" in s for s in D.diagnose(wrong, truth, case=case, quantity="dx",
                                                             bound=np.full(truth.shape, 1e-9)))


def test_overlapping_windows_assigned_not_added():
    case = _pool(h=4, w=5, k=(2, 2), stride=(1, 1))
    truth = _truth(case, "dx")
    x = case.inputs["x"][0, 0]
    overwritten = np.zeros_like(x)
    for i in range(3):
        for j in range(4):
            win = x[i:i + 2, j:j + 2]
            a, b = np.unravel_index(np.argmax(win), win.shape)
            overwritten[i:i + 2, j:j + 2] = 0  # the `=` of the bug ...
            overwritten[i + a, j + b] = case.delta[0, 0, i, j]  # ... keeps the last window only
    overwritten = overwritten[None, None]
    said = _one(_said(case, "dx", overwritten))
    assert "two or more windows share" in said and "(+=)" in said
    # an error at a unit only one window reads is not that
    wrong = truth.copy()
    wrong[0, 0, 0, 0] += 1.0
    assert not any("windows share" in s for s in _said(case, "dx", wrong))


# -- shapes ------------------------------------------------------------------------------------
def test_shapes():
    case = _conv(padding=(0, 0))
    assert "a[p:-p] is empty when p = 0" in _one(D.diagnose_shape((2, 2, 0, 0), (2, 2, 6, 6), case=case,
                                                                  quantity="dx"))
    assert "transposed shape" in _one(D.diagnose_shape((4, 3), (3, 4), case=case, quantity="dw"))
    assert "height (H = 3) is used for the width" in _one(D.diagnose_shape((1, 1, 3, 3), (1, 1, 3, 4),
                                                                           case=case, quantity="dx"))
    assert "one entry per sample (N = 2)" in _one(D.diagnose_shape((2,), (3,), case=case, quantity="db"))
    assert "keeps 1 axis more" in _one(D.diagnose_shape((2, 3), (3,), case=case, quantity="db"))
    # not said of shapes that are merely different
    for got, want in (((1, 1, 2, 5), (1, 1, 3, 4)), ((3,), (5,)), ((1,), ()), ((3, 3), (3, 3, 1))):
        assert D.diagnose_shape(got, want, case=case, quantity="dx") == [], (got, want)


# -- through compare() ---------------------------------------------------------------------------
def test_compare_adds_one_pattern_line_per_finding_and_structure_gets_none():
    case = _conv(n=4)
    mags = magnitudes(SPECS["conv2d"], case)
    truth = _truth(case, "dw")
    rec = compare(truth / 4, truth, case=case, quantity="dw", oracle="torch", reduction=10, magnitude=mags["dw"])
    first, *patterns = rec.message.split("\n")
    assert "elements beyond tolerance" in first
    assert patterns and all(p.startswith("Pattern: ") for p in patterns)
    structural = compare(truth / 4, truth, case=case, quantity="dw", oracle="structure", reduction=10,
                         magnitude=mags["dw"])
    assert "\n" not in structural.message
