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
from typing import Any

import numpy as np

from gradcheck.cases import Case
from gradcheck.ops import SPECS
from gradcheck.cases.strategies import Geometry, sample_geometry

__all__ = ["features_of", "kink_features_of", "FEATURES", "KINK_FEATURES", "design", "reachable", "DESIGN_POOL"]

#: Geometries sampled per op to pick the design from.
DESIGN_POOL = 3000

Shapes = dict[str, tuple[int, ...]]
Params = dict[str, tuple[int, int]]


#: op -> the geometry features its smooth cases are judged on (its family's).
FEATURES: dict[str, tuple[str, ...]] = {op: spec.family.features for op, spec in SPECS.items()}

#: op -> the value features of its kink cases (what the subgradient checks are about).
KINK_FEATURES: dict[str, tuple[str, ...]] = {op: spec.kink.features for op, spec in SPECS.items() if spec.kink}


def features_of(op: str, shapes: Shapes, params: Params) -> set[str]:
    """The geometry features of one case of ``op``."""
    return SPECS[op].family.features_of(shapes, params)


def kink_features_of(case: Case) -> set[str]:
    """The value features of a kink case: whether it sits on the op's kink at all."""
    kink = SPECS[case.op].kink
    return kink.features_of(case) if kink else set()


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
