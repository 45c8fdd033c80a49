"""A plain-text summary of a run for the terminal, at most :data:`WIDTH` columns wide.

- a compact table: one row per op, for the forward and each gradient a mark per oracle
  (``fd✓ torch✓ scipy✓``), then the structural checks; ops not provided share one line;
- what was not tested: checks that passed every case judged but never reached a feature the
  candidate accepts (``partial``), features left out on purpose, cases the candidate declined;
- one block per failing ``(op, quantity)`` — not one line per oracle: the oracles that agree,
  the smallest case (shapes, hyper-parameters, the arrays when tiny), the worst element
  (index, expected, yours), its error against what is allowed there, the figures over all the
  cases judged (each labelled with what it is taken over), the recognised pattern, the case as
  largest failing case drawn, and the command that reproduces just that op;
- the equation ledger at a glance, when the run carries it, and the verdict.

Long lines are wrapped, never cut; commands are wrapped with shell continuations.

Long because the table, the failure sections and the wrapping of long lines and commands share
one width budget.
"""
from __future__ import annotations

import re
import shlex
import textwrap
from typing import Any

import numpy as np

from gradcheck.adapters.loader import describe_import
from gradcheck.records import STATUSES, Counterexample, Record, RunResult
from gradcheck.report.html import fmt_duration
from gradcheck.report.marks import ORACLE_ORDER, ORACLE_SHORT, QUANTITY_ORDER, mark, oracle_rank, ordered, verdict_of

__all__ = ["format_summary", "WIDTH", "verdict_of"]

#: Columns the summary fits in.
WIDTH = 100

_ANSI = {"fail": "\033[1;31m", "error": "\033[1;35m", "pass": "\033[32m", "partial": "\033[33m",
         "not-provided": "\033[2m", "PASSED": "\033[1;32m", "FAILED": "\033[1;31m",
         "INCOMPLETE": "\033[1;33m", "PARTIAL": "\033[1;33m", "head": "\033[1m"}
_RESET = "\033[0m"
#: The oracle a failure block shows first: the truth before the candidate's own forward.
_PREFERRED = ("torch", "scipy", "fd", "subgradient", "structure")
#: Inputs are printed in a failure block when they hold at most this many elements in all.
TINY = 24
_LETTERS = {"fd": "f", "torch": "t", "scipy": "s", "subgradient": "k"}


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    try:
        return f"{float(v):.{digits}g}"
    except (TypeError, ValueError):
        return str(v)


def _wrap(text: str, indent: str = "  ", more: str = "    ") -> list[str]:
    out: list[str] = []
    for k, para in enumerate(text.split("\n")):
        out += textwrap.wrap(para, WIDTH, initial_indent=indent if k == 0 else more, subsequent_indent=more,
                             break_long_words=False, break_on_hyphens=False) or [indent]
    return out


def _wrap_command(cmd: str, indent: str) -> list[str]:
    """A shell command over several lines, each ending in `` \\`` but the last."""
    try:
        words = shlex.split(cmd)
    except ValueError:
        return _wrap(cmd, indent, indent + "  ")
    words = [shlex.quote(w) for w in words]
    lines, line = [], indent
    for w in words:
        if line.strip() and len(line) + 1 + len(w) + 2 > WIDTH:
            lines.append(line + " \\")
            line = indent + "    " + w
        else:
            line = line + (" " if line.strip() else "") + w
    lines.append(line)
    return lines


def _shape(s: Any) -> str:
    s = list(s)
    return f"({s[0]},)" if len(s) == 1 else "×".join(str(v) for v in s) if s else "scalar"


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k} {tuple(v) if isinstance(v, (list, tuple)) else v}" for k, v in params.items())


def case_text(ce: Counterexample) -> str:
    """``x 1×1×3×1, w 1×1×1×1, b (1,); stride (2, 2), padding (0, 0)`` (shapes; hyper-parameters)."""
    text = ", ".join(f"{k} {_shape(v)}" for k, v in ce.shapes.items())
    if ce.params:
        text += "; " + _params(ce.params)
    extra = [w for w in (ce.dtype if ce.dtype != "float64" else "", "kink case" if ce.kind == "kink" else "") if w]
    return text + (f" ({', '.join(extra)})" if extra else "")


def _compact(a: np.ndarray) -> str:
    """A nested list in 4 significant figures on one line: ``[[0.1257, -1], [0, 2.5]]``."""
    if a.ndim == 0:
        return _fmt(float(a), 4)
    return "[" + ", ".join(_compact(v) for v in a) + "]"


