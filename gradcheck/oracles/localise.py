"""Where a large gradient is wrong: group testing by directional derivatives on subsets.

The directional screen (:func:`gradcheck.oracles.fd.directional`) says *that* a gradient is
wrong; this module says *where*, for about two forward evaluations per halving.

A **subset test** on a set ``S`` of elements of one input compares ``a = <g, s>`` (``g`` the
candidate's gradient, ``s`` a step of random sign and the finite-difference size ``h_i`` on
``S``, zero elsewhere) with the central difference ``n = (L(x + s) - L(x - s)) / 2`` of
``L = <delta, forward>``. Its discrepancy ``d = a - n`` has an error bound made of:

- rounding, through the forward: each output's ``delta_j (f_j(x + s) - f_j(x - s))`` is off by
  at most ``c_j = 2 K eps |delta_j| M_j`` in the worst case (``fd.forward_rounding``: ``K``
  terms, ``M_j`` the sum of their absolute values), on the outputs ``S`` can move (its stated
  footprint, and any output that did move). Summed over a million outputs the worst case says
  nothing, so a subset test takes the probabilistic model of rounding (Higham and Mary, *A new
  approach to probabilistic rounding error analysis*, SISC 2019): the ``2 K`` roundings of
  each evaluation of an output are independent, of mean zero, each at most ``u M_j``. By
  Hoeffding's inequality the sum is then within ``Z sqrt(sum c_j**2 / (4 K))`` but with
  probability ``2 exp(-Z**2 / 2)`` (``Z`` = :data:`Z`: below 1e-13), and never more than the
  worst case ``sum c_j``; plus the rounding of the sums themselves;
- the candidate's own tolerance: its allowed errors ``|e_i| <= t_i`` (``t`` as
  :func:`gradcheck.judge.compare.compare` allows each element) were made before the signs were
  drawn, so ``sum e_i s_i`` is within ``Z sqrt(sum (t_i s_i)**2)`` but with the same
  probability (Hoeffding over the signs alone: no model needed), never more than
  ``sum t_i |s_i|``;
- truncation, estimated, where the first estimate is inconclusive: a second pair at half the
  step, ``d_R = (8 d' - d) / 3`` (Richardson on the discrepancies) with ``4/3 |2 d' - d|``.

A test **agrees** when ``|d| <= bound`` from its first pair; as in ``fd``, the refined test
would then agree as well, so only a first disagreement pays for the second pair.

**Search.** Each differentiable input is tested whole. One that disagrees is halved along its
colours (``gradcheck.ops.footprints``; one colour holds elements with disjoint footprints): one
half is tested, the other half's discrepancy is the parent's minus the tested one's, and the
half that disagrees is halved again (both, up to a budget, when both do). At a single colour
the coloured central difference gives every element of the colour its own estimate and bound
(two or four evaluations), and each element that disagrees there is **confirmed** by an
element-wise central difference of its own (the element alone perturbed; step halving,
Richardson, rounding bounded in the worst case over the outputs it can move, as
``fd.finite_differences`` bounds it). Only a confirmed element is reported; the subset tests,
with their probabilistic rounding bound, only guide the search. A correct gradient that a
subset test wrongly suspected costs evaluations, never a false report.

Long because the screen, the group-testing search and its confirmations share one account of
forward evaluations.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradcheck.ops import footprints
from gradcheck.cases import Case
from gradcheck.ops import OpSpec
from gradcheck.records import Record, Worst
from gradcheck.oracles.magnitudes import magnitudes
from gradcheck.tolerances import tolerance_for
from gradcheck.oracles.fd import (Forward, _coloured, _differences, _steps, allowed_error, colour_groups,
                                  directional, forward_rounding)

__all__ = ["Z", "BUDGET", "MOST", "SCREEN_FORWARDS", "SubsetTest", "Located", "Localisation", "locate", "subset_test",
           "screen", "describe"]

#: Forward evaluations of the directional screen itself (the unperturbed one and two pairs).
SCREEN_FORWARDS = 5

#: Hoeffding's factor for the rounding part of a subset test's bound (exceeded with
#: probability at most ``2 exp(-Z**2 / 2)``).
Z = 8.0

#: Forward evaluations past which no further wrong element is searched for (the first one of
#: each disagreeing input is always searched to the end).
BUDGET = 100

#: At most this many located elements per input.
MOST = 3

_U = float(np.finfo(np.float64).eps) / 2


def _sum_bound(n: int) -> float:
    """Relative error bound of numpy's pairwise sum of ``n`` terms (blocks of 128, unrolled by 8)."""
    return (math.ceil(math.log2(max(n, 2))) + 24) * _U


