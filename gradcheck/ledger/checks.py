"""Checking one transcription against its oracles: hypothesis-drawn cases, shrunk failures.

A check compares an evaluation (a transcription run over its left-hand side's index range)
with one or more oracles on every case a strategy draws. Runs are seeded and bounded, so the
same ``seed`` and ``max_examples`` give the same results and counterexamples every time.
How results become verdicts is :mod:`gradcheck.ledger.verify`'s business.

Comparisons: same shape, NaN exactly where the oracle has NaN, and
``max|actual - expected| <= TOLERANCES[kind] * (1 + max|expected|)``.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, find, given
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as Settings
from hypothesis.errors import NoSuchExample
from hypothesis.strategies import SearchStrategy

from gradcheck.ledger.cases import Case

__all__ = [
    "TOLERANCES",
    "Oracle",
    "CaseClass",
    "Judgement",
    "ClassResult",
    "ledger_settings",
    "judge",
    "disagrees",
    "check_class",
    "describe_case",
    "finite_or_none",
]

#: Relative tolerance per kind of comparison, applied as ``tol * (1 + max|expected|)``:
#: ``exact`` for two float64 evaluations of the same sum, ``fd`` for central differences.
TOLERANCES: dict[str, float] = {"exact": 1e-9, "fd": 1e-6}


@dataclass(frozen=True)
class Oracle:
    """An independent value for a case: ``fn(case)`` -> array, compared within the
    tolerance of ``kind`` (see :data:`TOLERANCES`)."""

    name: str
    fn: Callable[[Case], np.ndarray]
    kind: str = "exact"


@dataclass(frozen=True)
class CaseClass:
    """A family of cases. ``requires`` names the condition its cases may break ("" for the
    seed's own setting, the entry's first class)."""

    label: str
    strategy: SearchStrategy[Case]
    requires: str = ""


@dataclass
class Judgement:
    """One case against all oracles."""

    ok: bool
    max_abs_err: float
    oracle: str  # the worst oracle
    actual: np.ndarray | None = None
    expected: np.ndarray | None = None
    disagreeing: tuple[str, ...] = ()  # every oracle this case disagrees with


@dataclass
class ClassResult:
    """One case class checked: whether it held, on how many cases, the largest error."""

    label: str
    requires: str
    holds: bool
    examples: int
    max_abs_err: float
    disagreeing: list[str] = field(default_factory=list)
    counterexample: dict[str, Any] | None = None
    errors: list[float] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "requires": self.requires, "holds": self.holds,
                "examples": self.examples, "max_abs_err": finite_or_none(self.max_abs_err),
                "disagrees_with": list(self.disagreeing),
                "counterexample": self.counterexample}


def ledger_settings(max_examples: int, *, shrink: bool = False) -> Settings:
    """The bounded, quiet, database-free hypothesis settings every ledger check runs under."""
    phases = (Phase.generate, Phase.shrink) if shrink else (Phase.generate,)
    return Settings(max_examples=max_examples, database=None, deadline=None,
                    derandomize=False, phases=phases, print_blob=False,
                    suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
                    report_multiple_bugs=False)


def _compare(actual: Any, expected: Any, kind: str) -> tuple[bool, float]:
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        return False, math.inf
    if a.size == 0:
        return True, 0.0
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    if (nan_a != nan_e).any():
        return False, math.inf
    finite = ~nan_a
    if not finite.any():
        return True, 0.0
    err = float(np.abs(a[finite] - e[finite]).max())
    scale = 1.0 + float(np.abs(e[finite]).max())
    return err <= TOLERANCES[kind] * scale, err


def disagrees(evaluate: Callable[[Case], np.ndarray], oracles: tuple[Oracle, ...],
              case: Case) -> bool:
    """Whether some oracle disagrees (stops at the first that does; the shrinking predicate)."""
    actual = np.asarray(evaluate(case), dtype=np.float64)
    return any(not _compare(actual, o.fn(case), o.kind)[0] for o in oracles)


def judge(evaluate: Callable[[Case], np.ndarray], oracles: tuple[Oracle, ...],
          case: Case) -> Judgement:
    """Evaluate once, compare with every oracle; the worst oracle decides."""
    actual = np.asarray(evaluate(case), dtype=np.float64)
    worst = Judgement(ok=True, max_abs_err=0.0, oracle=oracles[0].name)
    disagreeing = []
    for oracle in oracles:
        expected = np.asarray(oracle.fn(case), dtype=np.float64)
        ok, err = _compare(actual, expected, oracle.kind)
        if not ok:
            disagreeing.append(oracle.name)
        if (not ok and worst.ok) or (ok == worst.ok and err > worst.max_abs_err):
            worst = Judgement(ok=ok, max_abs_err=err, oracle=oracle.name,
                              actual=actual, expected=expected)
    if worst.actual is None:
        worst.actual = actual
    worst.disagreeing = tuple(disagreeing)
    return worst


def finite_or_none(v: float | None) -> float | None:
    """``v`` as a float, or ``None`` when it is NaN or infinite (shapes or NaNs disagree)."""
    if v is None or not math.isfinite(v):
        return None
    return float(v)


def _jsonable_value(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    return v


def _nan_to_none(v: Any) -> Any:
    if isinstance(v, list):
        return [_nan_to_none(u) for u in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def describe_case(case: Case, j: Judgement | None = None) -> dict[str, Any]:
    """A case as small JSON-able parts: ``inputs`` (arrays as nested lists, floats),
    ``shapes``, ``params`` (ints and names) and, given a judgement, the disagreement."""
    out: dict[str, Any] = {"inputs": {}, "shapes": {}, "params": {}}
    for k, v in case.items():
        if isinstance(v, np.ndarray):
            out["inputs"][k] = v.tolist()
            out["shapes"][k] = list(v.shape)
        elif isinstance(v, (float, np.floating)):
            out["inputs"][k] = float(v)
        else:
            out["params"][k] = _jsonable_value(v)
    if j is not None:
        out["oracle"] = j.oracle
        out["max_abs_err"] = finite_or_none(j.max_abs_err)
        out["actual"] = None if j.actual is None else _nan_to_none(j.actual.tolist())
        out["expected"] = None if j.expected is None else _nan_to_none(j.expected.tolist())
    return out


def _seed_bits(seed: int) -> int:
    return random.Random(seed).getrandbits(64)


def check_class(evaluate: Callable[[Case], np.ndarray], oracles: tuple[Oracle, ...],
                cls: CaseClass, *, max_examples: int, seed: int,
                shrink: bool = True) -> ClassResult:
    """Check ``evaluate`` against ``oracles`` on ``cls``.

    Runs ``max_examples`` generated cases (fewer if hypothesis exhausts the class), recording
    every error; if any case disagrees and ``shrink`` is set, ``hypothesis.find`` (same seed)
    returns the smallest disagreeing case, which becomes the counterexample.
    """
    errors: list[float] = []
    failed = [False]
    disagreeing: set[str] = set()

    def record(case: Case) -> None:
        j = judge(evaluate, oracles, case)
        errors.append(j.max_abs_err)
        if not j.ok:
            failed[0] = True
            disagreeing.update(j.disagreeing)

    @ledger_settings(max_examples)
    @hypothesis_seed(_seed_bits(seed))
    @given(cls.strategy)
    def run(case: Case) -> None:
        record(case)

    run()
    result = ClassResult(label=cls.label, requires=cls.requires, holds=not failed[0],
                         examples=len(errors), max_abs_err=max(errors, default=0.0),
                         disagreeing=[o.name for o in oracles if o.name in disagreeing],
                         errors=errors)
    if failed[0] and shrink:
        try:
            smallest = find(cls.strategy, lambda c: disagrees(evaluate, oracles, c),
                            settings=ledger_settings(max_examples, shrink=True),
                            random=random.Random(seed))
        except NoSuchExample:  # pragma: no cover - the search above found one
            smallest = None
        if smallest is not None:
            result.counterexample = describe_case(smallest, judge(evaluate, oracles, smallest))
    return result