def _arrays(ce: Counterexample, delta_name: str) -> list[str]:
    """The inputs of a tiny case: one line per array, or per (n, c) plane of a 4-D one."""
    inputs = ce.inputs or {}
    try:
        arrays = {k: np.asarray(v, dtype=float) for k, v in inputs.items()}
    except (TypeError, ValueError):
        return []
    if not arrays or sum(a.size for a in arrays.values()) > TINY:
        return []
    out = []
    for k, a in arrays.items():
        name = delta_name if k == "delta" else k
        if a.ndim == 4:
            for n in range(a.shape[0]):
                for c in range(a.shape[1]):
                    out += _wrap(f"{name}[{n}, {c}] = {_compact(a[n, c])}", "    ", "        ")
        else:
            out += _wrap(f"{name} = {_compact(a)}", "    ", "        ")
    return out


def _oracle_list(recs: list[Record]) -> str:
    names = [r.oracle for r in sorted(recs, key=lambda r: oracle_rank(r.oracle))]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _block(group: list[Record], others: list[Record], api: str, paint) -> list[str]:
    """The lines of one failing (op, quantity)."""
    bad = [r for r in group if r.status in ("fail", "error")]
    rep = min(bad, key=lambda r: (r.status != "fail", _PREFERRED.index(r.oracle) if r.oracle in _PREFERRED else 9))
    op, q = rep.op, rep.quantity
    fails = [r for r in bad if r.status == "fail"]
    errors = [r for r in bad if r.status == "error"]
    parts = []
    if fails:
        parts.append(f"wrong against {_oracle_list(fails)}")
    if errors:
        parts.append(f"errors against {_oracle_list(errors)}")
    passed = [r for r in others if r.status == "pass"]
    if passed:
        parts.append(f"right against {_oracle_list(passed)}")
    status = "FAIL" if fails else "ERROR"
    head = f"{mark(rep.status)} {status} {op} {q}" + (f": {'; '.join(parts)}" if rep.oracle != "structure" else "")
    lines = [paint(head, rep.status)] if len(head) <= WIDTH else [paint(ln, rep.status) for ln in _wrap(head, "", "    ")]
    first, _, rest = (rep.message or "").partition("\n")
    delta_name = "dout" if api == "cs231n" else "delta"
    n = rep.examples
    cases = f"{n} case{'s' if n != 1 else ''}"
    count = re.match(r"[^:]*: (\d+ of \d+ [^;]+);", first)
    if rep.status == "error" or rep.worst is None or (count is None and first):
        lines += _wrap(f"what happened: {first or '(no message)'}")
    ce = rep.counterexample
    if ce is not None:
        lines += _wrap(f"smallest case: {case_text(ce)}")
        lines += _arrays(ce, delta_name)
    if rep.worst is not None:
        w = rep.worst
        other = "nearest valid" if rep.oracle == "subgradient" else "expected"
        if count:
            lines += _wrap(f"on the smallest case: {count.group(1)}")
        lines += _wrap(f"worst element, on the smallest case: {q}{list(w.index)} = {w.actual:.6g}, "
                       f"{other} {w.expected:.6g}")
        times = w.abs_err / w.tolerance if w.tolerance else float("inf")
        lines += _wrap(f"its error: |yours - {other}| = {_fmt(w.abs_err)} > allowed {_fmt(w.tolerance)} "
                       f"(the tolerance at that element; {_fmt(times, 2)} times it)")
    if rep.max_abs_err is not None and rep.status == "fail":
        rel = ""
        if rep.max_rel_err is not None and rep.tolerance is not None and rep.max_rel_err < 1e12:
            rel = (f", largest relative error {_fmt(rep.max_rel_err)} against a relative tolerance of "
                   f"{_fmt(rep.tolerance)}")
        where = "" if rep.worst is not None else ", on those where the shape was right"
        lines += _wrap(f"over all {cases} judged{where}: largest |error| {_fmt(rep.max_abs_err)}{rel}")
    elif rep.status == "error":
        lines += _wrap(f"judged on {cases}")
    for ln in rest.split("\n"):
        if ln.strip():
            lines += _wrap(ln.strip())
    if rep.traceback and rep.status == "error":
        frames = [ln for ln in rep.traceback.strip().splitlines() if ln.strip()]
        where = [ln.strip() for ln in frames if ln.strip().startswith("File ")]
        own = [w for w in where if "site-packages" not in w and "/lib/python" not in w]
        if where:
            lines += _wrap(f"raised at: {(own or where)[-1]}")
    lines += _drawn(rep, delta_name)
    lines += _also(rep)
    if len(errors) and fails:
        e = errors[0]
        lines += _wrap(f"and against {e.oracle}: {e.message.splitlines()[0] if e.message else 'an error'}")
    if rep.repro and rep.repro.get("command"):
        lines.append("  reproduce:")
        lines += _wrap_command(rep.repro["command"], "    ")
        if rep.repro.get("python"):
            lines.append("    (and a Python snippet that prints the difference: in the report and the JSON)")
    return lines


