"""The Python API: every form of target ``gradcheck.check`` takes, ``ops`` as a string or a list,
``assert_gradients`` for pytest, and the README's example run as a test file."""
from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import gradcheck
from gradcheck import LoadError, RunResult
from gradcheck.api import resolve

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = Path(__file__).parent / "candidates"
SMALL = {"max_examples": 3, "kink_examples": 1}


def relu_forward(x):
    return np.maximum(x, 0)


def relu_backward(delta, x):
    return delta * (x > 0)


def relu_backward_wrong(delta, x):
    return 2.0 * delta * (x > 0)


def _ops(run: RunResult) -> set[str]:
    return {r.op for r in run.records if r.status != "not-provided"}


def test_a_string_target_is_loaded_by_name_in_workers():
    run = gradcheck.check("reference", ops="relu", **SMALL)
    assert isinstance(run, RunResult) and run.passed and run.target == "reference"
    assert {r.op for r in run.records} == {"relu"}


def test_ops_as_one_string_is_one_op_not_its_letters():
    run = gradcheck.check({"relu": (relu_forward, relu_backward)}, ops="relu", **SMALL)
    assert {r.op for r in run.records} == {"relu"}
    with pytest.raises(LoadError, match="unknown op nope"):
        gradcheck.check("reference", ops="relu,nope", isolate=False)


def test_ops_as_a_list_and_a_comma_separated_string():
    a = gradcheck.check("reference", ops=["relu", "tanh"], isolate=False, **SMALL)
    b = gradcheck.check("reference", ops="relu, tanh", isolate=False, **SMALL)
    assert [r.key for r in a.records] == [r.key for r in b.records] and _ops(a) == {"relu", "tanh"}


def test_a_module_object():
    import reference

    name, obj = resolve(reference)
    assert name == "reference" and obj is None  # a package: loaded by name in the workers
    run = gradcheck.check(reference, ops="sigmoid", **SMALL)
    assert run.passed and _ops(run) == {"sigmoid"}


def test_a_file_module_object_is_loaded_by_its_path(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("import numpy as np\n"
                    "def tanh_forward(x):\n    return np.tanh(x)\n"
                    "def tanh_backward(delta, x):\n    return delta * (1 - np.tanh(x) ** 2)\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import mine
    finally:
        sys.path.remove(str(tmp_path))
    assert resolve(mine) == (str(path), None)
    run = gradcheck.check(mine, **SMALL)
    assert run.passed and _ops(run) == {"tanh"} and run.target == str(path)


def test_an_object_holding_the_functions_is_checked_in_process():
    class Impl:
        relu_forward = staticmethod(relu_forward)
        relu_backward = staticmethod(relu_backward_wrong)

    run = gradcheck.check(Impl, ops="relu", **SMALL)  # a local class: not importable by name
    assert not run.passed and run.target == "<test_an_object_holding_the_functions_is_checked_in_process.<locals>.Impl>"
    failed = {(r.quantity, r.oracle) for r in run.records if r.status == "fail"}
    assert ("dx", "torch") in failed and ("dx", "fd") in failed
    ns = types.SimpleNamespace(relu_forward=relu_forward, relu_backward=relu_backward)
    assert gradcheck.check(ns, **SMALL).passed


def test_a_native_mapping():
    run = gradcheck.check({"relu": (relu_forward, relu_backward_wrong)}, **SMALL)
    assert run.target == "mapping(relu)" and not run.passed
    with pytest.raises(LoadError, match="unknown op 'rleu' in the mapping"):
        gradcheck.check({"rleu": (relu_forward, relu_backward)})
    with pytest.raises(LoadError, match="must be a pair"):
        gradcheck.check({"relu": relu_forward})


def test_a_cs231n_mapping():
    ns: dict = {}
    exec(compile((CANDIDATES / "cs231n_layers.py").read_text(), "cs231n_layers.py", "exec"), ns)
    run = gradcheck.check({"relu": (ns["relu_forward"], ns["relu_backward"])}, "cs231n", **SMALL)
    assert run.passed and _ops(run) == {"relu"}


def test_torch_forms_instance_class_function_and_mapping():
    import torch

    for target, op in ((torch.nn.Tanh(), "tanh"), (torch.nn.Sigmoid, "sigmoid"), ({"relu": torch.relu}, "relu"),
                       (lambda x: torch.tanh(x), "tanh")):
        run = gradcheck.check(target, "torch", ops=op, **SMALL)
        assert run.passed and _ops(run) == {op}, (target, [r.message for r in run.records if r.status != "pass"])


def test_a_torch_function_class_importable_by_name_runs_in_workers_with_its_second_order_checks():
    sys.path.insert(0, str(Path(__file__).parent / "torch_candidates"))
    try:
        import functions
    finally:
        sys.path.pop(0)
    name, obj = resolve(functions.Sigmoid)
    assert obj is None and name.endswith("functions.py:Sigmoid")
    run = gradcheck.check(functions.Sigmoid, "torch", **SMALL)  # the op from its name
    assert run.passed
    assert {r.quantity for r in run.records} >= {"dx", "dx-double", "ddelta-double", "jvp"}


def test_a_single_candidate_whose_op_only_ops_names_is_checked_in_process(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text("import torch\n"
                    "class Mine(torch.autograd.Function):\n"
                    "    @staticmethod\n"
                    "    def forward(ctx, x):\n"
                    "        y = torch.tanh(x)\n"
                    "        ctx.save_for_backward(y)\n"
                    "        return y\n"
                    "    @staticmethod\n"
                    "    def backward(ctx, g):\n"
                    "        (y,) = ctx.saved_tensors\n"
                    "        return g * (1 - y * y)\n")
    with pytest.raises(LoadError, match="cannot tell which op Mine implements"):
        gradcheck.check(f"{path}:Mine", "torch")
    run = gradcheck.check(f"{path}:Mine", "torch", ops="tanh", **SMALL)
    assert run.passed and _ops(run) == {"tanh"}
    assert {r.quantity for r in run.records} >= {"dx-double", "jvp"}


def test_isolate_true_refuses_what_cannot_be_sent_to_a_worker():
    with pytest.raises(ValueError, match="cannot be loaded by name"):
        gradcheck.check({"relu": (relu_forward, relu_backward)}, isolate=True)


def test_a_bad_config_value_is_a_value_error():
    with pytest.raises(ValueError, match="unknown profile"):
        gradcheck.check("reference", profile="fast")


def test_assert_gradients_returns_the_run_when_it_passes():
    run = gradcheck.assert_gradients({"relu": (relu_forward, relu_backward)}, **SMALL)
    assert run.passed


def test_assert_gradients_fails_with_the_block_of_each_failing_check():
    with pytest.raises(AssertionError) as info:
        gradcheck.assert_gradients({"relu": (relu_forward, relu_backward_wrong)}, **SMALL)
    text = str(info.value)
    assert "FAILED" in text
    assert re.search(r"relu[ -]dx", text) and "smallest case" in text
    assert "x" in text and "delta" in text


def test_assert_gradients_fails_when_nothing_was_checked():
    with pytest.raises(AssertionError, match="nothing was checked"):
        gradcheck.assert_gradients({"relu": (relu_forward, relu_backward)}, ops="tanh", **SMALL)  # tanh not provided


def test_the_readme_example_runs_as_a_test_file(pytester):
    readme = (ROOT / "README.md").read_text()
    marker = "<!-- example: python-api"
    assert marker in readme
    block = re.search(r"```python\n(.*?)```", readme[readme.index(marker):], re.S)
    assert block is not None
    pytester.makepyfile(test_my_layers=block.group(1))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=3)
