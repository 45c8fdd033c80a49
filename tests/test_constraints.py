"""What candidates say they support: declarations become strategy limits, ``Unsupported`` skips.

Declarations (``GRADCHECK_CONSTRAINTS``, ``@gradcheck.supports``) map to the limits of
``gradcheck.cases.strategies`` in every adapter; a bad one is a load error naming the known keys.
Cases a candidate declines with ``gradcheck.Unsupported`` (or ``NotImplementedError``) are
skipped, counted and their features listed as excluded, never failed; a candidate that
declines every case is not a pass.
"""
from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import gradcheck
from gradcheck.adapters import LoadError, load
from gradcheck.adapters.constraints import combine, declared_limits
from gradcheck.config import RunConfig
from gradcheck.run.runner import run_check

CANDIDATES = Path(__file__).parent / "candidates"
SMALL = {"max_examples": 4, "kink_examples": 1, "isolate": False}


@pytest.mark.parametrize("op, declared, limits", [
    ("conv2d", {"square": True, "dilation": False}, {"square": True, "max_dilation": 1}),
    ("conv2d", {"stride": 2, "padding": False, "kernel": 3}, {"max_stride": 2, "max_padding": 0, "max_kernel": 3}),
    ("conv2d_relu", {"stride": True, "batch": 1, "channels": 2, "filters": 1},
     {"max_batch": 1, "max_channels": 2, "max_filters": 1}),
    ("max_pool2d", {"padding": False, "square": True, "window": 2, "stride": False},
     {"padding": False, "square": True, "max_window": 2, "max_stride": 1}),
    ("avg_pool2d", {"padding": True, "square": False}, {}),
    ("dense", {"batch": 2, "features": 3, "outputs": 1}, {"max_batch": 2, "max_features": 3, "max_outputs": 1}),
    ("relu", {"size": 3}, {"max_size": 3}),
    ("mse", {"outputs": 2}, {"max_outputs": 2}),
])
def test_declarations_map_to_strategy_limits(op, declared, limits):
    assert declared_limits(op, declared, "here") == limits


@pytest.mark.parametrize("op, declared, fragment", [
    ("conv2d", {"square_stride": True}, "unknown constraint 'square_stride' for conv2d; known: square, stride, padding, "
                                        "dilation, kernel, batch, channels, filters"),
    ("max_pool2d", {"dilation": False}, "known: square, padding, stride, window, batch, channels"),
    ("conv2d", {"stride": 0}, "stride must be True, False or an int >= 1"),
    ("conv2d", {"padding": -1}, "padding must be True, False or an int >= 0"),
    ("conv2d", {"kernel": True}, "kernel must be a positive int"),
    ("max_pool2d", {"padding": 1}, "padding must be True or False"),
    ("conv2d", {"square": "yes"}, "square must be True or False"),
])
def test_bad_declarations_are_load_errors_naming_the_known_keys(op, declared, fragment):
    with pytest.raises(LoadError, match="^here: ") as info:
        declared_limits(op, declared, "here")
    assert fragment in str(info.value)


def test_combine_takes_the_stricter_of_two_sets():
    assert combine({"square": True, "max_dilation": 1, "padding": True},
                   {"max_dilation": 2, "max_stride": 2, "padding": False}) == \
        {"square": True, "max_dilation": 1, "padding": False, "max_stride": 2}


def _native_conv(**attrs):
    from reference import conv2d_backward, conv2d_forward

    return types.SimpleNamespace(conv2d_forward=conv2d_forward, conv2d_backward=conv2d_backward, **attrs)


def test_native_module_declaration_and_decorator_both_count_the_function_winning():
    from reference import conv2d_backward, conv2d_forward

    @gradcheck.supports(stride=2)
    def forward(x, w, b, *, stride, padding, dilation):
        return conv2d_forward(x, w, b, stride=stride, padding=padding, dilation=dilation)

    ns = types.SimpleNamespace(conv2d_forward=forward, conv2d_backward=conv2d_backward,
                               GRADCHECK_CONSTRAINTS={"conv2d": {"stride": False, "dilation": False}})
    impl = load_obj(ns, "native")
    # the forward takes no groups: its cases are drawn at groups = 1
    assert impl.constraints("conv2d") == {"max_stride": 2, "max_dilation": 1, "max_groups": 1}
    assert impl.constraints("relu") == {}