def _op_blocks(recs: list[Record], api: str, paint) -> list[str]:
    """The failure blocks of one op: one per failing quantity; checks that failed with the very
    message of a block already shown get one line each, not a block of their own."""
    groups: dict[str, list[Record]] = {}
    for r in recs:
        groups.setdefault(r.quantity, []).append(r)
    lines: list[str] = []
    shown: dict[str, str] = {}
    for q, group in groups.items():
        bad = [r for r in group if r.status in ("fail", "error")]
        if not bad:
            continue
        key = (bad[0].message or "").split("\n")[0]
        if all((r.message or "").split("\n")[0] == key for r in bad) and key in shown:
            r = bad[0]
            lines += [paint(ln, r.status) if k == 0 else ln for k, ln in enumerate(_wrap(
                f"{mark(r.status)} {'FAIL' if r.status == 'fail' else 'ERROR'} {r.op} {q}: the same as {shown[key]} "
                "above", "", "    "))]
            continue
        others = [r for r in group if r.status not in ("fail", "error")]
        lines += [""] + _block(group, others, api, paint)
        shown.setdefault(key, f"{bad[0].op} {q}")
    return lines


def _drawn(rep: Record, delta_name: str) -> list[str]:
    d = rep.drawn
    if not d:
        return []
    out = []
    ce = d.get("counterexample")
    first, _, rest = str(d.get("message") or "").partition("\n")
    figures = first.split(": ", 1)[1] if ": " in first and rep.status != "error" else first
    text = "the largest failing case drawn, before shrinking"
    if isinstance(ce, Counterexample):
        text += f": {case_text(ce)}"
    if figures:
        text += f" — {figures}"
    out += _wrap(text)
    for ln in rest.split("\n"):
        if ln.strip():
            out += _wrap(ln.strip(), "    ", "      ")
    return out


def _also(rep: Record) -> list[str]:
    a = rep.also
    if not a:
        return []
    status = str(a.get("status") or "")
    first = str(a.get("message") or "").split("\n")[0]
    what = "it also errored on other cases" if status == "error" else f"it also {status or 'failed'} on other cases"
    out = _wrap(f"{what}: {first}")
    ce = a.get("counterexample")
    if isinstance(ce, Counterexample):
        out += _wrap(f"smallest such case: {case_text(ce)}", "    ", "      ")
    return out


def _table(run: RunResult, by_op: dict[str, list[Record]], present: list[str], paint) -> list[str]:
    quantities: list[str] = ordered((r.quantity for op in present for r in by_op[op] if r.oracle != "structure"),
                                    QUANTITY_ORDER)

    def cell(recs: list[Record], quantity: str, short: bool) -> tuple[str, str]:
        mine = sorted((r for r in recs if r.quantity == quantity and r.oracle != "structure"),
                      key=lambda r: oracle_rank(r.oracle))
        name = (lambda o: _LETTERS.get(o, o)) if short else (lambda o: ORACLE_SHORT.get(o, o))
        plain = " ".join(f"{name(r.oracle)}{mark(r.status)}" for r in mine)
        painted = " ".join(paint(f"{name(r.oracle)}{mark(r.status)}", r.status) for r in mine)
        return plain, painted

    def structure(recs: list[Record], short: bool) -> tuple[str, str]:
        mine = [r for r in recs if r.oracle == "structure"]
        bad = [r for r in mine if r.status != "pass"]
        if not bad:
            text = f"✓ {len(mine)}/{len(mine)}"
            return text, paint(text, "pass")
        if short:
            text = f"{mark(bad[0].status)} {len(bad)} of {len(mine)}"
            return text, paint(text, bad[0].status)
        text = " ".join(f"{r.quantity}{mark(r.status)}" for r in bad)
        return text, " ".join(paint(f"{r.quantity}{mark(r.status)}", r.status) for r in bad)

    def build(short: bool) -> list[str]:
        header = ["op", "cases"] + quantities + ["structure"]
        rows = []
        for op in present:
            recs = by_op[op]
            cells = [(op, op), (str(max((r.examples for r in recs), default=0)),) * 2]
            cells += [cell(recs, q, short) for q in quantities] + [structure(recs, short)]
            rows.append(cells)
        widths = [max([len(h)] + [len(row[k][0]) for row in rows]) for k, h in enumerate(header)]

        def line(cells: list[tuple[str, str]]) -> str:
            return "  ".join(p + " " * (widths[k] - len(t)) for k, (t, p) in enumerate(cells)).rstrip()

        out = [line([(h, h) for h in header]), line([("-" * w, "-" * w) for w in widths])]
        out += [line(row) for row in rows]
        if short:
            used = ordered((r.oracle for op in present for r in by_op[op] if r.oracle != "structure"), ORACLE_ORDER)
            out.append("oracles: " + ", ".join(f"{_LETTERS.get(o, o)} = {o}" for o in used))
        return out

    full = build(False)
    if max(len(_plain(ln)) for ln in full) <= WIDTH:
        return full
    return build(True)


