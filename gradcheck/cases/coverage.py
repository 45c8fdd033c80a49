"""Coverage: the features of a case that matter for an op, and the covering designs every
profile starts from.

A *feature* is a named property of a case's geometry (``"stride_h>1"``, ``"padding>0"``,
``"non-square kernel"``, ``"N>1"``, ``"overlapping windows"`` …) or, for kink cases, of its
values (``"tie"``: a pooling window with two maximal units). Every record says which features
the cases it was judged on reached (``Record.covered``); a pass whose cases missed a feature
the candidate accepts is not a pass (``Record.untested``, status ``partial``).

The design of an op is a small set of geometries that covers every *pair* of feature values
(on/off × on/off) that the op's geometry strategy can reach under the candidate's limits: a
pairwise covering array, picked greedily (as AETG does) from a pool of geometries sampled from
the same ranges as the hypothesis strategy, cheapest first. Pairs the pool never shows are
taken to be out of reach (a 1×1 kernel cannot be non-square); features it never shows on are
*excluded* — the candidate's convention or declared constraints leave them out — and each
record says why.
"""
from __future__ import annotations

from functools import lru_cache
from itertools import combinations
from typing import Any, Callable

import numpy as np

from gradcheck.cases import Case
from gradcheck.ops import SPECS
from gradcheck.cases.strategies import Geometry, sample_geometry

__all__ = ["features_of", "kink_features_of", "FEATURES", "KINK_FEATURES", "design", "reachable", "DESIGN_POOL"]

#: Geometries sampled per op to pick the design from.
DESIGN_POOL = 3000

Shapes = dict[str, tuple[int, ...]]
Params = dict[str, tuple[int, int]]


def _out(size: int, k: int, s: int, p: int, d: int = 1) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _conv(shapes: Shapes, params: Params) -> set[str]:
    n, c, h, w = shapes["x"]
    d, _, k1, k2 = shapes["w"]
    (sh, sw), (ph, pw), (dh, dw) = params["stride"], params["padding"], params["dilation"]
    on = {
        "stride_h>1": sh > 1,
        "stride_w>1": sw > 1,
        "padding>0": ph > 0 or pw > 0,
        "dilation>1": (dh > 1 and k1 > 1) or (dw > 1 and k2 > 1),
        "non-square kernel": k1 != k2,
        "non-square input": h != w,
        "N>1": n > 1,
        "C>1": c > 1,
        "D>1": d > 1,
        "kernel = padded input": h + 2 * ph == dh * (k1 - 1) + 1 and w + 2 * pw == dw * (k2 - 1) + 1,
        "1x1 kernel": k1 == k2 == 1,
    }
    return {f for f, v in on.items() if v}


def _pool(shapes: Shapes, params: Params) -> set[str]:
    n, c, h, w = shapes["x"]
    (kh, kw), (sh, sw), (ph, pw) = params["kernel_size"], params["stride"], params["padding"]
    ho, wo = _out(h, kh, sh, ph), _out(w, kw, sw, pw)
    on = {
        "overlapping windows": (sh < kh and ho > 1) or (sw < kw and wo > 1),
        "stride > window": (sh > kh and ho > 1) or (sw > kw and wo > 1),
        "padding>0": ph > 0 or pw > 0,
        "non-square window": kh != kw,
        "non-square input": h != w,
        "N>1": n > 1,
        "C>1": c > 1,
    }
    return {f for f, v in on.items() if v}


def _dense(shapes: Shapes, params: Params) -> set[str]:
    n, f = shapes["x"]
    k = shapes["w"][0]
    return {name for name, v in {"N>1": n > 1, "F>1": f > 1, "K>1": k > 1}.items() if v}


def _elementwise(shapes: Shapes, params: Params) -> set[str]:
    n, c, h, w = shapes["x"]
    return {name for name, v in {"N>1": n > 1, "C>1": c > 1, "non-square input": h != w}.items() if v}


def _mse(shapes: Shapes, params: Params) -> set[str]:
    p, k = shapes["y"]
    return {name for name, v in {"P>1": p > 1, "K>1": k > 1}.items() if v}


_FAMILIES: dict[str, tuple[Callable[[Shapes, Params], set[str]], tuple[str, ...]]] = {
    "conv": (_conv, ("stride_h>1", "stride_w>1", "padding>0", "dilation>1", "non-square kernel", "non-square input",
                     "N>1", "C>1", "D>1", "kernel = padded input", "1x1 kernel")),
    "pool": (_pool, ("overlapping windows", "stride > window", "padding>0", "non-square window", "non-square input",
                     "N>1", "C>1")),
    "dense": (_dense, ("N>1", "F>1", "K>1")),
    "elementwise": (_elementwise, ("N>1", "C>1", "non-square input")),
    "mse": (_mse, ("P>1", "K>1")),
}