def test_a_function_without_an_optional_hyper_parameter_is_called_without_it():
    from reference import conv2d_backward, conv2d_forward

    seen = []

    def forward(x, w, b, *, stride, padding, dilation):
        seen.append("forward")
        return conv2d_forward(x, w, b, stride=stride, padding=padding, dilation=dilation)

    def backward(delta, x, w, b, **params):
        seen.append(sorted(params))
        return conv2d_backward(delta, x, w, b, **params)

    impl = load_obj(types.SimpleNamespace(conv2d_forward=forward, conv2d_backward=backward), "native")
    assert impl.constraints("conv2d") == {"max_groups": 1}
    x, w, b = np.ones((1, 2, 3, 3)), np.ones((1, 2, 2, 2)), np.zeros(1)
    params = {"stride": (1, 1), "padding": (0, 0), "dilation": (1, 1), "groups": (1,)}
    impl.forward("conv2d", {"x": x, "w": w, "b": b}, params)
    impl.backward("conv2d", np.ones((1, 1, 2, 2)), {"x": x, "w": w, "b": b}, params)
    assert seen == ["forward", ["dilation", "groups", "padding", "stride"]]  # **params takes groups, as an int


def load_obj(obj, api):
    from gradcheck.api import _adapter

    return _adapter(obj, "<ns>", api, RunConfig(isolate=False), None, None)


def test_cs231n_declarations_add_to_the_convention():
    impl = load(str(CANDIDATES / "cs231n_layers.py"), "cs231n")
    assert impl.constraints("conv2d") == {"square": True, "max_dilation": 1, "max_groups": 1}
    ns = types.SimpleNamespace(**{n: getattr(impl.obj, n) for n in ("conv_forward_naive", "conv_backward_naive")},
                               GRADCHECK_CONSTRAINTS={"conv2d": {"stride": 1, "padding": False, "dilation": 2}})
    assert load_obj(ns, "cs231n").constraints("conv2d") == {"square": True, "max_dilation": 1, "max_stride": 1,
                                                            "max_padding": 0, "max_groups": 1}


def test_torch_declarations_on_a_function_class():
    import torch

    @gradcheck.supports(square=True, padding=False)
    class Conv(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, b, stride, padding, dilation):
            return torch.nn.functional.conv2d(x, w, b, stride, padding, dilation)

    impl = load_obj(types.SimpleNamespace(conv2d=Conv), "torch")
    assert impl.constraints("conv2d") == {"square": True, "max_padding": 0, "max_groups": 1}  # forward takes no groups


@pytest.mark.parametrize("decl, fragment", [
    ({"conv4d": {}}, "GRADCHECK_CONSTRAINTS: unknown op 'conv4d'; known: conv2d, conv1d"),
    ({"conv2d": {"wobble": 1}}, "unknown constraint 'wobble' for conv2d; known: square, stride"),
    ({"conv2d": ["stride"]}, "expected a dict of constraints, got list"),
    (["conv2d"], "GRADCHECK_CONSTRAINTS must be a dict"),
])
def test_a_malformed_module_declaration_is_a_load_error(decl, fragment):
    with pytest.raises(LoadError) as info:
        load_obj(_native_conv(GRADCHECK_CONSTRAINTS=decl), "native")
    assert fragment in str(info.value)


