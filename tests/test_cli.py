"""The ``gradcheck`` command line: exit statuses, outputs, and bad input answered in one line.

Bad input runs the real command in subprocesses (all at once, to keep the suite fast) and
checks each answer: exit status 2, exactly one line on stderr, nothing on stdout, no traceback.
Runs that check something go through ``gradcheck.cli.main`` in this process (the same code,
without paying for a new interpreter and fork server each time).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gradcheck.cli import default_report_path, main

BAD = Path(__file__).parent / "misbehaving"
CORRECT = str(BAD / "_correct.py")
SMALL = ["--max-examples", "3", "--kink-examples", "1", "--timeout", "10"]


def _gradcheck(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gradcheck.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


# (id, arguments, extra environment, a fragment the one line must hold)
BAD_INPUT = [
    ("missing-file", ["check", "no/such/candidate.py"], None, "no such file: no/such/candidate.py"),
    ("missing-module", ["check", "no_such_module_xyz"], None, "cannot import 'no_such_module_xyz'"),
    ("missing-attribute", ["check", CORRECT + ":nope"], None, "has no attribute 'nope'"),
    ("nothing-recognised", ["check", str(BAD / "nothing.py")], None, "provides no function of the native convention"),
    ("syntax-error", ["check", "SYNTAX"], None, "syntax error in"),
    ("import-error", ["check", str(BAD / "import_error.py")], None,
     "failed: RuntimeError: cannot initialise the candidate"),
    ("import-exit-0", ["check", str(BAD / "import_exit.py")], None,
     "importing " + str(BAD / "import_exit.py") + " ended its process (the process exited with status 0)"),
    ("import-segfault", ["check", str(BAD / "import_segfault.py")], None, "ended its process (the process was killed by SIGSEGV)"),
    ("unknown-ops", ["check", CORRECT, "--ops", "conv2d,nope"], None, "unknown op nope; choose from conv2d"),
    ("empty-ops", ["check", CORRECT, "--ops", ","], None, "--ops"),
    ("max-examples-0", ["check", CORRECT, "--max-examples", "0"], None, "--max-examples: expected a positive integer"),
    ("max-examples-negative", ["check", CORRECT, "--max-examples", "-3"], None, "--max-examples"),
    ("max-examples-text", ["check", CORRECT, "--max-examples", "many"], None, "--max-examples"),
    ("kink-examples-negative", ["check", CORRECT, "--kink-examples", "-1"], None, "--kink-examples"),
    ("timeout-0", ["check", CORRECT, "--timeout", "0"], None, "--timeout: expected a positive number"),
    ("jobs-0", ["check", CORRECT, "--jobs", "0"], None, "--jobs"),
    ("unknown-api", ["check", CORRECT, "--api", "keras"], None, "--api: invalid choice: 'keras'"),
    ("unknown-dtype", ["check", CORRECT, "--dtype", "float8"], None, "--dtype"),
    ("bfloat16-numpy", ["check", CORRECT, "--dtype", "bfloat16"], None, "--dtype bfloat16 needs --api torch"),
    ("cuda-without-torch-api", ["check", CORRECT, "--device", "cuda"], None, "needs --api torch"),
    ("unknown-device", ["check", CORRECT, "--device", "tpu"], None, "--device must be cpu or cuda"),
    ("no-target", ["check"], None, "target"),
    ("unknown-command", ["frobnicate"], None, "invalid choice: 'frobnicate'"),
    ("bad-memory-limit", ["check", CORRECT], {"GRADCHECK_MEMORY_LIMIT": "lots"}, "GRADCHECK_MEMORY_LIMIT"),
    ("json-is-a-folder", ["check", CORRECT, "--json", "."], None, "cannot write the JSON to .: . is a folder"),
    ("report-under-a-file", ["check", CORRECT, "--report", CORRECT + "/r.html"], None, "is not a folder"),
]


@pytest.fixture(scope="module")
def bad_input_answers(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    tmp = tmp_path_factory.mktemp("bad-input")
    syntax = tmp / "syntax_error.py"
    shutil.copy(BAD / "syntax_error.py.txt", syntax)
    jobs = {name: ([str(syntax) if a == "SYNTAX" else a for a in args], env) for name, args, env, _ in BAD_INPUT}
    jobs["no-arguments"] = ([], None)
    jobs["check-help"] = (["check", "--help"], None)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(_gradcheck, args, tmp, env) for name, (args, env) in jobs.items()}
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("name, args, env, fragment", BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_is_one_line_and_exit_status_2(bad_input_answers, name, args, env, fragment):
    res = bad_input_answers[name]
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert "Traceback" not in res.stdout + res.stderr
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("gradcheck"), lines[0]
    assert fragment in lines[0], lines[0]


def test_no_arguments_prints_usage_and_exit_status_2(bad_input_answers):
    res = bad_input_answers["no-arguments"]
    assert res.returncode == 2
    assert res.stderr.startswith("usage: gradcheck") and "check" in res.stderr
    assert "Traceback" not in res.stdout + res.stderr


def test_check_help(bad_input_answers):
    res = bad_input_answers["check-help"]
    assert res.returncode == 0 and res.stderr == ""
    assert res.stdout.startswith("usage: gradcheck check")
    for option in ("--api", "--ops", "--max-examples", "--timeout", "--jobs", "--json", "--report", "--no-report"):
        assert option in res.stdout


# --- runs ----------------------------------------------------------------------------------------


def _comparable(data: dict) -> list[tuple]:
    return [(c["op"], c["quantity"], c["oracle"], c["status"], c["examples"], c["message"], c["max_abs_err"])
            for c in data["checks"]]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("reference")
    json_path, html_path = tmp / "out" / "run.json", tmp / "out" / "run.html"
    code = main(["check", "reference", "--ops", "relu,max_pool2d", *SMALL, "--quiet", "--no-ledger",
                 "--json", str(json_path), "--report", str(html_path)])
    return {"code": code, "json": json_path, "html": html_path, "tmp": tmp}


def test_reference_passes_and_writes_json_and_html(reference_run):
    assert reference_run["code"] == 0
    data = json.loads(reference_run["json"].read_text())
    assert data["complete"] is True and data["passed"] is True
    assert {c["op"] for c in data["checks"]} == {"relu", "max_pool2d"}
    assert all(c["status"] == "pass" for c in data["checks"])
    page = reference_run["html"].read_text()
    assert page.lstrip().lower().startswith("<!doctype html")
    assert "max_pool2d" in page and "relu" in page


def test_jobs_2_gives_the_same_records_as_jobs_1(reference_run, tmp_path):
    out = tmp_path / "jobs2.json"
    code = main(["check", "reference", "--ops", "relu,max_pool2d", *SMALL, "--quiet", "--no-ledger", "--jobs", "2",
                 "--json", str(out), "--no-report"])
    assert code == reference_run["code"]
    assert _comparable(json.loads(out.read_text())) == _comparable(json.loads(reference_run["json"].read_text()))


def test_failing_candidate_exits_1_and_no_report_writes_no_html(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["check", str(BAD / "wrong_scale.py"), "--ops", "relu", *SMALL, "--no-report", "--json", "run.json"])
    out = capsys.readouterr()
    assert code == 1
    assert "FAILED" in out.out and "JSON: run.json" in out.out and "report:" not in out.out
    assert "[1/1] relu:" in out.err  # progress
    data = json.loads((tmp_path / "run.json").read_text())
    assert data["passed"] is False and data["complete"] is True
    assert any(c["status"] == "fail" and c["op"] == "relu" for c in data["checks"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"], "an HTML report was written"


def test_default_report_path_is_reports_target_html(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["check", CORRECT, "--ops", "tanh", *SMALL, "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    report = tmp_path / "reports" / "_correct.html"
    assert report.exists()
    assert f"report: {os.path.join('reports', '_correct.html')}" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]


@pytest.mark.parametrize("target, path", [
    ("reference", "reports/reference.html"),
    ("path/to/layers.py", "reports/layers.html"),
    ("path/to/layers.py:Impl", "reports/layers-Impl.html"),
    ("mypkg.layers", "reports/mypkg.layers.html"),
    ("path/to/pkg/", "reports/pkg.html"),
    ("weird <name> & co.py", "reports/weird_name_co.html"),
])
def test_default_report_path_names(target, path):
    assert default_report_path(target) == os.path.join(*path.split("/"))


def test_an_output_that_cannot_be_written_is_one_line_and_the_others_are_still_written(tmp_path, monkeypatch, capsys):
    import gradcheck.report

    def disk_full(run, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gradcheck.report, "write_html", disk_full)
    code = main(["check", CORRECT, "--ops", "tanh", *SMALL, "--quiet", "--json", str(tmp_path / "run.json"),
                 "--report", str(tmp_path / "run.html")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [f"gradcheck: error: could not write the report to {tmp_path / 'run.html'}: "
                                "No space left on device"]
    assert json.loads((tmp_path / "run.json").read_text())["passed"] is True
