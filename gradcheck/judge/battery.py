"""The battery of checks one case puts an implementation through.

For a smooth case (:func:`evaluate`): the forward against torch and scipy; every gradient
against finite differences of the candidate's own forward, torch and scipy; and the structure
of what came back (shapes and dtypes, finite values, inputs left alone, determinism, backward
free of state left by other forward calls, linearity of backward in ``delta``, samples
independent). Kink cases go to ``gradcheck.judge.subgradient``.

The candidate is called in its natural order — forward on a case, then backward on the same
case — before anything else; the calls that probe its structure come after, so a candidate
that keeps state between forward and backward is judged on its gradients *and* told that it
keeps state. A forward of the wrong shape is a failure of the forward; the gradients are still
judged against torch and scipy, and finite differences (which need the forward) are left out
of that case.

Every check is keyed ``(quantity, oracle)``; :func:`check_keys` lists them for an op, so a
pytest item or a report cell exists for each whether or not it ran.

Long because every check of a smooth case reads the same calls of the candidate, made once in
its natural order; the structure checks live beside them.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradcheck.adapters.base import BadReturn, CandidateError, Implementation, Unsupported
from gradcheck.cases import Case
from gradcheck.dtypes import carry, dtype_of, round_to
from gradcheck.judge.lowprec import framework_allowed, is_low_precision
from gradcheck.judge.compare import compare, describe_value
from gradcheck.ops import OpSpec
from gradcheck.judge.fd_check import elementwise_check
from gradcheck.oracles import ORACLES
from gradcheck.records import Record
from gradcheck.oracles.magnitudes import magnitudes, normwise_scales

__all__ = ["STRUCTURE", "repeat_differs", "check_keys", "evaluate", "error_records", "Key", "tolerance_dtype", "Runner",
           "as_result", "vacuous"]

Key = tuple[str, str]

#: The oracles that difference the candidate's own forward, and the routine that judges each.
_SELF_CHECKED = {"fd": elementwise_check}

#: Structural properties checked on every smooth case.
STRUCTURE = ("shape-dtype", "finite", "inputs-unmodified", "determinism", "stateless", "linearity", "batch-independence")

#: Above this many elements, a disagreeing coloured finite difference is not re-done one
#: element at a time (the colouring's verdict stands, and says so).
CONFIRM_LIMIT = 4096

#: Cases with more input elements than this get the cheap directional screen first (like
#: torch's fast mode and jax's check_grads); only a disagreement pays for element-wise
#: finite differences.
SCREEN_ABOVE = 4096


def check_keys(spec: OpSpec) -> list[Key]:
    """Every ``(quantity, oracle)`` checked for ``spec``, in display order: each oracle where it
    covers the op, the subgradient rule where the op has kinks, then the structure checks."""
    covered = {name: o.covers(spec) for name, o in ORACLES.items()}
    keys: list[Key] = [("forward", name) for name, (f, _) in covered.items() if f]
    for g in spec.grads:
        keys += [(g, name) for name, (_, gr) in covered.items() if gr]
        if spec.kink:
            keys.append((g, "subgradient"))
    structure = [s for s in STRUCTURE if spec.batched or s != "batch-independence"]
    if spec.random:
        structure.append("mask-statistics")
    return keys + [(s, "structure") for s in structure]


def error_records(label: str, keys: list[Key], exc: BaseException, case: Case | None, status: str = "error") -> dict[Key, Record]:
    """One ``error`` record per key for an exception raised by (or about) candidate code."""
    if isinstance(exc, CandidateError):
        message, tb = f"{exc.where} raised {type(exc.exc).__name__}: {exc.exc}", exc.tb
    elif isinstance(exc, BadReturn):
        message, tb, status = str(exc), None, "fail"
    else:
        message, tb = f"{type(exc).__name__}: {exc}", None
    return {
        k: Record(label, k[0], k[1], status, examples=1, message=message, traceback=tb,
                  counterexample=case.counterexample() if case is not None else None)
        for k in keys
    }


def tolerance_dtype(impl: Implementation, label: str, dtype: str) -> str:
    """The arithmetic ``impl``'s results for ``label`` are judged in (its own say)."""
    return impl.tolerance_dtype(label, dtype)


