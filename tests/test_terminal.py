"""The terminal summary (gradcheck.report.terminal): a failure anyone can act on from stdout alone.

The command line is run on a broken CS231n candidate in a fresh interpreter and a folder of its
own; the layout rules are checked on hand-built records.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gradcheck.records import Counterexample, Record, RunResult, Worst
from gradcheck.report.terminal import WIDTH, format_summary

CANDIDATES = Path(__file__).parent / "candidates"


def _ce(**params) -> Counterexample:
    return Counterexample(shapes={"x": [1, 1, 3, 1], "w": [1, 1, 1, 1], "b": [1]},
                          params=params or {"stride": [2, 2], "padding": [0, 0], "dilation": [1, 1]},
                          inputs={"x": [[[[0.5], [-1.0], [2.0]]]], "w": [[[[0.25]]]], "b": [0.0],
                                  "delta": [[[[1.0], [3.0]]]]})


def _fail(oracle: str, **kw) -> Record:
    base = dict(max_abs_err=946.0, max_rel_err=0.9, tolerance=5.3e-14, examples=19,
                message="conv2d dw vs torch: 1 of 1 elements beyond tolerance; worst at [0, 0, 0, 0]: actual -0.1268, "
                        "expected 0.8806 (|error| 1.01 > allowed 3.13e-15)\nPattern: your dw is exactly what stride 1 "
                        "gives with the same upstream gradient, at every element: the windows are read at (i, j) "
                        "instead of (i*stride, j*stride) — the stride [2, 2] is ignored in dw.",
                counterexample=_ce(),
                worst=Worst(index=[0, 0, 0, 0], actual=-0.1268, expected=0.8806, abs_err=1.01, tolerance=3.13e-15),
                repro={"command": "gradcheck check " + "/very/long/path/" * 6 + "layers.py --api cs231n --ops conv2d",
                       "python": "print('x')"})
    base.update(kw)
    return Record("conv2d", "dw", oracle, "fail", **base)


def _run(records, **kw) -> RunResult:
    return RunResult(target="layers.py", api="cs231n", records=records, **kw)


def _flat(text: str) -> str:
    """Wrapped lines joined again: shell continuations and indented continuation lines."""
    return re.sub(r"\n {4,}", " ", re.sub(r" \\\n\s*", " ", text))


def _blocks(text: str) -> list[str]:
    return [b for b in text.split("\n\n") if b.lstrip().startswith(("✗", "!"))]


def test_one_block_per_failing_quantity_naming_the_oracles_that_agree():
    recs = [Record("conv2d", "forward", "torch", "pass", examples=19), _fail("fd"), _fail("torch"), _fail("scipy"),
            Record("conv2d", "db", "fd", "pass", examples=19)]
    text = format_summary(_run(recs))
    blocks = _blocks(text)
    assert len(blocks) == 1
    block = blocks[0]
    assert block.startswith("✗ FAIL conv2d dw: wrong against fd, torch and scipy")
    assert "smallest case: x 1×1×3×1, w 1×1×1×1, b (1,); stride (2, 2), padding (0, 0), dilation (1, 1)" in block
    assert "x[0, 0] = [[0.5], [-1], [2]]" in block and "dout[0, 0] = [[1], [3]]" in block  # tiny arrays
    assert "worst element, on the smallest case: dw[0, 0, 0, 0] = -0.1268, expected 0.8806" in block
    assert "|yours - expected| = 1.01 > allowed 3.13e-15 (the tolerance at that element" in block
    assert "over all 19 cases judged: largest |error| 946" in block  # labelled with what it is taken over
    assert "on the smallest case: 1 of 1 elements beyond tolerance" in block
    assert "the stride [2, 2] is ignored in dw" in _flat(block)
    assert _flat(block).count("layers.py --api cs231n --ops conv2d") == 1
    assert all(len(line) <= WIDTH or len(line.split()) <= 2 for line in text.splitlines())  # but the long path


def test_nothing_is_cut_and_commands_wrap_with_continuations():
    long = "x" * 300
    rec = _fail("torch")
    rec.message += f"\nPattern: a word {long} longer than the width"
    text = format_summary(_run([rec]))
    assert long in text  # a word longer than the width stands whole on its own line
    assert "…" not in text
    repro = text.split("  reproduce:\n")[1]
    assert _flat(repro).lstrip().startswith("gradcheck check /very/long/path/")
    assert "layers.py --api cs231n --ops conv2d" in _flat(repro)
    assert repro.splitlines()[0].endswith(" \\")
    for line in text.splitlines():  # over the width only for one long word (and its continuation mark)
        assert len(line) <= WIDTH or len(line.strip().rstrip("\\").split()) == 1, line


def test_errors_repeating_one_message_share_one_block():
    msg = "max_pool2d_backward raised ValueError: boom"
    recs = [Record("max_pool2d", q, o, "error", examples=4, message=msg, counterexample=_ce(),
                   traceback='Traceback (most recent call last):\n  File "/home/me/layers.py", line 3, in '
                             'max_pool2d_backward\n    raise ValueError("boom")\nValueError: boom')
            for q, o in (("dx", "fd"), ("dx", "torch"), ("determinism", "structure"), ("linearity", "structure"))]
    text = format_summary(_run(recs))
    assert text.count("what happened: max_pool2d_backward raised ValueError: boom") == 1
    assert "! ERROR max_pool2d determinism: the same as max_pool2d dx above" in text
    assert 'raised at: File "/home/me/layers.py", line 3, in max_pool2d_backward' in text


def test_partial_excluded_and_declined_are_said():
    recs = [Record("conv2d", "dx", "torch", "partial", examples=9, untested=["dilation>1"],
                   excluded={"non-square kernel": "the cs231n convention has square kernels only"}, skipped=2),
            Record("conv2d", "dw", "torch", "pass", examples=9)]
    text = format_summary(_run(recs))
    rows = [ln for ln in text.splitlines() if ln.startswith("conv2d  ")]
    assert "torch◐" in rows[0]
    assert "◐ conv2d: passed on every case judged, but no case reached dilation>1 — dx (torch)" in text
    assert "non-square kernel (the cs231n convention has square kernels only)" in _flat(text)
    assert "2 cases declined by the candidate" in text
    assert text.splitlines()[-1].startswith("PARTIAL: 1 partial, 1 pass")


def test_drawn_and_also_are_shown_in_the_block():
    drawn_ce = Counterexample(shapes={"x": [2, 3, 7, 7], "w": [2, 3, 3, 3], "b": [2]},
                              params={"stride": [2, 2], "padding": [1, 1], "dilation": [1, 1]})
    rec = _fail("torch", drawn={"counterexample": drawn_ce, "worst": None, "arrays": None,
                                "message": "conv2d dw vs torch: 14 of 54 elements beyond tolerance; worst at ...\n"
                                           "Pattern: your dw is wrong only on every 2nd row"},
                also={"status": "error", "message": "conv_backward_naive raised IndexError: index 3",
                      "counterexample": _ce(), "worst": None, "arrays": None, "traceback": None})
    block = _blocks(format_summary(_run([rec])))[0]
    assert ("the largest failing case drawn, before shrinking: x 2×3×7×7, w 2×3×3×3, b (2,); stride (2, 2), padding (1, 1)"
            in _flat(block))
    assert "14 of 54 elements beyond tolerance" in block and "every 2nd row" in block
    assert "it also errored on other cases: conv_backward_naive raised IndexError: index 3" in block


def test_the_pass_table_stays_compact_and_fits():
    many = [Record(f"conv2d_{a}", q, o, "pass", examples=12) for a in ("relu", "sigmoid") for q in
            ("forward", "dx", "dw", "db") for o in ("fd", "torch", "scipy", "subgradient") if not (q == "forward" and o == "fd")]
    text = format_summary(_run(many))
    lines = text.splitlines()
    assert all(len(ln) <= WIDTH for ln in lines)
    assert any(ln.startswith("oracles: f = fd, t = torch, s = scipy, k = subgradient") for ln in lines)
    assert sum(ln.startswith("conv2d_") for ln in lines) == 2  # one row per op, no blocks
    assert lines[-1].startswith("PASSED")


def test_colour_marks_and_verdict():
    text = format_summary(_run([_fail("torch")]), color=True)
    assert "\033[1;31mFAILED\033[0m" in text and "\033[" not in format_summary(_run([_fail("torch")]))


def test_the_ledger_at_a_glance():
    ledger = [{"id": "eq6", "verdict": "fails-as-printed", "standing_label": "holds under a standard reading"},
              {"id": "eq14", "verdict": "fails-as-printed", "standing_label": "holds under a standard reading"},
              {"id": "eq22", "verdict": "fails-as-printed", "standing_label": "holds only under another reading"},
              {"id": "eq1", "verdict": "holds", "standing_label": "holds"}]
    text = format_summary(_run([Record("relu", "dx", "fd", "pass", examples=3)], ledger=ledger))
    assert "holds under a standard reading: 2 (eq6, eq14); holds only under another reading: 1 (eq22); holds: 1" \
        in _flat(text)


# -- the command line, as a new user runs it ----------------------------------------------------
@pytest.fixture(scope="module")
def broken_cs231n(tmp_path_factory):
    where = tmp_path_factory.mktemp("student")
    env = {k: v for k, v in os.environ.items()
           if k not in ("HYPOTHESIS_STORAGE_DIRECTORY", "GRADCHECK_CACHE", "XDG_CACHE_HOME")}
    env["HOME"] = str(where / "home")
    target = str(CANDIDATES / "cs231n_conv_dw_stride_ignored.py")
    proc = subprocess.run([sys.executable, "-m", "gradcheck.cli", "check", target, "--api", "cs231n",
                           "--max-examples", "6", "--kink-examples", "2", "--quiet"],
                          capture_output=True, text=True, cwd=where, env=env, timeout=300)
    return proc, where


def test_stdout_alone_says_what_to_fix(broken_cs231n):
    proc, _ = broken_cs231n
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    lines = out.splitlines()
    assert all(len(ln) <= WIDTH for ln in lines), [ln for ln in lines if len(ln) > WIDTH]
    block = next(b for b in out.split("\n\n") if b.startswith("✗ FAIL conv2d dw"))  # the quantity
    flat = _flat(block)
    case = re.search(r"smallest case: .*stride \((\d+), (\d+)\), padding \((\d+), (\d+)\)", flat)
    assert case and int(case.group(1)) > 1, flat  # the stride clue, on the terminal
    assert re.search(r"worst element, on the smallest case: dw\[\d+, \d+, \d+, \d+\] = \S+, expected \S+", flat)
    assert re.search(r"> allowed \d\S* \(the tolerance at that element", flat)
    assert "over all" in flat and "cases judged: largest |error|" in flat
    assert "stride 1 gives" in flat  # the pattern, in words
    repro = flat.split("reproduce:")[1]
    assert re.search(r"gradcheck check \S+cs231n_conv_dw_stride_ignored\.py --api cs231n --ops conv2d", repro)
    assert "--max-examples 6" in repro
    assert lines[-1] == f"report: {os.path.join('reports', 'cs231n_conv_dw_stride_ignored.html')}"  # printed last
    assert out.count("FAIL conv2d dw") == 1  # one block, not one line per oracle


def test_no_hypothesis_folder_in_the_current_one(broken_cs231n):
    _, where = broken_cs231n
    assert not (where / ".hypothesis").exists()
    assert sorted(p.name for p in where.iterdir()) == ["home", "reports"]
