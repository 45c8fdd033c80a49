"""Literal transcriptions of the seed's pooling routing rules (and the derived L2 rule).

Each rule walks the ``N x N`` windows of ``x`` (stride ``s``; the seed's blocks are
``s = N``) and routes the window's error ``delta[p, q]`` to the window's units, exactly as
the seed words it: the error is *assigned* (``=``). The ``*_accumulated`` variants add it
(``+=``) instead, the reading under which overlapping windows work.

Shapes: ``x`` (H, W); ``delta`` (Ho, Wo) with ``Ho = (H - N) // s + 1``, likewise ``Wo``;
every function returns ``dx`` with the shape of ``x``.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = [
    "pool_max_routing",
    "pool_avg_routing",
    "pool_l2_routing",
    "pool_max_accumulated",
    "pool_avg_accumulated",
    "pool_l2_accumulated",
    "pool_l2_zero_at_zero",
]


# --- pooling routing ------------------------------------------------------------------------

def _windows(x: np.ndarray, N: int, s: int):
    """Top-left corners ``(p, q, r0, c0)`` of the ``N x N`` windows at stride ``s``."""
    H, W = x.shape
    for p in range((H - N) // s + 1):
        for q in range((W - N) // s + 1):
            yield p, q, p * s, q * s


def pool_max_routing(delta: np.ndarray, x: np.ndarray, N: int, s: int) -> np.ndarray:
    """Max-pooling: the block's error is assigned to its winning unit, the others get zero.

    ``delta`` has one entry per ``N x N`` block (stride ``s``); the winner is the first unit
    of the block, in row-major order, holding the block's maximum. Returns shape of ``x``.
    """
    dx = np.zeros_like(x, dtype=float)
    for p, q, r0, c0 in _windows(x, N, s):
        winner, best = None, -math.inf
        for u in range(N):
            for v in range(N):
                if x[r0 + u, c0 + v] > best:
                    winner, best = (r0 + u, c0 + v), x[r0 + u, c0 + v]
        for u in range(N):
            for v in range(N):
                dx[r0 + u, c0 + v] = 0.0
        dx[winner] = delta[p, q]
    return dx


def pool_avg_routing(delta: np.ndarray, x: np.ndarray, N: int, s: int) -> np.ndarray:
    """Average pooling: the error times ``1/(N x N)`` is assigned to every unit of the block."""
    dx = np.zeros_like(x, dtype=float)
    for p, q, r0, c0 in _windows(x, N, s):
        for u in range(N):
            for v in range(N):
                dx[r0 + u, c0 + v] = delta[p, q] * (1.0 / (N * N))
    return dx


def pool_l2_routing(delta: np.ndarray, x: np.ndarray, N: int, s: int) -> np.ndarray:
    """L2-norm pooling ``o = sqrt(sum x^2)`` over the block: every unit gets ``delta * x / o``.

    The seed names L2 pooling without a rule; this is the derivative of ``o``. Where ``o = 0``
    it is ``0 / 0``, undefined, and returned as NaN.
    """
    dx = np.zeros_like(x, dtype=float)
    for p, q, r0, c0 in _windows(x, N, s):
        o = 0.0
        for u in range(N):
            for v in range(N):
                o += x[r0 + u, c0 + v] ** 2
        o = math.sqrt(o)
        for u in range(N):
            for v in range(N):
                dx[r0 + u, c0 + v] = delta[p, q] * x[r0 + u, c0 + v] / o if o else math.nan
    return dx


def pool_max_accumulated(delta: np.ndarray, x: np.ndarray, N: int, s: int) -> np.ndarray:
    """Max-pooling routing with each window's error added (``+=``) to its winner."""
    dx = np.zeros_like(x, dtype=float)
    for p, q, r0, c0 in _windows(x, N, s):
        winner, best = None, -math.inf
        for u in range(N):
            for v in range(N):
                if x[r0 + u, c0 + v] > best:
                    winner, best = (r0 + u, c0 + v), x[r0 + u, c0 + v]
        dx[winner] += delta[p, q]
    return dx


def pool_avg_accumulated(delta: np.ndarray, x: np.ndarray, N: int, s: int) -> np.ndarray:
    """Average-pooling routing with ``delta / (N x N)`` added (``+=``) to every unit of a window."""
    dx = np.zeros_like(x, dtype=float)
    for p, q, r0, c0 in _windows(x, N, s):
        for u in range(N):
            for v in range(N):
                dx[r0 + u, c0 + v] += delta[p, q] * (1.0 / (N * N))
    return dx


def pool_l2_accumulated(delta: np.ndarray, x: np.ndarray, N: int, s: int) -> np.ndarray:
    """L2-pooling routing with ``delta * x / o`` added (``+=``) to every unit of a window."""
    dx = np.zeros_like(x, dtype=float)
    for p, q, r0, c0 in _windows(x, N, s):
        o = 0.0
        for u in range(N):
            for v in range(N):
                o += x[r0 + u, c0 + v] ** 2
        o = math.sqrt(o)
        for u in range(N):
            for v in range(N):
                dx[r0 + u, c0 + v] += delta[p, q] * x[r0 + u, c0 + v] / o if o else math.nan
    return dx


def pool_l2_zero_at_zero(delta: np.ndarray, x: np.ndarray, N: int, s: int) -> np.ndarray:
    """L2-pooling routing ``delta * x / o``, with 0 for the units of a block where ``o = 0``."""
    dx = np.zeros_like(x, dtype=float)
    for p, q, r0, c0 in _windows(x, N, s):
        o = 0.0
        for u in range(N):
            for v in range(N):
                o += x[r0 + u, c0 + v] ** 2
        o = math.sqrt(o)
        for u in range(N):
            for v in range(N):
                dx[r0 + u, c0 + v] = delta[p, q] * x[r0 + u, c0 + v] / o if o > 0 else 0.0
    return dx
