"""One op, many cases: every check gets the whole budget, then each failure is shrunk.

For each op there are two plans: smooth cases go through the battery
(``gradcheck.judge.battery``), kink cases through the subgradient rules (``gradcheck.judge.subgradient``).
A plan's cases are the op's covering design (``gradcheck.cases.coverage``: every pair of feature
values the candidate accepts) followed by the profile's hypothesis draws. Every case is
judged by every check, whatever its siblings did before: a failure never ends the search, and
neither does a fault of the harness (it becomes an error record of that case). The records of
one ``(quantity, oracle)`` are folded into one (:class:`_Fold`), which keeps the first case
of each kind of finding — a wrong value and a crash are both kept.

Then each *distinct* failure — a quantity that fails, or an error with one signature — is
shrunk once by hypothesis, in the region of the geometry it was found in; the oracles that
agree on it share the smallest case; a check the smallest case does not reproduce keeps the
case it failed on. Finally a pass is a pass only when its cases covered every feature the
candidate accepts (else ``partial``); features left out by the candidate's convention,
constraints or ``Unsupported`` cases are listed as excluded, with the reason.

Long because the plans, the fold of records per check and the shrink of each distinct failure
work on one shared state of the search.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from hypothesis import Phase, given
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky

from gradcheck.adapters.base import BadReturn, CandidateError, Unsupported
from gradcheck.judge.battery import Key, Runner, check_keys, error_records, evaluate
from gradcheck.cases import Case
from gradcheck.config import RunConfig, hypothesis_settings
from gradcheck.cases.coverage import FEATURES, KINK_FEATURES, design, features_of, kink_features_of, reachable
from gradcheck.ops import SPECS
from gradcheck.records import Record
from gradcheck.judge.lowprec import is_low_precision
from gradcheck.cases.strategies import cases, kink_case, limits_within, long_reduction, scales, smooth_case
from gradcheck.judge.subgradient import evaluate_kink

__all__ = ["check_op", "CandidateTimeout", "coverage_of", "merge", "SHRINK_CALLS"]

#: Judged calls one shrink may spend (hypothesis's own shrinking included); past them the
#: smallest case found so far stands.
SHRINK_CALLS = 40

_FIELDS = ("status", "message", "counterexample", "worst", "arrays", "convergence", "traceback")


class CandidateTimeout(BaseException):
    """A candidate call ran past its time limit (a BaseException: candidates can't swallow it)."""


class _Found(Exception):
    pass


def merge(old: Record | None, new: Record) -> Record:
    """Fold ``new`` (one example) into ``old`` (earlier examples of the same check): the
    figures are maxima, the counts add up, and the record of the worse status is kept (the
    first of its status). :class:`_Fold` keeps a failure and an error apart."""
    if old is None:
        return new
    order = {"error": 3, "fail": 2, "partial": 1, "pass": 1, "not-provided": 0}
    keep = old if order[old.status] >= order[new.status] else new
    out = Record(**{**keep.__dict__})
    out.examples = old.examples + new.examples
    out.vacuous = old.vacuous + new.vacuous
    for f in ("max_abs_err", "max_rel_err", "tolerance"):
        vals = [v for v in (getattr(old, f), getattr(new, f)) if v is not None]
        setattr(out, f, max(vals) if vals else None)
    out.duration_s = old.duration_s + new.duration_s
    return out


def coverage_of(case: Case) -> dict[str, Any]:
    """The dimensions of a case worth reporting as covered."""
    s = case.shapes
    first = next(iter(s.values()))
    cov: dict[str, Any] = {"kind": case.kind, "batch": first[0] if first else 1, "dtype": case.dtype}
    if "w" in s and len(s["w"]) == 4:
        cov["kernel"] = list(s["w"][2:])
    for k, v in case.params.items():
        cov["window" if k == "kernel_size" else k] = list(v)
    if "x" in s and len(s["x"]) == 4:
        cov["input"] = list(s["x"][2:])
    return cov


def _features(case: Case) -> set[str]:
    out = features_of(case.op, case.shapes, case.params)
    return out | kink_features_of(case) if case.kind == "kink" else out


def _signature(rec: Record) -> str:
    """What makes two findings of one check the same bug: a failure of its quantity, or an
    error with the same first words (``conv2d forward raised ValueError``)."""
    return "fail" if rec.status == "fail" else "error: " + (rec.message or "").split(":")[0]


@dataclass
class _Fold:
    """One check over every case it was judged on."""

    record: Record | None = None  # figures folded over every judged case
    first: dict[str, tuple[Record, Case]] = field(default_factory=dict)  # status -> first finding
    largest: dict[str, tuple[Record, Case]] = field(default_factory=dict)  # status -> finding on the largest case
    shrunk: dict[str, tuple[Record, Case]] = field(default_factory=dict)
    covered: set[str] = field(default_factory=set)
    tried: list[str] = field(default_factory=list)  # statuses a shrink was run for
    passes: int = 0
    skipped: int = 0
    skipped_features: set[str] = field(default_factory=set)
    declined: str = ""

    def add(self, rec: Record, case: Case, features: set[str]) -> None:
        self.record = merge(self.record, rec)
        self.passes += rec.status == "pass"
        self.covered |= features
        if rec.status in ("fail", "error"):
            self.first.setdefault(rec.status, (rec, case))
            big = self.largest.get(rec.status)
            if big is None or case.size() > big[1].size():
                self.largest[rec.status] = (rec, case)

    def skip(self, features: set[str], why: str) -> None:
        self.skipped += 1
        self.skipped_features |= features
        self.declined = self.declined or why


@dataclass
class _Plan:
    kind: str
    judge: Callable[[Runner, Case], dict[Key, Record]]
    keys: list[Key]
    limits: dict[str, Any]
    draws: int
    designed: list[Case]


class _Search:
    """The search of one op: judges cases, folds records, shrinks distinct failures."""

    def __init__(self, run: Runner, label: str, cfg: RunConfig, coverage: list):
        self.run, self.label, self.cfg, self.coverage = run, label, cfg, coverage
        self.op = run.spec.name
        self.folds: dict[Key, _Fold] = {}
        self.aborted: str | None = None

    def judge(self, plan: _Plan, case: Case) -> dict[Key, Record] | None:
        """Records of one case (``None``: declined or the run was stopped)."""
        if self.aborted:
            return None
        try:
            return plan.judge(self.run, case)
        except CandidateTimeout as exc:
            self.aborted = f"timed out after {self.cfg.timeout:g} s in {exc}"
        except Unsupported as exc:
            feats = _features(case)
            judged = getattr(exc, "records", None) or {}  # what was judged before the candidate declined
            for k in plan.keys:
                if k not in judged:
                    self.folds.setdefault(k, _Fold()).skip(feats, str(exc) or "Unsupported")
            return judged or None
        except (CandidateError, BadReturn) as exc:
            return error_records(self.label, plan.keys, exc, case)
        except Exception as exc:  # noqa: BLE001 - a fault of the harness is a record of this case, never the end
            recs = error_records(self.label, plan.keys, exc, case)
            for r in recs.values():
                r.message = f"internal error while checking: {type(exc).__name__}: {exc}"
                r.traceback = "".join(traceback.format_exception(exc))
            return recs
        return None

    def visit(self, plan: _Plan, case: Case) -> None:
        recs = self.judge(plan, case)
        if recs is None:
            return
        self.coverage.append(coverage_of(case))
        feats = _features(case)
        for k, r in recs.items():
            self.folds.setdefault(k, _Fold()).add(r, case, feats)

    def explore(self, plan: _Plan) -> None:
        for case in plan.designed:
            self.visit(plan, case)
        if plan.draws and not self.aborted:
            strategy = cases(self.run.spec.name, kind=plan.kind, dtype=self.cfg.dtype, **plan.limits)
            self._hypothesis(strategy, lambda c: self.visit(plan, c), plan.draws, (Phase.generate,))

    def _hypothesis(self, strategy, body: Callable[[Case], None], n: int, phases) -> None:
        test = hypothesis_settings(self.cfg, n, phases=phases)(given(strategy)(body))
        if self.cfg.seed is not None:
            test = hypothesis_seed(self.cfg.seed)(test)
        try:
            test()
        except (_Found, Flaky):
            pass

    def shrink(self, plan: _Plan) -> None:
        """Shrink each distinct failure of ``plan``'s checks once; a check that its group's
        smallest case does not reproduce gets one more shrink of its own."""
        for _ in range(2):
            groups: dict[tuple[str, str], list[Key]] = {}
            for k in plan.keys:
                fold = self.folds.get(k)
                for status, (rec, _case) in (fold.first.items() if fold else ()):
                    if status not in fold.shrunk and fold.tried.count(status) < 2:
                        fold.tried.append(status)
                        groups.setdefault((k[0] if status == "fail" else "", _signature(rec)), []).append(k)
            if not groups or self.aborted:
                return
            for (_, sig), keys in groups.items():
                self._shrink_one(plan, keys, sig)

    def _shrink_one(self, plan: _Plan, keys: list[Key], sig: str) -> None:
        status = "fail" if sig == "fail" else "error"
        rec0, case0 = self.folds[keys[0]].first[status]
        bounds = limits_within(case0.op, case0.shapes, case0.params)
        limits = {**bounds, **{k: (min(v, bounds[k]) if k in bounds else v) for k, v in plan.limits.items()}}
        calls = [0]
        found: dict[Key, tuple[Record, Case]] = {}

        def body(case: Case) -> None:
            if calls[0] >= SHRINK_CALLS or self.aborted:
                return
            calls[0] += 1
            recs = self.judge(plan, case) or {}
            hits = {k: r for k, r in recs.items() if k in keys and r.status == status and _signature(r) == sig}
            if hits:
                found.clear()
                found.update({k: (r, case) for k, r in hits.items()})
                raise _Found()

        strategy = cases(case0.op, kind=plan.kind, dtype=self.cfg.dtype, **limits)
        self._hypothesis(strategy, body, max(self.cfg.max_examples, 10), (Phase.generate, Phase.shrink))
        for k in keys:
            if k in found:
                self.folds[k].shrunk[status] = found[k]

    def _forward_ever_well_formed(self) -> bool:
        fold = self.folds.get(("shape-dtype", "structure"))
        return fold is None or fold.passes > 0

    def record(self, key: Key, plan: _Plan, reach: dict[str, tuple[str, ...]], reasons: dict[str, str]) -> Record:
        label, cfg = self.label, self.cfg
        fold = self.folds.get(key, _Fold())
        rec = fold.record
        if self.aborted and (rec is None or rec.status == "pass"):
            return Record(label, *key, "error", message=f"{label}: {self.aborted}; the op's remaining checks were skipped")
        if rec is None and key[1] == "subgradient" and not cfg.kink_examples:
            return Record(label, *key, "not-provided", message="no kink cases were asked for (--kink-examples 0)")
        if rec is None and key[0] == "batch-independence" and "N>1" not in reach[plan.kind]:
            return Record(label, *key, "not-provided", message="every case has one sample (N = 1), as the candidate's "
                          "convention or constraints ask")
        if rec is None or rec.examples == 0:
            det = self.folds.get(("determinism", "structure"))
            if fold.skipped:
                why = f"not judged: the candidate declined every case ({fold.skipped}; {fold.declined})"
            elif key[1] == "fd" and not self._forward_ever_well_formed():
                why = ("not judged: finite differences need the candidate's forward, and it never returned the op's "
                       "output shape (see shape-dtype); the other oracles judged the gradients")
            elif det is not None and det.record is not None and det.record.status == "fail":
                why = ("not judged: the candidate is nondeterministic, two calls on the same input differed on every "
                       "case (see the determinism check)")
            else:
                why = "no case reached this check (every drawn case was rejected)"
            rec = Record(label, *key, "error", message=why)
            rec.skipped = fold.skipped
            return rec
        rec = Record(**{**rec.__dict__})
        findings = {s: fold.shrunk.get(s, fold.first[s]) for s in fold.first}
        if findings:
            main = "fail" if "fail" in findings else "error"
            r, _ = findings[main]
            for f in _FIELDS:
                setattr(rec, f, getattr(r, f))
            big, _ = fold.largest[main]  # the pattern shows best on the largest failing case drawn
            if big is not r:
                rec.drawn = {"counterexample": big.counterexample, "worst": big.worst, "arrays": big.arrays,
                             "message": big.message}
            if main == "fail" and "error" in findings:
                e, _ = findings["error"]
                rec.also = {f: getattr(e, f) for f in ("status", "message", "counterexample", "worst", "arrays", "traceback")}
        op = self.op
        required = KINK_FEATURES.get(op, ()) if key[1] == "subgradient" else reach["smooth"]
        rec.covered = [f for f in (*FEATURES[op], *KINK_FEATURES.get(op, ())) if f in fold.covered]
        rec.skipped = fold.skipped
        rec.excluded = dict(reasons) if key[1] != "subgradient" else {}
        for f in sorted(fold.skipped_features - fold.covered):
            if f in required and f not in rec.excluded:
                rec.excluded[f] = f"the candidate declined the cases that had it ({fold.declined})"
        rec.untested = [f for f in required if f not in fold.covered and f not in rec.excluded]
        cases = f"{rec.examples} case{'s' if rec.examples != 1 else ''}"
        if rec.status == "pass" and rec.vacuous and rec.vacuous >= rec.examples:
            rec.status = "partial"
            rec.message = (f"vacuous: on every one of its {cases} an all-zero {key[0]} would have passed as well (every "
                           "expected value within the tolerance), so nothing could have been caught: not a pass")
            if rec.untested:
                rec.message += f"; and no case had {', '.join(rec.untested)}"
        elif rec.status == "pass" and rec.untested:
            rec.status = "partial"
            rec.message = f"passed on {cases}, but none of them had {', '.join(rec.untested)}: not a pass"
        elif rec.status == "pass" and key == ("determinism", "structure"):
            rec.message = ("two calls per case, bitwise identical on every case" if not rec.max_abs_err else
                           f"two calls per case differ by up to {rec.max_abs_err:.3g}, within rounding "
                           "(--deterministic demands bitwise equal repeats)")
        return rec


def _designed(op: str, kind: str, limits: dict[str, Any], cfg: RunConfig) -> list[Case]:
    """The covering design of ``op`` as cases: smooth ones with values seeded per geometry;
    for the kink plan, the first two design geometries on which a constructed kink case
    really sits on the kink (a tie needs a window of two elements)."""
    out: list[Case] = []
    base = 0 if cfg.seed is None else cfg.seed * 7919
    geometries = list(design(op, **limits))
    if kind == "smooth" and is_low_precision(cfg.dtype):
        geometries.append(long_reduction(op))  # where accumulating in the low precision shows
    for i, (shapes, params) in enumerate(geometries):
        if kind == "kink":
            case = kink_case(op, shapes, params, seed=base + i, dtype=cfg.dtype)
            if kink_features_of(case):
                out.append(case)
            if len(out) == 2:
                break
            continue
        for attempt in range(20):
            case = smooth_case(op, shapes, params, seed=base + 1000 * i + attempt, scale=scales(cfg.dtype)[i % len(scales(cfg.dtype))],
                               dtype=cfg.dtype)
            if case is not None:
                out.append(case)
                break
    return out


def _reasons(op: str, limits: dict[str, Any]) -> dict[str, str]:
    """Why each feature no case of ``op`` can reach under ``limits`` is left out."""
    out = {}
    own = set(reachable(op))
    under = set(reachable(op, **limits))
    given = ", ".join(f"{k}={v}" for k, v in sorted(limits.items()))
    for f in FEATURES[op]:
        if f not in own:
            out[f] = f"not part of {op}'s cases"
        elif f not in under:
            out[f] = f"outside the candidate's convention or declared constraints ({given})"
    return out


def check_op(impl: Any, label: str, op: str, cfg: RunConfig, coverage: list | None = None) -> list[Record]:
    """All records of one op label of ``impl`` (``op`` is the protocol op it implements)."""
    spec = SPECS[op]
    keys = check_keys(spec)
    why = impl.missing(label)
    if why is not None:
        return [Record(label, q, o, "not-provided", message=why) for q, o in keys]
    started = time.perf_counter()
    limits = dict(impl.constraints(label))
    search = _Search(Runner(impl, label, spec, deterministic=cfg.deterministic), label, cfg,
                     coverage if coverage is not None else [])
    plans = [_Plan("smooth", evaluate, [k for k in keys if k[1] != "subgradient"], limits, cfg.max_examples,
                   _designed(op, "smooth", limits, cfg))]
    if spec.kinks and cfg.kink_examples:
        # routed kink cases (pooling, a ReLU after a conv) stay small: their routes cost one
        # backward call per output; an element-wise kink needs none
        small = {} if spec.kinks in ("zero", "hinge") else {"max_batch": 2, "max_channels": 2}
        kink_limits = {**limits, **{k: min(v, limits.get(k, v)) for k, v in small.items()}}
        plans.append(_Plan("kink", evaluate_kink, [k for k in keys if k[1] == "subgradient" or k == ("forward", "torch")],
                           kink_limits, cfg.kink_examples, _designed(op, "kink", kink_limits, cfg)))
    for plan in plans:
        search.explore(plan)
    for plan in plans:
        search.shrink(plan)
    reach = {"smooth": reachable(op, **limits), "kink": reachable(op, **plans[-1].limits)}
    reasons = _reasons(op, limits)
    out = [search.record(k, plans[-1] if k[1] == "subgradient" else plans[0], reach, reasons) for k in keys]
    elapsed = time.perf_counter() - started
    for r in out:
        r.duration_s = elapsed / max(len(out), 1)
    return out