def _as_tuple(spec: OpSpec, grads: Any) -> tuple:
    n = len(spec.grads)
    if n == 1 and not isinstance(grads, (tuple, list)):
        return (grads,)
    if not isinstance(grads, (tuple, list)) or len(grads) != n:
        what = f"a {type(grads).__name__} of length {len(grads)}" if isinstance(grads, (tuple, list)) else describe_value(grads)
        raise BadReturn(f"{spec.protocol.backward_name} must return "
                        f"{n} gradient{'s' if n > 1 else ''} ({', '.join(spec.grads)}), returned {what}")
    return tuple(grads)


def _structure(label: str, case: Case, name: str, problems: list[str]) -> Record:
    if problems:
        return Record(label, name, "structure", "fail", examples=1, message="; ".join(problems), counterexample=case.counterexample())
    return Record(label, name, "structure", "pass", examples=1)


class Runner:
    """Calls into one implementation for one op label; keeps the candidate's calls in one place."""

    def __init__(self, impl: Any, label: str, spec: OpSpec, *, deterministic: bool = False):
        self.impl, self.label, self.spec = impl, label, spec
        self.deterministic = deterministic  # repeats must be bitwise equal, not only within rounding

    def forward(self, case: Case, inputs: dict[str, np.ndarray] | None = None) -> Any:
        out = self.impl.forward(self.label, inputs if inputs is not None else case.candidate_inputs(), dict(case.params))
        return as_result(out, case.dtype)

    def backward(self, case: Case, delta: np.ndarray | None = None, inputs: dict[str, np.ndarray] | None = None) -> tuple:
        d = case.candidate_delta() if delta is None else delta
        ins = inputs if inputs is not None else case.candidate_inputs()
        return _as_tuple(self.spec, self.impl.backward(self.label, d, ins, dict(case.params)))

    def forward64(self) -> Callable[[Case], Callable[[dict[str, np.ndarray]], np.ndarray]]:
        """The candidate's forward on float64 arrays, for finite differences."""

        def bind(case: Case):
            def f(inputs: dict[str, np.ndarray]) -> np.ndarray:
                out = as_result(self.impl.forward(self.label, {k: np.array(v, dtype=np.float64) for k, v in inputs.items()},
                                                  dict(case.params)), "float64")
                if not isinstance(out, np.ndarray):
                    raise BadReturn(f"{self.label} forward returned {describe_value(out)}")
                want = tuple(self.spec.out_shape({k: np.shape(v) for k, v in inputs.items()}, case.params))
                if out.shape != want:
                    raise BadReturn(f"{self.label} forward returned shape {out.shape}, expected {want}")
                return out


            return f

        return bind


def as_result(value: Any, dtype: str) -> Any:
    """A 0-d result as a 0-d array: a numpy scalar keeps its dtype, a Python float takes the
    case's (``0.5 * np.sum((t - y) ** 2)`` and ``float(...)`` are both fine results of eq. 9).
    Anything else is passed on untouched, to be judged as what it is."""
    if isinstance(value, np.generic) and np.issubdtype(value.dtype, np.floating):
        return np.asarray(value)
    if isinstance(value, float):
        return carry(value, dtype)
    return value


def _shape_problems(spec: OpSpec, case: Case, o: Any, grads: tuple) -> list[str]:
    problems = []
    out_shape = spec.out_shape(case.shapes, case.params)
    items = [("forward", o, out_shape)] + [(g, v, case.shapes[g[1:]]) for g, v in zip(spec.grads, grads)]
    for name, value, shape in items:
        if not isinstance(value, np.ndarray):
            problems.append(f"{name}: {describe_value(value)}, expected an ndarray of shape {tuple(shape)}")
        elif value.shape != tuple(shape):
            problems.append(f"{name}: shape {value.shape}, expected {tuple(shape)}")
        elif dtype_of(value) != case.dtype:
            problems.append(f"{name}: dtype {dtype_of(value)}, expected {case.dtype} (the inputs' dtype)")
    return problems


