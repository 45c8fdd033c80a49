"""Literal transcriptions of the seed's equations 1-22 (pooling rules: :mod:`.pooling_rules`).

Each function is the printed formula, index for index, with explicit loops over the printed
summation ranges: readability and literalness come before speed (inputs are a few pixels).
Single channel, stride 1, 2-D arrays indexed ``A[row, col]`` (eq. 4 alone is ``H x W x C``).

Conventions, stated once and used throughout:

- ``at(A, p, q)`` is ``A(p, q)`` with ``A`` zero outside its index range ``0 <= p < rows``,
  ``0 <= q < cols``. Printed indices that leave the array (``I(i - m, j - n)`` in eq. 2,
  ``K(-m, -n)`` in eq. 3, ``delta_{i'-m, j'-n}`` in eqs. 17, 20-22) go through it, so they are
  read as zero, never as Python's wrap-around negative indexing.
- ``star(I, K, i, j)`` is eq. 2's ``(I * K)_{ij}`` and ``otimes(I, K, i, j)`` eq. 1's
  ``(I (x) K)_{ij}``; later equations that print ``*`` call ``star``, evaluated at the very
  indices printed on their left-hand side (no re-indexing).
- ``rot180(A)`` flips ``A`` along both axes over its own index range:
  ``rot180(A)[p, q] = A[rows - 1 - p, cols - 1 - q]``.
- Names follow the seed: ``o_prev`` is ``o^{l-1}``, ``w`` is ``w^l``, ``delta`` is
  ``delta^l``; for eqs. 16-22 ``x`` is ``x^l`` (``H x W``), ``w_next`` / ``b_next`` /
  ``delta_next`` are ``w^{l+1}`` (``k1 x k2``) / ``b^{l+1}`` / ``delta^{l+1}``
  (``(H-k1+1) x (W-k2+1)``), ``fprime`` is ``f'``.

Long because it transcribes all 22 equations, one short function each.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

__all__ = [
    "at", "rot180", "otimes", "star",
    "eq3", "eq3_corrected", "eq3_wraparound",
    "eq4", "eq4_b_inside", "eq5", "eq6", "eq6_corrected", "eq7", "eq8", "eq9",
    "eq10", "eq11", "eq12", "eq13", "eq14", "eq14_corrected", "eq15", "eq16", "eq17",
    "eq18", "eq19", "eq20", "eq21", "eq21_scalar", "eq21_full_grid", "eq21_corrected", "eq22",
    "eq22_corrected",
]


# --- notation -------------------------------------------------------------------------------

def at(A: np.ndarray, p: int, q: int) -> float:
    """``A(p, q)``, zero outside ``A``'s index range."""
    rows, cols = A.shape
    if 0 <= p < rows and 0 <= q < cols:
        return float(A[p, q])
    return 0.0


def rot180(A: np.ndarray) -> np.ndarray:
    """``rot_180{A}``: ``A`` flipped horizontally and vertically."""
    rows, cols = A.shape
    out = np.empty((rows, cols))
    for p in range(rows):
        for q in range(cols):
            out[p, q] = A[rows - 1 - p, cols - 1 - q]
    return out


# --- eqs. 1-5: cross-correlation, convolution, the layer ------------------------------------

def otimes(I: np.ndarray, K: np.ndarray, i: int, j: int) -> float:
    """Eq. 1: ``(I (x) K)_{ij} = sum_{m=0}^{k1-1} sum_{n=0}^{k2-1} I(i+m, j+n) K(m, n)``."""
    k1, k2 = K.shape
    s = 0.0
    for m in range(0, k1):
        for n in range(0, k2):
            s += at(I, i + m, j + n) * K[m, n]
    return s


def star(I: np.ndarray, K: np.ndarray, i: int, j: int) -> float:
    """Eq. 2: ``(I * K)_{ij} = sum_{m=0}^{k1-1} sum_{n=0}^{k2-1} I(i-m, j-n) K(m, n)``."""
    k1, k2 = K.shape
    s = 0.0
    for m in range(0, k1):
        for n in range(0, k2):
            s += at(I, i - m, j - n) * K[m, n]
    return s


