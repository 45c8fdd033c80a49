"""Kinks and ties, as a stated policy.

Finite differences are meaningless across a kink, so smooth cases keep clear of kinks
(``gradcheck.cases.strategies``) and kink cases — ReLU inputs exactly 0, pooling windows with tied
maxima, all-zero L2 windows — are judged here by the rules of subgradients instead. Any valid
choice passes; anything outside the set of valid choices fails.

- ReLU at 0: ``dx = c·delta`` with any ``c`` in [0, 1], element by element. Elsewhere exact.
- conv2d followed by ReLU: the kink sits inside the layer, where the set of valid ``(dx, dw,
  db)`` is the image of a box; the harness accepts the three conventions ``f'(0) = 0``, ``1/2``
  and ``1`` applied consistently, and says which one the candidate follows.
- Max pooling: the upstream gradient of each window must go to that window's maximal units,
  in non-negative shares summing to it (first, last, split evenly: all valid). Checked window
  by window, with a one-hot ``delta`` per output, which also covers overlapping windows; then
  ``backward(delta)`` must be the same combination of those routes (linearity).
- L2 pooling: a window with a positive norm routes ``delta·x/o``; an all-zero window may route
  any vector of Euclidean norm at most ``|delta|``.

Each rule is a projection: the nearest valid gradient to the candidate's is computed and the
candidate is compared with it, so the figures say how far from valid it is.
"""
from __future__ import annotations

import numpy as np

from gradcheck.judge.battery import Key, Runner, error_records, repeat_differs, tolerance_dtype
from gradcheck.cases import Case
from gradcheck.dtypes import carry
from gradcheck.adapters.base import BadReturn, CandidateError
from gradcheck.judge.compare import compare, describe_value
from gradcheck.oracles.torch_oracle import torch_run
from gradcheck.ops import OpSpec
from gradcheck.records import Record
from gradcheck.oracles.magnitudes import magnitudes

__all__ = ["evaluate_kink", "project_simplex", "MAX_ONE_HOT"]

#: Kink cases of pooling ops with more outputs than this are judged by their forward only (the
#: one-hot routes would cost a backward call per output); kink cases are drawn small, so this
#: is rare.
MAX_ONE_HOT = 96


def project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection of a vector onto the probability simplex {p >= 0, sum p = 1}."""
    if v.size == 0:
        return v
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    k = np.nonzero(u - css / np.arange(1, v.size + 1) > 0)[0][-1]
    return np.maximum(v - css[k] / (k + 1), 0.0)


def _window_masks(case: Case):
    """For each output element (n, c, i, j): the flat indices of its window's units in x."""
    n_, c_, h, w = case.inputs["x"].shape
    (kh, kw), (sh, sw), (ph, pw) = case.params["kernel_size"], case.params["stride"], case.params["padding"]
    ho = (h + 2 * ph - kh) // sh + 1
    wo = (w + 2 * pw - kw) // sw + 1
    for n in range(n_):
        for c in range(c_):
            for i in range(ho):
                for j in range(wo):
                    rows = np.arange(i * sh - ph, i * sh - ph + kh)
                    cols = np.arange(j * sw - pw, j * sw - pw + kw)
                    rows, cols = rows[(rows >= 0) & (rows < h)], cols[(cols >= 0) & (cols < w)]
                    yield (n, c, i, j), (n, c, rows[:, None], cols[None, :])


def _array(value, shape) -> np.ndarray:
    if not isinstance(value, np.ndarray) or value.shape != shape:
        raise BadReturn(f"backward returned {describe_value(value)} for a one-hot delta, expected shape {shape}")
    return value.astype(np.float64)