def _finite_problems(spec: OpSpec, o: Any, grads: tuple) -> list[str]:
    out = []
    for name, v in [("forward", o)] + list(zip(spec.grads, grads)):
        if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating) and not np.isfinite(v).all():
            out.append(f"{name}: {int(np.isnan(v).sum())} NaN and {int(np.isinf(v).sum())} infinite values")
    return out


def repeat_differs(first: Any, again: Any, *, case: Case, quantity: str, reduction: int, magnitude: np.ndarray,
                   dtype: str) -> Record | None:
    """A second call's result against the first: ``None`` when they cannot be compared (not
    well-formed arrays of the quantity's shape) or are bit-for-bit the same (NaN in the same
    places included), else the comparison record (``fail`` beyond rounding)."""
    if not (isinstance(first, np.ndarray) and isinstance(again, np.ndarray)
            and first.shape == again.shape == np.shape(magnitude) and np.issubdtype(first.dtype, np.floating)):
        return None
    if first.dtype == again.dtype and np.array_equal(first, again, equal_nan=True):
        return None
    return compare(again, first, case=case, quantity=quantity, oracle="structure", reduction=reduction,
                   magnitude=magnitude, dtype=dtype)


def _ulps(a: np.ndarray, b: np.ndarray) -> float:
    """The largest difference of ``a`` and ``b`` in units in the last place of ``a``'s dtype."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.spacing(np.maximum(np.abs(a64), np.abs(b64)).astype(a.dtype)).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.abs(a64 - b64) / np.maximum(scale, np.finfo(a.dtype).tiny)
    return float(np.nanmax(u, initial=0.0))


def vacuous(rec: Record, expected: np.ndarray, **judged: Any) -> None:
    """Mark a passing gradient record *vacuous* when an all-zero gradient would have passed as
    well (every expected value within the tolerance: a dead ReLU, a zero ``delta``, a dtype
    whose tolerance exceeds the values): such a case could not have caught a wrong gradient.
    ``judged``: the keyword arguments of the :func:`compare` that gave ``rec``."""
    if rec.status == "pass" and compare(np.zeros(np.shape(expected)), expected, **judged).status == "pass":
        rec.vacuous = 1


def framework_bounds(run: Runner, case: Case, dt: str, truths: list) -> dict[str, np.ndarray]:
    """For a low-precision case (float16, bfloat16, TF32), the allowed error of each quantity
    from torch's own error in that arithmetic; empty otherwise (the rounding bound applies)."""
    if not (is_low_precision(dt) or dt == "tf32"):
        return {}
    torch_truth = next((e for e in truths if e.oracle == "torch"), None)
    if torch_truth is None:
        return {}
    device = getattr(run.impl, "device", "cpu")
    return framework_allowed(run.spec, case, torch_truth.quantities(), dtype=dt, device=device)


def _changed(before: dict[str, np.ndarray], after: dict[str, np.ndarray], what: str) -> list[str]:
    return [f"{what} modified {k} in place" for k in before if not np.array_equal(before[k], after[k], equal_nan=True)]


def _backward_keys(spec: OpSpec) -> list[Key]:
    """The checks a raising backward takes down (the forward's stand on their own)."""
    return [k for k in check_keys(spec) if k[0] in spec.grads or k[0] in ("determinism", "stateless", "linearity")]


def _other_inputs(case: Case) -> Case:
    """A case of the same shapes and parameters with other values (each array reversed in
    memory order, halved and shifted), to probe what depends on more than the call's own
    arguments."""
    moved = {k: (np.asarray(v, np.float64).ravel()[::-1].reshape(v.shape) * 0.5 + 0.25) for k, v in case.inputs.items()}
    moved = {k: round_to(v, case.dtype) for k, v in moved.items()}
    return Case(case.op, moved, case.params, case.delta, case.kind, case.dtype, case.seed)


