"""PyTorch layers as their authors wrote them: nn.Modules with their own weights, pooling modules,
weight mappings, what is looked for when nothing is recognised, and in-place writes through
tensors (``--api torch``)."""
from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

import gradcheck
from gradcheck.adapters import LoadError
from gradcheck.adapters.torch_adapter import TorchAdapter
from gradcheck.adapters.torch_module import strategies_take

HERE = Path(__file__).parent / "torch_candidates"
LAYERS = str(HERE / "layers.py")
SMALL = {"max_examples": 3, "kink_examples": 1}


def _failing(run) -> dict[str, str]:
    return {r.key: r.message for r in run.records if r.status in ("fail", "error", "partial")}


def test_a_conv_factory_with_its_own_weights_passes_and_its_weight_gradients_are_checked():
    run = gradcheck.check(torch.nn.Conv2d, "torch", ops="conv2d", isolate=False, **SMALL)
    assert run.passed, _failing(run)
    recs = {(r.quantity, r.oracle): r for r in run.records}
    for q in ("dx", "dw", "db"):
        for o in ("fd", "torch", "scipy"):
            assert recs[(q, o)].status == "pass" and recs[(q, o)].examples > 0
    strides = run.coverage["conv2d"]["stride"]
    assert any(s[0] != s[1] for s in strides), "a factory is built for every geometry, non-square strides included"


def test_a_broken_module_with_its_own_weights_fails_at_its_weight_gradient(tmp_path):
    from gradcheck.cli import main

    out = tmp_path / "run.json"
    code = main(["check", f"{LAYERS}:ConvDwScaled", "--api", "torch", "--ops", "conv2d", "--max-examples", "3",
                 "--kink-examples", "0", "--quiet", "--no-report", "--json", str(out)])  # by name, in workers
    data = json.loads(out.read_text())
    assert code == 1 and data["passed"] is False
    bad = {c["key"]: c["status"] for c in data["checks"] if c["status"] != "pass"}
    assert bad == {"conv2d-dw-fd": "fail", "conv2d-dw-torch": "fail", "conv2d-dw-scipy": "fail"}, bad


def test_a_module_instance_is_checked_at_its_own_fixed_geometry():
    run = gradcheck.check(f"{LAYERS}:conv2d", "torch", **SMALL)
    assert run.passed, _failing(run)
    assert run.coverage["conv2d"]["kernel"] == [[1, 1]] and run.coverage["conv2d"]["stride"] == [[1, 1]]


def test_the_geometry_of_an_instance_is_read_from_its_attributes():
    impl = TorchAdapter(torch.nn.Conv2d(2, 3, (2, 3), stride=(2, 1), padding=1, dilation=(1, 2)), "<conv>")
    limits = impl.constraints("conv2d")
    assert {k: limits[k] for k in ("max_channels", "max_filters", "max_kernel", "max_stride", "max_padding",
                                   "max_dilation")} == {"max_channels": 2, "max_filters": 3, "max_kernel": 3,
                                                        "max_stride": 2, "max_padding": 1, "max_dilation": 2}
    assert "square" not in limits  # stride (2, 1) is not square
    pool = TorchAdapter(torch.nn.MaxPool2d((3, 2), stride=1), "<pool>").constraints("max_pool2d")
    assert {k: pool[k] for k in ("max_window", "max_stride", "padding", "square")} == \
        {"max_window": 3, "max_stride": 1, "padding": False, "square": True}


def test_an_instance_off_the_drawable_geometry_is_pinned_or_declined_never_passed_untested():
    run = gradcheck.check(torch.nn.Conv2d(2, 3, (2, 3), stride=2, padding=1), "torch", **SMALL)
    limits = TorchAdapter(torch.nn.Conv2d(2, 3, (2, 3), stride=2, padding=1), "<c>").constraints("conv2d")
    if strategies_take("conv2d", limits) and "fixed_kernel" in limits:
        assert run.passed, _failing(run)
    else:  # the strategies cannot pin this geometry yet: its cases are declined, and the run says so
        assert all(r.examples > 0 for r in run.records if r.status == "pass")
        rec = next(r for r in run.records if r.key == "conv2d-dw-torch")
        assert rec.skipped > 0 and "the module is fixed at" in rec.message + str(rec.excluded)


