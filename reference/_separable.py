"""Separable window reductions on flat arrays (private): the engine of the pooling layers.

A pooling window is a product of a row interval and a column interval, so a reduction over it
(max, sum) factorises into a pass along W followed by a pass along H, and its transpose (the
scatter of one value per window onto the window's units) into the two passes in reverse.
Both passes run on the *flattened* batch, where "the element n columns to the right" is a
shift of the flat index by ``n`` and "m rows down" a shift by ``m`` row lengths: every step
is a single 1-D numpy operation over the whole batch (no per-row iteration in numpy's inner
loops). Flat positions whose window would straddle a row or plane boundary are computed too,
and dropped: only positions of real windows are ever gathered.

Geometry (one (Hp, Wp) plane per (N, C), ``P = N*C`` planes, ``Wp`` a multiple of ``s_w``):

* W-pass: ``A[g] = op_{n < k_w} X[g*s_w + n]`` on the column grid ``g = r*Wq + j``
  (``r`` the row over all planes, ``Wq = Wp / s_w``). ``X[g*s_w + n]`` is
  ``phase[n % s_w][g + n // s_w]`` with ``phase[r] = X[r::s_w]``.
* H-pass: ``B[f] = op_{m < k_h} A[f + m*Wq]``.
* gather: ``o[p, i, j] = B[(p*Hp + i*s_h)*Wq + j]``.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided
from numpy.typing import NDArray

from ._windows import Pair

__all__ = ["Grid", "make_grid", "pad_flat", "window_reduce", "window_argmax", "window_scatter", "unpad_flat"]


@dataclass(frozen=True)
class Grid:
    """Geometry of a pooling op on a padded, flattened batch.

    ``padded`` is (N, C, Hp, Wp): the input with its padding on every side plus, on the right,
    the few extra columns that make ``Wp`` a multiple of ``s_w``.
    """

    padded: tuple[int, int, int, int]
    kernel: Pair
    stride: Pair
    out_hw: Pair

    @property
    def planes(self) -> int:
        return self.padded[0] * self.padded[1]

    @property
    def size(self) -> int:
        """Number of elements of the padded batch."""
        return self.planes * self.padded[2] * self.padded[3]

    @property
    def wq(self) -> int:
        """Row length of the column grid (``Wp / s_w``)."""
        return self.padded[3] // self.stride[1]

    @property
    def n_w(self) -> int:
        """Length of the W-pass output: one past the last column-grid position the H-pass reads."""
        return max(0, (self.planes * self.padded[2] - 1) * self.wq + self.out_hw[1])

    @property
    def n_h(self) -> int:
        """Length of the H-pass output: one past the last position that is gathered."""
        p, hp, (ho, wo), sh = self.planes, self.padded[2], self.out_hw, self.stride[0]
        return max(0, ((p - 1) * hp + (ho - 1) * sh) * self.wq + wo)

    def windows(self, a: NDArray, start: int = 0) -> NDArray:
        """View (P, Ho, Wo) of a 1-D column-grid array: element ``[p, i, j]`` is
        ``a[start + (p*Hp + i*s_h)*Wq + j]``, the corner of window (i, j) shifted by ``start``.

        Only indices below ``start + n_h`` are touched, so ``a`` needs ``start + n_h`` elements.
        """
        p, hp, (ho, wo), sh, wq = self.planes, self.padded[2], self.out_hw, self.stride[0], self.wq
        step = a.strides[0]  # a may be a strided 1-D view
        return as_strided(a[start:], (p, ho, wo), (hp * wq * step, sh * wq * step, step))

    def gather(self, b: NDArray) -> NDArray:
        """The window positions of a column-grid array ``b`` (length >= ``n_h``), as (N, C, Ho, Wo)."""
        return np.ascontiguousarray(self.windows(b)).reshape(*self.padded[:2], *self.out_hw)


def make_grid(x_shape: tuple[int, ...], kernel: Pair, stride: Pair, padding: Pair, out_hw: Pair) -> Grid:
    """The :class:`Grid` of pooling an (N, C, H, W) input."""
    n, c, h, w = x_shape
    wp = w + 2 * padding[1]
    wp += (-wp) % stride[1]
    return Grid((n, c, h + 2 * padding[0], wp), kernel, stride, out_hw)


def pad_flat(x: NDArray, grid: Grid, padding: Pair, fill: float) -> NDArray:
    """``x`` (N, C, H, W) padded with ``fill`` to ``grid.padded`` and flattened (a view if no padding)."""
    n, c, h, w = x.shape
    ph, pw = padding
    if grid.padded == x.shape:
        return x.reshape(-1)
    xp = np.full(grid.padded, fill, dtype=x.dtype)
    xp[:, :, ph : ph + h, pw : pw + w] = x
    return xp.reshape(-1)


def unpad_flat(flat: NDArray, grid: Grid, x_shape: tuple[int, ...], padding: Pair) -> NDArray:
    """Inverse of :func:`pad_flat`: the (N, C, H, W) interior of a flat padded array."""
    n, c, h, w = x_shape
    ph, pw = padding
    full = flat.reshape(grid.padded)
    if grid.padded == tuple(x_shape):
        return full
    return np.ascontiguousarray(full[:, :, ph : ph + h, pw : pw + w])


def _phases(x_flat: NDArray, sw: int, copy: bool) -> NDArray | list[NDArray]:
    """The ``sw`` phases ``x_flat[r::sw]`` (r < sw) of ``x_flat``.

    With ``copy``, one contiguous (sw, L/sw) array (for ops that are slow on strided input);
    otherwise a list of strided views.
    """
    if sw == 1:
        return [x_flat]
    if copy:
        return np.ascontiguousarray(x_flat.reshape(-1, sw).T)
    return [x_flat[r::sw] for r in range(sw)]


def _column(phases: NDArray | list[NDArray], n: int, length: int) -> NDArray:
    """``X[g*s_w + n]`` for ``g < length`` (the n-th column of every W-window)."""
    sw = len(phases)
    start = n // sw
    return phases[n % sw][start : start + length]


Op = Callable[..., NDArray]


def window_reduce(x_flat: NDArray, grid: Grid, op: Op) -> NDArray:
    """``op`` (``np.add`` or ``np.maximum``) over every window of ``x_flat``; returns (N, C, Ho, Wo)."""
    (kh, kw), n_w, n_h, wq = grid.kernel, grid.n_w, grid.n_h, grid.wq
    # strided reads are fast for add but slow for maximum: give maximum contiguous phases
    phases = _phases(x_flat, grid.stride[1], copy=op is np.maximum and kw > 1)
    a = _column(phases, 0, n_w)
    if kw > 1:
        a = op(a, _column(phases, 1, n_w))
        for n in range(2, kw):
            op(a, _column(phases, n, n_w), out=a)
    b = a[:n_h]
    if kh > 1:
        b = op(b, a[wq : wq + n_h])
        for m in range(2, kh):
            op(b, a[m * wq : m * wq + n_h], out=b)
    return grid.gather(b)


def _first_max(
    candidates: list[NDArray], index: type, nan_aware: bool, follow: list[NDArray] | None = None
) -> tuple[NDArray, NDArray, NDArray | None]:
    """Element-wise first maximum over equally long arrays.

    Returns ``best`` (the maximum), ``winner`` (the index ``q`` of the first candidate holding
    it: a later candidate takes over only when strictly greater) and, if ``follow`` is given,
    ``follow[winner]``. With ``nan_aware`` a NaN always takes over (so the last NaN wins, as in
    torch's max pooling). ``best`` may be ``candidates[0]`` itself; nothing is written into the
    candidates.
    """
    best, winner, chosen = candidates[0], None, None if follow is None else follow[0]
    for q in range(1, len(candidates)):
        v = candidates[q]
        greater = np.greater(v, best)
        if nan_aware:
            greater |= np.isnan(v)
        # q increases, so the last improvement is also the largest q: winner = max(q * greater)
        if winner is None:
            best, winner = np.maximum(best, v), greater.astype(index)
        else:
            np.maximum(best, v, out=best)
            np.maximum(winner, np.multiply(greater, index(q)), out=winner)
        if chosen is not None and follow is not None:
            # chosen = where(greater, follow[q], chosen), in wrapping unsigned arithmetic
            step = np.subtract(follow[q], chosen)
            step *= greater
            chosen = np.add(chosen, step, out=None if q == 1 else chosen)
    if winner is None:
        winner = np.zeros(len(best), dtype=index)
    return best, winner, chosen


def window_argmax(
    x_flat: NDArray, grid: Grid, *, values: bool = True, nan_aware: bool = False
) -> tuple[NDArray | None, NDArray, NDArray]:
    """Window maxima and the row and column offsets ``(m, n)`` of each window's winner.

    The winner is the first maximal element in row-major window order: the first row holding
    the window maximum, and in it the first column holding it. A window holding NaN is won by
    its last NaN (torch's rule): when a NaN shows up, the passes are rerun NaN-aware.
    Returns ``o`` (N, C, Ho, Wo), or None unless ``values``, and ``m``, ``n`` (N, C, Ho, Wo)
    as unsigned integers.
    """
    (kh, kw), n_w, n_h, wq = grid.kernel, grid.n_w, grid.n_h, grid.wq
    index = np.uint8 if max(kh, kw) <= 256 else np.uint32
    phases = _phases(x_flat, grid.stride[1], copy=kw > 1)
    # W-pass: a = max over the columns of each row-window, n_star = its first argmax
    columns = [_column(phases, n, n_w) for n in range(kw)]
    a, n_star, _ = _first_max(columns, index, nan_aware)
    # H-pass: b = max over the rows, m_star = first row holding it, n_sel = that row's n_star
    rows = [a[m * wq : m * wq + n_h] for m in range(kh)]
    follow = [n_star[m * wq : m * wq + n_h] for m in range(kh)]
    b, m_star, n_sel = _first_max(rows, index, nan_aware, follow)
    if not nan_aware and np.isnan(b).any():
        return window_argmax(x_flat, grid, values=values, nan_aware=True)
    assert n_sel is not None
    return (grid.gather(b) if values else None), grid.gather(m_star), grid.gather(n_sel)


def window_scatter(g: NDArray, grid: Grid) -> NDArray:
    """Transpose of the windowed sum: every unit gets the sum of ``g`` over the windows holding it.

    ``g`` is (N, C, Ho, Wo); returns the flat padded batch (length ``grid.size``).
    """
    (kh, kw), (_, sw), n_w, wq = grid.kernel, grid.stride, grid.n_w, grid.wq
    g = g.reshape(grid.planes, *grid.out_hw)
    # H-pass transposed: row m of each window receives the window's value
    da = np.zeros(n_w, dtype=g.dtype)
    for m in range(kh):
        rows = grid.windows(da, m * wq)
        rows += g
    # W-pass transposed: column n of each row-window receives the row-window's value. When
    # k_w >= s_w, the columns n < s_w tile dx[:s_w * n_w] exactly, so they are assigned.
    tiled = kw >= sw
    if tiled:
        dx = np.empty(grid.size, dtype=g.dtype)
        dx[sw * n_w :] = 0
    else:
        dx = np.zeros(grid.size, dtype=g.dtype)
    for n in range(kw):
        column = dx[n : n + sw * (n_w - 1) + 1 : sw]
        if tiled and n < sw:
            column[...] = da
        else:
            column += da
    return dx