def evaluate(run: Runner, case: Case) -> dict[Key, Record]:
    """All checks of one smooth case.

    An exception from the candidate's forward propagates to the caller (every check of the op
    is then an error); one from its backward becomes error records for the gradient checks
    only, after the forward has been judged.
    """
    spec, label = run.spec, run.label
    out: dict[Key, Record] = {}
    dt = tolerance_dtype(run.impl, label, case.dtype)
    K = spec.reduction(case.shapes, case.params)
    mags = magnitudes(spec, case)
    norms = normwise_scales(spec, case)
    truths = [e for e in (o(spec, case) for o in ORACLES.values() if not o.needs_forward and any(o.covers(spec)))
              if e is not None]
    # low precision: judged against torch's own error in the same dtype (gradcheck.judge.lowprec)
    allowed = framework_bounds(run, case, dt, truths)

    # The natural order first: forward on the case, then backward on the same case.
    ins = case.candidate_inputs()
    ins_before = {k: v.copy() for k, v in ins.items()}
    o = run.forward(case, ins)
    moved = _changed(ins_before, ins, "forward")

    def judge_forward(exps: list) -> None:
        for exp in exps:
            if exp.forward is not None:
                out[("forward", exp.oracle)] = compare(o, exp.forward, case=case, quantity="forward", oracle=exp.oracle,
                                                       reduction=K["forward"], magnitude=mags["forward"], dtype=dt,
                                                       allowed=allowed.get("forward"), normwise=norms.get("forward"))

    judge_forward(truths)
    try:
        ins, delta = case.candidate_inputs(), case.candidate_delta()
        delta_before = delta.copy()
        grads = run.backward(case, delta, ins)
        moved += _changed(ins_before, ins, "backward") + _changed({"delta": delta_before}, {"delta": delta}, "backward")
        again = {"forward": run.forward(case), **dict(zip(spec.grads, run.backward(case)))}
        lin = run.backward(case, -2.0 * case.candidate_delta())
        run.forward(_other_inputs(case))
        after_other = run.backward(case)
    except (CandidateError, BadReturn) as exc:
        out.update(error_records(label, _backward_keys(spec), exc, case))
        grads = None
    except Unsupported as exc:  # the forward's records stand; the rest of the case is declined
        exc.records = out
        raise
    shape_problems = _shape_problems(spec, case, o, grads) if grads is not None else _shape_problems(spec, case, o, ())[:1]
    out[("shape-dtype", "structure")] = _structure(label, case, "shape-dtype", shape_problems)
    out[("finite", "structure")] = _structure(label, case, "finite", _finite_problems(spec, o, grads or ()))
    if spec.batched:
        bi = _batch_independence(run, case, o, mags, K, dt)
        if bi is not None:
            out[("batch-independence", "structure")] = bi
    out[("inputs-unmodified", "structure")] = _structure(label, case, "inputs-unmodified", moved)
    if grads is None:
        return out
    by_name = dict(zip(spec.grads, grads))
    actual = {"forward": o, **by_name}
    # determinism, statelessness and linearity are judged on what came back well formed; the
    # rest is the shape-dtype check's to report
    well_formed = {q for q, v in actual.items() if isinstance(v, np.ndarray) and v.shape == np.shape(mags[q])
                   and np.issubdtype(v.dtype, np.floating)}

    # Determinism: a second call on fresh copies agrees within rounding (bitwise with
    # ``deterministic``); the spread measured is reported either way.
    det = [repeat_differs(actual[q], again[q], case=case, quantity=q, reduction=K[q], magnitude=mags[q], dtype=dt)
           for q in actual]
    spread = {r.quantity: (r.max_abs_err or 0.0, _ulps(actual[r.quantity], again[r.quantity])) for r in det if r is not None}
    det_bad = [r for r in det if r is not None and (r.status == "fail" or run.deterministic)]
    det_rec = Record(label, "determinism", "structure", "pass", examples=1,
                     max_abs_err=max((e for e, _ in spread.values()), default=0.0))
    det_rec.message = ("two calls bitwise identical" if not spread else "two calls differ within rounding: " + "; ".join(
        f"{q} by up to {e:.3g} ({u:g} ulp)" for q, (e, u) in spread.items()))
    if det_bad:
        det_rec.status = "fail"
        det_rec.counterexample = case.counterexample()
        what = "not bitwise reproducible (--deterministic)" if run.deterministic and not any(
            r.status == "fail" for r in det_bad) else "nondeterministic"
        det_rec.message = f"{what}: two calls on the same input differ; " + "; ".join(
            f"{r.quantity} by up to {r.max_abs_err:.3g} ({spread[r.quantity][1]:g} ulp)" for r in det_bad)
    out[("determinism", "structure")] = det_rec
    if any(r.status == "fail" for r in det_bad):
        return out  # the rest of a nondeterministic candidate: reported as nondeterminism only

    # Statelessness: backward after a forward on other inputs is backward on its own inputs.
    state = [repeat_differs(by_name[g], v, case=case, quantity=g, reduction=K[g], magnitude=mags[g], dtype=dt)
             for g, v in zip(spec.grads, after_other) if g in well_formed]
    state_bad = [r for r in state if r is not None and r.status == "fail"]
    out[("stateless", "structure")] = _structure(label, case, "stateless", [
        "backward depends on the last forward call, not on its arguments: after a forward on other inputs, "
        + "; ".join(f"{r.quantity} changed by up to {r.max_abs_err:.3g}" for r in state_bad)] if state_bad else [])

    # Linearity of backward in delta: backward(-2 delta) == -2 backward(delta) (exact scaling).
    lin_recs = [compare(v, -2.0 * np.asarray(by_name[g], np.float64), case=case, quantity=g, oracle="structure",
                        reduction=K[g], magnitude=2 * mags[g], dtype=dt)
                for g, v in zip(spec.grads, lin) if g in well_formed and np.isfinite(by_name[g]).all()]
    out[("linearity", "structure")] = _structure(label, case, "linearity", [
        f"backward(-2·delta) is not -2·backward(delta): {r.message}" for r in lin_recs if r.status == "fail"])

    # Finite differences need the candidate's forward to be the op's shape; torch and scipy do not.
    derived: list = []  # truths read from the candidate's own forward (a random op's mask)
    if "forward" in well_formed:
        fwd = run.forward64()(case)
        derived = [e for e in (o(spec, case, fwd) for o in ORACLES.values()
                               if o.needs_forward and o.name not in _SELF_CHECKED and any(o.covers(spec)))
                   if e is not None]
        judge_forward(derived)
        if spec.random:
            out[("mask-statistics", "structure")] = _mask_statistics(run, case)
        screened = None
        if case.size() > SCREEN_ABOVE and set(spec.grads) <= well_formed and not allowed:
            screened = _screen(run, case, fwd, by_name, mags=mags)
        if screened is not None:
            out.update(screened)
        else:
            independent = out.get(("batch-independence", "structure"))
            for oracle in (o for o in ORACLES.values() if o.name in _SELF_CHECKED):
                kept: dict[str, Any] = {}
                recs = _SELF_CHECKED[oracle.name](spec, label, case, fwd, actual, mags=mags, dtype=dt, confirm_limit=CONFIRM_LIMIT,
                                    stack=independent is not None and independent.status == "pass", bounds=allowed,
                                    estimates=kept, norms=norms)
                exp = kept[oracle.name]
                for q, rec in recs.items():
                    vacuous(rec, exp.grads[q], case=case, quantity=q, oracle=oracle.name, reduction=K[q],
                            magnitude=mags[q], uncertainty=exp.uncertainty[q], dtype=dt, allowed=allowed.get(q))
                    if allowed and not rec.message:
                        rec.message = (f"{oracle.title} on float64 inputs (cast up from {case.dtype}; step and bound "
                                       "follow the precision it computes in)")
                    out[(q, oracle.name)] = rec
    for exp in truths + derived:
        for q, e in exp.grads.items():
            judged = dict(case=case, quantity=q, oracle=exp.oracle, reduction=K[q], magnitude=mags[q], dtype=dt,
                          allowed=allowed.get(q), normwise=norms.get(q))
            rec = compare(actual[q], e, **judged)
            vacuous(rec, e, **judged)
            out[(q, exp.oracle)] = rec
    return out


