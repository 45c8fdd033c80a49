"""Every verdict is earned: each check gets the whole budget of cases, every independent bug of
an op is found in one run with its own smallest case, passes say which features their cases
covered, and the structure checks catch what used to slip through (state kept between calls,
a forward of the wrong shape, a crash beside a wrong value)."""
from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck.adapters import load
from gradcheck.judge.battery import check_keys
from gradcheck.config import RunConfig
from gradcheck.cases.coverage import FEATURES, features_of
from gradcheck.judge.search import check_op
from gradcheck.ops import SPECS

HERE = Path(__file__).parent / "multibug"
CFG = RunConfig(isolate=False)  # the default profile, in this process


def _records(name: str, api: str, op: str, cfg: RunConfig = CFG):
    impl = load(str(HERE / name), api)
    return {(r.quantity, r.oracle): r for r in check_op(impl, op, op, cfg)}


def _smallest_has(rec, feature: str) -> bool:
    ce = rec.counterexample
    shapes = {k: tuple(v) for k, v in ce.shapes.items()}
    params = {k: tuple(v) for k, v in ce.params.items()}
    return feature in features_of(rec.op, shapes, params)


# file, api, op, {quantity: feature its smallest case must show (or None)}
MULTI_BUG = [
    pytest.param("cs231n_conv_db_batch_dw_stride.py", "cs231n", "conv2d", {"dw": "stride_h>1", "db": "N>1"},
                 id="cs231n conv: dw ignores the stride, db forgets the batch sum"),
    pytest.param("cs231n_conv_nonsquare_crash_db.py", "cs231n", "conv2d", {"db": "N>1", "dw": "non-square kernel"},
                 id="cs231n conv: crashes on non-square kernels, db wrong on the others"),
    pytest.param("native_conv_three_bugs.py", "native", "conv2d", {"dx": "dilation>1", "dw": None, "db": "N>1"},
                 id="native conv: dx without dilation, dw flipped, db a mean"),
    pytest.param("native_conv_stateful_db.py", "native", "conv2d", {"stateless": None, "db": "N>1"},
                 id="native conv: backward uses the last forward's im2col, db forgets the batch"),
    pytest.param("native_dense_three_bugs.py", "native", "dense", {"dx": None, "dw": "N>1", "db": "N>1"},
                 id="dense: dx doubled, dw from the first sample, db a mean"),
    pytest.param("native_avgpool_forward_and_stride.py", "native", "avg_pool2d", {"forward": "padding>0", "dx": None},
                 id="avg pool: forward excludes padding, backward ignores the stride"),
    pytest.param("native_maxpool_padding_and_ties.py", "native", "max_pool2d", {"dx": "padding>0", "dx-subgradient": None},
                 id="max pool: backward ignores padding and routes to every tied maximum"),
    pytest.param("native_forward_shape_dw.py", "native", "conv2d", {"forward": None, "dw": None},
                 id="conv: forward of the wrong shape, dw doubled"),
]


@pytest.mark.parametrize("name,api,op,bugs", MULTI_BUG)
def test_every_bug_of_a_multi_bug_candidate_is_found_in_one_run(name, api, op, bugs):
    recs = _records(name, api, op)
    for what, feature in bugs.items():
        q, oracle = (what.split("-") + ["torch"])[:2] if "-" in what else (what, None)
        if q in SPECS[op].grads or q == "forward":
            mine = [r for (qq, o), r in recs.items() if qq == q and (oracle is None and o in ("torch", "fd")
                                                                     or o == oracle)]
        else:
            mine = [recs[(q, "structure")]]
        bad = [r for r in mine if r.status in ("fail", "error") and r.examples]  # fd cannot judge a wrong-shaped forward
        assert bad, f"{what} not found: {[(r.key, r.status, r.message) for r in mine]}"
        for r in bad:
            budget = CFG.kink_examples if r.oracle == "subgradient" else CFG.max_examples
            assert r.examples >= budget, (r.key, r.examples)  # judged on the whole budget
            assert r.counterexample is not None, r.key
            if feature is not None:
                assert _smallest_has(r, feature) or (r.also and r.status == "error"), (r.key, r.counterexample)


