"""The benchmark's rows: what each one runs on both sides, and the verdicts it records.

Every row first runs both sides once untimed (a warm-up that also yields the verdicts shown
in its note), then times them alternately (:func:`gradcheck.bench.timing.side_by_side`).
"""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any, Callable

from . import gradients as G
from . import kernels as K
from .timing import Row, peak_rss_mb, side_by_side, timed, traced_peak_mb

__all__ = ["Settings", "elementwise_row", "planted_row", "directional_row", "kernel_row", "check_row", "SLOW", "FAST"]

SLOW = "torch.autograd.gradcheck slow"
FAST = "torch.autograd.gradcheck fast"



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
    def kernel_shapes(self) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
        """(x, w) shapes of the kernel rows."""
        return ((4, 8, 16, 16), (8, 8, 3, 3)) if self.quick else ((32, 64, 32, 32), (64, 64, 3, 3))


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
    """An adapter that counts the forward calls made through it."""

    def __init__(self, impl: Any):
        self.impl, self.forwards = impl, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.impl, name)

    def forward(self, *args: Any, **kw: Any) -> Any:
        self.forwards += 1
        return self.impl.forward(*args, **kw)


def _verdicts(recs: dict) -> str:
    return ", ".join(f"{q} {r.status}" + (f" (max |err| {r.max_abs_err:.2g})" if r.max_abs_err is not None else "")
                     for q, r in recs.items())


def elementwise_row(s: Settings) -> Row:
    """Row 1: every gradient element by finite differences, against torch's slow gradcheck."""
    case = G.conv_case(*s.grad_shapes)
    row = Row("elementwise", f"conv2d element-wise gradient check, {_conv_label(s)}", SLOW, target="speedup >= 20")
    impl = G.torch_conv()
    counted = _Counted(impl)
    recs = G.elementwise_check(case, counted)
    n = {q: case.inputs[q[1:]].size for q in recs}
    verdict: list[bool] = []
    ours_t, anchor_t = side_by_side(lambda: G.elementwise_check(case, impl),
                                    lambda: verdict.append(G.torch_gradcheck(case)), s.repeat, s.slow_repeat)
    row.ours_times, row.anchor_times = ours_t, anchor_t
    ours_ok = all(r.status == "pass" for r in recs.values())
    row.add_note(f"ours: every element of dx, dw, db ({sum(n.values())} estimates with error bounds) from "
                 f"{counted.forwards} forward calls, then compared with the backward: {_verdicts(recs)}")
    row.add_note(f"{SLOW}: {'passed' if all(verdict) else 'FAILED'}; {len(anchor_t)} run(s) (slow), ours median of {len(ours_t)}")
    sp = row.speedup
    row.target_met = sp is not None and sp >= 20 and ours_ok and all(verdict)
    row.extra["forward_calls"] = counted.forwards
    return row


def planted_index(quantity: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Where the wrong element is planted: an interior element of ``quantity``'s array of ``shape``."""
    return tuple(int(d) * 2 // 3 for d in shape)


def planted_row(s: Settings) -> Row:
    """Both tools on a conv whose backward is wrong in one ``dx`` element: both must catch it, ours must say where."""
    case = G.conv_case(*s.grad_shapes)
    index = planted_index("dx", case.inputs["x"].shape)
    row = Row("planted", f"conv2d with one wrong dx element planted at {list(index)}, same conv", SLOW,
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
    row = Row("directional", f"conv2d directional screen, {_conv_label(s)}", FAST, target="speedup >= 1")
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


def kernel_row(s: Settings, kernel: K.Kernel, ref: Any) -> Row:
    """Row 3: forward + backward of one reference kernel against torch's."""
    x, w = s.kernel_shapes
    shape = f"x {_shape(x)} w {_shape(w)} pad 1" if kernel.op == "conv2d" else \
        f"x {_shape(x)} kernel {kernel.params['kernel_size'][0]} stride {kernel.params['stride'][0]}"
    row = Row(kernel.name, f"reference {kernel.op} forward+backward, {shape}", kernel.anchor,
              target="speedup >= 0.667 (within 1.5x of torch)")
    arrays = K.inputs(kernel, x, w)
    ours, anchor = K.reference_call(ref, kernel, arrays), K.torch_call(kernel, arrays)
    diff = K.max_difference(ours(), anchor())
    ours_t, anchor_t = side_by_side(ours, anchor, s.repeat, s.repeat)
    row.ours_times, row.anchor_times = ours_t, anchor_t
    row.peak_mb, row.memory = peak_rss_mb(ours)
    row.anchor_peak_mb, _ = peak_rss_mb(anchor)
    row.extra["ours_traced_mb"] = traced_peak_mb(ours)
    row.add_note(f"agree with torch to {diff:.2g} (max |difference| / max |torch|); peak memory ours {row.peak_mb:.0f} MB, "
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
            cmd += ["--ops", "relu,avg_pool2d", "--max-examples", "3", "--kink-examples", "1", "--no-report"]
            row.case = "gradcheck check reference --ops relu,avg_pool2d --max-examples 3 (quick)"
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
