"""The benchmark's rows: what each one runs on both sides, and the verdicts it records.

Every row first runs both sides once untimed (a warm-up that also yields the verdicts shown
in its note), then times them alternately (:func:`gradcheck.bench.timing.side_by_side`).

Long because each row is a function of its own, side by side with the verdicts it records.
"""
from __future__ import annotations

import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from gradcheck.judge.battery import Runner
from gradcheck.ops import SPECS
from gradcheck.ops.activation import RELU
from gradcheck.ops.conv import CONV2D
from gradcheck.ops.pool import AVG_POOL2D
from gradcheck.oracles import localise as LZ
from gradcheck.bench import gradients as G
from gradcheck.bench import kernels as K
from gradcheck.bench.timing import Row, peak_rss_mb, side_by_side, timed, traced_peak_mb

__all__ = ["Settings", "elementwise_row", "planted_row", "directional_row", "floor_row", "localise_row",
           "localise_correct_row", "kernel_row", "check_row", "SLOW", "FAST", "FLOOR"]

SLOW = "torch.autograd.gradcheck slow"
FAST = "torch.autograd.gradcheck fast"
FLOOR = "colouring floor (2 forwards a colour)"



@dataclass(frozen=True)
class Settings:
    """Sizes and repetitions. ``repeat``: runs per side; ``slow_repeat``: runs of the slow anchor."""

    repeat: int = 3
    slow_repeat: int = 1
    quick: bool = False

    @property
    def min_sample_s(self) -> float:
        """A sample of a call that takes milliseconds is as many calls in a row as fill this many seconds."""
        return 0.02 if self.quick else 0.2

    @property
    def grad_shapes(self) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
        """(x, w) shapes of the gradient-check rows."""
        return ((2, 2, 5, 5), (3, 2, 3, 3)) if self.quick else ((4, 8, 16, 16), (8, 8, 3, 3))

    @property
    def floor_shapes(self) -> dict[str, tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]:
        """(x, w) shapes of the element-wise rows measured against the colouring floor."""
        if self.quick:
            return {"elementwise-133k": ((2, 4, 8, 8), (4, 4, 3, 3)), "elementwise-438k": ((2, 4, 10, 10), (4, 4, 3, 3))}
        return {"elementwise-133k": ((8, 16, 32, 32), (16, 16, 3, 3)), "elementwise-438k": ((8, 64, 28, 28), (64, 64, 3, 3))}

    @property
    def layer_shapes(self) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
        """(x, w) shapes of the localisation rows: a ResNet-sized layer."""
        return ((2, 4, 12, 12), (4, 4, 3, 3)) if self.quick else ((8, 64, 56, 56), (64, 64, 3, 3))


def _shape(s: tuple[int, ...]) -> str:
    return "(" + ",".join(map(str, s)) + ")"


def _conv_label(s: Settings) -> str:
    x, w = s.grad_shapes
    return f"x {_shape(x)} w {_shape(w)} b ({w[0]},) pad 1, float64"


def _repeated(fn: Callable[[], Any], number: int) -> Callable[[], Any]:
    def run() -> Any:
        for _ in range(number):
            out = fn()
        return out

    return run


def _number(warm_s: float, min_sample_s: float) -> int:
    return max(1, math.ceil(min_sample_s / max(warm_s, 1e-6)))


class _Counted:
    """An adapter that counts the forward calls made through it, the forward evaluations they
    amount to (a call on a batch stacked ``m`` times counts ``m``), and how long each took."""

    def __init__(self, impl: Any, batch: int | None = None):
        self.impl, self.batch = impl, batch
        self.reset()

    def reset(self) -> None:
        self.forwards, self.evaluations, self.durations = 0, 0.0, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.impl, name)

    def forward(self, op: str, inputs: dict, params: dict) -> Any:
        self.forwards += 1
        n = next(iter(inputs.values())).shape[0] if inputs else 1
        self.evaluations += n / self.batch if self.batch else 1
        t0 = time.perf_counter()
        out = self.impl.forward(op, inputs, params)
        self.durations.append(time.perf_counter() - t0)
        return out

    def per_evaluation(self) -> float:
        """Median seconds of one forward evaluation (a stacked call's time shared by its copies)."""
        return statistics.median(self.durations) * self.forwards / max(self.evaluations, 1e-300) if self.durations else 0.0


