"""Folding one check's records over many cases (gradcheck.judge.search.merge)."""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck.judge.search import merge
from gradcheck.records import Record


def _rec(status, abs_err=None, rel=None, tol=None, examples=1, message="", duration=0.0):
    return Record("conv2d", "dx", "fd", status, max_abs_err=abs_err, max_rel_err=rel, tolerance=tol,
                  examples=examples, message=message, duration_s=duration)


@pytest.mark.parametrize(
    "statuses,kept",
    [
        pytest.param(["pass", "pass"], 0, id="pass,pass keeps the first"),
        pytest.param(["pass", "fail"], 1, id="pass,fail keeps the failure"),
        pytest.param(["fail", "pass"], 0, id="fail,pass keeps the failure"),
        pytest.param(["fail", "fail"], 0, id="fail,fail keeps the first failure"),
        pytest.param(["pass", "fail", "fail", "pass"], 1, id="the first of several failures"),
        pytest.param(["fail", "error"], 1, id="an error outranks a failure"),
        pytest.param(["error", "fail"], 0, id="a failure does not replace an error"),
        pytest.param(["not-provided", "pass"], 1, id="a pass outranks not-provided"),
    ],
)
def test_merge_keeps_the_first_failure(statuses, kept):
    recs = [_rec(s, message=f"record {i}", examples=i + 1, duration=0.5) for i, s in enumerate(statuses)]
    out = None
    for r in recs:
        out = merge(out, r)
    assert out.status == statuses[kept]
    assert out.message == f"record {kept}"
    assert out.examples == sum(range(1, len(recs) + 1))
    assert out.duration_s == pytest.approx(0.5 * len(recs))


@pytest.mark.parametrize(
    "a,b,want",
    [
        pytest.param((1e-3, 2e-3, 1e-6), (5e-4, 4e-3, 2e-6), (1e-3, 4e-3, 2e-6), id="maxima taken apart"),
        pytest.param((None, None, None), (5e-4, 4e-3, 2e-6), (5e-4, 4e-3, 2e-6), id="None-then-numbers"),
        pytest.param((1e-3, 2e-3, 1e-6), (None, None, None), (1e-3, 2e-3, 1e-6), id="numbers-then-None"),
        pytest.param((None, None, None), (None, None, None), (None, None, None), id="None-None"),
        pytest.param((np.inf, 1.0, 1e-6), (2.0, 3.0, 1e-6), (np.inf, 3.0, 1e-6), id="inf"),
    ],
)
@pytest.mark.parametrize("order", [("fail", "pass"), ("pass", "fail")], ids=["fail-first", "pass-first"])
def test_merge_takes_maxima_of_the_figures(a, b, want, order):
    out = merge(_rec(order[0], *a), _rec(order[1], *b))
    assert (out.max_abs_err, out.max_rel_err, out.tolerance) == want


def test_merge_of_nothing_returns_the_new_record_and_leaves_inputs_alone():
    new = _rec("fail", 1.0, 1.0, 1e-6, message="m")
    assert merge(None, new) is new
    old = _rec("pass", 2.0, 2.0, 1e-7, examples=3)
    out = merge(old, new)
    assert (old.status, old.examples, old.max_abs_err) == ("pass", 3, 2.0)
    assert (new.status, new.examples, new.max_abs_err) == ("fail", 1, 1.0)
    assert out is not old and out is not new and out.examples == 4
