"""The JSON gradcheck writes is a documented format: every path that writes JSON — check (one
target and many), equations, bench, the pytest plugin, the Python API — is validated against
the schema shipped in the package (the plugin's many-target output in ``test_summary.py``)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from gradcheck import schema
from gradcheck.cli import main
from gradcheck.records import FORMAT_VERSION, RunResult

pytest_plugins = ["pytester"]

TESTS = Path(__file__).parent
BAD = TESTS / "misbehaving"
CANDIDATES = TESTS / "candidates"
FUNCTIONS = TESTS / "torch_candidates" / "functions.py"
SMALL = ["--max-examples", "3", "--kink-examples", "1", "--quiet"]


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.parametrize("name", schema.NAMES)
def test_each_schema_is_a_valid_draft_2020_12_schema_shipped_in_the_package(name):
    doc = schema.load(name)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(doc)
    pyproject = (TESTS.parent / "pyproject.toml").read_text()
    assert '"schema/*.json"' in pyproject and schema.path(name).parent.name == "schema"


@pytest.fixture(scope="module")
def check_jsons(tmp_path_factory) -> dict[str, dict]:
    """``gradcheck check --json`` on a pass, a failure, candidate errors and garbage, and a torch
    Function with its second-order records."""
    tmp = tmp_path_factory.mktemp("check")
    runs = {
        "pass": ["reference", "--ops", "relu,max_pool2d"],
        "fail": [str(BAD / "wrong_scale.py"), "--ops", "relu"],
        "raises": [str(BAD / "raises.py"), "--ops", "relu,tanh"],
        "garbage": [str(BAD / "garbage.py") + ":nan", "--ops", "relu"],
        "declined": [str(CANDIDATES / "native_conv_stride1_unsupported.py"), "--ops", "conv2d"],
        "second-order": [f"{FUNCTIONS}:saved_constant", "--api", "torch"],
        # float hyper-parameters (p), labels (y), the mask oracle and mask-statistics
        "dropout-losses": [str(CANDIDATES / "native_dropout_fresh_mask.py"), "--ops", "dropout"],
        "labels": ["reference", "--ops", "svm_loss,softmax_cross_entropy"],
    }
    out = {}
    for name, args in runs.items():
        path = tmp / f"{name}.json"
        main(["check", *args, *SMALL, "--no-ledger", "--no-report", "--json", str(path)])
        out[name] = _load(path)
    return out


@pytest.mark.parametrize("name", ["pass", "fail", "raises", "garbage", "declined", "second-order", "dropout-losses",
                                  "labels"])
def test_check_json_validates(check_jsons, name):
    doc = check_jsons[name]
    schema.validate(doc, "run")
    assert doc["format"] == "gradcheck-run" and doc["format_version"] == FORMAT_VERSION


def test_the_check_jsons_hold_what_the_schema_is_about(check_jsons):
    statuses = {c["status"] for d in check_jsons.values() for c in d["checks"]}
    assert {"pass", "fail", "error", "not-provided"} <= statuses
    assert any(c["quantity"] == "dx-double" for c in check_jsons["second-order"]["checks"])
    assert any(c["skipped"] for c in check_jsons["declined"]["checks"])
    assert any(c["traceback"] for c in check_jsons["raises"]["checks"])


def test_the_schema_rejects_what_is_not_the_format(check_jsons):
    doc = check_jsons["fail"]
    for broken in (
        {k: v for k, v in doc.items() if k != "format_version"},
        {**doc, "format_version": FORMAT_VERSION + 1},
        {**doc, "checks": [{**doc["checks"][0], "status": "maybe"}]},
        {**doc, "checks": [{**doc["checks"][0], "surprise": 1}]},
        {**doc, "checks": [{k: v for k, v in doc["checks"][0].items() if k != "examples"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            schema.validate(broken, "run")


def test_a_run_round_trips_and_still_validates(check_jsons):
    doc = check_jsons["fail"]
    again = RunResult.from_dict(copy.deepcopy(doc)).to_dict()
    schema.validate(again, "run")
    assert again == doc


def test_the_hand_built_report_run_with_a_ledger_validates(report_run):
    schema.validate(report_run.to_dict(), "run")


def test_a_run_with_the_real_ledger_validates():
    from gradcheck.ledger import run_ledger

    run = RunResult(target="reference", api="native", ledger=run_ledger(max_examples=1, ids=["eq7", "eq13", "pool-max"]))
    schema.validate(json.loads(json.dumps(run.to_dict())), "run")


def test_equations_json_validates(tmp_path):
    path = tmp_path / "ledger.json"
    assert main(["equations", "--max-examples", "1", "--json", str(path)]) == 0
    schema.validate(_load(path), "ledger")


def test_bench_json_validates(tmp_path):
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--repeat", "1", "--only", "directional", "--json", str(path)]) == 0
    doc = _load(path)
    schema.validate(doc, "bench")
    assert doc["rows"] and doc["rows"][0]["name"] == "directional"


def test_python_api_json_validates():
    import numpy as np

    import gradcheck

    run = gradcheck.check({"relu": (lambda x: np.maximum(x, 0), lambda d, x: 3 * d * (x > 0))}, max_examples=3,
                          kink_examples=1)
    schema.validate(json.loads(json.dumps(run.to_dict())), "run")


def test_many_targets_json_validates(tmp_path):
    out = tmp_path / "class"
    code = main(["check", str(BAD / "_correct.py"), str(BAD / "wrong_scale.py"), "no/such/layers.py", "--ops", "relu",
                 *SMALL, "--no-report", "--out", str(out)])
    assert code == 1
    summary = _load(out / "summary.json")
    schema.validate(summary, "summary")
    written = [t["json"] for t in summary["targets"] if t["json"]]
    assert len(written) == 2
    for name in written:
        schema.validate(_load(out / name), "run")


def test_plugin_json_validates(pytester):
    one = pytester.path / "one.json"
    res = pytester.runpytest_subprocess("--gradcheck-target", str(BAD / "wrong_scale.py"), "--gradcheck-ops", "relu",
                                        "--gradcheck-max-examples", "3", "--gradcheck-json", str(one),
                                        "-p", "no:cacheprovider", "-q")
    assert res.ret == 1
    schema.validate(_load(one), "run")
    # the plugin's summary.json and per-target JSON under pytest-xdist: tests/test_summary.py
