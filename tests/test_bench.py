"""`gradcheck bench`: the JSON it writes, the element-wise check it times, and its options.

No test asserts a time.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from gradcheck.bench import GROUPS, ROW_NAMES
from gradcheck.bench import gradients as G
from gradcheck.bench.timing import Row, side_by_side
from gradcheck.cli import main
from gradcheck.judge.compare import compare
from gradcheck.ops import SPECS
from gradcheck.oracles.fd import finite_differences
from gradcheck.oracles.magnitudes import magnitudes

FAST_ROWS = ["elementwise", "planted", "directional", "elementwise-133k", "elementwise-438k", "localise", "localise-correct",
             "conv2d", "max_pool2d-k2s2", "l2_pool2d-k3s2"]
ANCHORS = {
    "elementwise": "torch.autograd.gradcheck slow",
    "planted": "torch.autograd.gradcheck slow",
    "directional": "torch.autograd.gradcheck fast",
    "elementwise-133k": "colouring floor (2 forwards a colour)",
    "elementwise-438k": "colouring floor (2 forwards a colour)",
    "localise": "torch.autograd.gradcheck fast",
    "localise-correct": "torch.autograd.gradcheck fast",
    "conv2d": "torch conv2d",
    "max_pool2d-k2s2": "torch max_pool2d",
    "l2_pool2d-k3s2": "torch lp_pool2d",
}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny convs on a busy 2-core machine: one torch thread avoids waits on a descheduled peer (results unchanged)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def bench_json(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    status = main(["bench", "--quick", "--repeat", "2", "--only", ",".join(FAST_ROWS), "--json", str(path)])
    assert status == 0
    return json.loads(path.read_text())


def test_json_rows_have_the_schema(bench_json):
    rows = bench_json["rows"]
    assert [r["name"] for r in rows] == FAST_ROWS
    for r in rows:
        assert {"case", "ours_s", "anchor", "anchor_s", "speedup"} <= set(r), r
        assert r["anchor"] == ANCHORS[r["name"]]
        assert isinstance(r["case"], str) and r["case"]
        assert r["ours_s"] > 0 and r["anchor_s"] > 0
        assert r["speedup"] == pytest.approx(r["anchor_s"] / r["ours_s"], rel=1e-12)
        assert r["ours_s"] == pytest.approx(float(np.median(r["ours_times"])), rel=1e-12)
        assert r["repeat"] == 2 and len(r["ours_times"]) == 2
    assert rows[0]["anchor_repeat"] == 1  # the slow anchor runs once by default
    assert bench_json["complete"] is True and bench_json["quick"] is True


def test_json_records_the_verdicts(bench_json):
    rows = {r["name"]: r for r in bench_json["rows"]}
    el = rows["elementwise"]
    assert "dx pass" in el["note"] and "dw pass" in el["note"] and "db pass" in el["note"]
    assert "torch.autograd.gradcheck slow: passed" in el["note"]
    # x (2,2,5,5) w (3,2,3,3) b (3,): 157 estimates, from far fewer forward calls than elements.
    assert "157 estimates" in el["note"] and 0 < el["forward_calls"] < 4 * 157
    pl = rows["planted"]
    assert pl["located"] == pl["planted"] and pl["target_met"] is True
    assert "caught it" in pl["note"]
    for name in ("conv2d", "max_pool2d-k2s2", "l2_pool2d-k3s2"):
        assert rows[name]["peak_mb"] is not None and rows[name]["memory"]


def test_json_records_the_floor_and_the_localisation(bench_json):
    rows = {r["name"]: r for r in bench_json["rows"]}
    for name in ("elementwise", "elementwise-133k", "elementwise-438k"):
        r = rows[name]
        # a correct conv: no colour needs the step halving, two evaluations a colour (+ the unperturbed one)
        assert r["refined_colours"] == 0 and r["forward_evaluations"] == 2 * r["colours"] + 1
        assert r["forward_s"] > 0 and r["floor_ratio"] > 0 and "a colour" in r["note"]
    for name in ("elementwise-133k", "elementwise-438k"):
        r = rows[name]
        assert r["anchor_s"] == pytest.approx(2 * r["colours"] * r["forward_s"], rel=1e-9)
    loc = rows["localise"]
    assert loc["located"] == loc["planted"] and loc["forward_evaluations"] <= 100
    assert "dw pass, db pass" in loc["note"] and "extrapolated" in loc["note"]
    assert loc["slow_estimate"]["estimate_s"] > 0 and loc["localisation"]["located"]["dx"][0]["index"] == loc["planted"]
    ok = rows["localise-correct"]
    assert ok["alarms"] == 0 and ok["located"] == 0 and ok["forced_tests"] > 3 and "screen passed" in ok["note"]


def test_table_and_row_dict():
    from gradcheck.bench.timing import format_table

    rows = [Row("a", "case a", "torch conv2d", ours_times=[1.0, 3.0, 2.0], anchor_times=[4.0]), Row("b", "case b", "none", ours_times=[0.5])]
    text = format_table(rows)
    assert "case a" in text and "torch conv2d" in text and "2.00x" in text and "4.00 s" in text
    assert rows[0].to_dict()["speedup"] == 2.0 and rows[1].to_dict()["speedup"] is None


@pytest.mark.parametrize(
    "quantity,index",
    [("dx", (0, 0, 0, 0)), ("dx", (1, 1, 4, 2)), ("dw", (2, 1, 0, 2)), ("db", (1,))],
)
def test_a_planted_wrong_element_is_located(quantity, index):
    case = G.conv_case((2, 2, 5, 5), (3, 2, 3, 3), seed=3)
    recs = G.elementwise_check(case, G.planted_adapter(quantity, index))
    rec = recs[quantity]
    assert rec.status == "fail" and list(rec.worst.index) == list(index)
    assert all(r.status == "pass" for q, r in recs.items() if q != quantity)


def test_torch_slow_gradcheck_catches_the_planted_element_too():
    case = G.conv_case((1, 2, 4, 4), (2, 2, 3, 3), seed=2)
    assert G.torch_gradcheck(case, G.planted_conv2d("dw", (1, 0, 2, 1))) is False
    assert G.elementwise_check(case, G.planted_adapter("dw", (1, 0, 2, 1)))["dw"].worst.index == [1, 0, 2, 1]


def test_the_coloured_estimate_locates_every_element_alone():
    """On a case too large for one-at-a-time confirmation, the coloured estimate itself locates the element."""
    from gradcheck.judge.battery import CONFIRM_LIMIT

    case = G.conv_case((1, 4, 32, 32), (4, 4, 3, 3), seed=5)
    assert case.size() > CONFIRM_LIMIT
    index = (0, 2, 31, 11)  # on the border: the padding's footprint
    recs = G.elementwise_check(case, G.planted_adapter("dx", index))
    assert list(recs["dx"].worst.index) == list(index)
    assert recs["dw"].status == "pass" and recs["db"].status == "pass"
    # Every other element of dx agrees with its own estimate: remove the planted one and it passes.
    spec = SPECS["conv2d"]
    exp = finite_differences(spec, case, lambda ins: G.torch_conv().forward("conv2d", ins, dict(case.params)))
    actual = G.planted_adapter("dx", index).backward("conv2d", case.delta, case.inputs, dict(case.params))[0]
    k = np.ravel_multi_index(index, actual.shape)
    others = compare(np.delete(actual.ravel(), k), np.delete(exp.grads["dx"].ravel(), k), case=case, quantity="dx",
                     oracle="fd", reduction=spec.reduction(case.shapes, case.params)["dx"],
                     magnitude=np.delete(magnitudes(spec, case)["dx"].ravel(), k),
                     uncertainty=np.delete(exp.uncertainty["dx"].ravel(), k))
    assert others.status == "pass"


def test_correct_conv_passes_both():
    case = G.conv_case((1, 2, 4, 4), (2, 2, 3, 3), seed=1)
    assert all(r.status == "pass" for r in G.elementwise_check(case, G.torch_conv()).values())
    assert G.torch_gradcheck(case) is True
    assert G.directional_check(case, G.torch_conv())[0] is True


def test_side_by_side_alternates():
    order: list[str] = []
    ours_t, anchor_t = side_by_side(lambda: order.append("o"), lambda: order.append("a"), 3, 1)
    assert order == ["o", "a", "o", "o"] and len(ours_t) == 3 and len(anchor_t) == 1


def test_only_expands_groups():
    from gradcheck.bench import _rows

    assert _rows("pools,conv2d") == ["conv2d", *GROUPS["pools"]]
    assert _rows("check, elementwise") == ["elementwise", "check"]
    assert set(ROW_NAMES) >= set(GROUPS["kernels"])


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gradcheck.cli", "bench", *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--repeat", "0"], "--repeat"),
        (["--repeat", "two"], "--repeat"),
        (["--slow-repeat", "-1"], "--slow-repeat"),
        (["--only", "nosuchrow"], "nosuchrow"),
        (["--only", ","], "--only"),
        (["--json", "/nonexistent-folder/x/bench.json", "--only", "directional"], "no such folder"),
        (["--frobnicate"], "unrecognized"),
    ],
)
def test_bad_options_exit_2_with_one_line(args, needle):
    p = _cli(*args)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in p.stderr
    assert p.stdout == ""


def test_rows_are_skipped_with_a_note_when_the_reference_cannot_be_imported(tmp_path, monkeypatch, capsys):
    from gradcheck.bench import kernels

    def broken():
        raise ImportError("reference is being rewritten")

    monkeypatch.setattr(kernels, "load_reference", broken)
    path = tmp_path / "b.json"
    assert main(["bench", "--quick", "--only", "max_pool2d-k2s2,check", "--json", str(path)]) == 0
    rows = json.loads(path.read_text())["rows"]
    assert [r["anchor"] for r in rows] == ["torch max_pool2d", "none"]
    for r in rows:
        assert r["skipped"] is True and r["ours_s"] is None and r["speedup"] is None
        assert "not importable" in r["note"] and "being rewritten" in r["note"]
    assert "skipped" in capsys.readouterr().out


def test_a_row_that_raises_is_reported_and_the_others_still_run(tmp_path, monkeypatch):
    from gradcheck.bench import rows as R

    def boom(settings):
        raise RuntimeError("no luck")

    monkeypatch.setattr(R, "elementwise_row", boom)
    path = tmp_path / "b.json"
    assert main(["bench", "--quick", "--repeat", "1", "--only", "elementwise,max_pool2d-k2s2", "--json", str(path)]) == 1
    rows = json.loads(path.read_text())["rows"]
    assert rows[0]["error"] == "RuntimeError: no luck" and rows[0]["anchor"] == "torch.autograd.gradcheck slow"
    assert rows[1]["ours_s"] > 0 and "error" not in rows[1]