def eq3(I: np.ndarray, K: np.ndarray, i: int, j: int) -> float:
    """Eq. 3: ``sum_{m=0}^{k1-1} sum_{n=0}^{k2-1} I(i+m, j+n) K(-m, -n)``."""
    k1, k2 = K.shape
    s = 0.0
    for m in range(0, k1):
        for n in range(0, k2):
            s += at(I, i + m, j + n) * at(K, -m, -n)
    return s


def eq3_wraparound(I: np.ndarray, K: np.ndarray, i: int, j: int) -> float:
    """Eq. 3 with ``K(-m, -n)`` read as Python's ``K[-m, -n]`` (negative indices wrap)."""
    k1, k2 = K.shape
    s = 0.0
    for m in range(0, k1):
        for n in range(0, k2):
            s += at(I, i + m, j + n) * K[-m, -n]
    return s


def eq3_corrected(I: np.ndarray, K: np.ndarray, i: int, j: int) -> float:
    """Eq. 3 with the summation range the substitution m -> -m really gives."""
    k1, k2 = K.shape
    s = 0.0
    for m in range(-(k1 - 1), 0 + 1):
        for n in range(-(k2 - 1), 0 + 1):
            s += at(I, i + m, j + n) * at(K, -m, -n)
    return s


def eq4(I: np.ndarray, K: np.ndarray, b: float, i: int, j: int) -> float:
    """Eq. 4: ``sum_m sum_n sum_{c=1}^{C} K_{m,n,c} I_{i+m,j+n,c} + b``; I (H,W,C), K (k1,k2,C)."""
    k1, k2, C = K.shape
    s = 0.0
    for m in range(0, k1):
        for n in range(0, k2):
            for c in range(1, C + 1):
                s += K[m, n, c - 1] * I[i + m, j + n, c - 1]
    return s + b


def eq4_b_inside(I: np.ndarray, K: np.ndarray, b: float, i: int, j: int) -> float:
    """Eq. 4 with ``+ b`` read inside the three sums (added k1*k2*C times)."""
    k1, k2, C = K.shape
    s = 0.0
    for m in range(0, k1):
        for n in range(0, k2):
            for c in range(1, C + 1):
                s += K[m, n, c - 1] * I[i + m, j + n, c - 1] + b
    return s


def eq5(I: np.ndarray, K: np.ndarray, b: float, i: int, j: int) -> float:
    """Eq. 5: ``sum_{m=0}^{k1-1} sum_{n=0}^{k2-1} K_{m,n} I_{i+m,j+n} + b``."""
    k1, k2 = K.shape
    s = 0.0
    for m in range(0, k1):
        for n in range(0, k2):
            s += K[m, n] * I[i + m, j + n]
    return s + b


# --- eqs. 6-9: forward pass and error -------------------------------------------------------

def eq6(w: np.ndarray, o_prev: np.ndarray, b: float, i: int, j: int) -> float:
    """Eq. 6: ``x_{ij} = rot_180{w} * o^{l-1}_{ij} + b_{ij}``, ``*`` being eq. 2."""
    return star(rot180(w), o_prev, i, j) + b


def eq6_corrected(w: np.ndarray, o_prev: np.ndarray, b: float, i: int, j: int) -> float:
    """Eq. 6 with eq. 2's ``*`` read at the index of the first full overlap."""
    k1, k2 = w.shape
    return star(rot180(w), o_prev, i + k1 - 1, j + k2 - 1) + b


def eq7(w: np.ndarray, o_prev: np.ndarray, b: float, i: int, j: int) -> float:
    """Eq. 7: ``x_{ij} = sum_m sum_n w_{m,n} o^{l-1}_{i+m,j+n} + b_{ij}`` (m, n over w)."""
    k1, k2 = w.shape
    s = 0.0
    for m in range(0, k1):
        for n in range(0, k2):
            s += w[m, n] * o_prev[i + m, j + n]
    return s + b


