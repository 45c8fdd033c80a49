"""The HTML report: one self-contained file rendered from a :class:`RunResult`.

Templates live in ``gradcheck/report/templates/`` and are rendered by Jinja2 with autoescaping on,
so everything that comes from a record (names, messages, tracebacks, reprs) is escaped. The
page has inline CSS and inline SVG only: no scripts, fonts, images or links outside itself.

This module turns records into small view objects (the matrix, each record's pictures and
tables, the ledger) and leaves all markup to the templates.

Long because it builds one small view object per part of the report (matrix, records, pictures,
ledger); the markup is in the templates.
"""
from __future__ import annotations

import functools
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from markupsafe import Markup

from gradcheck.ops import OP_NAMES
from gradcheck.records import STATUSES, Record, RunResult, write_text_atomic
from gradcheck.report.latex import latex_to_html
from gradcheck.adapters.loader import describe_import
from gradcheck.report.marks import MARKS, ORACLE_ORDER, QUANTITY_ORDER, STATUS_WORDS, verdict_of
from gradcheck.report.svg import (HeatmapSet, colorbar_svg, convergence_svg, error_heatmaps, fit_slope,
                                  scale_decades, to_nchw)

__all__ = ["render_html", "write_html", "render_ledger_html", "write_ledger_html"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

#: One mark per status and the display orders, shared with the terminal summary.
SYMBOLS = MARKS
VERSION_ORDER = ("harness", "numpy", "torch", "scipy", "hypothesis", "python")
VERDICT_CLASS = {"holds": "holds", "fails-as-printed": "fails",
                 "holds-conditionally": "conditional"}
#: The ledger's standing of an equation (how wrong it is) -> badge class.
STANDING_CLASS = {"holds": "holds", "holds-conditionally": "conditional",
                  "holds-under-standard-reading": "reading", "holds-under-other-reading": "reread",
                  "wrong-in-every-reading": "fails"}
#: Arrays are shown as tables when every channel is at most this many rows and columns ...
TABLE_MAX_SIDE = 12
#: ... and there are at most this many (n, c) channels.
TABLE_MAX_CHANNELS = 8
_COVERAGE_MAX_VALUES = 40


# -- formatting filters -------------------------------------------------------------------
def fmt_num(value: Any, digits: int = 3) -> str:
    """A number in ``digits`` significant figures; ``None`` as an em dash.

    ``"nan"``/``"inf"`` strings (JSON's spelling) and floats print alike, so a run and its
    JSON round trip render identically.
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{v:.{digits}g}"


def show(value: Any) -> str:
    """A compact, stable text form of a JSON-like value (tuples print as lists)."""
    if value is None:
        return "—"
    if isinstance(value, (bool, int, str)):
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    if hasattr(value, "tolist"):
        return show(value.tolist())
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


def fmt_shape(shape: Any) -> str:
    """``[1, 1, 3, 3]`` as ``1×1×3×3``; scalars as ``scalar``."""
    if isinstance(shape, (list, tuple)):
        if len(shape) == 1:
            return f"({show(shape[0])},)"
        return "×".join(show(s) for s in shape) if shape else "scalar"
    return show(shape)


def fmt_duration(seconds: Any) -> str:
    """``0.42 s``, ``12.3 s``, ``3 min 04 s``, ``1 h 02 min``."""
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(s):
        return show(seconds)
    if s < 10:
        return f"{s:.2f} s"
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


def anchor_for(text: str) -> str:
    """An HTML id made of ``[A-Za-z0-9_-]`` only."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


# -- view objects -------------------------------------------------------------------------
@dataclass
class ArrayChannel:
    """One (n, c) channel of one or more same-shaped arrays, as rows of formatted cells."""

    label: str
    tables: list[tuple[str, list[list[str]]]]
    bad: list[list[bool]] | None = None


@dataclass
class ValueView:
    """A JSON-like value classified for display: scalar text, array tables, dict, text."""

    kind: str  # "none" | "scalar" | "array" | "dict" | "text"
    text: str = ""
    shape: str = ""
    channels: list[ArrayChannel] = field(default_factory=list)
    items: list[tuple[str, "ValueView"]] = field(default_factory=list)


@dataclass
class Finding:
    """A second finding of a record: the largest failing case drawn, or the other status (``also``)."""

    status: str = ""
    message: str = ""
    counterexample: Any = None
    worst: Any = None
    heatmaps: HeatmapSet | None = None
    traceback: str | None = None


@dataclass
class RecordView:
    """A record with its anchor and, for failures and errors, its pictures and tables."""

    record: Record
    anchor: str
    symbol: str
    heatmaps: HeatmapSet | None = None
    array_channels: list[ArrayChannel] = field(default_factory=list)
    array_note: str = ""
    convergence: Markup | None = None
    slope: float | None = None
    inputs: ValueView | None = None
    drawn: Finding | None = None
    also: Finding | None = None
    colorbar: Markup | None = None
    message_lines: list[tuple[str, str]] = field(default_factory=list)

    @property
    def cases(self) -> str:
        """``"19 cases"``: how many cases the record's figures are taken over."""
        n = self.record.examples
        return f"{n} case{'' if n == 1 else 's'}"


@dataclass
class Cell:
    """One matrix cell: the worst status of the records at (op, quantity, oracle)."""

    status: str | None
    href: str = ""
    title: str = ""
    symbol: str = ""


def _ordered(seen: list[str], preferred: tuple[str, ...]) -> list[str]:
    first = [p for p in preferred if p in seen]
    return first + [s for s in dict.fromkeys(seen) if s not in preferred]


def _array_channels(named: list[tuple[str, np.ndarray]], bad: np.ndarray | None,
                    digits: int = 4, ndim: int | None = None) -> list[ArrayChannel]:
    """Per-channel tables of same-shaped (N, C, H, W) arrays (caller checks the size).

    Channels are labelled ``n=i c=j`` (records' arrays are NCHW by contract) or, given the
    arrays' original ``ndim``, by their leading index (``[j, :, :]``), for arrays whose
    layout is not known.
    """
    n, c = named[0][1].shape[:2]
    out = []
    for i in range(n):
        for j in range(c):
            tables = [(name, [[fmt_num(v, digits) for v in row] for row in a[i, j].tolist()])
                      for name, a in named]
            mask = None if bad is None else bad[i, j].tolist()
            if n * c == 1:
                label = ""
            elif ndim is None:
                label = f"n={i} c={j}"
            else:
                label = f"[{j}, :, :]" if ndim == 3 else f"[{i}, {j}, :, :]"
            out.append(ArrayChannel(label=label, tables=tables, bad=mask))
    return out


def _small(a: np.ndarray) -> bool:
    n, c, h, w = a.shape
    return n * c <= TABLE_MAX_CHANNELS and h <= TABLE_MAX_SIDE and w <= TABLE_MAX_SIDE


def value_view(value: Any) -> ValueView:
    """Classify a JSON-like value for display (used for counterexample inputs and ledger)."""
    if value is None:
        return ValueView("none", text="—")
    if isinstance(value, dict):
        return ValueView("dict", items=[(str(k), value_view(v)) for k, v in value.items()])
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        return ValueView("scalar", text=show(value))
    a = to_nchw(value)
    depth = np.ndim(np.array(value, dtype=object)) if a is not None else 0
    if a is None or a.size == 0:
        return ValueView("text", text=_clip(show(value)))
    if depth <= 1 and len(value) <= 8:
        return ValueView("scalar", text=show(value))
    shape = fmt_shape(list(np.shape(np.array(value, dtype=float))))
    if not _small(a):
        return ValueView("text", shape=shape, text=_clip(show(value)))
    return ValueView("array", shape=shape,
                     channels=_array_channels([("", a)], None, ndim=int(depth)))


def _clip(text: str, limit: int = 1500) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f" … ({len(text) - limit} more characters)"


def _largest(error: Any) -> float | None:
    a = to_nchw(error)
    if a is None or a.size == 0:
        return None
    if np.isinf(a).any():
        return math.inf
    finite = a[np.isfinite(a)]
    return float(finite.max()) if finite.size else None


def _worst_index(worst: Any) -> list[int] | None:
    index = getattr(worst, "index", None)
    if index is None and isinstance(worst, dict):
        index = worst.get("index")
    return list(index) if index is not None else None


def _message_lines(message: str) -> list[tuple[str, str]]:
    """The message as ``(kind, text)`` lines: ``figures`` first, then ``pattern`` / ``rule`` lines."""
    out = []
    for k, line in enumerate((message or "").split("\n")):
        if not line.strip():
            continue
        kind = "figures" if k == 0 else "pattern" if line.startswith("Pattern: ") else "rule"
        out.append((kind, line))
    return out


def _finding(d: dict[str, Any] | None, high: float | None) -> Finding | None:
    if not d:
        return None
    error = (d.get("arrays") or {}).get("error")
    maps = error_heatmaps(error, worst_index=_worst_index(d.get("worst")), high_decades=high,
                          target_px=200) if error is not None else None
    return Finding(status=str(d.get("status") or ""), message=str(d.get("message") or ""),
                   counterexample=d.get("counterexample"), worst=d.get("worst"), heatmaps=maps,
                   traceback=d.get("traceback"))


def _record_view(rec: Record, anchor: str) -> RecordView:
    view = RecordView(record=rec, anchor=anchor, symbol=SYMBOLS.get(rec.status, "?"),
                      message_lines=_message_lines(rec.message))
    if rec.status in ("pass", "not-provided", "partial"):
        return view
    arrays = rec.arrays or {}
    worst_index = list(rec.worst.index) if rec.worst is not None else None
    # one colour scale for the smallest case and the case as drawn, reaching the largest error shown
    largest = [m for m in (_largest(arrays.get("error")), _largest(((rec.drawn or {}).get("arrays") or {}).get("error")))
               if m is not None]
    high = scale_decades(max(largest)) if largest else None
    if arrays.get("error") is not None:
        view.heatmaps = error_heatmaps(arrays["error"], worst_index=worst_index, high_decades=high)
    view.drawn = _finding(rec.drawn, high)
    view.also = _finding(rec.also, None)
    if view.heatmaps is not None and view.heatmaps.maps or view.drawn is not None and view.drawn.heatmaps:
        view.colorbar = colorbar_svg(high_decades=high if high is not None else 3)
    expected, actual = to_nchw(arrays.get("expected")), to_nchw(arrays.get("actual"))
    if expected is not None and actual is not None:
        if expected.shape != actual.shape:
            view.array_note = (f"Expected {fmt_shape(list(expected.shape))} and actual "
                               f"{fmt_shape(list(actual.shape))} differ in shape.")
        elif not _small(expected):
            view.array_note = (f"The arrays (N, C, H, W = {fmt_shape(list(expected.shape))}) "
                               f"are too large to list; see the heatmap.")
        else:
            error = to_nchw(arrays.get("error"))
            bad = None
            if error is not None and error.shape == expected.shape:
                bad = (error > 1) | np.isnan(error)
            view.array_channels = _array_channels(
                [("expected", expected), ("actual", actual),
                 ("difference", actual - expected)], bad)
    if rec.convergence:
        view.convergence = convergence_svg(rec.convergence)
        view.slope = fit_slope(rec.convergence)
    if rec.counterexample is not None and rec.counterexample.inputs:
        view.inputs = value_view(rec.counterexample.inputs)
    return view


def _build_views(run: RunResult) -> tuple[list[RecordView], dict[str, Any]]:
    """Record views in matrix order, and the matrix itself."""
    ops = _ordered([r.op for r in run.records], OP_NAMES)
    quantities = _ordered([r.quantity for r in run.records], QUANTITY_ORDER)
    oracles = _ordered([r.oracle for r in run.records], ORACLE_ORDER)
    rank = {s: k for k, s in enumerate(STATUSES)}
    order = sorted(range(len(run.records)), key=lambda k: (
        ops.index(run.records[k].op), quantities.index(run.records[k].quantity),
        oracles.index(run.records[k].oracle), k))
    views: list[RecordView] = []
    used: set[str] = set()
    by_cell: dict[tuple[str, str, str], list[RecordView]] = {}
    for k in order:
        rec = run.records[k]
        anchor = base = "rec-" + anchor_for(rec.key)
        suffix = 2
        while anchor in used:
            anchor, suffix = f"{base}-{suffix}", suffix + 1
        used.add(anchor)
        view = _record_view(rec, anchor)
        views.append(view)
        by_cell.setdefault((rec.op, rec.quantity, rec.oracle), []).append(view)
    groups = []
    for q in quantities:
        present = [o for o in oracles if any((op, q, o) in by_cell for op in ops)]
        groups.append({"quantity": q, "oracles": present,
                       "structural": present == ["structure"]})
    rows = []
    for op in ops:
        cells = []
        for g in groups:
            for o in g["oracles"]:
                found = by_cell.get((op, g["quantity"], o))
                if not found:
                    cells.append(Cell(status=None, title=f"{op} · {g['quantity']} · {o}: "
                                                          "not checked"))
                    continue
                worst = min(found, key=lambda v: rank.get(v.record.status, len(rank)))
                r = worst.record
                extra = f", {len(found)} records" if len(found) > 1 else ""
                figure = f"; {r.examples} case{'' if r.examples == 1 else 's'}"
                if r.max_abs_err is not None:
                    figure += f", largest |error| {fmt_num(r.max_abs_err)} over them"
                if r.untested:
                    figure += f"; never reached: {', '.join(r.untested)}"
                cells.append(Cell(status=r.status, href="#" + worst.anchor,
                                  symbol=SYMBOLS.get(r.status, "?"),
                                  title=f"{op} · {g['quantity']} · {o}: {r.status}"
                                        f"{figure}{extra}"))
        rows.append({"op": op, "cells": cells})
    return views, {"groups": groups, "rows": rows}


def _ledger_view(entries: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    out = []
    for k, e in enumerate(entries or []):
        verdict = str(e.get("verdict", ""))
        corrected = e.get("corrected") or None
        corr_view = None
        if corrected:
            cv = str(corrected.get("verdict", ""))
            corr_view = {"latex": corrected.get("latex") or "",
                         "latex_html": latex_to_html(corrected.get("latex")),
                         "transcription": corrected.get("transcription") or "",
                         "verdict": cv, "verdict_class": VERDICT_CLASS.get(cv, "unknown"),
                         "max_abs_err": corrected.get("max_abs_err")}
        number = e.get("number")
        ident = str(e.get("id", f"entry-{k + 1}"))
        out.append({
            "id": ident,
            "anchor": "ledger-" + anchor_for(ident),
            "label": f"Eq. {number}" if number not in (None, "") else ident,
            "title": e.get("title") or "",
            "latex": e.get("latex") or "",
            "latex_html": latex_to_html(e.get("latex")),
            "transcription": e.get("transcription") or "",
            "reading": e.get("reading") or "",
            "checked_against": [show(c) for c in (e.get("checked_against") or [])],
            "verdict": verdict,
            "verdict_class": VERDICT_CLASS.get(verdict, "unknown"),
            "standing": str(e.get("standing") or ""),
            "standing_label": str(e.get("standing_label") or ""),
            "standing_note": str(e.get("standing_note") or ""),
            "standing_class": STANDING_CLASS.get(str(e.get("standing") or ""), VERDICT_CLASS.get(verdict, "unknown")),
            "condition": e.get("condition") or "",
            "reason": e.get("reason") or "",
            "max_abs_err": e.get("max_abs_err"),
            "examples": e.get("examples"),
            "counterexample": (value_view(e["counterexample"])
                               if e.get("counterexample") else None),
            "corrected": corr_view,
            "open": verdict != "holds",
        })
    return out


def _ledger_counts(ledger: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in ledger:
        counts[e["verdict"]] = counts.get(e["verdict"], 0) + 1
    return counts


def _coverage_view(coverage: dict[str, dict[str, list[Any]]]) -> list[dict[str, Any]]:
    ops = _ordered(list(coverage), OP_NAMES)
    out = []
    for op in ops:
        dims = []
        for dim, values in (coverage.get(op) or {}).items():
            values = list(values or [])
            shown = [show(v) for v in values[:_COVERAGE_MAX_VALUES]]
            dims.append({"name": dim, "values": shown,
                         "more": max(0, len(values) - _COVERAGE_MAX_VALUES)})
        out.append({"op": op, "dims": dims})
    return out


@functools.lru_cache(maxsize=None)
def environment() -> jinja2.Environment:
    """The Jinja2 environment over the shipped templates (autoescape on, strict undefined)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=fmt_num, show=show, shape=fmt_shape, duration=fmt_duration)
    return env


def _verdict(run: RunResult) -> tuple[str, str]:
    verdict = verdict_of(run)
    return verdict, verdict.lower()


def render_html(run: RunResult) -> str:
    """Render a whole run as one self-contained HTML page.

    Parameters
    ----------
    run : RunResult
        The records, coverage, versions and (optionally) the equation ledger of one run.

    Returns
    -------
    str
        The page: header and verdict, the op × quantity × oracle matrix, a section per
        failure or error (counterexample, error figures, worst element, heatmaps, arrays,
        convergence plot, message, traceback, reproduction), the ledger when present,
        collapsed sections for passes and missing ops, and the coverage tables.
    """
    views, matrix = _build_views(run)
    verdict, verdict_class = _verdict(run)
    versions = _ordered(list(run.versions), VERSION_ORDER)
    ledger = _ledger_view(run.ledger) if run.ledger is not None else None
    return environment().get_template("report.html").render(
        run=run,
        verdict=verdict,
        verdict_class=verdict_class,
        counts=run.counts(),
        statuses=STATUSES,
        symbols=SYMBOLS,
        status_words=STATUS_WORDS,
        imported=describe_import(run.target),
        versions=[(k, run.versions[k]) for k in versions],
        matrix=matrix,
        failures=[v for v in views if v.record.status in ("fail", "error")],
        partials=[v for v in views if v.record.status == "partial"],
        passes=[v for v in views if v.record.status == "pass"],
        missing=[v for v in views if v.record.status == "not-provided"],
        ledger=ledger,
        ledger_counts=_ledger_counts(ledger or []),
        coverage=_coverage_view(run.coverage or {}),
    )


def write_html(run: RunResult, path: str | os.PathLike[str]) -> None:
    """Render ``run`` with :func:`render_html` and write it to ``path`` atomically."""
    write_text_atomic(path, render_html(run))


def render_ledger_html(entries: list[dict[str, Any]]) -> str:
    """Render the equation ledger alone as a self-contained HTML page.

    Parameters
    ----------
    entries : list of dict
        Ledger entries (``id``, ``number``, ``title``, ``latex``, ``transcription``,
        ``reading``, ``checked_against``, ``verdict``, ``condition``, ``reason``,
        ``max_abs_err``, ``examples``, and for failures ``counterexample`` and
        ``corrected``). Missing keys render as blanks.
    """
    ledger = _ledger_view(entries)
    return environment().get_template("ledger.html").render(
        ledger=ledger, ledger_counts=_ledger_counts(ledger))


def write_ledger_html(entries: list[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Render the ledger with :func:`render_ledger_html` and write it to ``path`` atomically."""
    write_text_atomic(path, render_ledger_html(entries))