def _mask_statistics(run: Runner, case: Case) -> Record:
    """The ``mask-statistics`` record of a random op's case (``gradcheck.oracles.mask``)."""
    from gradcheck.oracles.mask import mask_statistics

    def forward_with(params: dict[str, Any]) -> Any:
        return run.forward(Case(case.op, case.inputs, params, case.delta, case.kind, case.dtype, case.seed))

    ok, message = mask_statistics(run.spec, case, forward_with)
    return Record(run.label, "mask-statistics", "structure", "pass" if ok else "fail", examples=1, message=message,
                  counterexample=None if ok else case.counterexample())


def _screen(run: Runner, case: Case, fwd, grads: dict[str, np.ndarray], *,
            mags: dict[str, np.ndarray] | None = None) -> dict[Key, Record] | None:
    """The finite-difference check of a large case: the directional screen (``<grad, u>``
    against the derivative of the candidate's forward along one random direction ``u``) and,
    where it disagrees, the wrong elements located by group testing and confirmed element by
    element (``gradcheck.oracles.localise.screen``). A pass stands for the element-wise finite
    differences; a gradient with a located element fails, and hypothesis shrinks the case to
    one where the coloured element-wise check draws the heatmap. ``None`` when nothing could be
    confirmed: the caller then checks every element. ``mags``: ``magnitudes(spec, case)``,
    when the caller has it.
    """
    from gradcheck.oracles.localise import screen

    return screen(run.spec, run.label, case, fwd, grads, dtype=tolerance_dtype(run.impl, run.label, case.dtype),
                  mags=mags, seed=case.seed or 0)


