"""A plain-text summary of a run for the terminal: one row per record, then the verdict."""
from __future__ import annotations

from gradcheck.records import STATUSES, RunResult
from gradcheck.report.html import fmt_duration, fmt_num

__all__ = ["format_summary"]

_ANSI = {"fail": "\033[1;31m", "error": "\033[1;35m", "pass": "\033[32m",
         "not-provided": "\033[2m", "PASSED": "\033[1;32m", "FAILED": "\033[1;31m",
         "INCOMPLETE": "\033[1;33m"}
_RESET = "\033[0m"
_COLUMNS = ("op", "quantity", "oracle", "status", "examples", "max abs err", "max rel err",
            "tolerance")
_NUMERIC = {"examples", "max abs err", "max rel err", "tolerance"}


def _first_line(text: str, width: int = 100) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def format_summary(run: RunResult, *, color: bool = False) -> str:
    """A table of every record of ``run``, the first line of each failure, and the verdict.

    Parameters
    ----------
    run : RunResult
        The run to summarise; records are listed in their run order.
    color : bool
        Colour statuses and the verdict with ANSI escapes (for a terminal).

    Returns
    -------
    str
        Lines separated by ``\\n``, ending with the verdict line (no trailing newline).
    """
    def paint(text: str, key: str) -> str:
        return f"{_ANSI[key]}{text}{_RESET}" if color and key in _ANSI else text

    rows = [(r.op, r.quantity, r.oracle, r.status, str(r.examples), fmt_num(r.max_abs_err),
             fmt_num(r.max_rel_err), fmt_num(r.tolerance)) for r in run.records]
    widths = [max([len(h)] + [len(row[k]) for row in rows]) for k, h in enumerate(_COLUMNS)]

    def line(cells: tuple[str, ...], status: str | None = None) -> str:
        out = []
        for k, (cell, name) in enumerate(zip(cells, _COLUMNS)):
            text = cell.rjust(widths[k]) if name in _NUMERIC else cell.ljust(widths[k])
            if name == "status" and status is not None:
                text = paint(text, status)
            out.append(text)
        return "  ".join(out).rstrip()

    lines = [f"gradcheck: {run.target} (api {run.api}, profile {run.profile}, "
             f"seed {run.seed}, device {run.device})", "", line(_COLUMNS),
             line(tuple("-" * w for w in widths))]
    lines += [line(row, row[3]) for row in rows]
    problems = [r for r in run.records if r.status not in ("pass", "not-provided")]
    if problems:
        lines.append("")
        for r in problems:
            lines.append(f"{paint(r.status.upper(), r.status)} {r.key}: "
                         f"{_first_line(r.message) or '(no message)'}")
    counts = run.counts()
    order = list(STATUSES) + [s for s in counts if s not in STATUSES]
    tally = ", ".join(f"{counts[s]} {s}" for s in order if counts.get(s))
    verdict = "INCOMPLETE" if not run.complete else "PASSED" if run.passed else "FAILED"
    lines += ["", f"{paint(verdict, verdict)}: {tally or 'no checks'} "
                  f"({len(run.records)} checks in {fmt_duration(run.duration_s)})"]
    return "\n".join(lines)