def _verdicts(recs: dict) -> str:
    return ", ".join(f"{q} {r.status}" + (f" (max |err| {r.max_abs_err:.2g})" if r.max_abs_err is not None else "")
                     for q, r in recs.items())


def _floor_note(report: dict, counted: _Counted, t_fwd: float, ours_s: float | None,
                inside: float | None = None) -> tuple[str, dict[str, Any]]:
    colours = sum(r["colours"] for r in report.values())
    refined = sum(r["refined"] for r in report.values())
    per = counted.evaluations / colours
    ratio = ours_s / (2 * colours * t_fwd) if ours_s and t_fwd else None
    per_input = ", ".join(f"{q} {r['colours']}" for q, r in report.items())
    text = (f"{colours} colours ({per_input}), step halving in {refined}; {counted.forwards} forward calls = "
            f"{counted.evaluations:.0f} evaluations, {per:.2f} a colour; one forward evaluation {t_fwd * 1e3:.2f} ms "
            f"(median of the calls made during the timed runs), so ours takes {ours_s / t_fwd:.0f} evaluations' time, "
            f"{ratio:.2f}x the floor of {2 * colours}" if ratio else "")
    if inside is not None and text:
        text += f"; {100 * inside:.0f}% of ours is spent inside the forward calls"
    return text, {"colours": colours, "refined_colours": refined, "forward_calls": counted.forwards,
                  "forward_evaluations": counted.evaluations, "evaluations_per_colour": per, "forward_s": t_fwd,
                  "floor_ratio": ratio, "inside_forward_fraction": inside}


def _timed_counted(case: Any, counted: _Counted, repeat: int) -> tuple[list[float], list[float], list[float]]:
    """``repeat`` timed runs of the element-wise check through ``counted``: the run times and,
    per run, the median time of one forward evaluation in it and the time inside forward calls."""
    per: list[float] = []
    inside: list[float] = []

    def once() -> None:
        counted.reset()
        G.elementwise_check(case, counted)
        per.append(counted.per_evaluation())
        inside.append(sum(counted.durations))

    return side_by_side(once, None, repeat, 0)[0], per, inside


def elementwise_row(s: Settings) -> Row:
    """Row 1: every gradient element by finite differences, against torch's slow gradcheck."""
    case = G.conv_case(*s.grad_shapes)
    row = Row("elementwise", f"{CONV2D.name} element-wise gradient check, {_conv_label(s)}", SLOW, target="speedup >= 20")
    impl = G.torch_conv()
    counted = _Counted(impl, case.inputs["x"].shape[0])
    report: dict = {}
    recs = G.elementwise_check(case, counted, report=report)
    calls, evaluations = counted.forwards, counted.evaluations
    n = {q: case.inputs[q[1:]].size for q in recs}
    verdict: list[bool] = []
    per: list[float] = []
    inside: list[float] = []

    def ours() -> None:
        counted.reset()
        G.elementwise_check(case, counted)
        per.append(counted.per_evaluation())
        inside.append(sum(counted.durations))

    ours_t, anchor_t = side_by_side(ours, lambda: verdict.append(G.torch_gradcheck(case)), s.repeat, s.slow_repeat)
    row.ours_times, row.anchor_times = ours_t, anchor_t
    counted.forwards, counted.evaluations = calls, evaluations
    ours_ok = all(r.status == "pass" for r in recs.values())
    row.add_note(f"ours: every element of dx, dw, db ({sum(n.values())} estimates with error bounds) from "
                 f"{calls} forward calls, then compared with the backward: {_verdicts(recs)}")
    floor, extra = _floor_note(report, counted, statistics.median(per), row.ours_s,
                               statistics.median(i / t for i, t in zip(inside, ours_t)))
    row.add_note(floor)
    row.add_note(f"{SLOW}: {'passed' if all(verdict) else 'FAILED'}; {len(anchor_t)} run(s) (slow), ours median of {len(ours_t)}")
    sp = row.speedup
    row.target_met = sp is not None and sp >= 20 and ours_ok and all(verdict)
    row.extra.update(extra)
    return row


