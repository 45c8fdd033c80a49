"""The pytest plugin: items per op × quantity × oracle, from any folder, also under xdist."""
from __future__ import annotations

import json
import textwrap

import pytest

from gradcheck.judge.battery import check_keys
from gradcheck.ops import SPECS

pytest_plugins = ["pytester"]

RELU = textwrap.dedent(
    """
    import numpy as np

    def relu_forward(x):
        return np.maximum(x, 0)

    def relu_backward(delta, x):
        return delta * (x > 0){bug}

    def tanh_forward(x):
        return np.tanh(x)
    """
)
N_RELU = len(check_keys(SPECS["relu"]))


def _candidate(pytester, bug=""):
    return pytester.makepyfile(layers=RELU.format(bug=bug))


def _args(path, *extra):
    return ("--gradcheck-target", str(path), "--gradcheck-ops", "relu,tanh", "--gradcheck-max-examples", "3",
            "-p", "no:cacheprovider", *extra)


def test_correct_candidate_passes_from_a_folder_without_tests(pytester):
    path = _candidate(pytester)
    result = pytester.runpytest_subprocess(*_args(path))
    # relu: every check passes; tanh: forward without backward is "not provided" -> skipped
    result.assert_outcomes(passed=N_RELU, skipped=len(check_keys(SPECS["tanh"])))
    assert result.ret == 0


def test_broken_candidate_fails_the_right_items(pytester):
    path = _candidate(pytester, bug=" * 1.5")
    result = pytester.runpytest_subprocess(*_args(path, "-rf"))
    assert result.ret == 1
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] >= 2
    text = result.stdout.str()
    assert "relu-dx-torch" in text and "relu-dx-fd" in text
    assert "relu-forward-torch" not in [ln.split()[1].split("::")[-1] for ln in result.stdout.lines if ln.startswith("FAILED")]
    assert "reproduce: gradcheck check" in text


def test_xdist_reports_are_complete(pytester):
    path = _candidate(pytester, bug=" * 1.5")
    out = pytester.path / "out.json"
    result = pytester.runpytest_subprocess(*_args(path, "-n", "2", "--dist", "loadgroup", "--gradcheck-json", str(out)))
    assert result.ret == 1
    data = json.loads(out.read_text())
    keys = {c["key"] for c in data["checks"]}
    assert len(data["checks"]) == N_RELU + len(check_keys(SPECS["tanh"]))
    assert data["complete"] is True and data["passed"] is False
    assert "relu-dx-torch" in keys
    assert {c["status"] for c in data["checks"]} >= {"pass", "fail", "not-provided"}


def test_bad_target_is_a_usage_error(pytester):
    result = pytester.runpytest_subprocess("--gradcheck-target", "no/such/file.py", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "no such file" in result.stderr.str()
    assert "Traceback" not in result.stderr.str()
