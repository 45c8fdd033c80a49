"""Hand-written torch.autograd.Functions checked to second order: double backward against finite
differences of the backward, jvp against the backward, once_differentiable respected."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gradcheck.adapters.loader import load_target
from gradcheck.config import RunConfig
from gradcheck.judge.second_order import check_function, defines_jvp, is_once_differentiable, second_order_keys

pytest_plugins = ["pytester"]

FUNCTIONS = str(Path(__file__).parent / "torch_candidates" / "functions.py")
CFG = RunConfig(max_examples=4, isolate=False)


def _records(namespace: str, op: str) -> dict[tuple[str, str], object]:
    fn = getattr(load_target(f"{FUNCTIONS}:{namespace}"), op)
    return {(r.quantity, r.oracle): r for r in check_function(fn, op, op, CFG)}


def test_keys_follow_the_ops_gradients():
    assert second_order_keys("conv2d") == [("dx-double", "fd"), ("dw-double", "fd"), ("db-double", "fd"),
                                           ("ddelta-double", "fd"), ("jvp", "backward")]
    assert second_order_keys("relu") == [("dx-double", "fd"), ("ddelta-double", "fd"), ("jvp", "backward")]


@pytest.mark.parametrize("op", ["sigmoid", "conv2d"])
def test_a_correct_function_passes_to_second_order(op):
    recs = _records("correct", op)
    assert set(recs) == set(second_order_keys(op))
    for key, r in recs.items():
        assert r.status == "pass" and r.examples > 0, (key, r.message)


def test_an_intermediate_saved_on_ctx_as_a_constant_fails_double_backward():
    recs = _records("saved_constant", "sigmoid")
    dx = recs[("dx-double", "fd")]
    assert dx.status == "fail"
    assert "double backward: d<u, backward(delta)>/x from autograd vs finite differences of the backward" in dx.message
    assert dx.worst is not None and dx.worst.actual != pytest.approx(dx.worst.expected, abs=1e-4)
    assert dx.counterexample is not None and dx.counterexample.inputs is not None
    assert recs[("ddelta-double", "fd")].status == "pass"  # linear in delta: that part is right
    assert recs[("jvp", "backward")].status == "not-provided"


def test_a_backward_that_leaves_the_graph_without_saying_so_fails():
    recs = _records("numpy_backward", "conv2d")
    for q in ("dx-double", "dw-double", "ddelta-double"):
        assert recs[(q, "fd")].status == "fail", q
        assert "left the graph" in recs[(q, "fd")].message
    assert recs[("db-double", "fd")].status == "pass"  # db does not depend on anything but delta


def test_once_differentiable_is_respected_and_reported():
    fn = load_target(f"{FUNCTIONS}:once").conv2d
    assert is_once_differentiable(fn) and not is_once_differentiable(load_target(f"{FUNCTIONS}:correct").conv2d)
    recs = _records("once", "conv2d")
    for q in ("dx-double", "dw-double", "db-double", "ddelta-double"):
        r = recs[(q, "fd")]
        assert r.status == "not-provided" and "@once_differentiable" in r.message


def test_a_wrong_jvp_fails_against_the_backward():
    assert defines_jvp(load_target(f"{FUNCTIONS}:jvp_bug").sigmoid)
    recs = _records("jvp_bug", "sigmoid")
    jvp = recs[("jvp", "backward")]
    assert jvp.status == "fail" and "jvp along x: forward-mode J t vs J t from the backward" in jvp.message
    assert recs[("dx-double", "fd")].status == "pass"


def test_gradcheck_check_includes_the_second_order_records_and_their_reproduction(tmp_path):
    from gradcheck.cli import main

    out = tmp_path / "run.json"
    code = main(["check", f"{FUNCTIONS}:saved_constant", "--api", "torch", "--max-examples", "3", "--kink-examples", "1",
                 "--quiet", "--no-report", "--json", str(out)])
    data = json.loads(out.read_text())
    assert code == 1
    keys = [c["key"] for c in data["checks"] if c["op"] == "sigmoid"]
    assert keys[-3:] == ["sigmoid-dx-double-fd", "sigmoid-ddelta-double-fd", "sigmoid-jvp-backward"]  # after its own
    failed = {c["key"]: c for c in data["checks"] if c["status"] == "fail"}
    assert set(failed) == {"sigmoid-dx-double-fd"}, set(failed)
    snippet = failed["sigmoid-dx-double-fd"]["repro"]["python"]
    assert "torch.autograd.gradgradcheck(f, inputs)" in snippet
    from torch.autograd.gradcheck import GradcheckError

    with pytest.raises(GradcheckError):  # torch's own check agrees on the smallest case
        exec(compile(snippet, "repro", "exec"), {})


def test_the_pytest_plugin_has_items_for_the_second_order_checks(pytester):
    result = pytester.runpytest_subprocess("--gradcheck-target", f"{FUNCTIONS}:saved_constant", "--gradcheck-api",
                                           "torch", "--gradcheck-max-examples", "3", "-p", "no:cacheprovider", "-rf")
    result.stdout.fnmatch_lines(["*FAILED*sigmoid-dx-double-fd*"])
    assert "sigmoid-ddelta-double-fd PASSED" not in result.stdout.str()  # (not verbose: counted instead)
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1 and result.ret == 1


def test_a_function_that_hangs_is_timed_out_in_its_watched_process(tmp_path):
    from gradcheck.run.second_order import run_second_order

    path = tmp_path / "hangs.py"
    path.write_text(
        "import torch\n"
        "class sigmoid(torch.autograd.Function):\n"
        "    @staticmethod\n"
        "    def forward(ctx, x):\n"
        "        ctx.save_for_backward(x)\n"
        "        return torch.sigmoid(x)\n"
        "    @staticmethod\n"
        "    def backward(ctx, g):\n"
        "        (x,) = ctx.saved_tensors\n"
        "        while torch.is_grad_enabled():\n"
        "            pass\n"
        "        s = torch.sigmoid(x)\n"
        "        return g * s * (1 - s)\n")
    out = run_second_order(str(path), "torch", [("sigmoid", "sigmoid")], RunConfig(timeout=1, max_examples=2))
    recs = out["sigmoid"]
    assert [(r.quantity, r.oracle) for r in recs] == second_order_keys("sigmoid")
    assert all(r.status == "error" and "timed out after 1 s in sigmoid backward" in r.message for r in recs)