@dataclass
class SubsetTest:
    """One subset test: ``d`` = analytic minus numeric, its bound's parts, and its cost."""

    name: str
    size: int
    d: float
    rounding: float
    tolerance: float
    truncation: float | None = None  # estimated when refined; else what a search test is allowed
    forwards: int = 2

    @property
    def bound(self) -> float:
        return self.rounding + self.tolerance + (self.truncation or 0.0)

    @property
    def agrees(self) -> bool:
        return bool(abs(self.d) <= self.bound)

    @property
    def significance(self) -> float:
        return abs(self.d) / self.bound if self.bound > 0 else math.inf


@dataclass
class Located:
    """A confirmed wrong element: the candidate's value against its element-wise central
    difference (Richardson) and its error bound; ``allowed`` is ``tolerance + 2 * bound``."""

    quantity: str
    index: tuple[int, ...]
    actual: float
    expected: float
    bound: float
    allowed: float
    forwards: int  # evaluations spent when it was confirmed

    @property
    def abs_err(self) -> float:
        return abs(self.actual - self.expected)


@dataclass
class Localisation:
    """What :func:`locate` found: per quantity the confirmed elements (worst first), the
    whole-input tests, the colour-class counts, and the forward evaluations spent."""

    located: dict[str, list[Located]] = field(default_factory=dict)
    inputs: dict[str, SubsetTest] = field(default_factory=dict)
    flagged: dict[str, int] = field(default_factory=dict)  # elements that disagreed in the colours examined
    examined: dict[str, int] = field(default_factory=dict)  # elements of the colours examined
    trail: list[SubsetTest] = field(default_factory=list)  # the subset tests of the searches, in order
    forwards: int = 0
    tests: int = 0

    def unlocated(self) -> list[str]:
        """Quantities whose whole-input test disagrees but where no element was confirmed."""
        return [q for q, t in self.inputs.items() if not t.agrees and not self.located.get(q)]