def test_a_bad_declaration_on_the_command_line_is_one_line_and_exit_status_2(tmp_path):
    path = tmp_path / "layers.py"
    path.write_text("from reference import conv2d_forward, conv2d_backward\n"
                    "GRADCHECK_CONSTRAINTS = {'conv2d': {'square_stride': True}}\n")
    res = subprocess.run([sys.executable, "-m", "gradcheck.cli", "check", str(path)], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert res.stdout == "" and "Traceback" not in res.stderr
    (line,) = res.stderr.splitlines()
    assert "unknown constraint 'square_stride' for conv2d; known: square, stride, padding, dilation" in line


# --- end to end: declared and declined cases are skipped, recorded, not failed -----------------


def _conv_records(name: str):
    run = run_check(str(CANDIDATES / name), "native", RunConfig(ops=["conv2d"], **SMALL))
    return run, {r.key: r for r in run.records}


def test_declared_constraints_leave_features_out_and_say_why():
    run, recs = _conv_records("native_conv_stride1_declared.py")
    assert run.passed, [(k, r.message) for k, r in recs.items() if r.status != "pass"]
    dx = recs["conv2d-dx-torch"]
    assert dx.examples > 0 and dx.skipped == 0
    for feature in ("stride_h>1", "stride_w>1", "dilation>1"):
        assert "declared constraints" in dx.excluded[feature]
    assert "padding>0" in dx.covered
    assert run.coverage["conv2d"]["stride"] == [[1, 1]] and run.coverage["conv2d"]["dilation"] == [[1, 1]]


def test_unsupported_cases_are_skipped_counted_and_excluded_not_failed():
    run, recs = _conv_records("native_conv_stride1_unsupported.py")
    assert not any(r.status in ("fail", "error") for r in run.records), \
        [(k, r.message) for k, r in recs.items() if r.status in ("fail", "error")]
    dx = recs["conv2d-dx-torch"]
    assert dx.skipped > 0 and dx.examples > 0
    assert "only stride 1 and dilation 1" in dx.excluded["stride_h>1"]
    assert "only stride 1 and dilation 1" in dx.excluded["dilation>1"]


@pytest.mark.parametrize("how", ["Unsupported", "NotImplementedError"])
def test_a_candidate_that_declines_every_case_is_not_a_pass(how):
    def relu_forward(x):
        raise gradcheck.Unsupported("no relu today") if how == "Unsupported" else NotImplementedError("later")

    ns = types.SimpleNamespace(relu_forward=relu_forward, relu_backward=lambda delta, x: delta * (x > 0))
    run = gradcheck.check(ns, ops="relu", max_examples=3, kink_examples=1)
    assert not run.passed
    smooth = [r for r in run.records if r.oracle != "subgradient"]
    assert smooth and all(r.status == "error" and "declined every case" in r.message and r.skipped > 0 for r in smooth)
    assert ("no relu today" if how == "Unsupported" else "NotImplementedError") in smooth[0].message


def test_unsupported_reaches_the_json(tmp_path):
    from gradcheck.cli import main

    out = tmp_path / "run.json"
    code = main(["check", str(CANDIDATES / "native_conv_stride1_unsupported.py"), "--ops", "conv2d",
                 "--max-examples", "4", "--kink-examples", "1", "--quiet", "--no-report", "--json", str(out)])
    import json

    data = json.loads(out.read_text())
    assert code == 0 and data["passed"] is True
    dx = next(c for c in data["checks"] if c["key"] == "conv2d-dx-fd")
    assert dx["skipped"] > 0 and "stride_h>1" in dx["excluded"]


def test_native_adapter_passes_its_arrays_through_so_in_place_writes_are_seen():
    def relu_forward(x):
        return np.maximum(x, 0)

    def relu_backward(delta, x):
        out = delta * (x > 0)
        x += 1.0  # writes into the battery's array
        return out

    run = gradcheck.check({"relu": (relu_forward, relu_backward)}, ops="relu", max_examples=3, kink_examples=1)
    rec = next(r for r in run.records if r.quantity == "inputs-unmodified")
    assert rec.status == "fail" and "backward modified x in place" in rec.message


def test_cs231n_affine_weight_written_in_place_is_seen_through_the_transposed_copy():
    src = (CANDIDATES / "cs231n_layers.py").read_text()
    ns: dict = {}
    exec(compile(src, "cs231n_layers.py", "exec"), ns)

    def affine_backward(dout, cache):
        x, w, b = cache
        grads = ns["affine_backward"](dout, cache)
        w *= 0.5  # the bug: scales the caller's weight
        return grads

    run = gradcheck.check({"dense": (ns["affine_forward"], affine_backward)}, "cs231n", ops="dense", max_examples=3)
    rec = next(r for r in run.records if r.quantity == "inputs-unmodified")
    assert rec.status == "fail" and "backward modified w in place" in rec.message
    assert all(r.status == "pass" for r in run.records if r.quantity in ("dx", "dw", "db"))


def test_the_correct_cs231n_affine_leaves_inputs_alone():
    run = gradcheck.check(str(CANDIDATES / "cs231n_layers.py"), "cs231n", ops="dense", max_examples=3, isolate=False)
    assert run.passed