def _route_projection(run: Runner, case: Case, rule: str, seen: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(the candidate's dx for case.delta, the nearest gradient that obeys ``rule``).

    ``seen``, when given, receives one :class:`_Route` per window (what the candidate sent
    where, for the message)."""
    x = case.inputs["x"]
    dx = _array(run.backward(case)[0], x.shape)
    expected = np.zeros_like(x)
    for out_idx, win in _window_masks(case):
        e = np.zeros(case.delta.shape)
        e[out_idx] = 1
        e = carry(e, case.dtype)
        # a non-finite route has no nearest valid one: any valid route stands in for it, and the
        # candidate's own dx (non-finite too, or not) is judged against that
        g = np.nan_to_num(_array(run.backward(case, e)[0], x.shape), nan=0.0, posinf=0.0, neginf=0.0)
        vals = x[win]
        if rule == "max":
            is_max = vals == vals.max()
            p = np.zeros_like(vals)
            p[is_max] = project_simplex(g[win][is_max])
        else:
            norm = float(np.sqrt((vals**2).sum()))
            if norm > 0:
                p = vals / norm
            else:
                v = g[win]
                p = v / max(1.0, float(np.sqrt((v**2).sum())))
        routed = np.zeros_like(x)
        routed[win] = p
        expected += case.delta[out_idx] * routed
        if seen is not None and rule == "max":
            inside = np.zeros(x.shape, dtype=bool)
            inside[win] = True
            seen.append(_Route(out_idx, int(is_max.sum()), float(g[win][is_max].sum()),
                               float(np.abs(g[win][~is_max]).sum()), float(np.abs(g[~inside]).sum()),
                               float(g[win][is_max].min()), float(case.delta[out_idx]),
                               float(np.abs(g - routed).max(initial=0.0))))
    return dx, expected


class _Route:
    """What the candidate sent for one window's one-hot upstream gradient."""

    def __init__(self, out_idx, ties, to_maxima, to_others, outside, least, delta, distance):
        self.out_idx, self.ties, self.to_maxima, self.to_others = out_idx, ties, to_maxima, to_others
        self.outside, self.least, self.delta, self.distance = outside, least, delta, distance


#: The valid set at a max-pooling tie, as the messages state it.
MAX_RULE = ("the gradient of a window may go to any of its maximal units in any non-negative split summing to "
            "the upstream gradient (the first maximum, the last, an even split: all valid)")


def _max_route_message(routes: list, tol: float) -> str:
    """What is wrong with the candidate's max-pooling routes, in words, after the valid set."""
    wrong = [r for r in routes if r.distance > tol]
    if not wrong:
        return (f"At max pooling {MAX_RULE}. Each window's own route is valid, but the gradient for the whole "
                "upstream gradient is not their sum: where windows overlap, their contributions must add up (+=), "
                "not overwrite each other (=).")
    r = max(wrong, key=lambda r: (r.delta != 0, abs(r.delta or 1.0) * r.distance))
    due = r.delta if r.delta else 1.0
    where = f"for the window of output {list(r.out_idx)} ({r.ties} tied maxim{'a' if r.ties > 1 else 'um'})"
    if r.outside > tol:
        what = f"yours sends {_g(due * r.outside)} outside the window — it routes to units the window does not hold"
    elif r.to_others > tol:
        what = (f"yours sends {_g(due * r.to_others)} to units that are not maxima — it routes by position, not to "
                "the maximum")
    elif r.least < -tol:
        what = "yours gives a maximum a negative share"
    elif r.ties > 1 and abs(r.to_maxima - r.ties) <= tol:
        what = (f"yours sends {_g(due * r.to_maxima)} where {_g(due)} was due — it routes the full gradient to every "
                "tied maximum")
    else:
        what = f"yours sends {_g(due * r.to_maxima)} where {_g(due)} was due"
    return f"At max pooling {MAX_RULE}; {where}, {what}."


def _first_line_then(message: str, rule: str) -> str:
    """``message``'s line of figures, then ``rule``, then the rest of ``message`` (its patterns)."""
    first, _, rest = message.partition("\n")
    return "\n".join(p for p in (first, rule, rest) if p)


def _g(v: float) -> str:
    return f"{v:.6g}" if v != int(v) or abs(v) >= 1e6 else f"{v:.1f}"


def _relu_conventions(spec: OpSpec, case: Case):
    """Gradients of ReLU after the op's linear part (``spec.inner``) under f'(0) = 0, 1/2, 1."""
    inner = spec.inner
    z, _ = torch_run(inner, case.inputs, case.params, np.zeros(inner.out_shape(case.shapes, case.params)))
    for c in (0.0, 0.5, 1.0):
        fprime = np.where(z > 0, 1.0, np.where(z < 0, 0.0, c))
        yield c, torch_run(inner, case.inputs, case.params, case.delta * fprime)[1]


def evaluate_kink(run: Runner, case: Case) -> dict[Key, Record]:
    """Forward against torch and every gradient against its subgradient rule, on a kink case."""
    spec, label = run.spec, run.label
    dt = tolerance_dtype(run.impl, label, case.dtype)
    K = spec.reduction(case.shapes, case.params)
    mags = magnitudes(spec, case)
    o_true, _ = torch_run(spec, case.inputs, case.params, case.delta)
    out: dict[Key, Record] = {
        ("forward", "torch"): compare(run.forward(case), o_true, case=case, quantity="forward", oracle="torch",
                                      reduction=K["forward"], magnitude=mags["forward"], dtype=dt)
    }
    try:
        out.update(_judge_gradients(run, case, K, mags, dt))
    except (CandidateError, BadReturn) as exc:  # the forward's record stands on its own
        out.update(error_records(label, [(g, "subgradient") for g in spec.grads], exc, case))
    return out


def _nondeterministic(first: dict, second: dict, case: Case, K, mags, dt) -> bool:
    return any((r := repeat_differs(first[q], second[q], case=case, quantity=q, reduction=K[q], magnitude=mags[q],
                                    dtype=dt)) is not None and r.status == "fail" for q in first)


def _judge_gradients(run: Runner, case: Case, K, mags, dt) -> dict[Key, Record]:
    """The subgradient records; a failure that a second call does not repeat is left unjudged
    (nondeterminism is the determinism check's to report, not a routing error)."""
    out = _judge_once(run, case, K, mags, dt)
    if any(r.status == "fail" for r in out.values()):
        first = dict(zip(run.spec.grads, run.backward(case)))
        again = dict(zip(run.spec.grads, run.backward(case)))
        if _nondeterministic(first, again, case, K, mags, dt):
            return {}
    return out


def _judge_once(run: Runner, case: Case, K, mags, dt) -> dict[Key, Record]:
    spec = run.spec
    out: dict[Key, Record] = {}
    grads = dict(zip(spec.grads, run.backward(case)))

    def cmp(q: str, expected: np.ndarray, actual=None) -> Record:
        return compare(grads[q] if actual is None else actual, expected, case=case, quantity=q, oracle="subgradient",
                       reduction=K[q], magnitude=mags[q], dtype=dt, expected_name="nearest valid")

    if spec.kinks == "zero":
        left, right = spec.kink.slopes
        x, d, a = case.inputs["x"], case.delta, grads["dx"]
        exact = np.where(x > 0, right * d, left * d)
        if isinstance(a, np.ndarray) and a.shape == x.shape:
            lo, hi = np.minimum(left * d, right * d), np.maximum(left * d, right * d)
            exact = np.where(x == 0, np.clip(np.nan_to_num(np.asarray(a, np.float64)), lo, hi), exact)
        rec = cmp("dx", exact)
        if rec.status == "fail":
            rec.message = _first_line_then(rec.message, f"For {spec.kink.title}, {zero_rule(spec.kink.slopes)}.")
        out[("dx", "subgradient")] = rec
    elif spec.kinks == "zero-inside":
        best: list[Record] | None = None
        for c, conv_grads in _relu_conventions(spec, case):
            recs = [cmp(g, conv_grads[g]) for g in spec.grads]
            if best is None or sum(r.status == "fail" for r in recs) < sum(r.status == "fail" for r in best):
                best = recs
                for r in recs:
                    r.message = r.message or f"follows f'(0) = {c:g}"
                    if r.status == "fail":
                        r.message = _first_line_then(r.message, f"Inside {spec.inner.name} + ReLU, f'(0) may be 0, 1/2 or 1, "
                                                     "applied alike to every kink; none of the three matches yours "
                                                     f"(nearest: f'(0) = {c:g}).")
        out.update({(r.quantity, "subgradient"): r for r in best or []})
    elif spec.kinks == "hinge":
        rec = cmp("dx", _hinge_projection(case, grads["dx"]))
        if rec.status == "fail":
            rec.message = _first_line_then(rec.message, f"For {spec.kink.title}, {HINGE_RULE}.")
        out[("dx", "subgradient")] = rec
    elif not (isinstance(grads["dx"], np.ndarray) and grads["dx"].shape == case.inputs["x"].shape):
        out[("dx", "subgradient")] = cmp("dx", np.zeros(case.inputs["x"].shape))  # says what came back instead
    elif case.delta.size <= MAX_ONE_HOT:
        routes: list = []
        dx, expected = _route_projection(run, case, spec.kinks, routes)
        rec = cmp("dx", expected, actual=dx)
        if rec.status == "fail" and spec.kinks == "max":
            rec.message = _first_line_then(rec.message, _max_route_message(routes, _ROUTE_TOL))
        elif rec.status == "fail" and spec.kinks == "l2":
            rec.message = _first_line_then(rec.message, f"At an L2 pooling window {L2_RULE}.")
        out[("dx", "subgradient")] = rec
    return out


#: How far a one-hot route may be from the valid set and count as valid, in the message only.
_ROUTE_TOL = 1e-9

#: The valid set at an all-zero L2 window, as the messages state it.
L2_RULE = ("with a positive norm o the gradient routes delta * x / o; an all-zero window (o = 0) may route any vector "
           "whose Euclidean norm is at most |delta|")

#: The valid set at a hinge tie, as the messages state it.
HINGE_RULE = ("a margin m_ij = x_ij - x_iy + 1 of exactly 0 may contribute any share c in [0, 1] of its gradient: "
              "dx_ij = c * delta / N there, with dx_iy = -(the sum of the shares of sample i's margins) * delta / N")


def _hinge_projection(case: Case, dx) -> np.ndarray:
    """The valid multiclass-hinge gradient nearest the candidate's ``dx``: each tied margin's
    share clipped into [0, 1], the label's entry minus the sum of the shares (every other margin
    is exact)."""
    from gradcheck.ops.classify import margins

    x = np.asarray(case.inputs["x"], np.float64)
    y = np.asarray(case.params["y"], dtype=np.int64)
    rows = np.arange(x.shape[0])
    scale = float(case.delta) / x.shape[0]
    m = margins(x, y)
    share = np.where(m > 0, 1.0, 0.0)
    if isinstance(dx, np.ndarray) and dx.shape == x.shape and scale != 0:
        own = np.nan_to_num(np.asarray(dx, np.float64) / scale)
        share = np.where(m == 0, np.clip(own, 0.0, 1.0), share)
    share[rows, y] = 0.0
    share[rows, y] = -share.sum(axis=1)
    return scale * share


def zero_rule(slopes: tuple[float, float]) -> str:
    """The valid set at a kink at 0 whose one-sided derivatives are ``slopes`` (ReLU: (0, 1)),
    as the messages state it."""
    left, right = slopes

    def times(c: float) -> str:
        return "delta" if c == 1 else "0" if c == 0 else f"{c:g} * delta"

    return (f"at x = 0 the derivative may be any c in [{left:g}, {right:g}] (a subgradient), so dx = c * delta there; "
            f"elsewhere dx = {times(right)} where x > 0 and {times(left)} where x < 0")


#: The valid set at a ReLU kink, as the messages state it.
RELU_RULE = zero_rule((0.0, 1.0))
