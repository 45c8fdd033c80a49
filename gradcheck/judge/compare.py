"""The one comparison: (actual, expected) -> a :class:`~gradcheck.records.Record`.

The same record is the assertion message in pytest, a row in the terminal summary, an entry in
the JSON report and a section of the HTML report. Records of one check over many
cases are folded into one by ``gradcheck.judge.search``.

A failing comparison's message is one line of figures (how many elements, the worst one, its
error against what is allowed there), then one ``Pattern: ...`` line for each thing
:mod:`gradcheck.judge.diagnose` recognises in the error (a constant ratio, a border band, the kernel
flipped, the stride ignored ...). Structural comparisons (one call against another) get the
figures only.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck.cases import SMALL_ARRAY, Case
from gradcheck.judge.diagnose import diagnose, diagnose_shape
from gradcheck.records import Record, Worst
from gradcheck.tolerances import allowed_error, tolerance_for

__all__ = ["compare", "describe_value"]

_TINY = 1e-300


def describe_value(value: Any) -> str:
    """A short, safe description of what a candidate returned."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"ndarray of shape {tuple(value.shape)} and dtype {value.dtype}"
    mod = type(value).__module__
    if mod.startswith("torch"):
        return f"torch.{type(value).__name__} (a numpy array was expected)"
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a candidate's object may not even describe itself
        return f"{type(value).__name__} object (its repr raised {type(exc).__name__})"
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def _fail(op: str, quantity: str, oracle: str, case: Case, message: str) -> Record:
    return Record(op, quantity, oracle, "fail", examples=1, message=message, counterexample=case.counterexample())


def _relative(err: np.ndarray, mag: np.ndarray) -> float:
    """The largest ``|error| / magnitude`` over the elements whose terms are not all zero (where
    they are, a relative error means nothing; the absolute figure stands for them)."""
    some = mag > _TINY
    return float((err[some] / mag[some]).max(initial=0.0)) if some.any() else 0.0


def _with_patterns(message: str, patterns: list[str]) -> str:
    """``message`` followed by one ``Pattern:`` line per recognised pattern."""
    return "\n".join([message] + [f"Pattern: {p}" for p in patterns])


def compare(
    actual: Any,
    expected: np.ndarray,
    *,
    case: Case,
    quantity: str,
    oracle: str,
    reduction: int,
    magnitude: np.ndarray,
    uncertainty: np.ndarray | None = None,
    dtype: str | None = None,
    expected_name: str = "expected",
    allowed: np.ndarray | None = None,
    normwise: float | None = None,
) -> Record:
    """Compare a candidate's ``actual`` value of ``quantity`` with an oracle's ``expected``.

    Per element, ``|actual - expected|`` must stay within ``tolerance_for(dtype, quantity)``
    applied to ``magnitude`` (the sum of absolute terms, same shape as ``expected``) for a sum
    of ``reduction`` terms, plus the oracle's own ``uncertainty``. ``expected_name`` is what the
    message calls the oracle's value (``"nearest valid"`` for a subgradient rule's projection).
    ``allowed`` (per element, absolute) replaces the dtype's rounding bound: low-precision
    results are judged against the framework's own error (``gradcheck.judge.lowprec``).
    ``normwise``: the product of the operands' 2-norms behind the quantity
    (``gradcheck.oracles.magnitudes.normwise_scales``), for ops an FFT may compute: its rounding
    scales with the whole operands, read or not.
    """
    op = case.op
    dtype = dtype or case.dtype
    expected = np.asarray(expected, dtype=np.float64)
    if isinstance(actual, np.generic) and expected.ndim == 0:
        actual = np.asarray(actual)  # a numpy scalar is a fine 0-d result (e.g. np.sum(...) for eq. 9)
    if not isinstance(actual, np.ndarray):
        return _fail(op, quantity, oracle, case, f"{quantity}: expected an ndarray of shape {expected.shape}, got {describe_value(actual)}")
    if actual.shape != expected.shape:
        patterns = [] if oracle == "structure" else diagnose_shape(actual.shape, expected.shape, case=case,
                                                                   quantity=quantity)
        return _fail(op, quantity, oracle, case,
                     _with_patterns(f"{quantity}: shape {actual.shape}, expected {expected.shape}", patterns))
    if not np.issubdtype(actual.dtype, np.floating):
        return _fail(op, quantity, oracle, case, f"{quantity}: dtype {actual.dtype}, expected a floating dtype ({case.dtype})")
    a = actual.astype(np.float64)
    tol = tolerance_for(dtype, quantity)
    mag = np.broadcast_to(np.asarray(magnitude, np.float64), expected.shape)
    rtol = tol.rtol(reduction)
    bound = allowed_error(quantity, mag, reduction, dtype, normwise)
    if allowed is not None:
        bound = np.broadcast_to(np.asarray(allowed, np.float64), expected.shape)
        rtol = float(bound.max(initial=0.0)) / max(float(np.abs(expected).max(initial=0.0)), _TINY)
    if uncertainty is not None:
        bound = bound + 2.0 * uncertainty
    nonfinite = ~np.isfinite(a)
    err = np.where(nonfinite, np.inf, np.abs(a - expected))
    ratio = err / np.maximum(bound, _TINY)
    bad = ~(ratio <= 1.0)  # NaN (a non-finite expected value) counts as a disagreement
    rec = Record(
        op,
        quantity,
        oracle,
        "fail" if bad.any() else "pass",
        max_abs_err=float(err.max(initial=0.0)),
        max_rel_err=_relative(err, mag),
        tolerance=rtol,
        examples=1,
    )
    if not bad.any():
        return rec
    worst = np.unravel_index(int(np.argmax(ratio)), ratio.shape) if ratio.ndim else ()
    rec.worst = Worst(
        index=[int(i) for i in worst],
        actual=float(a[worst]),
        expected=float(expected[worst]),
        abs_err=float(err[worst]),
        tolerance=float(bound[worst]),
    )
    what = "non-finite values" if nonfinite.any() else "elements beyond tolerance"
    rec.message = (
        f"{op} {quantity} vs {oracle}: {int(bad.sum())} of {bad.size} {what}; worst at "
        f"{list(rec.worst.index)}: actual {rec.worst.actual:.6g}, {expected_name} {rec.worst.expected:.6g} "
        f"(|error| {rec.worst.abs_err:.3g} > allowed {rec.worst.tolerance:.3g})"
    )
    if oracle != "structure" and not nonfinite.any():
        rec.message = _with_patterns(rec.message, diagnose(a, expected, case=case, quantity=quantity, bound=bound,
                                                           oracle=oracle))
    rec.counterexample = case.counterexample()
    if expected.size <= SMALL_ARRAY:
        rec.arrays = {
            "expected": expected.tolist(),
            "actual": a.tolist(),
            "error": np.where(np.isfinite(ratio), ratio, 1e300).tolist(),
        }
    return rec