def floor_row(s: Settings, name: str) -> Row:
    """The element-wise check of a larger conv against its own floor: two forward evaluations
    a colour, at the median time of one forward evaluation in the same run."""
    x, w = s.floor_shapes[name]
    case = G.conv_case(x, w)
    row = Row(name, f"{CONV2D.name} element-wise gradient check, x {_shape(x)} w {_shape(w)} pad 1, float64 "
                    f"({case.size()} elements)", FLOOR, target="ours <= 1.3x the floor")
    counted = _Counted(G.torch_conv(), x[0])
    report: dict = {}
    recs = G.elementwise_check(case, counted, report=report)
    calls, evaluations = counted.forwards, counted.evaluations
    colours = sum(r["colours"] for r in report.values())
    row.ours_times, per, inside = _timed_counted(case, counted, s.repeat)
    row.anchor_times = [2 * colours * t for t in per]
    counted.forwards, counted.evaluations = calls, evaluations
    floor, extra = _floor_note(report, counted, statistics.median(per), row.ours_s,
                               statistics.median(i / t for i, t in zip(inside, row.ours_times)))
    row.add_note(f"ours: {_verdicts(recs)}; {floor}; the anchor is 2 x {colours} colours x that time, run by run "
                 f"(medians of {len(row.ours_times)})")
    row.target_met = bool(extra["floor_ratio"] is not None and extra["floor_ratio"] <= 1.3
                          and all(r.status == "pass" for r in recs.values()))
    row.extra.update(extra)
    return row