def eq8(f: Callable[[float], float], x: np.ndarray, i: int, j: int) -> float:
    """Eq. 8: ``o_{ij} = f(x_{ij})``."""
    return f(x[i, j])


def eq9(t: np.ndarray, y: np.ndarray) -> float:
    """Eq. 9: ``E = 1/2 sum_p (t_p - y_p)^2`` over the P predictions."""
    E = 0.0
    for p in range(len(t)):
        E += (t[p] - y[p]) ** 2
    return 0.5 * E


# --- eqs. 10-15: gradient with respect to the weights ---------------------------------------

def eq10(delta: np.ndarray, dx_dw: np.ndarray, H: int, W: int, k1: int, k2: int,
         m_: int, n_: int) -> float:
    """Eq. 10: ``dE/dw_{m'n'} = sum_{i=0}^{H-k1} sum_{j=0}^{W-k2} delta_{ij} dx_{ij}/dw_{m'n'}``.

    ``dx_dw[i, j, m', n']`` is the Jacobian ``dx_{ij} / dw_{m'n'}``.
    """
    s = 0.0
    for i in range(0, H - k1 + 1):
        for j in range(0, W - k2 + 1):
            s += delta[i, j] * dx_dw[i, j, m_, n_]
    return s


def eq11(w: np.ndarray, o_prev: np.ndarray, b: float, i: int, j: int) -> np.ndarray:
    """Eq. 11: ``dx_{ij}/dw_{m'n'} = d/dw_{m'n'} (sum_m sum_n w_{mn} o_{i+m,j+n} + b)``.

    The bracket is built term by term and differentiated (autograd on the expression);
    returns the derivative for every ``(m', n')`` at once, shape ``(k1, k2)``.
    """
    k1, k2 = w.shape
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    expr = torch.zeros((), dtype=torch.float64)
    for m in range(0, k1):
        for n in range(0, k2):
            expr = expr + wt[m, n] * float(o_prev[i + m, j + n])
    expr = expr + b
    (d_dw,) = torch.autograd.grad(expr, wt)
    return d_dw.numpy()


def eq12(o_prev: np.ndarray, i: int, j: int, m_: int, n_: int) -> float:
    """Eq. 12: ``dx_{ij}/dw_{m'n'} = o^{l-1}_{i+m', j+n'}``."""
    return o_prev[i + m_, j + n_]


def eq13(delta: np.ndarray, o_prev: np.ndarray, H: int, W: int, k1: int, k2: int,
         m_: int, n_: int) -> float:
    """Eq. 13: ``dE/dw_{m'n'} = sum_{i=0}^{H-k1} sum_{j=0}^{W-k2} delta_{ij} o_{i+m', j+n'}``."""
    s = 0.0
    for i in range(0, H - k1 + 1):
        for j in range(0, W - k2 + 1):
            s += delta[i, j] * o_prev[i + m_, j + n_]
    return s


def eq14(delta: np.ndarray, o_prev: np.ndarray, m_: int, n_: int) -> float:
    """Eq. 14: ``dE/dw_{m'n'} = rot_180{delta} * o^{l-1}_{m'n'}``, ``*`` being eq. 2."""
    return star(rot180(delta), o_prev, m_, n_)


def eq14_corrected(delta: np.ndarray, o_prev: np.ndarray, m_: int, n_: int) -> float:
    """Eq. 14 with eq. 2's ``*`` read where it overlaps fully: shifted by ``(H-k1, W-k2)``."""
    Hd, Wd = delta.shape  # (H - k1 + 1, W - k2 + 1)
    return star(rot180(delta), o_prev, m_ + Hd - 1, n_ + Wd - 1)


def eq15(E_of_x: Callable[[torch.Tensor], torch.Tensor], x: np.ndarray) -> np.ndarray:
    """Eq. 15: ``delta_{ij} = dE/dx_{ij}``, the partial derivative of E in each ``x_{ij}``.

    ``E_of_x`` recomputes everything downstream of ``x``; returns ``delta``, shape of ``x``.
    """
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (delta,) = torch.autograd.grad(E_of_x(xt), xt)
    return delta.numpy()


