"""Shared fixtures and the hypothesis profiles of the test suite.

Profiles: ``ci`` (default: derandomised, bounded) and ``thorough`` (many more examples), chosen
with hypothesis' own ``--hypothesis-profile`` option or ``GRADCHECK_PROFILE``.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, max_examples=25, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("GRADCHECK_PROFILE", "ci"))

# The cases are tiny: one torch thread per test process beats a thread pool fighting the other
# xdist workers for two cores (results are unchanged).
torch.set_num_threads(1)

from gradcheck.records import Counterexample, Record, RunResult, Worst


def _report_run() -> RunResult:
    """A hand-built run with every kind of record the report must render.

    A pass, a failure with arrays / convergence / reproduction / worst element /
    counterexample, a failure on a large array, an error with a traceback, a not-provided
    op, a record whose message holds markup, structural checks, coverage and a ledger.
    """
    rng = np.random.default_rng(0)
    expected = rng.normal(size=(2, 1, 3, 3))
    actual = expected.copy()
    actual[1, 0, 2, 1] += 0.75  # the wrong element
    actual[0, 0, 0, 0] += 3e-9
    tol = 1e-7
    error = np.abs(actual - expected) / tol
    error[0, 0, 1, 1] = np.nan  # NaN must render, and survive the JSON round trip
    big = np.abs(rng.normal(size=(1, 1, 20, 20))) * 1e-3
    big[0, 0, 4, 7] = 40.0
    recs = [
        Record("conv2d", "forward", "torch", "pass", 1e-16, 2e-16, 1e-10, examples=40,
               duration_s=0.21),
        Record("conv2d", "forward", "scipy", "pass", 2e-16, 3e-16, 1e-10, examples=40),
        Record("conv2d", "dx", "fd", "pass", 3e-9, 1e-8, 1e-6, examples=25),
        Record("conv2d", "dx", "torch", "pass", 1e-15, 1e-15, 1e-10, examples=40),
        Record(
            "conv2d", "dw", "torch", "fail", max_abs_err=0.75, max_rel_err=0.62,
            tolerance=tol, examples=7, message="dw differs from torch at [1, 0, 2, 1]",
            counterexample=Counterexample(
                shapes={"x": (1, 1, 4, 4), "w": (2, 1, 3, 3), "b": (2,)},
                params={"stride": (1, 1), "padding": (0, 0), "dilation": (1, 1)},
                dtype="float64", seed=1234, kind="smooth",
                inputs={"x": rng.normal(size=(1, 1, 4, 4)).round(3).tolist()}),
            worst=Worst(index=(1, 0, 2, 1), actual=float(actual[1, 0, 2, 1]),
                        expected=float(expected[1, 0, 2, 1]), abs_err=0.75, tolerance=tol),
            arrays={"expected": expected, "actual": actual, "error": error},
            convergence=[{"h": 10.0 ** -k, "err": 0.75 + 10.0 ** (-2 * k)} for k in range(1, 8)],
            repro={"command": "gradcheck run --op conv2d --seed 1234",
                   "python": "import numpy as np\nfrom reference import conv2d_backward\n"
                             "x = np.zeros((1, 1, 4, 4))"},
            duration_s=1.5),
        Record("conv2d", "db", "fd", "pass", 1e-10, 1e-10, 1e-6, examples=25),
        Record("conv2d", "shape", "structure", "pass", examples=10),
        Record("conv2d", "determinism", "structure", "pass", examples=10),
        Record("relu", "dx", "torch", "fail", 1.0, 1.0, 1e-10, examples=3,
               message="relu dx wrong: <script>alert(1)</script> & \"quotes\"",
               worst=Worst(index=[0], actual=1.0, expected=0.0, abs_err=1.0, tolerance=1e-10)),
        Record("relu", "dx", "subgradient", "pass", examples=30),
        Record(
            "max_pool2d", "dx", "subgradient", "fail", 40.0, 1.0, 1e-7, examples=12,
            message="gradient routed to a tied element outside the window",
            counterexample=Counterexample(shapes={"x": [1, 1, 20, 20]},
                                          params={"kernel_size": [2, 2], "stride": [2, 2],
                                                  "padding": [1, 1]}, kind="kink", seed=7),
            worst=Worst(index=[0, 0, 4, 7], actual=1.0, expected=0.0, abs_err=1.0,
                        tolerance=1e-7),
            arrays={"expected": np.zeros((1, 1, 20, 20)), "actual": big * 1e-7,
                    "error": big}),
        Record("l2_pool2d", "dx", "fd", "error", examples=0,
               message="ValueError: operands could not be broadcast together",
               traceback='Traceback (most recent call last):\n  File "cand.py", line 3, in '
                         "l2_pool2d_backward\n    return delta * x / o\nValueError: operands "
                         "could not be broadcast together <b>bold</b>"),
        Record("dense", "forward", "torch", "not-provided",
               message="candidate has no dense_forward"),
        Record("dense", "dx", "torch", "not-provided", message="candidate has no dense_backward"),
    ]
    ledger = [
        {"id": "eq7", "number": 7, "title": "Forward convolution (cross-correlation)",
         "latex": r"x_{i,j}^l = \sum_{m} \sum_{n} w_{m,n}^l o_{i+m,j+n}^{l-1} + b_{i,j}^l",
         "transcription": "x = sum(w[m, n] * o[i + m, j + n] for m, n) + b",
         "reading": "valid cross-correlation plus bias", "checked_against": ["torch", "scipy"],
         "verdict": "holds", "condition": "", "reason": "matches torch.conv2d",
         "max_abs_err": 4.4e-16, "examples": 50},
        {"id": "eq13", "number": 13, "title": "Weight gradient",
         "latex": r"\frac{\partial E}{\partial w_{m',n'}^l} = \sum_{i=0}^{H-k_1} "
                  r"\sum_{j=0}^{W-k_2} \delta^{l}_{i,j} o_{ i + m^{\prime}, j + n^{\prime}}^{l-1}",
         "transcription": "dw[m, n] = sum(delta[i, j] * o[i + m, j + n])",
         "reading": "sum over the output positions", "checked_against": ["fd", "torch"],
         "verdict": "fails-as-printed", "condition": "",
         "reason": "the bounds H-k_1 assume stride 1 <and> no padding",
         "max_abs_err": 2.5, "examples": 3,
         "counterexample": {"inputs": {"o": [[0.5, -1.0, 2.0], [1.5, 0.0, -0.5],
                                             [1.0, 2.0, 3.0]],
                                       "delta": [[1.0, 2.0], [3.0, 4.0]], "b": 0.25},
                            "shapes": {"o": [3, 3], "delta": [2, 2]},
                            "params": {"stride": 2}, "oracle": "torch", "max_abs_err": 2.5,
                            "actual": [[1.0, 2.0], [3.0, 4.0]],
                            "expected": [[1.0, 2.0], [3.0, 6.5]]},
         "corrected": {"latex": r"\sum_{i=0}^{H_o-1} \sum_{j=0}^{W_o-1} \delta_{i,j} "
                                r"o_{s i + m', s j + n'}",
                       "transcription": "dw[m, n] = sum(delta[i, j] * o[s*i + m, s*j + n])",
                       "verdict": "holds", "max_abs_err": 1e-15}},
        {"id": "eq22", "number": 22, "title": "Delta of the previous layer",
         "latex": r"\delta^{l+1}_{i',j'} \ast \text{rot}_{180^\circ} \left\{ w_{m,n}^{l+1} "
                  r"\right\} f'\left(x_{i',j'}^{l} \right) \tag{22}",
         "transcription": "delta_l = conv_full(delta_next, rot180(w)) * fprime(x)",
         "reading": "full convolution", "checked_against": ["torch"],
         "verdict": "holds-conditionally", "condition": "stride 1, no padding",
         "reason": "full convolution needs zero padding of k-1", "max_abs_err": 1e-15,
         "examples": 20},
        {"id": "pool-max", "number": None, "title": "Max-pooling routing", "latex": "",
         "transcription": "dx[argmax] = delta", "reading": "route to the winner",
         "checked_against": ["torch"], "verdict": "holds", "condition": "", "reason": "",
         "max_abs_err": 0.0, "examples": 30},
    ]
    return RunResult(
        target="candidate <mine>", api="native", records=recs, complete=True,
        started="2025-11-28T21:49:03Z", duration_s=83.4, seed=1234, profile="ci",
        device="cpu",
        versions={"python": "3.11.9", "numpy": "2.1.0", "harness": "0.1.0", "torch": "2.13.0",
                  "scipy": "1.14.1", "hypothesis": "6.112.0"},
        coverage={"conv2d": {"stride": [(1, 1), (2, 1)], "kernel": [[1, 1], [3, 3]],
                             "batch": [1, 3], "kind": ["smooth", "kink"]},
                  "max_pool2d": {"kernel_size": [[2, 2]], "kind": ["kink"]}},
        ledger=ledger,
    )


@pytest.fixture
def report_run() -> RunResult:
    """A fresh hand-built :class:`RunResult` exercising every part of the HTML report."""
    return _report_run()
