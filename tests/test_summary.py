"""Many targets at once: names that tell them apart, the target × op table, summary.json and the
index page, from the command line and from pytest (items pytest-xdist distributes)."""
from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gradcheck import schema
from gradcheck.cli import main
from gradcheck.records import Record
from gradcheck.report.summary import TargetOutcome, format_table, op_verdicts, summarise, target_names

pytest_plugins = ["pytester"]

BAD = Path(__file__).parent / "misbehaving"
SMALL = ["--max-examples", "3", "--kink-examples", "1"]


@pytest.mark.parametrize("targets, names", [
    (["a/alice/layers.py", "a/bob/layers.py"], ["alice-layers", "bob-layers"]),
    (["x/layers.py", "y/other.py"], ["layers", "other"]),
    (["s1/hw/layers.py", "s2/hw/layers.py"], ["s1-hw-layers", "s2-hw-layers"]),
    (["mypkg.layers", "layers.py:Impl", "reference"], ["mypkg.layers", "layers-Impl", "reference"]),
    (["same.py", "same.py"], ["same", "same-2"]),
    (["weird <name>/l.py", "ok/l.py"], ["weird_name_-l", "ok-l"]),
])
def test_target_names_tell_targets_apart(targets, names):
    assert target_names(targets) == names


def _rec(op, q, o, status, message=""):
    return Record(op, q, o, status, message=message)


def test_op_verdicts_take_the_worst_status_and_name_the_quantities():
    v = op_verdicts([_rec("conv2d", "forward", "torch", "pass"), _rec("conv2d", "dw", "torch", "fail", "dw wrong\nmore"),
                     _rec("conv2d", "db", "fd", "fail", "db wrong"), _rec("conv2d", "dx", "fd", "error", "boom"),
                     _rec("relu", "dx", "fd", "pass"), _rec("tanh", "dx", "fd", "not-provided"),
                     _rec("sigmoid", "dx", "fd", "partial", "missed N>1")])
    assert v["conv2d"] == {"status": "fail", "failed": ["dw", "db"], "message": "dw wrong"}
    assert v["relu"]["status"] == "pass" and v["tanh"]["status"] == "not-provided"
    assert v["sigmoid"] == {"status": "partial", "failed": [], "message": "missed N>1"}


def test_the_table_has_a_row_per_target_and_a_column_per_op():
    from gradcheck.records import RunResult

    ok = RunResult("a.py", "native", [_rec("relu", "dx", "fd", "pass"), _rec("conv2d", "dx", "fd", "pass")])
    bad = RunResult("b.py", "native", [_rec("relu", "dx", "fd", "fail"), _rec("conv2d", "dx", "fd", "not-provided")])
    summary = summarise([TargetOutcome("a.py", "a", ok), TargetOutcome("b.py", "b", bad),
                         TargetOutcome("c.py", "c", error="syntax error in c.py line 1")], api="native")
    lines = format_table(summary).splitlines()
    assert lines[0].split() == ["target", "conv2d", "relu"]  # protocol order
    assert lines[2].split() == ["a", "pass", "pass"]
    assert lines[3].split() == ["b", "–", "FAIL", "dx"]
    assert lines[4].split(None, 1) == ["c", "cannot load: syntax error in c.py line 1"]
    assert lines[-1] == "FAILED: 3 targets (1 failed, 1 load-error, 1 passed)"
    assert summary["passed"] is False and summary["counts"] == {"passed": 1, "failed": 1, "load-error": 1}


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs)["href"])


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    """Three submissions (correct, wrong, a syntax error) checked in one command."""
    root = tmp_path_factory.mktemp("class")
    for who, src in (("alice", BAD / "_correct.py"), ("bob", BAD / "wrong_scale.py")):
        (root / "submissions" / who).mkdir(parents=True)
        shutil.copy(src, root / "submissions" / who / "layers.py")
    (root / "submissions" / "carol").mkdir()
    (root / "submissions" / "carol" / "layers.py").write_text("def relu_forward(x:\n")
    targets = [str(p) for p in sorted((root / "submissions").glob("*/layers.py"))]
    return root, targets


