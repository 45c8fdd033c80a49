"""The element-wise finite-difference check: the fd oracle's estimate, judged.

The coloured estimate of :func:`gradcheck.oracles.fd.finite_differences`, refined only where
inconclusive against the candidate's gradients, then one comparison per gradient; a failure
is confirmed one element at a time on small cases, and the Taylor remainder of its worst
element is measured. The battery and ``gradcheck bench`` both call this one routine.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck.cases import Case, Expected
from gradcheck.judge.compare import compare
from gradcheck.ops import OpSpec
from gradcheck.oracles.fd import Forward, allowed_error, convergence, finite_differences
from gradcheck.records import Record

__all__ = ["elementwise_check"]


def elementwise_check(spec: OpSpec, label: str, case: Case, forward: Forward, actual: dict[str, Any], *,
                      mags: dict[str, np.ndarray], dtype: str, confirm_limit: int, stack: bool = False,
                      report: dict[str, Any] | None = None,
                      bounds: dict[str, np.ndarray] | None = None,
                      estimates: dict[str, Any] | None = None,
                      norms: dict[str, float] | None = None) -> dict[str, Record]:
    """The element-wise finite-difference check of every gradient of ``actual``.

    The coloured estimate, refined only where inconclusive against ``actual`` (module
    docstring), then one comparison per gradient; a failure is confirmed one element at a time
    where the case has at most ``confirm_limit`` elements, and the Taylor remainder of its worst
    element is measured (``Record.convergence``).

    Parameters
    ----------
    actual : {"dx": ndarray, ...}
        The candidate's gradients (whatever it returned: a malformed one fails its comparison).
    mags : dict
        ``tolerances.magnitudes(spec, case)``.
    dtype : str
        The dtype the tolerances are taken for.
    stack : bool
        The candidate's samples are independent (see :func:`finite_differences`).
    report : dict, optional
        Filled as :func:`finite_differences` fills it.
    bounds : {"dx": ndarray, ...}, optional
        Allowed errors that replace the dtype's rounding bound (low precision,
        ``gradcheck.judge.lowprec``).
    estimates : dict, optional
        Receives the :class:`Expected` the records were judged against, under ``"fd"``.
    norms : {"dx": float, ...}, optional
        The operands' norm products (``gradcheck.oracles.magnitudes.normwise_scales``).

    Returns
    -------
    {"dx": Record, ...}
    """
    K = spec.reduction(case.shapes, case.params)
    formed = {q: v for q, v in actual.items() if isinstance(v, np.ndarray) and v.shape == np.shape(mags[q])
              and np.issubdtype(v.dtype, np.floating)}
    bounds = bounds or {}
    norms = norms or {}
    allowed = {q: (bounds[q] if q in bounds else allowed_error(q, mags[q], K[q], dtype, norms.get(q))) for q in formed}
    exp = finite_differences(spec, case, forward, forward_magnitude=mags["forward"], against=formed, allowed=allowed,
                             stack=stack, report=report)
    assert exp is not None
    single: Expected | None = None
    out = {}
    for q in spec.grads:
        rec = compare(actual[q], exp.grads[q], case=case, quantity=q, oracle="fd", reduction=K[q], magnitude=mags[q],
                      uncertainty=exp.uncertainty[q], dtype=dtype, allowed=bounds.get(q), normwise=norms.get(q))
        if rec.status == "fail" and case.size() <= confirm_limit:
            single = single or finite_differences(spec, case, forward, single=True, forward_magnitude=mags["forward"],
                                                  against=formed, allowed=allowed)
            assert single is not None
            rec = compare(actual[q], single.grads[q], case=case, quantity=q, oracle="fd", reduction=K[q],
                          magnitude=mags[q], uncertainty=single.uncertainty[q], dtype=dtype, allowed=bounds.get(q),
                          normwise=norms.get(q))
        if rec.status == "fail" and rec.worst is not None and q in formed:
            rec.convergence = convergence(spec, case, forward, q, tuple(rec.worst.index), rec.worst.actual)
        out[q] = rec
    if estimates is not None:
        estimates["fd"] = exp  # what the records were judged against
    return out