def test_a_crash_beside_a_wrong_value_reports_both_each_with_its_case():
    recs = _records("cs231n_conv_nonsquare_crash_db.py", "cs231n", "conv2d")
    db = recs[("db", "torch")]
    assert db.status == "fail" and "db" in db.message
    assert db.also is not None and db.also["status"] == "error" and "ValueError" in db.also["message"]
    kernel = db.also["counterexample"].shapes["w"][2:]
    assert kernel[0] != kernel[1]  # the crash's own smallest case: a non-square kernel
    assert _smallest_has(db, "N>1")
    # where only the crash happens, it is the finding
    dw = recs[("dw", "torch")]
    assert dw.status == "error" and "ValueError" in dw.message


def test_the_wrong_shape_of_a_forward_does_not_hide_the_backward():
    recs = _records("native_forward_shape_dw.py", "native", "conv2d")
    assert recs[("shape-dtype", "structure")].status == "fail"
    assert recs[("forward", "torch")].status == "fail" and "shape" in recs[("forward", "torch")].message
    assert recs[("dw", "torch")].status == "fail" and recs[("dw", "scipy")].status == "fail"
    assert recs[("dx", "torch")].status == "pass" and recs[("db", "torch")].status == "pass"
    assert "internal error" not in " ".join(r.message for r in recs.values())
    fd = recs[("dw", "fd")]
    assert fd.status == "error" and "never returned the op's output shape" in fd.message


def test_state_kept_between_calls_is_named_and_the_gradients_still_judged():
    recs = _records("native_conv_stateful_db.py", "native", "conv2d")
    st = recs[("stateless", "structure")]
    assert st.status == "fail" and "depends on the last forward call" in st.message
    assert recs[("determinism", "structure")].status == "pass"
    assert recs[("dw", "torch")].status == "pass" and recs[("dx", "torch")].status == "pass"  # natural order is right


@pytest.mark.parametrize("name", ["native_mse_scalars.py", "native_mse_python_float.py"])
def test_a_numpy_scalar_or_python_float_is_a_valid_0d_result(name):
    recs = _records(name, "native", "mse")
    bad = [(r.key, r.message) for r in recs.values() if r.status != "pass"]
    assert not bad, bad


def test_a_correct_conv_covers_every_feature_in_the_default_profile():
    impl = load("reference", "native")
    for r in check_op(impl, "conv2d", "conv2d", CFG):
        if r.oracle == "subgradient":
            continue
        assert r.status == "pass", (r.key, r.message)
        want = set(FEATURES["conv2d"]) if r.quantity != "batch-independence" else {"N>1"}
        assert want <= set(r.covered), (r.key, want - set(r.covered))
        assert not r.untested and not r.excluded
        if r.quantity != "batch-independence":  # judged on the cases with N > 1 only
            assert r.examples >= CFG.max_examples


def test_a_convention_without_dilation_excludes_it_and_says_why():
    recs = _records("cs231n_conv_db_batch_dw_stride.py", "cs231n", "conv2d")
    r = recs[("dx", "torch")]
    assert "dilation>1" in r.excluded and "max_dilation=1" in r.excluded["dilation>1"]
    assert "dilation>1" not in r.untested and r.status == "pass"
    assert {"stride_h>1", "stride_w>1", "padding>0", "non-square kernel", "N>1"} <= set(r.covered)


def test_declined_cases_are_skipped_not_failed_and_the_feature_is_excluded():
    recs = _records("native_conv_unsupported_dilation.py", "native", "conv2d")
    for key, r in recs.items():
        assert r.status == "pass", (key, r.status, r.message)
    r = recs[("dw", "torch")]
    assert r.skipped > 0 and "dilation>1" in r.excluded and "dilation is not implemented" in r.excluded["dilation>1"]


def test_a_candidate_that_declines_everything_is_not_a_pass():
    recs = _records("native_conv_stub.py", "native", "conv2d")
    for g in ("dx", "dw", "db"):
        r = recs[(g, "torch")]
        assert r.status == "error" and "declined every case" in r.message and "NotImplementedError" in r.message
    assert recs[("forward", "torch")].status == "pass"


def test_a_check_whose_cases_missed_a_feature_is_partial_not_pass():
    recs = _records("native_conv_noisy_stride.py", "native", "conv2d")
    assert recs[("determinism", "structure")].status == "fail"
    dx = recs[("dx", "torch")]
    assert dx.status == "partial", (dx.status, dx.message)
    assert "stride_h>1" in dx.untested and "not a pass" in dx.message