def test_many_targets_on_the_command_line(class_run, capsys):
    root, targets = class_run
    out = root / "out"
    code = main(["check", *targets, "--ops", "relu,tanh", *SMALL, "--quiet", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 1
    table = printed[: printed.index("summary:")]
    rows = {line.split()[0]: line for line in table.splitlines() if line.strip()}
    assert rows["alice-layers"].split()[1:] == ["pass", "pass"]
    assert rows["bob-layers"].split()[1:3] == ["FAIL", "dx"]
    assert "cannot load: importing" in rows["carol-layers"] and "syntax error" in rows["carol-layers"]
    assert "FAILED: 3 targets (1 failed, 1 load-error, 1 passed)" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert [t["name"] for t in summary["targets"]] == ["alice-layers", "bob-layers", "carol-layers"]
    assert summary["targets"][1]["ops"]["relu"]["status"] == "fail" and summary["targets"][1]["ops"]["relu"]["failed"]
    assert summary["ops"] == ["relu", "tanh"] and summary["complete"] is True
    page = (out / "index.html").read_text()
    links = _Links()
    links.feed(page)
    assert links.links == ["alice-layers.html", "bob-layers.html"]
    for href in links.links:
        assert (out / href).read_text().lstrip().lower().startswith("<!doctype html")
    assert 'id="verdict"' in page and "syntax error" in page
    bob = json.loads((out / "bob-layers.json").read_text())
    assert bob["passed"] is False and bob["target"] == targets[1]
    schema.validate(summary, "summary")
    schema.validate(bob, "run")


def test_json_and_report_with_several_targets_is_one_line_and_exit_status_2(class_run, capsys):
    _, targets = class_run
    assert main(["check", *targets[:2], "--json", "x.json"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "with several targets" in err[0]


def test_many_targets_under_pytest_xdist(pytester, class_run):
    _, targets = class_run
    folder = str(Path(targets[0]).parent.parent)
    out = pytester.path / "out"
    res = pytester.runpytest_subprocess(
        "--gradcheck-target", f"{folder}/*/layers.py", "--gradcheck-ops", "relu", "--gradcheck-max-examples", "3",
        "--gradcheck-out", str(out), "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider", "-rf")
    assert res.ret == 1
    text = res.stdout.str()
    assert re.search(r"FAILED .*gradcheck::bob-layers::relu-dx-torch", text)
    assert re.search(r"FAILED .*gradcheck::carol-layers::load", text)
    assert "gradcheck::alice-layers::" not in " ".join(ln for ln in res.stdout.lines if ln.startswith("FAILED"))
    assert "gradcheck: target × op" in text and "FAILED: 3 targets (1 failed, 1 load-error, 1 passed)" in text
    summary = json.loads((out / "summary.json").read_text())
    schema.validate(summary, "summary")
    assert [t["status"] for t in summary["targets"]] == ["passed", "failed", "load-error"]
    for t in summary["targets"][:2]:  # every record came back from the workers: each target's run is whole
        run = json.loads((out / t["json"]).read_text())
        schema.validate(run, "run")
        assert run["complete"] is True and {c["op"] for c in run["checks"]} == {"relu"}
    assert (out / "index.html").exists()


def test_items_of_one_target_share_an_xdist_group(pytester, class_run):
    _, targets = class_run
    pytester.makeconftest(
        "def pytest_collection_finish(session):\n"
        "    for item in session.items:\n"
        "        groups = [m.args[0] for m in item.iter_markers('xdist_group')]\n"
        "        print('GROUP', item.nodeid, groups)\n")
    res = pytester.runpytest_subprocess("--gradcheck-target", targets[0], "--gradcheck-target", targets[1],
                                        "--gradcheck-ops", "relu", "--collect-only", "-q", "-s", "-p", "no:cacheprovider")
    groups = {}
    for line in res.stdout.lines:
        if line.startswith("GROUP"):
            _, nodeid, group = line.split(" ", 2)
            groups.setdefault(nodeid.split("::")[-2], set()).add(group)
    assert groups == {"alice-layers": {"['gradcheck-alice-layers']"}, "bob-layers": {"['gradcheck-bob-layers']"}}