@pytest.mark.parametrize("module, fragment", [
    (lambda: torch.nn.Conv2d(2, 2, 2, padding="same"), "padding='same' with kernel (2, 2) pads the two sides unequally"),
    (lambda: torch.nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect"), "padding_mode='reflect'; conv2d pads with zeros"),
    (lambda: torch.nn.Conv2d(2, 2, 3, bias=False), "bias is missing (the module was built without a bias"),
    (lambda: torch.nn.MaxPool2d(2, ceil_mode=True), "ceil_mode=True; max_pool2d is checked with ceil_mode=False"),
    (lambda: torch.nn.AvgPool2d(2, padding=1, count_include_pad=False), "count_include_pad=False"),
    (lambda: torch.nn.MaxPool2d(2, dilation=2), "dilation=2; max_pool2d is checked without dilation"),
])
def test_a_module_the_op_cannot_express_is_a_load_error_saying_why(module, fragment):
    with pytest.raises(LoadError) as info:
        TorchAdapter(module(), "<m>")
    assert fragment in str(info.value)


def test_a_grouped_conv_module_is_checked_at_its_own_groups():
    run = gradcheck.check(torch.nn.Conv2d(4, 2, 3, groups=2), "torch", **SMALL)
    assert run.passed, _failing(run)
    shapes = {tuple(r.counterexample.params["groups"]) for r in run.records if r.counterexample is not None}
    assert shapes <= {(2,)}


def test_padding_same_with_an_odd_kernel_is_symmetric_padding():
    limits = TorchAdapter(torch.nn.Conv2d(1, 1, 3, padding="same", dilation=2), "<m>").constraints("conv2d")
    assert limits["max_padding"] == 2 and limits["max_dilation"] == 2


def test_pooling_modules_correct_and_broken_built_for_each_case():
    good = gradcheck.check(torch.nn.MaxPool2d, "torch", ops="max_pool2d", **SMALL)
    assert good.passed, _failing(good)
    bad = gradcheck.check(f"{LAYERS}:BrokenMaxPool", "torch", **SMALL)
    failing = {r.key for r in bad.records if r.status == "fail"}
    assert {"max_pool2d-dx-fd", "max_pool2d-dx-torch"} <= failing, _failing(bad)
    assert not any(k.startswith("max_pool2d-forward") for k in _failing(bad))


def test_pooling_instances_at_their_own_geometry():
    limits = TorchAdapter(torch.nn.MaxPool2d(2), "<p>").constraints("max_pool2d")
    good = gradcheck.check(torch.nn.MaxPool2d(2), "torch", **SMALL)
    bad = gradcheck.check(f"{LAYERS}:broken_pool", "torch", **SMALL)
    if "fixed_window" in limits:  # the strategies pin the module's window, stride and padding
        assert good.passed, _failing(good)
        assert {"max_pool2d-dx-fd", "max_pool2d-dx-torch"} <= {r.key for r in bad.records if r.status == "fail"}
    else:  # cases off the module's geometry are declined, and said to be: never a pass on nothing
        for run in (good, bad):
            assert all(r.examples > 0 for r in run.records if r.status == "pass")
            declined = [r for r in run.records if r.skipped]
            assert declined and "fixed at kernel_size (2, 2), stride (2, 2), padding (0, 0)" in \
                " ".join(r.message + " ".join(r.excluded.values()) for r in declined)
        assert not any(r.status == "fail" for r in good.records), _failing(good)
        assert all(r.status in ("fail", "error") for r in bad.records if r.quantity == "dx" and r.oracle != "subgradient")


def test_activation_and_dense_modules():
    for target, op in ((torch.nn.Sigmoid(), "sigmoid"), (torch.nn.Linear, "dense")):
        run = gradcheck.check(target, "torch", ops=op, **SMALL)
        assert run.passed and {r.op for r in run.records} == {op}, _failing(run)


def test_weights_elsewhere_are_named_by_a_mapping():
    from gradcheck.adapters.loader import load_target

    wrapped = load_target(LAYERS).Wrapped
    with pytest.raises(LoadError) as info:
        gradcheck.check(wrapped(), "torch", ops="conv2d")
    text = str(info.value)
    assert "conv2d needs parameters weight (D, C/groups, k1, k2) and bias (D,)" in text
    assert "the module has conv.weight (1, 1, 1, 1), conv.bias (1,)" in text
    assert "weights={'w': 'conv.weight', 'b': 'conv.bias'}" in text
    run = gradcheck.check(wrapped(), "torch", ops="conv2d", weights={"w": "conv.weight", "b": "conv.bias"}, **SMALL)
    assert run.passed, _failing(run)
    run = gradcheck.check(str(HERE / "wrapped.py"), "torch", **SMALL)  # GRADCHECK_WEIGHTS in the file
    assert run.passed, _failing(run)


def test_nothing_recognisable_lists_the_names_and_shapes_looked_for():
    with pytest.raises(LoadError) as info:
        TorchAdapter(types.SimpleNamespace(conv=1, helper=len), "mylayers")
    text = str(info.value)
    assert "looked for attributes named conv2d, conv1d, conv3d, conv_transpose1d" in text
    assert "linear (dense)" in text and "cross_entropy (softmax_cross_entropy)" in text
    assert "conv2d: weight (D, C/groups, k1, k2) and bias (D,); dense: weight (K, F) and bias (K,)" in text
    with pytest.raises(LoadError) as info:
        TorchAdapter(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3, 2, bias=False)), "<seq>")
    text = str(info.value)
    assert "cannot tell which op Sequential implements" in text
    assert "it has 1.weight (2, 3)" in text and "weight of shape (D, C/groups, k1, k2) (conv2d) or (K, F) (dense)" in text
    holder = types.SimpleNamespace(my_conv=torch.nn.Conv2d(1, 1, 1))
    with pytest.raises(LoadError, match=r"it holds my_conv \(Conv2d\): name one as the target \(x.py:NAME\)"):
        TorchAdapter(holder, "x.py")