# --- eqs. 16-22: gradient with respect to the layer's input ---------------------------------

def eq16(delta_next: np.ndarray, dxnext_dx: np.ndarray, k1: int, k2: int,
         i_: int, j_: int) -> float:
    """Eq. 16: ``dE/dx_{i'j'} = sum_{i,j in Q} delta^{l+1}_Q dx^{l+1}_Q / dx_{i'j'}``.

    ``Q``: output pixels from ``(i'-k1+1, j'-k2+1)`` to ``(i', j')`` that exist.
    ``dxnext_dx[i, j, i', j']`` is the Jacobian ``dx^{l+1}_{ij} / dx^l_{i'j'}``.
    """
    rows, cols = delta_next.shape
    Q = [(i, j)
         for i in range(i_ - k1 + 1, i_ + 1)
         for j in range(j_ - k2 + 1, j_ + 1)
         if 0 <= i < rows and 0 <= j < cols]
    s = 0.0
    for i, j in Q:
        s += delta_next[i, j] * dxnext_dx[i, j, i_, j_]
    return s


def eq17(delta_next: np.ndarray, dxnext_dx: np.ndarray, k1: int, k2: int,
         i_: int, j_: int) -> float:
    """Eq. 17: ``dE/dx_{i'j'} = sum_{m=0}^{k1-1} sum_{n=0}^{k2-1} delta^{l+1}_{i'-m,j'-n}
    dx^{l+1}_{i'-m,j'-n} / dx_{i'j'}``; ``dxnext_dx`` as in :func:`eq16`."""
    s = 0.0
    for m in range(0, k1):
        for n in range(0, k2):
            s += at(delta_next, i_ - m, j_ - n) * at(dxnext_dx[:, :, i_, j_], i_ - m, j_ - n)
    return s


def eq18(w_next: np.ndarray, b_next: float, f: Callable[[torch.Tensor], torch.Tensor],
         x: np.ndarray, p: int, q: int) -> np.ndarray:
    """Eq. 18: ``dx^{l+1}_{pq} / dx_{i'j'} = d/dx_{i'j'} (sum_{m'} sum_{n'} w_{m'n'}
    f(x_{p+m', q+n'}) + b)`` with ``(p, q) = (i'-m, j'-n)``; ``f`` acts on torch scalars.
 The bracket is built term by term and differentiated
    (autograd on the expression); returns the derivative for every ``(i', j')``, shape of ``x``.
    """
    k1, k2 = w_next.shape
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    expr = torch.zeros((), dtype=torch.float64)
    for m_ in range(0, k1):
        for n_ in range(0, k2):
            expr = expr + float(w_next[m_, n_]) * f(xt[p + m_, q + n_])
    expr = expr + b_next
    (d_dx,) = torch.autograd.grad(expr, xt)
    return d_dx.numpy()


def eq19(w_next: np.ndarray, fprime: Callable[[float], float], x: np.ndarray,
         i_: int, j_: int, m: int, n: int) -> float:
    """Eq. 19: ``dx^{l+1}_{i'-m, j'-n} / dx_{i'j'} = w^{l+1}_{mn} f'(x_{i'j'})``."""
    return w_next[m, n] * fprime(x[i_, j_])


def eq20(delta_next: np.ndarray, w_next: np.ndarray, fprime: Callable[[float], float],
         x: np.ndarray, i_: int, j_: int) -> float:
    """Eq. 20: ``dE/dx_{i'j'} = sum_{m=0}^{k1-1} sum_{n=0}^{k2-1} delta^{l+1}_{i'-m,j'-n}
    w^{l+1}_{mn} f'(x_{i'j'})``."""
    k1, k2 = w_next.shape
    s = 0.0
    for m in range(0, k1):
        for n in range(0, k2):
            s += at(delta_next, i_ - m, j_ - n) * w_next[m, n] * fprime(x[i_, j_])
    return s


