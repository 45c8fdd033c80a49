"""Large cases: the directional screen stands in for element-wise finite differences when it
agrees, and a disagreement is localised by group testing, the located element confirmed on its
own."""
from __future__ import annotations

import types

import numpy as np

import reference
from gradcheck.adapters.native import NativeAdapter
from gradcheck.judge.battery import SCREEN_ABOVE, Runner, evaluate
from gradcheck.cases import Case
from gradcheck.ops import SPECS

PARAMS = {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1)}


def _case():
    rng = np.random.default_rng(0)
    inputs = {"x": rng.standard_normal((4, 8, 16, 16)), "w": rng.standard_normal((8, 8, 3, 3)), "b": rng.standard_normal(8)}
    case = Case("conv2d", inputs, PARAMS, rng.standard_normal((4, 8, 16, 16)), seed=0)
    assert case.size() > SCREEN_ABOVE
    return case


def _runner(backward):
    impl = NativeAdapter(types.SimpleNamespace(conv2d_forward=reference.conv2d_forward, conv2d_backward=backward), "t")
    return Runner(impl, "conv2d", SPECS["conv2d"])


def test_a_correct_large_case_passes_through_the_screen():
    out = evaluate(_runner(reference.conv2d_backward), _case())
    for g in ("dx", "dw", "db"):
        assert out[(g, "fd")].status == "pass" and out[(g, "fd")].message.startswith("directional screen")
        assert out[(g, "torch")].status == "pass"


def test_one_wrong_element_fails_the_screen_and_is_located():
    def planted(delta, x, w, b, **params):
        dx, dw, db = reference.conv2d_backward(delta, x, w, b, **params)
        dx = dx.copy()
        dx[2, 5, 10, 10] += 1e-3
        return dx, dw, db

    out = evaluate(_runner(planted), _case())
    rec = out[("dx", "fd")]
    assert rec.status == "fail" and rec.worst.index == [2, 5, 10, 10]
    assert "forward evaluations" in rec.message and "allowed" in rec.message
    assert rec.worst.abs_err > rec.worst.tolerance
    for g in ("dw", "db"):  # cleared by their own restricted tests
        assert out[(g, "fd")].status == "pass" and f"restricted to {g[1:]}" in out[(g, "fd")].message


def test_a_wrong_weight_element_fails_dw_alone_through_the_battery():
    def planted(delta, x, w, b, **params):
        dx, dw, db = reference.conv2d_backward(delta, x, w, b, **params)
        dw = dw.copy()
        dw[6, 1, 0, 2] *= 1.01
        return dx, dw, db

    out = evaluate(_runner(planted), _case())
    rec = out[("dw", "fd")]
    assert rec.status == "fail" and rec.worst.index == [6, 1, 0, 2] and "located by group testing" in rec.message
    assert out[("dw", "torch")].status == "fail"
    assert out[("dx", "fd")].status == "pass" and out[("db", "fd")].status == "pass"