def test_nothing_recognisable_on_the_command_line_is_one_line_and_exit_status_2(tmp_path):
    path = tmp_path / "model.py"
    path.write_text("import torch\nnet = torch.nn.Sequential(torch.nn.Flatten())\n")
    res = subprocess.run([sys.executable, "-m", "gradcheck.cli", "check", f"{path}:net", "--api", "torch"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert res.returncode == 2 and res.stdout == "" and "Traceback" not in res.stderr
    (line,) = res.stderr.splitlines()
    assert "cannot tell which op Sequential implements: looked at its type (nn.Conv2d" in line


def test_in_place_writes_through_tensors_fail_inputs_unmodified():
    run = gradcheck.check(str(HERE / "inplace_saved_input.py"), "torch", **SMALL)
    status = {(r.op, r.quantity): r for r in run.records}
    for op, what in (("sigmoid", "x"), ("relu", "x")):
        rec = status[(op, "inputs-unmodified")]
        assert rec.status == "fail" and f"backward modified {what} in place" in rec.message
        assert status[(op, "dx")].status == "pass"  # the gradients were right: only this check sees the bug
    assert status[("tanh", "inputs-unmodified")].status == "pass"


def test_an_in_place_module_is_seen():
    run = gradcheck.check(torch.nn.ReLU(inplace=True), "torch", **SMALL)
    rec = next(r for r in run.records if r.quantity == "inputs-unmodified")
    assert rec.status == "fail" and "forward modified x in place" in rec.message


def test_torch_functional_leaves_its_inputs_alone():
    run = gradcheck.check("torch.nn.functional", "torch", ops="relu,sigmoid,max_pool2d", **SMALL)
    assert run.passed, _failing(run)
    assert {r.op for r in run.records if r.quantity == "inputs-unmodified" and r.status == "pass"} == \
        {"relu", "sigmoid", "max_pool2d"}
