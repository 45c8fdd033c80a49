"""A plain-text summary of a run for the terminal.

One row per op: for the forward and each gradient, a mark per oracle (``fd✓ torch✓ scipy✓``),
then the structural checks; ops not provided share one line. Then the first line of every
failure and error, and the verdict.
"""
from __future__ import annotations

from gradcheck.records import STATUSES, Record, RunResult
from gradcheck.report.html import fmt_duration

__all__ = ["format_summary"]

_ANSI = {"fail": "\033[1;31m", "error": "\033[1;35m", "pass": "\033[32m",
         "not-provided": "\033[2m", "PASSED": "\033[1;32m", "FAILED": "\033[1;31m",
         "INCOMPLETE": "\033[1;33m"}
_RESET = "\033[0m"
_MARK = {"pass": "✓", "fail": "✗", "error": "!", "not-provided": "–"}
_ORACLE_ORDER = ("fd", "torch", "scipy", "subgradient")
_SHORT = {"subgradient": "subgr"}


def _first_line(text: str, width: int = 110) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def format_summary(run: RunResult, *, color: bool = False) -> str:
    """The summary of ``run``: a row per op, the failures' first lines, and the verdict.

    Parameters
    ----------
    run : RunResult
        The run to summarise; ops appear in their run order.
    color : bool
        Colour marks and the verdict with ANSI escapes (for a terminal).

    Returns
    -------
    str
        Lines separated by ``\\n``, ending with the verdict line (no trailing newline).
    """

    def paint(text: str, key: str) -> str:
        return f"{_ANSI[key]}{text}{_RESET}" if color and key in _ANSI else text

    by_op: dict[str, list[Record]] = {}
    for r in run.records:
        by_op.setdefault(r.op, []).append(r)
    absent = [op for op, recs in by_op.items() if all(r.status == "not-provided" for r in recs)]
    present = [op for op in by_op if op not in absent]
    quantities: list[str] = []
    for op in present:
        for r in by_op[op]:
            if r.oracle != "structure" and r.quantity not in quantities:
                quantities.append(r.quantity)

    def cell(recs: list[Record], quantity: str) -> tuple[str, str]:
        mine = sorted((r for r in recs if r.quantity == quantity and r.oracle != "structure"),
                      key=lambda r: _ORACLE_ORDER.index(r.oracle) if r.oracle in _ORACLE_ORDER else 0)
        plain = " ".join(f"{_SHORT.get(r.oracle, r.oracle)}{_MARK.get(r.status, '?')}" for r in mine)
        painted = " ".join(paint(f"{_SHORT.get(r.oracle, r.oracle)}{_MARK.get(r.status, '?')}", r.status) for r in mine)
        return plain, painted

    def structure(recs: list[Record]) -> tuple[str, str]:
        mine = [r for r in recs if r.oracle == "structure"]
        bad = [r for r in mine if r.status != "pass"]
        if not bad:
            text = f"✓ {len(mine)}/{len(mine)}"
            return text, paint(text, "pass")
        text = " ".join(f"{r.quantity}{_MARK.get(r.status, '?')}" for r in bad)
        return text, " ".join(paint(f"{r.quantity}{_MARK.get(r.status, '?')}", r.status) for r in bad)

    header = ["op", "cases"] + quantities + ["structure"]
    rows = []
    for op in present:
        recs = by_op[op]
        cells = [(op, op), (str(max((r.examples for r in recs), default=0)),) * 2]
        cells += [cell(recs, q) for q in quantities] + [structure(recs)]
        rows.append(cells)
    widths = [max([len(h)] + [len(row[k][0]) for row in rows]) for k, h in enumerate(header)]

    def line(cells: list[tuple[str, str]]) -> str:
        return "  ".join(painted + " " * (widths[k] - len(plain)) for k, (plain, painted) in enumerate(cells)).rstrip()

    lines = [f"gradcheck: {run.target} (api {run.api}, profile {run.profile}, "
             f"seed {run.seed if run.seed is not None else '—'}, device {run.device})", ""]
    if rows:
        lines += [line([(h, h) for h in header]), line([("-" * w, "-" * w) for w in widths])]
        lines += [line(row) for row in rows]
    if absent:
        lines += ["", "not provided: " + ", ".join(absent)]
    problems = [r for r in run.records if r.status in ("fail", "error")]
    if problems:
        lines.append("")
        for r in problems:
            lines.append(f"{paint(r.status.upper(), r.status)} {r.key}: {_first_line(r.message) or '(no message)'}")
    counts = run.counts()
    order = list(STATUSES) + [s for s in counts if s not in STATUSES]
    tally = ", ".join(f"{counts[s]} {s}" for s in order if counts.get(s))
    verdict = "INCOMPLETE" if not run.complete else "PASSED" if run.passed else "FAILED"
    lines += ["", f"{paint(verdict, verdict)}: {tally or 'no checks'} "
                  f"({len(run.records)} checks in {fmt_duration(run.duration_s)})"]
    return "\n".join(lines)
