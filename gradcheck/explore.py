"""One op, many cases: hypothesis draws them, the battery judges them, failures are shrunk.

For each op, smooth cases run the battery (``gradcheck.battery``) and kink cases the
subgradient rules (``gradcheck.subgradient``). Every example's records are folded into one
record per ``(quantity, oracle)``. On the first failure hypothesis shrinks the case to the
smallest one that still fails; checks that failed elsewhere but not on that smallest case get
a shrinking round of their own, so every failure carries the smallest input found for it.
"""
from __future__ import annotations

import time
import traceback
from typing import Any, Callable

from hypothesis import given
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky

from .adapters.base import BadReturn, CandidateError
from .battery import Key, Runner, check_keys, error_records, evaluate
from .cases import Case
from .config import RunConfig, hypothesis_settings
from .ops import SPECS
from .records import Record
from .strategies import cases
from .subgradient import evaluate_kink

__all__ = ["check_op", "CandidateTimeout", "coverage_of"]

_SHRINK_ROUNDS = 3


class CandidateTimeout(BaseException):
    """A candidate call ran past its time limit (a BaseException: candidates can't swallow it)."""


class _Failed(Exception):
    pass


def merge(old: Record | None, new: Record) -> Record:
    """Fold ``new`` (one example) into ``old`` (earlier examples of the same check)."""
    if old is None:
        return new
    order = {"error": 3, "fail": 2, "pass": 1, "not-provided": 0}
    keep = old if order[old.status] >= order[new.status] else new
    out = Record(**{**keep.__dict__})
    out.examples = old.examples + new.examples
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


def _explore(strategy, judge: Callable[[Case], dict[Key, Record]], cfg: RunConfig, n: int,
             agg: dict[Key, Record], shrunk: dict[Key, Record], state: dict[str, Any]) -> None:
    """Run ``judge`` on ``n`` drawn cases; fold into ``agg``; put shrunk failures in ``shrunk``."""
    target: set[Key] | None = None
    for _ in range(_SHRINK_ROUNDS):
        last: dict[Key, Record] = {}

        def body(case: Case) -> None:
            if state.get("aborted"):
                return
            try:
                recs = judge(case)
            except CandidateTimeout as exc:
                state["aborted"] = f"timed out after {cfg.timeout:g} s in {exc}"
                return
            except (CandidateError, BadReturn) as exc:
                recs = error_records(state["label"], state["keys_now"], exc, case)
            state["coverage"].append(coverage_of(case))
            for k, r in recs.items():
                agg[k] = merge(agg.get(k), r)
            bad = {k: r for k, r in recs.items() if r.status in ("fail", "error") and (target is None or k in target)}
            if bad:
                last.clear()
                last.update(bad)
                raise _Failed()

        test = given(strategy)(body)
        test = hypothesis_settings(cfg, n)(test)
        if cfg.seed is not None:
            test = hypothesis_seed(cfg.seed)(test)
        try:
            test()
        except (_Failed, Flaky):  # a shrunk failure; or one a nondeterministic candidate would not repeat
            pass
        except Exception as exc:  # noqa: BLE001 - a fault in the harness must not pass for a verdict
            state["internal"] = (f"internal error while checking: {type(exc).__name__}: {exc}",
                                 "".join(traceback.format_exception(exc)))
            return
        for k, r in last.items():
            shrunk.setdefault(k, r)
        pending = {k for k, r in agg.items() if r.status in ("fail", "error") and k not in shrunk}
        if not pending or state.get("aborted"):
            return
        target = pending


def check_op(impl: Any, label: str, op: str, cfg: RunConfig, coverage: list | None = None) -> list[Record]:
    """All records of one op label of ``impl`` (``op`` is the protocol op it implements)."""
    spec = SPECS[op]
    keys = check_keys(spec)
    why = impl.missing(label)
    if why is not None:
        return [Record(label, q, o, "not-provided", message=why) for q, o in keys]
    started = time.perf_counter()
    run = Runner(impl, label, spec)
    agg: dict[Key, Record] = {}
    shrunk: dict[Key, Record] = {}
    limits = dict(impl.constraints(label))
    state: dict[str, Any] = {"label": label, "coverage": coverage if coverage is not None else []}
    plans = [("smooth", evaluate, cfg.max_examples, {}, [k for k in keys if k[1] != "subgradient"])]
    if spec.kinks and cfg.kink_examples:
        # pooling and conv kink cases stay small: their routes cost one backward call per output
        small = {} if spec.activation and not spec.is_conv else {"max_batch": 2, "max_channels": 2}
        plans.append(("kink", evaluate_kink, cfg.kink_examples, small,
                      [k for k in keys if k[1] == "subgradient" or k == ("forward", "torch")]))
    for kind, judge, n, extra, keys_now in plans:
        if state.get("aborted"):
            break
        state["keys_now"] = keys_now
        strategy = cases(op, kind=kind, dtype=cfg.dtype, **{**limits, **extra})
        _explore(strategy, lambda c, j=judge: j(run, c), cfg, n, agg, shrunk, state)
    out = []
    for k in keys:
        rec = agg.get(k)
        if state.get("aborted") and (rec is None or rec.status == "pass"):
            rec = Record(label, k[0], k[1], "error", message=f"{label}: {state['aborted']}; the op's remaining checks were skipped")
        elif state.get("internal") and (rec is None or rec.status == "pass"):
            message, tb = state["internal"]
            rec = Record(label, k[0], k[1], "error", message=message, traceback=tb)
        elif rec is None and k[1] == "subgradient" and not cfg.kink_examples:
            rec = Record(label, k[0], k[1], "not-provided", message="no kink cases were asked for (--kink-examples 0)")
        elif rec is None or rec.examples == 0:
            det = agg.get(("determinism", "structure"))
            why = ("not judged: the candidate is nondeterministic, two calls on the same input differed on every case (see the "
                   "determinism check)" if det is not None and det.status == "fail"
                   else "no case reached this check (every drawn case was rejected)")
            rec = Record(label, k[0], k[1], "error", message=why)
        if k in shrunk and rec.status in ("fail", "error"):
            s = shrunk[k]
            for f in ("status", "message", "counterexample", "worst", "arrays", "convergence", "traceback"):
                setattr(rec, f, getattr(s, f))
        out.append(rec)
    elapsed = time.perf_counter() - started
    for r in out:
        r.duration_s = elapsed / max(len(out), 1)
    return out
