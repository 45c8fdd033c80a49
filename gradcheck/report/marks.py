"""What every report shows alike: a mark per status, the order of quantities and oracles.

The terminal summary and the HTML report both take their symbols and orders from here, so a
status looks the same wherever it is read.
"""
from __future__ import annotations

from typing import Iterable

from gradcheck.oracles import ORACLES
from gradcheck.records import STATUSES, RunResult

__all__ = ["MARKS", "QUANTITY_ORDER", "ORACLE_ORDER", "ORACLE_SHORT", "ORACLE_NAMES", "mark", "ordered",
           "oracle_rank", "STATUS_WORDS", "verdict_of"]

#: One symbol per status (``partial``: passed on every case judged, but features untested).
MARKS: dict[str, str] = {"pass": "✓", "fail": "✗", "error": "!", "partial": "◐", "not-provided": "–"}

#: What a status means, in a few words (legends).
STATUS_WORDS: dict[str, str] = {
    "pass": "passed",
    "fail": "failed",
    "error": "the candidate raised or returned something unusable",
    "partial": "passed on every case judged, but some features it accepts were never reached",
    "not-provided": "the candidate does not provide it",
}

#: Display order of quantities; anything else follows in order of appearance.
QUANTITY_ORDER: tuple[str, ...] = ("forward", "dx", "dw", "db", "dy")

#: Display order of oracles: the columns of the terminal table and of the HTML matrix (the
#: oracles in the order they run, then the judge's own rules).
ORACLE_ORDER: tuple[str, ...] = (*ORACLES, "subgradient", "structure")

#: Short column names for the terminal.
ORACLE_SHORT: dict[str, str] = {"subgradient": "subgr"}

#: Oracles in words.
ORACLE_NAMES: dict[str, str] = {
    **{name: o.title for name, o in ORACLES.items()},
    "subgradient": "the subgradient rule",
    "structure": "the structural check",
}

assert set(MARKS) == set(STATUSES), "every status needs a mark"


def mark(status: str) -> str:
    """The symbol of ``status`` (``?`` for one this version does not know)."""
    return MARKS.get(status, "?")


def oracle_rank(oracle: str) -> int:
    """Position of ``oracle`` in :data:`ORACLE_ORDER` (unknown ones last)."""
    return ORACLE_ORDER.index(oracle) if oracle in ORACLE_ORDER else len(ORACLE_ORDER)


def ordered(seen: Iterable[str], preferred: tuple[str, ...]) -> list[str]:
    """The distinct values of ``seen``: those of ``preferred`` in its order, then the rest as seen."""
    seen = list(dict.fromkeys(seen))
    return [p for p in preferred if p in seen] + [s for s in seen if s not in preferred]


def verdict_of(run: RunResult) -> str:
    """``INCOMPLETE``, ``PASSED``, ``FAILED`` or ``PARTIAL`` (nothing failed, but not all was tested)."""
    if not run.complete:
        return "INCOMPLETE"
    if run.passed:
        return "PASSED"
    if any(r.status in ("fail", "error") for r in run.records):
        return "FAILED"
    return "PARTIAL"