class _Context:
    def __init__(self, spec: OpSpec, case: Case, forward: Forward, grads: dict[str, np.ndarray],
                 allowed: dict[str, np.ndarray] | None, forward_magnitude: np.ndarray | None, seed: int):
        self.spec, self.case = spec, case
        self.calls = 0

        def counted(ins: dict[str, np.ndarray]) -> np.ndarray:
            self.calls += 1
            return forward(ins)

        self.forward = counted
        self.inputs = {k: v.astype(np.float64) for k, v in case.inputs.items()}
        self.delta = np.asarray(case.delta, np.float64)
        self.o0 = np.asarray(counted(self.inputs), np.float64)
        self.eps, e = forward_rounding(spec, case, self.o0, forward_magnitude)
        self.c = (2 * np.abs(self.delta) * e).ravel()
        self.K = int(spec.reduction(case.shapes, case.params)["forward"])
        self.params, self.w_shape = case.params, case.shapes.get("w")
        rng = np.random.default_rng(seed)
        self.h = {n: _steps(self.inputs[n], self.eps) for n in spec.grad_inputs}
        self.sign = {n: rng.choice(np.array([-1.0, 1.0]), size=self.inputs[n].shape) for n in spec.grad_inputs}
        self.g = {n: np.asarray(grads["d" + n], np.float64) for n in spec.grad_inputs}
        self.t = {n: (np.zeros(self.inputs[n].shape) if allowed is None or "d" + n not in allowed
                      else np.broadcast_to(np.asarray(allowed["d" + n], np.float64), self.inputs[n].shape))
                  for n in spec.grad_inputs}
        self.groups = {n: colour_groups(footprints.colours(spec.footprints[n], self.inputs[n].shape, self.params, self.w_shape))
                       for n in spec.grad_inputs}
        self.tests = 0

    def kind(self, name: str) -> str:
        return self.spec.footprints[name]

    def reach(self, name: str, idx: np.ndarray) -> np.ndarray:
        mask = np.zeros(self.inputs[name].shape, bool)
        mask.flat[idx] = True
        return np.asarray(footprints.reach(self.kind(name), mask, self.o0.shape, self.params, self.w_shape)).ravel()

    def pair(self, name: str, idx: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(D, s)``: ``delta * (f(x + o) - f(x - o))`` raveled and the half-steps actually taken."""
        D, step = next(_differences(self.forward, self.inputs, name, self.delta, [(idx, offsets)], 1))
        return D.ravel(), step / 2


def _rounding(ctx: _Context, D: np.ndarray, reach: np.ndarray, hoeffding: bool) -> float:
    """Bound on the rounding of ``sum(D) / 2``, over the outputs that can move or did: in the
    worst case, or (``hoeffding``) in the probabilistic model of the module docstring."""
    c = ctx.c[reach | (D != 0)]
    worst = float(c.sum())
    part = min(worst, Z * float(np.sqrt(np.dot(c, c) / (4 * ctx.K)))) if hoeffding else worst
    return part / 2 + _sum_bound(D.size) * float(np.abs(D).sum()) / 2


def _one_pair(ctx: _Context, name: str, idx: np.ndarray, scale: float) -> tuple[float, float, float]:
    s_nominal = scale * ctx.h[name].flat[idx] * ctx.sign[name].flat[idx]
    D, s = ctx.pair(name, idx, s_nominal)
    gs = ctx.g[name].flat[idx] * s
    a = float(gs.sum())
    n = float(D.sum()) / 2
    rounding = _rounding(ctx, D, ctx.reach(name, idx), hoeffding=True)
    ts = ctx.t[name].flat[idx] * np.abs(s)
    # the candidate's allowed errors e_i (|e_i| <= t_i) were made before the signs were drawn:
    # sum e_i s_i is within Z sqrt(sum (t_i s_i)**2) but with probability 2 exp(-Z**2 / 2)
    tolerance = min(float(ts.sum()), Z * float(np.sqrt(np.dot(ts, ts)))) + _sum_bound(idx.size) * float(np.abs(gs).sum())
    return a - n, rounding, tolerance


def subset_test(ctx: _Context, name: str, idx: np.ndarray, *, refine: bool = True, always: bool = False,
                allowance: float = 0.0) -> SubsetTest:
    """The subset test on the elements ``idx`` (flat indices) of input ``name`` (module docstring).

    ``refine``: a first pair that disagrees gets the second (``always``: whatever the first
    says). ``allowance``: the truncation allowed a first pair left unrefined (the search's
    tests are allowed the whole input's measured truncation: halves of a set bend less).
    """
    ctx.tests += 1
    d, rho, tol = _one_pair(ctx, name, idx, 1.0)
    test = SubsetTest(name, int(idx.size), d, rho, tol, truncation=allowance or None)
    if not refine or (test.agrees and not always):
        return test
    d2, rho2, tol2 = _one_pair(ctx, name, idx, 0.5)
    # d2 is the discrepancy at half the step: about d / 2 plus an eighth of d's truncation
    dr = (8 * d2 - d) / 3
    return SubsetTest(name, test.size, dr, max(rho, (8 * rho2 + rho) / 3), max(tol, (8 * tol2 + tol) / 3),
                      truncation=4 / 3 * abs(2 * d2 - d), forwards=4)


def _element(ctx: _Context, name: str, flat: int) -> tuple[float, float]:
    """Element-wise central difference of one element alone: ``(Richardson estimate, bound)``,
    the bound ``|g2 - g1| + rounding / h`` with the rounding taken in the worst case over the
    outputs the element can move or did (as ``fd.finite_differences`` bounds its estimates)."""
    idx = np.array([flat])
    reach = ctx.reach(name, idx)
    h = float(ctx.h[name].flat[flat])
    est, rounding = [], 0.0
    for scale in (1.0, 0.5):
        D, s = ctx.pair(name, idx, np.array([scale * h]))
        est.append(float(D.sum()) / (2 * float(s[0])))
        if scale == 1.0:
            rounding = 2 * _rounding(ctx, D, reach, hoeffding=False) / h
    g1, g2 = est
    return (4 * g2 - g1) / 3, abs(g2 - g1) + rounding


def _leaf(ctx: _Context, name: str, colour: int, out: Localisation, most: int) -> list[Located]:
    """Every element of one colour by the coloured central difference; the worst few that
    disagree confirmed one by one."""
    idx = ctx.groups[name][colour]
    x = ctx.inputs[name]
    kind = ctx.kind(name)
    h = ctx.h[name]
    noise = ctx.c.reshape(ctx.o0.shape)
    rounding = np.asarray(footprints.attribute(kind, noise, x.shape, ctx.params, ctx.w_shape)).ravel()[idx] / h.flat[idx]
    g1 = np.zeros_like(x)
    _coloured(ctx.forward, ctx.inputs, name, ctx.delta, [idx], h, 1.0, kind, ctx.params, ctx.w_shape, 1, g1)
    a, t = ctx.g[name].flat[idx], ctx.t[name].flat[idx]
    est, unc = g1.flat[idx], rounding
    if not (np.abs(a - est) <= t + 2 * unc).all():
        g2 = np.zeros_like(x)
        _coloured(ctx.forward, ctx.inputs, name, ctx.delta, [idx], h, 0.5, kind, ctx.params, ctx.w_shape, 1, g2)
        est, unc = (4 * g2.flat[idx] - est) / 3, np.abs(g2.flat[idx] - est) + rounding
    ratio = np.abs(a - est) / np.maximum(t + 2 * unc, 1e-300)
    bad = np.flatnonzero(~(ratio <= 1.0))
    q = "d" + name
    out.flagged[q] = out.flagged.get(q, 0) + int(bad.size)
    out.examined[q] = out.examined.get(q, 0) + int(idx.size)
    found = []
    for k in bad[np.argsort(-ratio[bad], kind="stable")][:most]:
        flat = int(idx[k])
        if kind == "full":  # the coloured estimate already perturbed this element alone
            expected, bound = float(est[k]), float(unc[k])
        else:
            expected, bound = _element(ctx, name, flat)
        actual, allowed = float(a[k]), float(t[k]) + 2 * bound
        if not abs(actual - expected) <= allowed:
            found.append(Located(q, tuple(int(i) for i in np.unravel_index(flat, x.shape)), actual, expected, bound,
                                 allowed, ctx.calls))
    return found


@dataclass(order=True)
class _Node:
    priority: float
    c0: int = field(compare=False)
    c1: int = field(compare=False)
    d: float = field(compare=False)
    rounding: float = field(compare=False)
    tolerance: float = field(compare=False)


def _node(c0: int, c1: int, t: SubsetTest) -> _Node:
    return _Node(-t.significance, c0, c1, t.d, t.rounding + (t.truncation or 0.0), t.tolerance)


def _search(ctx: _Context, name: str, root: SubsetTest, out: Localisation, budget: int, most: int,
            force: bool = False) -> list[Located]:
    """Halve the colours of input ``name`` while a half disagrees; confirm at single colours.

    ``force``: test both halves at every level and go on into the more discrepant one even
    when both agree (to show that a correct gradient raises no alarm at any level)."""
    groups = ctx.groups[name]
    allowance = root.truncation or 0.0
    frontier = [_node(0, len(groups), root)]
    found: list[Located] = []
    first = True
    while frontier and len(found) < most and (first or ctx.calls < budget):
        node: _Node | None = heapq.heappop(frontier)
        first = False
        while node is not None and node.c1 - node.c0 > 1:
            mid = (node.c0 + node.c1) // 2
            t1 = subset_test(ctx, name, np.concatenate(groups[node.c0:mid]), refine=False, allowance=allowance)
            out.trail.append(t1)
            t2 = SubsetTest(name, 0, node.d - t1.d, math.hypot(node.rounding, t1.rounding), node.tolerance + t1.tolerance,
                            truncation=allowance or None)  # the other half: the parent's discrepancy less this one's
            if force or (t1.agrees and t2.agrees):  # neither half stands out: test the other one too
                t2 = subset_test(ctx, name, np.concatenate(groups[mid:node.c1]), refine=False, allowance=allowance)
                out.trail.append(t2)
            halves = [n for n, t in ((_node(node.c0, mid, t1), t1), (_node(mid, node.c1, t2), t2)) if force or not t.agrees]
            if not halves:
                node = None
                break
            halves.sort()
            node = halves[0]
            if not force:
                for other in halves[1:]:
                    heapq.heappush(frontier, other)
        if node is not None:
            found += _leaf(ctx, name, node.c0, out, most - len(found))
    found.sort(key=lambda f: -f.abs_err / max(f.allowed, 1e-300))
    return found


def locate(spec: OpSpec, case: Case, forward: Forward, grads: dict[str, np.ndarray], *,
           allowed: dict[str, np.ndarray] | None = None, forward_magnitude: np.ndarray | None = None,
           seed: int = 0, budget: int = BUDGET, most: int = MOST, force: bool = False) -> Localisation:
    """Test each differentiable input whole; search the ones that disagree (module docstring).

    Parameters
    ----------
    grads : {"dx": ndarray, ...}
        The candidate's gradients, of their inputs' shapes (finite).
    allowed : {"dx": ndarray, ...}, optional
        The candidate's per-element tolerance (``fd.allowed_error``); zero when absent.
    forward_magnitude : ndarray of the output's shape, optional
        ``tolerances.magnitudes(spec, case)["forward"]``, when the caller has it.
    budget, most
        Forward evaluations past which no further element is searched for, and the most
        elements reported per input.
    force : bool
        Search every input, whether or not its whole test disagrees, testing both halves at
        every level (a correct gradient should raise no alarm anywhere on the way).

    Returns
    -------
    Localisation
    """
    ctx = _Context(spec, case, forward, grads, allowed, forward_magnitude, seed)
    out = Localisation()
    for name in spec.grad_inputs:
        idx = np.arange(ctx.inputs[name].size)
        test = subset_test(ctx, name, idx, always=force)
        out.inputs["d" + name] = test
        if force or not test.agrees:
            out.located["d" + name] = _search(ctx, name, test, out, budget, most, force)
    out.forwards, out.tests = ctx.calls, ctx.tests
    return out


def describe(found: Localisation) -> dict[str, Any]:
    """A JSON-able summary (for benchmarks and reports)."""
    return {
        "forwards": found.forwards,
        "tests": found.tests,
        "located": {q: [{"index": list(f.index), "actual": f.actual, "expected": f.expected, "bound": f.bound,
                         "allowed": f.allowed, "forwards": f.forwards} for f in fs] for q, fs in found.located.items()},
        "inputs": {q: {"d": t.d, "bound": t.bound, "agrees": t.agrees} for q, t in found.inputs.items()},
    }


def _fail(label: str, spec: OpSpec, case: Case, q: str, found: Localisation, fs: list[Located], mags, K, dtype: str,
          note: str) -> Record:
    w = fs[0]
    mag = float(np.asarray(mags[q]).flat[np.ravel_multi_index(w.index, np.shape(mags[q]))]) if w.index else float(mags[q])
    others = "".join(f"; also {list(f.index)}: actual {f.actual:.6g}, expected {f.expected:.6g} (|error| {f.abs_err:.3g} > "
                     f"allowed {f.allowed:.3g})" for f in fs[1:])
    flagged = found.flagged.get(q, 0)
    message = (f"{case.op} {q} vs fd: located by group testing: {len(fs)} element(s) confirmed beyond tolerance "
               f"({flagged} of the {found.examined.get(q, 0)} elements of the colour classes examined disagree); worst at "
               f"{list(w.index)}: actual {w.actual:.6g}, expected {w.expected:.6g} (|error| {w.abs_err:.3g} > allowed "
               f"{w.allowed:.3g}, of which the element-wise finite difference's error bound {w.bound:.3g}, twice){others}; "
               f"{SCREEN_FORWARDS + found.forwards} forward evaluations ({SCREEN_FORWARDS} for the screen, {found.forwards} "
               f"to locate); {note}")
    return Record(label, q, "fd", "fail", max_abs_err=w.abs_err, max_rel_err=w.abs_err / max(mag, 1e-300),
                  tolerance=tolerance_for(dtype, q).rtol(K[q]), examples=1, message=message, counterexample=case.counterexample(),
                  worst=Worst(index=list(w.index), actual=w.actual, expected=w.expected, abs_err=w.abs_err, tolerance=w.allowed))


def screen(spec: OpSpec, label: str, case: Case, forward: Forward, grads: dict[str, np.ndarray], *, dtype: str,
           mags: dict[str, np.ndarray] | None = None, seed: int = 0,
           details: dict[str, Any] | None = None) -> dict[tuple[str, str], Record] | None:
    """The finite-difference records of a large case: the directional screen, then, where it
    disagrees, the located elements.

    A screen that agrees gives a pass per gradient. One that disagrees is localised
    (:func:`locate`): a gradient with confirmed wrong elements fails, its worst located
    element as the record's worst (error, allowed error, bound, forward evaluations in the
    message); a gradient whose whole-input test agrees passes. Returns ``None`` (the caller
    then checks every element) when the gradients are not finite, or when no element was
    confirmed, or a gradient's whole-input test disagrees without a confirmed element.

    Parameters
    ----------
    grads : {"dx": ndarray, ...}
        The candidate's gradients (well-formed arrays of their inputs' shapes).
    dtype : str
        The dtype the tolerances are taken for (the battery's ``tolerance_dtype``).
    mags : dict, optional
        ``tolerances.magnitudes(spec, case)``, when the caller has it.
    details : dict, optional
        Filled with ``"screen"``: ``(analytic, numeric, bound)`` and, after a disagreement,
        ``"localisation"``: the :class:`Localisation`.
    """
    if not all(np.isfinite(np.asarray(g, np.float64)).all() for g in grads.values()):
        return None
    analytic, numeric, bound = directional(spec, case, forward, grads, seed=seed)
    if details is not None:
        details["screen"] = (analytic, numeric, bound)
    note = f"directional screen: <grad, u> {analytic:.6g} vs finite difference {numeric:.6g}"
    if abs(analytic - numeric) <= bound:
        return {(g, "fd"): Record(label, g, "fd", "pass", examples=1, max_abs_err=abs(analytic - numeric), message=note)
                for g in spec.grads}
    mags = mags if mags is not None else magnitudes(spec, case)
    K = spec.reduction(case.shapes, case.params)
    allowed = {q: allowed_error(q, mags[q], K[q], dtype) for q in spec.grads}
    found = locate(spec, case, forward, grads, allowed=allowed, forward_magnitude=mags["forward"], seed=seed)
    if details is not None:
        details["localisation"] = found
    if found.unlocated() or not any(found.located.values()):
        return None
    note += f" (bound {bound:.3g}) disagrees"
    out = {}
    for q in spec.grads:
        fs = found.located.get(q)
        if fs:
            out[(q, "fd")] = _fail(label, spec, case, q, found, fs, mags, K, dtype, note)
        else:
            t = found.inputs[q]
            out[(q, "fd")] = Record(label, q, "fd", "pass", examples=1, max_abs_err=abs(t.d),
                                    message=f"{note}; restricted to {q[1:]}, the discrepancy {t.d:.3g} is within its "
                                            f"bound {t.bound:.3g}")
    return out