def _plain(text: str) -> str:
    return re.sub(r"\033\[[0-9;]*m", "", text)


def _untested(run: RunResult, by_op: dict[str, list[Record]], present: list[str], paint) -> list[str]:
    """What was not tested: partial checks, features left out on purpose, cases declined."""
    lines: list[str] = []
    for op in present:
        recs = by_op[op]
        partial = [r for r in recs if r.status == "partial"]
        if partial:
            features = ordered((f for r in partial for f in r.untested), ())
            which = ", ".join(dict.fromkeys(f"{r.quantity} ({r.oracle})" for r in partial))
            lines += [paint(ln, "partial") if k == 0 else ln for k, ln in enumerate(_wrap(
                f"{mark('partial')} {op}: passed on every case judged, but no case reached "
                f"{', '.join(features)} — {which}", "", "    "))]
        excluded: dict[str, str] = {}
        for r in recs:
            for f, why in (r.excluded or {}).items():
                excluded.setdefault(f, why)
        if excluded:
            by_reason: dict[str, list[str]] = {}
            for f, why in excluded.items():
                by_reason.setdefault(why, []).append(f)
            text = "; ".join(f"{', '.join(fs)} ({why})" if why else ", ".join(fs) for why, fs in by_reason.items())
            lines += _wrap(f"{op}: not tested, left out on purpose: {text}", "", "    ")
        skipped = max((r.skipped for r in recs), default=0)
        if skipped:
            lines += _wrap(f"{op}: {skipped} case{'s' if skipped != 1 else ''} declined by the candidate "
                           f"(gradcheck.Unsupported)", "", "    ")
    return lines


def _ledger(entries: list[dict[str, Any]]) -> list[str]:
    groups: dict[str, list[str]] = {}
    for e in entries:
        label = e.get("standing_label") or e.get("verdict") or "?"
        groups.setdefault(str(label), []).append(str(e.get("id", "?")))
    parts = [f"{label}: {len(ids)}" + (f" ({', '.join(ids)})" if label != "holds" else "")
             for label, ids in groups.items()]
    return _wrap("equations of the seed: " + "; ".join(parts), "", "    ")


def format_summary(run: RunResult, *, color: bool = False) -> str:
    """The summary of ``run``: the table, what was not tested, a block per failure, the verdict.

    Parameters
    ----------
    run : RunResult
        The run to summarise; ops appear in their run order.
    color : bool
        Colour marks and the verdict with ANSI escapes (for a terminal).

    Returns
    -------
    str
        Lines of at most :data:`WIDTH` columns (a single word longer than that, such as a long
        path, stands on its own line) separated by ``\\n``, ending with the verdict line (no
        trailing newline).
    """

    def paint(text: str, key: str) -> str:
        return f"{_ANSI[key]}{text}{_RESET}" if color and key in _ANSI else text

    by_op: dict[str, list[Record]] = {}
    for r in run.records:
        by_op.setdefault(r.op, []).append(r)
    absent = [op for op, recs in by_op.items() if all(r.status == "not-provided" for r in recs)]
    present = [op for op in by_op if op not in absent]

    lines = _wrap(f"gradcheck: {run.target} (api {run.api}, profile {run.profile}, "
                  f"seed {run.seed if run.seed is not None else '—'}, device {run.device})", "", "    ")
    how = describe_import(run.target)
    if how:
        lines += _wrap(how, "", "    ")
    lines.append("")
    if present:
        lines += _table(run, by_op, present, paint)
    if absent:
        lines += [""] + _wrap("not provided: " + ", ".join(absent), "", "    ")
    untested = _untested(run, by_op, present, paint)
    if untested:
        lines += [""] + untested
    for op in present:
        lines += _op_blocks(by_op[op], run.api, paint)
    if run.ledger:
        lines += [""] + _ledger(run.ledger)
    counts = run.counts()
    order = list(STATUSES) + [s for s in counts if s not in STATUSES]
    tally = ", ".join(f"{counts[s]} {s}" for s in order if counts.get(s))
    verdict = verdict_of(run)
    last = _wrap(f"{verdict}: {tally or 'no checks'} ({len(run.records)} checks in {fmt_duration(run.duration_s)})",
                 "", "    ")
    last[0] = paint(verdict, verdict) + last[0][len(verdict):]
    return "\n".join(lines + [""] + last)
