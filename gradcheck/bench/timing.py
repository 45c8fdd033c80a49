"""Rows of the benchmark, side-by-side timing and peak memory.

A :class:`Row` holds one comparison: the harness's time (``ours_s``) and its anchor's
(``anchor_s``), both medians of repeated runs taken alternately in one process, so that the two
see the same machine load. ``speedup = anchor_s / ours_s``.
"""
from __future__ import annotations

import ctypes
import os
import re
import resource
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Row", "side_by_side", "timed", "peak_rss_mb", "traced_peak_mb", "format_table", "loadavg"]


@dataclass
class Row:
    """One line of the benchmark table.

    ``ours_times`` / ``anchor_times`` are the single runs behind the medians ``ours_s`` /
    ``anchor_s`` (seconds). ``target`` states what the row should reach and ``target_met``
    whether it did (``None`` when the row did not run). ``peak_mb`` / ``anchor_peak_mb`` are
    peak memories measured as ``memory`` says.
    """

    name: str
    case: str
    anchor: str
    ours_times: list[float] = field(default_factory=list)
    anchor_times: list[float] = field(default_factory=list)
    target: str | None = None
    target_met: bool | None = None
    note: str = ""
    peak_mb: float | None = None
    anchor_peak_mb: float | None = None
    memory: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    skipped: bool = False

    @property
    def ours_s(self) -> float | None:
        return statistics.median(self.ours_times) if self.ours_times else None

    @property
    def anchor_s(self) -> float | None:
        return statistics.median(self.anchor_times) if self.anchor_times else None

    @property
    def speedup(self) -> float | None:
        o, a = self.ours_s, self.anchor_s
        return a / o if o is not None and a is not None and o > 0 else None

    def add_note(self, text: str) -> None:
        self.note = f"{self.note}; {text}" if self.note else text

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "case": self.case,
            "ours_s": self.ours_s,
            "anchor": self.anchor,
            "anchor_s": self.anchor_s,
            "speedup": self.speedup,
            "repeat": len(self.ours_times),
            "anchor_repeat": len(self.anchor_times),
            "ours_times": list(self.ours_times),
            "anchor_times": list(self.anchor_times),
            "target": self.target,
            "target_met": self.target_met,
            "note": self.note,
        }
        if self.memory is not None:
            d.update(peak_mb=self.peak_mb, anchor_peak_mb=self.anchor_peak_mb, memory=self.memory)
        if self.error is not None:
            d["error"] = self.error
        if self.skipped:
            d["skipped"] = True
        d.update(self.extra)
        return d


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """``(seconds, result)`` of one call of ``fn``."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def side_by_side(ours: Callable[[], Any], anchor: Callable[[], Any] | None, repeat: int,
                 anchor_repeat: int) -> tuple[list[float], list[float]]:
    """Run ``ours`` ``repeat`` times and ``anchor`` ``anchor_repeat`` times, alternately.

    Alternating (ours, anchor, ours, anchor, ..., then whichever has runs left) puts both under
    the same load on a shared machine. Returns the two lists of times in seconds.
    """
    ours_t: list[float] = []
    anchor_t: list[float] = []
    for i in range(max(repeat, anchor_repeat if anchor is not None else 0)):
        if i < repeat:
            ours_t.append(timed(ours)[0])
        if anchor is not None and i < anchor_repeat:
            anchor_t.append(timed(anchor)[0])
    return ours_t, anchor_t


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            m = re.search(rf"^{key}:\s+(\d+)\s+kB", f.read(), re.MULTILINE)
    except OSError:
        return None
    return int(m.group(1)) if m else None


def _malloc_trim() -> None:
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def peak_rss_mb(fn: Callable[[], Any]) -> tuple[float, str]:
    """Peak growth of the resident set while ``fn`` runs, in MiB, and how it was measured.

    Preferred: free heap pages go back to the system (``malloc_trim``), the high-water mark is
    reset (``/proc/self/clear_refs``), and the result is ``VmHWM`` after the call minus
    ``VmRSS`` before it; this sees every allocator (numpy's and torch's alike). Fallback:
    growth of ``ru_maxrss``, which only sees growth above the process's earlier peak (a lower
    bound).
    """
    _malloc_trim()
    if _reset_hwm() and (rss0 := _status_kb("VmRSS")) is not None:
        fn()
        hwm = _status_kb("VmHWM")
        if hwm is not None:
            return max(0, hwm - rss0) / 1024.0, "peak RSS growth (VmHWM after reset by clear_refs, minus VmRSS before)"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fn()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (after - before) / 1024.0, "ru_maxrss growth (lower bound: growth above the earlier peak only)"


def traced_peak_mb(fn: Callable[[], Any]) -> float:
    """Peak of the memory traced by ``tracemalloc`` (numpy's array buffers included) while ``fn`` runs, in MiB."""
    import tracemalloc

    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if started:
            tracemalloc.stop()
    return (peak - base) / 2**20


def loadavg() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, where the system tells them."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _secs(v: float | None) -> str:
    if v is None:
        return "-"
    if v < 1e-3:
        return f"{v * 1e6:.0f} us"
    if v < 1.0:
        return f"{v * 1e3:.1f} ms"
    return f"{v:.2f} s"


def format_table(rows: list[Row]) -> str:
    """The rows as a plain-text table (case, ours, anchor, anchor time, speedup), notes below."""
    head = ("case", "ours", "anchor", "anchor time", "speedup", "target")
    body = []
    for r in rows:
        status = "" if r.target is None else f"{r.target}: " + {True: "met", False: "MISSED", None: "-"}[r.target_met]
        if r.skipped:
            status = "skipped"
        elif r.error:
            status = "error"
        sp = "-" if r.speedup is None else f"{r.speedup:.2f}x"
        body.append((r.case, _secs(r.ours_s), r.anchor, _secs(r.anchor_s), sp, status))
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) if i in (0, 2, 5) else str(c).rjust(w) for i, (c, w) in enumerate(zip(x, widths))).rstrip()
             for x in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"- {r.case}: {r.error or r.note}" for r in rows if r.note or r.error]
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)