def eq21(delta_next: np.ndarray, w_next: np.ndarray, fprime: Callable[[float], float],
         x: np.ndarray) -> np.ndarray:
    """Eq. 21: ``rot_180{ sum_m sum_n delta^{l+1}_{i'+m,j'+n} w^{l+1}_{mn} } f'(x_{i'j'})``.

    The braced expression is a map over ``(i', j')`` (the ``H x W`` grid of ``x``); that map is
    rotated, then multiplied pixel by pixel by ``f'(x_{i'j'})``. Returns shape of ``x``.
    """
    H, W = x.shape
    k1, k2 = w_next.shape
    S = np.zeros((H, W))
    for i_ in range(H):
        for j_ in range(W):
            for m in range(0, k1):
                for n in range(0, k2):
                    S[i_, j_] += at(delta_next, i_ + m, j_ + n) * w_next[m, n]
    R = rot180(S)
    out = np.zeros((H, W))
    for i_ in range(H):
        for j_ in range(W):
            out[i_, j_] = R[i_, j_] * fprime(x[i_, j_])
    return out


def eq21_scalar(delta_next: np.ndarray, w_next: np.ndarray, fprime: Callable[[float], float],
                x: np.ndarray, i_: int, j_: int) -> float:
    """Eq. 21 with ``rot_180`` of the (scalar) braced sum read as that sum unchanged."""
    k1, k2 = w_next.shape
    s = 0.0
    for m in range(0, k1):
        for n in range(0, k2):
            s += at(delta_next, i_ + m, j_ + n) * w_next[m, n]
    return s * fprime(x[i_, j_])


def eq21_full_grid(delta_next: np.ndarray, w_next: np.ndarray,
                   fprime: Callable[[float], float], x: np.ndarray) -> np.ndarray:
    """Eq. 21 with the braced map taken over the ``H x W`` positions where it can be non-zero,
    ``i' = -(k1-1) .. H-k1``, ``j' = -(k2-1) .. W-k2``, rotated, then laid on ``x``'s grid."""
    H, W = x.shape
    k1, k2 = w_next.shape
    S = np.zeros((H, W))
    for r in range(H):
        for c in range(W):
            i_, j_ = r - (k1 - 1), c - (k2 - 1)
            for m in range(0, k1):
                for n in range(0, k2):
                    S[r, c] += at(delta_next, i_ + m, j_ + n) * w_next[m, n]
    R = rot180(S)
    out = np.zeros((H, W))
    for i_ in range(H):
        for j_ in range(W):
            out[i_, j_] = R[i_, j_] * fprime(x[i_, j_])
    return out


def eq21_corrected(delta_next: np.ndarray, w_next: np.ndarray,
                   fprime: Callable[[float], float], x: np.ndarray, i_: int, j_: int) -> float:
    """Eq. 21 as a cross-correlation of the zero-padded ``delta`` with the flipped kernel."""
    k1, k2 = w_next.shape
    w_rot = rot180(w_next)
    s = 0.0
    for m in range(0, k1):
        for n in range(0, k2):
            s += at(delta_next, i_ - (k1 - 1) + m, j_ - (k2 - 1) + n) * w_rot[m, n]
    return s * fprime(x[i_, j_])


def eq22(delta_next: np.ndarray, w_next: np.ndarray, fprime: Callable[[float], float],
         x: np.ndarray, i_: int, j_: int) -> float:
    """Eq. 22: ``delta^{l+1}_{i'j'} * rot_180{w^{l+1}} f'(x_{i'j'})``, ``*`` being eq. 2."""
    return star(delta_next, rot180(w_next), i_, j_) * fprime(x[i_, j_])


def eq22_corrected(delta_next: np.ndarray, w_next: np.ndarray,
                   fprime: Callable[[float], float], x: np.ndarray, i_: int, j_: int) -> float:
    """Eq. 22 without the rotation: ``delta^{l+1} * w^{l+1}`` (eq. 2) times ``f'``."""
    return star(delta_next, w_next, i_, j_) * fprime(x[i_, j_])