def _family(op: str) -> str:
    return SPECS[op].family


#: op -> the geometry features its smooth cases are judged on.
FEATURES: dict[str, tuple[str, ...]] = {op: _FAMILIES[_family(op)][1] for op in SPECS}

#: op -> the value features of its kink cases (what the subgradient checks are about).
KINK_FEATURES: dict[str, tuple[str, ...]] = {
    op: {"relu": ("x = 0",) if not spec.is_conv else ("pre-activation = 0",), "max": ("tie",),
         "l2": ("zero window",)}[spec.kinks]
    for op, spec in SPECS.items() if spec.kinks
}


def features_of(op: str, shapes: Shapes, params: Params) -> set[str]:
    """The geometry features of one case of ``op``."""
    return _FAMILIES[_family(op)][0](shapes, params)


def _windows(x: np.ndarray, params: Params, fill: float) -> np.ndarray:
    """Pooling windows of x (N,C,H,W) as (N,C,Ho,Wo,kh*kw), padding filled with ``fill``."""
    (kh, kw), (sh, sw), (ph, pw) = params["kernel_size"], params["stride"], params["padding"]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    v = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return v.reshape(v.shape[:4] + (kh * kw,))


def kink_features_of(case: Case) -> set[str]:
    """The value features of a kink case: whether it sits on the op's kink at all."""
    spec = SPECS[case.op]
    x = case.inputs[spec.inputs[0]]
    if spec.kinks == "relu" and not spec.is_conv:
        return {"x = 0"} if (x == 0).any() else set()
    if spec.kinks == "relu":
        from gradcheck.oracles.scipy_oracle import conv_forward

        z = conv_forward(case.inputs["x"], case.inputs["w"], case.inputs["b"], case.params)
        return {"pre-activation = 0"} if (z == 0).any() else set()
    if spec.kinks == "max":
        win = _windows(x, case.params, -np.inf)
        return {"tie"} if ((win == win.max(axis=-1, keepdims=True)).sum(axis=-1) > 1).any() else set()
    if spec.kinks == "l2":
        win = _windows(x, case.params, 0.0)
        return {"zero window"} if (np.abs(win).sum(axis=-1) == 0).any() else set()
    return set()


def _key(limits: dict[str, Any]) -> tuple:
    return tuple(sorted(limits.items()))


@lru_cache(maxsize=None)
def _pool_of(op: str, limits_key: tuple) -> tuple[tuple[Geometry, frozenset[str]], ...]:
    rng = np.random.default_rng(20240607)
    out, seen = [], set()
    for _ in range(DESIGN_POOL):
        g = sample_geometry(op, rng, **dict(limits_key))
        if g is None:
            continue
        sig = repr(g)
        if sig in seen:
            continue
        seen.add(sig)
        out.append((g, frozenset(features_of(op, *g))))
    return tuple(out)


def reachable(op: str, **limits: Any) -> tuple[str, ...]:
    """The features of ``op`` that its geometry can show under ``limits``."""
    shown = set().union(*(f for _, f in _pool_of(op, _key(limits))))
    return tuple(f for f in FEATURES[op] if f in shown)


def _cost(g: Geometry) -> int:
    shapes, _ = g
    return sum(int(np.prod(s)) for s in shapes.values())


@lru_cache(maxsize=None)
def _design(op: str, limits_key: tuple) -> tuple[Geometry, ...]:
    pool = _pool_of(op, limits_key)
    feats = FEATURES[op]

    def pairs(on: frozenset[str]) -> set[tuple]:
        vals = [(f, f in on) for f in feats]
        return set(combinations(vals, 2)) | {(v,) for v in vals}

    by_geometry = [(g, pairs(on)) for g, on in pool]
    uncovered = set().union(*(p for _, p in by_geometry)) if by_geometry else set()
    chosen: list[Geometry] = []
    while uncovered:
        g, p = max(by_geometry, key=lambda gp: (len(gp[1] & uncovered), -_cost(gp[0])))
        if not p & uncovered:
            break
        chosen.append(g)
        uncovered -= p
    return tuple(chosen)


def design(op: str, **limits: Any) -> tuple[Geometry, ...]:
    """Geometries of ``op`` covering every reachable pair of feature values under ``limits``
    (pairwise coverage), few and small; deterministic."""
    return _design(op, _key(limits))