def _batch_independence(run: Runner, case: Case, o: Any, mags, K, dt) -> Record | None:
    first = run.spec.inputs[0]
    x = case.inputs[first]
    if x.shape[0] < 2 or not isinstance(o, np.ndarray) or o.ndim == 0 or o.shape != np.shape(mags["forward"]):
        return None  # one sample: nothing to be independent of (the case does not count for this check)
    moved = {k: v.copy() for k, v in case.inputs.items()}
    moved[first][0] = moved[first][0][::-1].copy() if moved[first][0].ndim else moved[first][0]
    moved[first][0] = moved[first][0] * 0.5 + 0.25
    other = Case(case.op, {k: round_to(v, case.dtype) for k, v in moved.items()}, case.params,
                 case.delta, case.kind, case.dtype, case.seed)
    o2 = run.forward(other)
    if not isinstance(o2, np.ndarray) or o2.shape != o.shape:
        return None  # a malformed forward is the shape check's to report
    rec = compare(o2[1:], np.asarray(o[1:], np.float64), case=case, quantity="forward", oracle="structure",
                  reduction=K["forward"], magnitude=mags["forward"][1:], dtype=dt)
    if rec.status == "pass":
        return Record(run.label, "batch-independence", "structure", "pass", examples=1, max_abs_err=rec.max_abs_err)
    return Record(run.label, "batch-independence", "structure", "fail", examples=1, counterexample=case.counterexample(),
                  max_abs_err=rec.max_abs_err,
                  message=f"changing sample 0 of {first} changed the outputs of other samples by up to {rec.max_abs_err:.3g}")