def test_a_fault_of_the_harness_on_some_cases_does_not_end_the_search(monkeypatch):
    import gradcheck.judge.battery as battery

    real = battery.magnitudes

    def flaky(spec, case):
        if case.shapes["x"][0] > 1:
            raise RuntimeError("planted harness fault")
        return real(spec, case)

    monkeypatch.setattr(battery, "magnitudes", flaky)
    recs = {(r.quantity, r.oracle): r for r in check_op(load("reference", "native"), "conv2d", "conv2d", CFG)}
    r = recs[("dw", "torch")]
    assert r.status == "error" and "internal error while checking: RuntimeError: planted harness fault" in r.message
    assert r.traceback and "planted harness fault" in r.traceback
    assert r.examples >= CFG.max_examples  # every case was still judged


def test_every_check_key_has_a_record_in_order():
    recs = check_op(load(str(HERE / "native_dense_three_bugs.py"), "native"), "dense", "dense", CFG)
    assert [(r.quantity, r.oracle) for r in recs] == check_keys(SPECS["dense"])


# --- measured nondeterminism and checks that could not have failed ----------------------------


def test_summation_in_a_varying_order_passes_by_default_and_fails_deterministic():
    name = "native_conv_random_order.py"
    recs = _records(name, "native", "conv2d")
    det = recs[("determinism", "structure")]
    assert all(r.status == "pass" for r in recs.values()), [(k, r.message) for k, r in recs.items() if r.status != "pass"]
    assert det.max_abs_err > 0 and "within rounding" in det.message  # the spread is measured and reported
    strict = _records(name, "native", "conv2d", RunConfig(isolate=False, deterministic=True))
    det = strict[("determinism", "structure")]
    assert det.status == "fail" and "not bitwise reproducible" in det.message and "ulp" in det.message
    assert strict[("dw", "torch")].status == "pass"  # the gradients are still judged
    ref = {(r.quantity, r.oracle): r for r in check_op(load("reference", "native"), "conv2d", "conv2d",
                                                      RunConfig(isolate=False, deterministic=True))}
    assert ref[("determinism", "structure")].status == "pass"


def _only(monkeypatch, case):
    from hypothesis import strategies as st

    import gradcheck.judge.search as explore

    monkeypatch.setattr(explore, "_designed", lambda *a, **k: [case])
    monkeypatch.setattr(explore, "cases", lambda *a, **k: st.just(case))


def test_a_check_on_nothing_but_dead_relus_is_flagged_vacuous(monkeypatch):
    import numpy as np

    from gradcheck.cases import Case

    x = -np.arange(1.0, 25.0).reshape(2, 2, 2, 3)
    _only(monkeypatch, Case("relu", {"x": x}, {}, np.ones_like(x), seed=1))
    recs = {(r.quantity, r.oracle): r for r in check_op(load("reference", "native"), "relu", "relu",
                                                       RunConfig(isolate=False, kink_examples=0))}
    for oracle in ("fd", "torch"):
        r = recs[("dx", oracle)]
        assert r.status == "partial" and r.vacuous == r.examples and "vacuous" in r.message, (oracle, r.status, r.message)
    assert recs[("forward", "torch")].status == "pass"


def test_a_zero_upstream_gradient_makes_every_gradient_check_vacuous(monkeypatch):
    import numpy as np

    from gradcheck.cases import Case

    rng = np.random.default_rng(3)
    inputs = {"x": rng.standard_normal((2, 2, 4, 4)), "w": rng.standard_normal((2, 2, 2, 2)), "b": rng.standard_normal(2)}
    params = {"stride": (1, 1), "padding": (0, 0), "dilation": (1, 1)}
    _only(monkeypatch, Case("conv2d", inputs, params, np.zeros((2, 2, 3, 3)), seed=1))
    recs = check_op(load("reference", "native"), "conv2d", "conv2d", RunConfig(isolate=False))
    grads = [r for r in recs if r.quantity in ("dx", "dw", "db")]
    assert grads and all(r.status == "partial" and "vacuous" in r.message for r in grads), \
        [(r.key, r.status) for r in grads]


def test_one_real_case_is_enough_for_a_check_not_to_be_vacuous():
    recs = {(r.quantity, r.oracle): r for r in check_op(load("reference", "native"), "relu", "relu", CFG)}
    assert recs[("dx", "torch")].status == "pass" and recs[("dx", "torch")].vacuous < recs[("dx", "torch")].examples
