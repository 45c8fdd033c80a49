"""The harness against the catalogue: every known bug flagged at its op and quantity, every
correct variant passed (``tests/catalogue.py``, candidates in ``tests/candidates/``)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from catalogue import CATALOGUE, Entry, judge, run_ours
from gradcheck.records import Record, RunResult

#: The command line: the installed console script, else the same entry point through -m.
GRADCHECK = [shutil.which("gradcheck")] if shutil.which("gradcheck") else [sys.executable, "-m", "gradcheck.cli"]

#: Cases per op: enough for every catalogue bug, small enough for a quick suite.
MAX_EXAMPLES, KINK_EXAMPLES = 6, 4

def _param(entry: Entry):
    return pytest.param(entry, id=entry.name.replace("[", "-").rstrip("]"))


@pytest.mark.parametrize("entry", [_param(e) for e in CATALOGUE])
def test_catalogue_entry(entry: Entry) -> None:
    run = run_ours(entry, MAX_EXAMPLES, KINK_EXAMPLES)
    problems = judge(entry, run)
    assert not problems, f"{entry.file} ({entry.what}):\n  " + "\n  ".join(problems)
    assert run.passed is entry.correct


def test_catalogue_is_well_formed() -> None:
    from catalogue import CANDIDATES
    from gradcheck.ops import SPECS

    names = [e.name for e in CATALOGUE]
    assert len(set(names)) == len(names)
    assert sum(e.correct for e in CATALOGUE) >= 10 and sum(not e.correct for e in CATALOGUE) >= 20
    for e in CATALOGUE:
        assert (CANDIDATES / e.file).is_file(), e.file
        assert not e.file.startswith("test_"), "candidates must not be collected as tests"
        for pair in e.fails + e.also + e.holds:
            assert pair[0] in e.ops and pair[0] in SPECS, (e.name, pair)


def _rec(op: str, quantity: str, oracle: str, status: str, message: str = "") -> Record:
    return Record(op, quantity, oracle, status, examples=3, message=message)


@pytest.mark.parametrize(
    "entry, records, expected",
    [
        pytest.param(Entry("f.py", "native", ("relu",), "ok"), [_rec("relu", "dx", "fd", "pass")], [], id="correct-passes"),
        pytest.param(Entry("f.py", "native", ("relu",), "ok"), [_rec("relu", "dx", "fd", "fail")], ["false alarm"],
                     id="correct-flagged"),
        pytest.param(Entry("f.py", "native", ("relu",), "ok"), [Record("relu", "dx", "fd", "pass", examples=0)],
                     ["vacuous"], id="vacuous-pass"),
        pytest.param(Entry("f.py", "native", ("relu",), "bug", fails=(("relu", "dx"),)),
                     [_rec("relu", "dx", "fd", "pass")], ["missed"], id="bug-missed"),
        pytest.param(Entry("f.py", "native", ("relu",), "bug", fails=(("relu", "dx"),)),
                     [_rec("relu", "dx", "fd", "fail"), _rec("relu", "finite", "structure", "fail")], ["misplaced"],
                     id="bug-misplaced"),
        pytest.param(Entry("f.py", "native", ("relu",), "bug", fails=(("relu", "dx", "subgradient"),)),
                     [_rec("relu", "dx", "fd", "fail")], ["missed", "misplaced"], id="bug-wrong-oracle"),
        pytest.param(Entry("f.py", "native", ("relu",), "bug", fails=(("relu", "forward"),), holds=(("relu", "dx", "fd"),)),
                     [_rec("relu", "forward", "torch", "fail"), _rec("relu", "dx", "fd", "fail")],
                     ["misplaced", "broken"], id="bug-holds-broken"),
        pytest.param(Entry("f.py", "native", ("relu",), "bug", fails=(("relu", "dx"),), raises="relu_backward"),
                     [_rec("relu", "dx", "fd", "error", "relu_backward raised ValueError: x"),
                      _rec("relu", "forward", "torch", "error", "relu_backward raised ValueError: x")], [],
                     id="bug-raises-named"),
    ],
)
def test_judge(entry: Entry, records: list[Record], expected: list[str]) -> None:
    problems = judge(entry, RunResult("f.py", "native", records=records))
    assert [p.split(":")[0] for p in problems] == expected


def _cli(tmp_path, target: str, ops: str) -> tuple[int, dict]:
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [*GRADCHECK, "check", target, "--api", "cs231n", "--ops", ops, "--max-examples", "4",
         "--kink-examples", "3", "--json", str(out), "--no-report", "--quiet"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.is_file(), proc.stderr
    return proc.returncode, json.loads(out.read_text())


def test_cli_flags_a_bug(tmp_path) -> None:
    entry = next(e for e in CATALOGUE if e.file == "cs231n_affine_dw_transposed.py")
    code, data = _cli(tmp_path, entry.path, "dense")
    assert code == 1
    assert data["passed"] is False and data["api"] == "cs231n" and data["complete"] is True
    failed = {(c["op"], c["quantity"], c["oracle"]) for c in data["checks"] if c["status"] == "fail"}
    assert ("dense", "dw", "torch") in failed and ("dense", "dw", "fd") in failed
    assert not {q for _, q, _ in failed} - {"dw", "shape-dtype"}
    dw = next(c for c in data["checks"] if (c["op"], c["quantity"], c["oracle"]) == ("dense", "dw", "torch"))
    assert dw["key"] == "dense-dw-torch" and dw["counterexample"]["shapes"]["w"]
    assert "--ops dense" in dw["repro"]["command"]