def planted_index(quantity: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Where the wrong element is planted: an interior element of ``quantity``'s array of ``shape``."""
    return tuple(int(d) * 2 // 3 for d in shape)


def planted_row(s: Settings) -> Row:
    """Both tools on a conv whose backward is wrong in one ``dx`` element: both must catch it, ours must say where."""
    case = G.conv_case(*s.grad_shapes)
    index = planted_index("dx", case.inputs["x"].shape)
    row = Row("planted", f"{CONV2D.name} with one wrong dx element planted at {list(index)}, same conv", SLOW,
              target="both catch it; ours locates it")
    impl, fn = G.planted_adapter("dx", index), G.planted_conv2d("dx", index)
    recs = G.elementwise_check(case, impl)
    verdict: list[bool] = []
    ours_t, anchor_t = side_by_side(lambda: G.elementwise_check(case, impl), lambda: verdict.append(G.torch_gradcheck(case, fn)),
                                    s.repeat, s.slow_repeat)
    row.ours_times, row.anchor_times = ours_t, anchor_t
    dx = recs["dx"]
    located = dx.worst.index if dx.status == "fail" and dx.worst is not None else None
    others_pass = all(r.status == "pass" for q, r in recs.items() if q != "dx")
    m = re.search(r"(\d+) of (\d+) ", dx.message or "")
    flagged = f"{m.group(1)} of {m.group(2)} dx elements flagged" if m else "dx flagged"
    row.add_note(f"ours: {flagged if located is not None else 'dx passed (MISSED)'}, worst at {located}; "
                 f"dw {recs['dw'].status}, db {recs['db'].status}")
    caught = not any(verdict)
    row.add_note(f"{SLOW}: {'caught it (returned False)' if caught else 'MISSED it'}")
    screen = G.directional_check(case, impl)[0]
    fast = G.torch_gradcheck(case, fn, fast_mode=True)
    row.add_note(f"directional screen: {'MISSED' if screen else 'caught'}; {FAST}: {'MISSED' if fast else 'caught'}")
    row.target_met = located is not None and list(located) == list(index) and others_pass and caught
    row.extra.update(planted=list(index), located=located)
    return row


def directional_row(s: Settings) -> Row:
    """Row 2: the directional screen against torch's fast gradcheck."""
    case = G.conv_case(*s.grad_shapes)
    row = Row("directional", f"{CONV2D.name} directional screen, {_conv_label(s)}", FAST, target="speedup >= 1")
    impl = G.torch_conv()
    t_ours, (ok, a, n, bound) = timed(lambda: G.directional_check(case, impl))
    t_anchor, anchor_ok = timed(lambda: G.torch_gradcheck(case, fast_mode=True))
    t_ours = min(t_ours, timed(lambda: G.directional_check(case, impl))[0])
    t_anchor = min(t_anchor, timed(lambda: G.torch_gradcheck(case, fast_mode=True))[0])
    k_ours, k_anchor = _number(t_ours, s.min_sample_s), _number(t_anchor, s.min_sample_s)
    ours_t, anchor_t = side_by_side(_repeated(lambda: G.directional_check(case, impl), k_ours),
                                    _repeated(lambda: G.torch_gradcheck(case, fast_mode=True), k_anchor), s.repeat, s.repeat)
    row.ours_times = [t / k_ours for t in ours_t]
    row.anchor_times = [t / k_anchor for t in anchor_t]
    row.add_note(f"ours: backward, then <grad, u> = {a:.10g} vs central difference {n:.10g} (bound {bound:.2g}): "
                 f"{'pass' if ok else 'FAIL'}; {FAST}: {'passed' if anchor_ok else 'FAILED'}; "
                 f"per call, median of {s.repeat} samples of {k_ours} (ours) / {k_anchor} (torch) calls")
    sp = row.speedup
    row.target_met = sp is not None and sp >= 1 and ok and anchor_ok
    return row


def _layer_label(s: Settings) -> str:
    x, w = s.layer_shapes
    n = int(np.prod(x)) + int(np.prod(w)) + w[0]
    return f"x {_shape(x)} w {_shape(w)} pad 1, float64 ({n} elements)"


def _slow_note(case: Any, fn: Any) -> tuple[str, dict[str, Any]]:
    est = G.slow_gradcheck_estimate(case, fn)
    text = (f"{SLOW} not run: extrapolated from a timed fraction (medians of 3), {est['n_in']} input elements x "
            f"{est['t_column_s']:.3g} s (two forwards moving one element) + 2 x {est['n_out']} output elements x "
            f"{est['t_row_s']:.3g} s (one autograd.grad with a one-hot output gradient; twice for its reentrancy "
            f"check) = {est['estimate_s']:.3g} s = {est['estimate_s'] / 86400:.3g} days (a lower bound), and two full "
            f"Jacobians of {est['jacobian_bytes'] / 1e9:.3g} GB each")
    return text, {"slow_estimate": est}


def localise_row(s: Settings) -> Row:
    """One wrong dx element planted in a ResNet-sized conv: the harness's large-case check (the
    directional screen, then group testing) locates it; torch's fast gradcheck only says False."""
    case = G.conv_case(*s.layer_shapes)
    index = planted_index("dx", case.inputs["x"].shape)
    row = Row("localise", f"{CONV2D.name}, one wrong dx element planted at {list(index)}, {_layer_label(s)}", FAST,
              target="located in <= 100 forward evaluations and under 20 s")
    impl, fn = G.planted_adapter("dx", index), G.planted_conv2d("dx", index)
    spec_grads = dict(zip(("dx", "dw", "db"), Runner(impl, CONV2D.name, CONV2D).backward(case)))
    counted = _Counted(impl, case.inputs["x"].shape[0])
    details: dict = {}
    recs = G.screen_check(case, counted, spec_grads, details)
    verdict: list[bool] = []
    ours_t, anchor_t = side_by_side(lambda: G.screen_check(case, impl, spec_grads),
                                    lambda: verdict.append(G.torch_gradcheck(case, fn, fast_mode=True)), s.repeat, s.repeat)
    row.ours_times, row.anchor_times = ours_t, anchor_t
    dx = recs[("dx", "fd")] if recs else None
    located = dx.worst.index if dx is not None and dx.status == "fail" and dx.worst is not None else None
    found = details.get("localisation")
    others = {q: recs[(q, "fd")].status for q in ("dw", "db")} if recs else {}
    row.add_note(f"ours: backward given (computed once for all checks); screen + localisation: "
                 + (f"located {located} (|error| {dx.worst.abs_err:.3g} > allowed {dx.worst.tolerance:.3g}, element-wise "
                    f"bound {found.located['dx'][0].bound:.3g}) in {counted.forwards} forward evaluations "
                    f"({found.tests} subset tests); dw {others['dw']}, db {others['db']}" if located is not None and found
                    else "NOT located" + (f": {dx.message}" if dx is not None else " (fell back to element-wise)")))
    row.add_note(f"{FAST}: {'passed: MISSED it' if all(verdict) else 'returned False'} (it cannot say where); "
                 f"medians of {len(ours_t)} runs each, alternately")
    slow, extra = _slow_note(case, fn)
    row.add_note(slow)
    row.target_met = bool(located is not None and list(located) == list(index) and counted.forwards <= 100
                          and row.ours_s is not None and row.ours_s < 20 and all(v == "pass" for v in others.values()))
    row.extra.update(extra, planted=list(index), located=located, forward_evaluations=counted.forwards,
                     localisation=LZ.describe(found) if found else None)
    return row


def localise_correct_row(s: Settings) -> Row:
    """The same layer with a correct backward: the screen passes, and the group-testing search,
    run anyway with both halves tested at every level, raises no alarm."""
    case = G.conv_case(*s.layer_shapes)
    row = Row("localise-correct", f"{CONV2D.name}, correct backward, {_layer_label(s)}", FAST,
              target="no false alarm (screen and every subset test)")
    impl = G.torch_conv()
    grads = dict(zip(("dx", "dw", "db"), Runner(impl, CONV2D.name, CONV2D).backward(case)))
    recs = G.screen_check(case, impl, grads)
    verdict: list[bool] = []
    ours_t, anchor_t = side_by_side(lambda: G.screen_check(case, impl, grads),
                                    lambda: verdict.append(G.torch_gradcheck(case, fast_mode=True)), s.repeat, s.repeat)
    row.ours_times, row.anchor_times = ours_t, anchor_t
    t0 = time.perf_counter()
    forced = G.forced_localisation(case, impl, grads)
    forced_s = time.perf_counter() - t0
    tests = list(forced.inputs.values()) + forced.trail
    alarms = sum(not t.agrees for t in tests)
    located = sum(len(v) for v in forced.located.values())
    flagged = sum(forced.flagged.values())
    screen_ok = recs is not None and all(r.status == "pass" for r in recs.values())
    row.add_note(f"ours: screen {'passed' if screen_ok else 'FAILED'} (timed); then the search forced: {len(tests)} subset "
                 f"tests (both halves at every level, every input) and {sum(forced.examined.values())} elements of the "
                 f"leaf colours by the coloured difference, {forced.forwards} forward evaluations, {forced_s:.1f} s: "
                 f"{alarms} tests disagree, {flagged} elements flagged, {located} located; largest |discrepancy| / bound "
                 f"{max(t.significance for t in tests):.2g}")
    row.add_note(f"{FAST}: {'passed' if all(verdict) else 'FAILED'}; medians of {len(ours_t)} runs each, alternately")
    row.target_met = bool(screen_ok and alarms == 0 and located == 0 and flagged == 0 and all(verdict))
    row.extra.update(forced_forwards=forced.forwards, forced_tests=len(tests), alarms=alarms, located=located)
    return row


def kernel_row(s: Settings, kernel: K.Kernel, ref: Any) -> Row:
    """Row 3: forward + backward of one reference kernel against torch's."""
    shapes = kernel.quick_shapes if s.quick else kernel.shapes
    labels = SPECS[kernel.op].protocol.labels
    shape = " ".join([*(f"{k} {_shape(v)}" for k, v in shapes.items() if len(v) > 1),
                      *(f"{k} ({len(v)} labels)" if k in labels else f"{k} {v[0] if len(set(v)) == 1 else _shape(v)}"
                        for k, v in kernel.params.items())])
    row = Row(kernel.name, f"reference {kernel.op} forward+backward, {shape}", kernel.anchor,
              target="speedup >= 0.667 (within 1.5x of torch)")
    arrays = K.inputs(kernel, s.quick)
    ours, anchor = K.reference_call(ref, kernel, arrays), K.torch_call(kernel, arrays)
    random = SPECS[kernel.op].random  # its own mask: judged on it, not against torch's
    diff = K.mask_difference(kernel, arrays, ours()) if random else K.max_difference(ours(), anchor())
    ours_t, anchor_t = side_by_side(ours, anchor, s.repeat, s.repeat)
    row.ours_times, row.anchor_times = ours_t, anchor_t
    row.peak_mb, row.memory = peak_rss_mb(ours)
    row.anchor_peak_mb, _ = peak_rss_mb(anchor)
    row.extra["ours_traced_mb"] = traced_peak_mb(ours)
    agree = (f"consistent with its own mask to {diff:.2g} (torch draws another)" if random else
             f"agree with torch to {diff:.2g} (max |difference| / max |torch|)")
    row.add_note(f"{agree}; peak memory ours {row.peak_mb:.0f} MB, "
                 f"torch {row.anchor_peak_mb:.0f} MB (RSS growth), ours {row.extra['ours_traced_mb']:.0f} MB by tracemalloc")
    sp = row.speedup
    row.target_met = sp is not None and sp >= 1 / 1.5 and diff < 1e-10
    return row


def check_row(s: Settings) -> Row:
    """Row 4: wall time of ``gradcheck check reference`` (all ops, ci profile), in a fresh interpreter."""
    row = Row("check", "gradcheck check reference (all ops, all oracles, ci profile)", "none", target="ours_s < 60")
    with tempfile.TemporaryDirectory(prefix="gradcheck-bench-") as tmp:
        cmd = [sys.executable, "-m", "gradcheck.cli", "check", "reference", "--profile", "ci", "--quiet"]
        if s.quick:
            quick_ops = f"{RELU.name},{AVG_POOL2D.name}"
            cmd += ["--ops", quick_ops, "--max-examples", "3", "--kink-examples", "1", "--no-report"]
            row.case = f"gradcheck check reference --ops {quick_ops} --max-examples 3 (quick)"
        else:
            cmd += ["--report", os.path.join(tmp, "reference.html")]
        results: list[subprocess.CompletedProcess] = []

        def once() -> None:
            results.append(subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=False))

        row.ours_times, _ = side_by_side(once, None, s.repeat, 0)
    last = results[-1]
    summary = next((ln.strip() for ln in reversed(last.stdout.splitlines()) if "checks in" in ln), "")
    if last.returncode not in (0, 1):
        row.error = f"exit status {last.returncode}: {(last.stderr.strip().splitlines() or [''])[-1]}"
    shown = " ".join(["gradcheck", *cmd[3:]]).replace(os.path.join(tmp, ""), "<tmp>/")
    row.add_note(f"{shown}: exit {last.returncode}" + (f" ({summary})" if summary else "")
                 + f"; median of {len(row.ours_times)} runs, each in a fresh interpreter")
    row.target_met = row.ours_s is not None and row.ours_s < 60 and row.error is None
    row.extra["exit_status"] = last.returncode
    return row
