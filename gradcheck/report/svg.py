"""Inline SVG pictures for the report: error heatmaps, their colour bar, convergence plots.

Every function returns :class:`markupsafe.Markup` holding one ``<svg>`` element built from
numbers and escaped text only, so the pictures can be dropped into an autoescaped template.
No ids are used, so any number of pictures can share one page.

The heatmap colour scale is logarithmic in the error ratio ``e = |actual - expected| /
tolerance``: elements within tolerance (``e <= 1``) run from near-white to blue (``1e-3`` to
``1``), elements beyond it (``e > 1``) from orange to dark vermillion up to the largest error
shown (at least ``1e3``; :func:`scale_decades`) and get a black outline; NaN is reddish purple. Blue against orange stays distinguishable under the common colour-vision
deficiencies (Okabe & Ito's palette).

Long because heatmaps, colour bars and convergence plots each draw their own axes and labels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from markupsafe import Markup, escape

__all__ = [
    "Heatmap",
    "HeatmapSet",
    "to_nchw",
    "error_heatmaps",
    "colorbar_svg",
    "scale_decades",
    "fit_slope",
    "fit_range",
    "convergence_svg",
]

#: Decades of the error ratio spanned by each half of the colour scale.
_DECADES = 3.0
#: The convergence plot spans at least this many decades of error.
_MIN_DECADES_Y = 4
_LOW = (np.array([0xF4, 0xF7, 0xFB]), np.array([0x4A, 0x8B, 0xC2]))  # e = 1e-3 .. 1
_HIGH = (np.array([0xF5, 0xB0, 0x4C]), np.array([0x9E, 0x2A, 0x00]))  # e = 1 .. 1e3
_NAN_COLOUR = "#cc79a7"
_FONT = "font-family=\"system-ui,-apple-system,'Segoe UI',sans-serif\""


@dataclass
class Heatmap:
    """One channel's picture: ``label`` such as ``"n=0 c=1"`` and the ``svg`` markup."""

    label: str
    svg: Markup
    max_ratio: float  # largest finite-or-infinite ratio in the channel (NaN ignored)
    has_nan: bool = False


@dataclass
class HeatmapSet:
    """All channels' heatmaps of one error array, with notes on what was left out."""

    maps: list[Heatmap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    shape: tuple[int, ...] = ()
    high_decades: float = _DECADES

    @property
    def max_ratio(self) -> float | None:
        """The largest error ratio drawn (NaN ignored); ``None`` without maps."""
        finite = [m.max_ratio for m in self.maps if not math.isnan(m.max_ratio)]
        return max(finite) if finite else (math.nan if self.maps else None)

    @property
    def has_nan(self) -> bool:
        """Whether any drawn channel holds a NaN error."""
        return any(m.has_nan for m in self.maps)


def to_nchw(nested: Any) -> np.ndarray | None:
    """A nested list (or array) of up to four dimensions as a float ``(N, C, H, W)`` array.

    Fewer dimensions are padded on the left: ``(W,)`` becomes ``(1, 1, 1, W)``, ``(H, W)``
    becomes ``(1, 1, H, W)``, ``(C, H, W)`` becomes ``(1, C, H, W)``. The strings ``"nan"``,
    ``"inf"`` and ``"-inf"`` (how :func:`gradcheck.records.to_jsonable` writes non-finite
    floats) become floats. Returns ``None`` for ragged, non-numeric or >4-D input.
    """
    if nested is None:
        return None
    try:
        a = np.array(nested, dtype=float)
    except (TypeError, ValueError):
        return None
    if a.ndim > 4:
        return None
    return a.reshape((1,) * (4 - a.ndim) + a.shape)


def scale_decades(max_ratio: float | None) -> int:
    """Decades above 1 the colour scale spans so that it reaches ``max_ratio`` (at least 3).

    An infinite or NaN largest ratio (a non-finite value) keeps the scale at the largest finite
    decade the error arrays can hold (300).
    """
    if max_ratio is None or not math.isfinite(max_ratio) or max_ratio <= 1:
        return int(_DECADES) if max_ratio is None or not math.isinf(max_ratio) else 300
    return int(min(300, max(_DECADES, math.ceil(math.log10(max_ratio) - 1e-12))))


def _colours(ratio: np.ndarray, high_decades: float = _DECADES) -> np.ndarray:
    """Hex colours (array of str) for error ratios of any shape; the high half of the scale runs
    from 1 to ``10**high_decades``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.log10(np.where(ratio > 0, ratio, 1e-300))
    level = np.clip(np.nan_to_num(level, nan=0.0, posinf=high_decades, neginf=-_DECADES),
                    -_DECADES, high_decades)
    low = (level + _DECADES) / _DECADES  # 0..1 over e in [1e-3, 1]
    high = level / high_decades  # 0..1 over e in [1, 10**high_decades]
    rgb = np.where(
        (ratio > 1)[..., None],
        _HIGH[0] + (_HIGH[1] - _HIGH[0]) * high[..., None],
        _LOW[0] + (_LOW[1] - _LOW[0]) * np.clip(low, 0, 1)[..., None],
    )
    rgb = np.clip(np.rint(rgb), 0, 255).astype(int)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    hexes = np.char.add("#", np.char.zfill(np.char.mod("%x", packed), 6))
    return np.where(np.isnan(ratio), _NAN_COLOUR, hexes)


def _block_max(grid: np.ndarray, factor: int) -> np.ndarray:
    """Max over ``factor`` × ``factor`` blocks of a 2-D grid (NaN counts as largest)."""
    h, w = grid.shape
    hp, wp = -(-h // factor) * factor, -(-w // factor) * factor
    padded = np.full((hp, wp), -np.inf)
    padded[:h, :w] = np.where(np.isnan(grid), np.inf, grid)
    return padded.reshape(hp // factor, factor, wp // factor, factor).max(axis=(1, 3))


def _grid_svg(grid: np.ndarray, *, cell: int, mark: tuple[int, int] | None,
              index_prefix: str, factor: int, high_decades: float = _DECADES) -> Markup:
    """One channel's grid of coloured cells; cells with ratio > 1 are outlined."""
    h, w = grid.shape
    colours = _colours(grid, high_decades)
    rows, cols = np.indices((h, w))
    bad = (grid > 1) | np.isnan(grid)
    parts = [f'<svg class="heatmap" role="img" '
             f'width="{w * cell + 2}" height="{h * cell + 2}" '
             f'viewBox="-1 -1 {w * cell + 2} {h * cell + 2}">']
    unit = "block" if factor > 1 else "element"
    for r, c, colour, value, is_bad in zip(rows.ravel(), cols.ravel(), colours.ravel(),
                                            grid.ravel(), bad.ravel()):
        where = f"{index_prefix}, {r * factor}, {c * factor}"
        tip = escape(f"{unit} [{where}]: error/tolerance = {_num(value)}")
        stroke = (' stroke="#000" stroke-width="1.2"' if is_bad
                  else ' stroke="#fff" stroke-width="0.5"')
        inset = 0.6 if is_bad else 0
        parts.append(
            f'<rect x="{c * cell + inset:g}" y="{r * cell + inset:g}" '
            f'width="{cell - 2 * inset:g}" height="{cell - 2 * inset:g}" fill="{colour}"'
            f'{stroke}><title>{tip}</title></rect>')
    if mark is not None:
        r, c = mark
        radius = max(cell * 0.22, 1.5)
        parts.append(f'<circle class="worst" cx="{c * cell + cell / 2:g}" '
                     f'cy="{r * cell + cell / 2:g}" r="{radius:g}" fill="#fff" '
                     f'stroke="#000" stroke-width="1"><title>worst element</title></circle>')
    parts.append("</svg>")
    return Markup("".join(parts))


def error_heatmaps(error: Any, *, worst_index: list[int] | None = None,
                   max_channels: int = 16, max_side: int = 48,
                   target_px: int = 168, high_decades: float | None = None) -> HeatmapSet:
    """One small SVG grid per ``(n, c)`` channel of a per-element error array.

    Parameters
    ----------
    error : nested list or array, up to 4-D (NCHW; fewer dimensions are padded on the left)
        ``|actual - expected| / tolerance`` per element, as in ``Record.arrays["error"]``.
    worst_index : list of int, optional
        Index of the worst element in ``error``'s own dimensions; it is marked with a dot.
    max_channels : int
        At most this many channels are drawn: those with the largest error, in (n, c) order.
    max_side : int
        Channels larger than this (in H or W) are shown as the max over square blocks.
    target_px : int
        Approximate width/height of one channel's picture; cells are 4 to 18 px.
    high_decades : float, optional
        Decades above 1 the colour scale spans (see :func:`scale_decades`); by default the
        scale reaches this array's own largest error. Pictures meant to be read together
        (the smallest case and the case as drawn) take the same value.

    Returns
    -------
    HeatmapSet
        The maps, notes on anything omitted, and the (N, C, H, W) shape drawn from. Empty
        (with a note) when ``error`` is not a numeric array of at most four dimensions.
    """
    a = to_nchw(error)
    out = HeatmapSet()
    if a is None:
        out.notes.append("The error array is not a numeric array of at most 4 dimensions.")
        return out
    if a.size == 0:
        out.notes.append("The error array is empty.")
        return out
    n, c, h, w = a.shape
    out.shape = (n, c, h, w)
    mark_at = None
    if worst_index is not None and len(worst_index) <= 4:
        padded = [0] * (4 - len(worst_index)) + [int(i) for i in worst_index]
        if all(0 <= i < s for i, s in zip(padded, a.shape)):
            mark_at = tuple(padded)
    flat = a.reshape(n * c, -1)
    channel_nan = np.isnan(flat).any(axis=1)
    channel_max = np.where(np.isnan(flat), -np.inf, flat).max(axis=1)
    channel_max = np.where(channel_nan & (channel_max == -np.inf), np.nan, channel_max)
    rank = np.where(channel_nan, np.inf, np.nan_to_num(channel_max, nan=np.inf))
    order = np.arange(n * c)
    if n * c > max_channels:
        keep = np.sort(np.argsort(-rank, kind="stable")[:max_channels])
        out.notes.append(f"Showing {max_channels} of {n * c} channels: those with the "
                         f"largest error.")
        order = keep
    factor = max(1, math.ceil(max(h, w) / max_side))
    if factor > 1:
        out.notes.append(f"Each {h}×{w} channel is shown as the maximum over "
                         f"{factor}×{factor} blocks.")
    gh, gw = -(-h // factor), -(-w // factor)
    if high_decades is None:
        finite = a[np.isfinite(a)]
        high_decades = scale_decades(float(finite.max()) if finite.size else None)
        if np.isinf(a).any():
            high_decades = scale_decades(math.inf)
    out.high_decades = high_decades
    if len(order) > 3:  # many channels: smaller pictures so they fit side by side
        target_px = target_px * 3 // 4 if len(order) <= 8 else target_px * 9 // 16
    cell = int(min(26, max(4, target_px // max(gh, gw))))
    for k in order:
        i, j = divmod(int(k), c)
        grid = a[i, j] if factor == 1 else _block_max(a[i, j], factor)
        mark = None
        if mark_at is not None and mark_at[:2] == (i, j):
            mark = (mark_at[2] // factor, mark_at[3] // factor)
        svg = _grid_svg(grid, cell=cell, mark=mark, index_prefix=f"{i}, {j}", factor=factor,
                        high_decades=high_decades)
        out.maps.append(Heatmap(label=f"n={i} c={j}", svg=svg,
                                max_ratio=float(channel_max[k]),
                                has_nan=bool(channel_nan[k])))
    return out


def colorbar_svg(width: int = 240, high_decades: float = _DECADES) -> Markup:
    """The heatmap colour scale, from 1e-3 of the tolerance to ``10**high_decades`` of it, with
    the threshold at 1 (the middle)."""
    high = max(float(high_decades), 1.0)
    steps = 24
    half = steps // 2
    levels = np.concatenate([np.linspace(-_DECADES, 0, half, endpoint=False), np.linspace(0, high, half)])
    ratios = 10.0 ** levels
    ratios[half:] = np.maximum(ratios[half:], 1.0 + 1e-9)
    colours = _colours(ratios, high)
    step_w = width / steps
    parts = [f'<svg class="colorbar" role="img" '
             f'width="{width + 24}" height="34" viewBox="-12 0 {width + 24} 34" {_FONT} '
             f'font-size="10"><title>error / tolerance, 10⁻³ to {escape(_decade(int(round(high))))}</title>']
    for k, colour in enumerate(colours):
        parts.append(f'<rect x="{k * step_w:.2f}" y="0" width="{step_w + 0.3:.2f}" '
                     f'height="12" fill="{colour}"/>')
    ticks = [(-3, 0.0), (-2, 1 / 6), (-1, 2 / 6), (0, 0.5)]
    n_high = 3 if high <= 3 else 4
    for k in range(1, n_high + 1):
        decade = int(round(high * k / n_high))
        if decade > ticks[-1][0]:
            ticks.append((decade, 0.5 + 0.5 * decade / high))
    for decade, frac in ticks:
        x = frac * width
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="12" y2="16" stroke="#555"/>'
                     f'<text x="{x:.1f}" y="27" text-anchor="middle" fill="#444">{_decade(decade)}</text>')
    parts.append(f'<line x1="{width / 2:.1f}" x2="{width / 2:.1f}" y1="-1" y2="14" '
                 f'stroke="#000" stroke-width="1.5"/></svg>')
    return Markup("".join(parts))


def fit_slope(points: list[dict[str, Any]] | None) -> float | None:
    """Least-squares slope of log10(err) against log10(h) on the truncation branch.

    A finite-difference error falls with ``h`` (truncation, slope 1 or 2) until round-off
    makes it rise again as ``h`` shrinks further. The slope is therefore fitted over the
    points from the smallest error up to the largest ``h`` (see :func:`fit_range`), so a
    V-shaped study reports the order of the scheme rather than a blend of both branches.

    Parameters
    ----------
    points : list of {"h": float, "err": float}
        A convergence study (``Record.convergence``); entries whose ``h`` or ``err`` is not
        a positive finite number are skipped.

    Returns
    -------
    float or None
        The slope, or ``None`` with fewer than two usable distinct steps.
    """
    h, err = _usable(points)
    lo = fit_range(h, err)
    if lo is None:
        return None
    x, y = np.log10(h[lo:]), np.log10(err[lo:])
    return float(np.polyfit(x, y, 1)[0])


def fit_range(h: np.ndarray, err: np.ndarray) -> int | None:
    """Index of the first point of the fit, for ``h`` sorted ascending.

    The fit runs from the point of smallest error to the largest ``h``; when that leaves
    fewer than two distinct steps (the error only grows as ``h`` shrinks), all points are
    used. ``None`` when there are fewer than two distinct steps at all.
    """
    if len(h) < 2 or np.ptp(h) == 0:
        return None
    lo = int(np.argmin(err))
    if len(h) - lo < 2 or np.ptp(h[lo:]) == 0:
        lo = 0
    return lo


def _usable(points: list[dict[str, Any]] | None) -> tuple[np.ndarray, np.ndarray]:
    pairs = []
    for p in points or []:
        try:
            hv, ev = float(p["h"]), float(p["err"])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(hv) and math.isfinite(ev) and hv > 0 and ev > 0:
            pairs.append((hv, ev))
    pairs.sort()
    a = np.array(pairs, dtype=float).reshape(-1, 2)
    return a[:, 0], a[:, 1]


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _decade(k: int) -> str:
    return "1" if k == 0 else "10" if k == 1 else "10" + str(k).translate(_SUPERSCRIPT)


def _num(v: float) -> str:
    return "nan" if math.isnan(v) else f"{v:.3g}"


def convergence_svg(points: list[dict[str, Any]] | None, *, width: int = 380,
                    height: int = 250) -> Markup | None:
    """A log-log plot of finite-difference error against step ``h``.

    Reference lines of slope 1 and 2 pass through the point with the largest ``h``; the
    fitted slope (see :func:`fit_slope`) is drawn as a broad orange line under the data
    and printed in the corner. Returns ``None`` when
    fewer than two points have positive finite ``h`` and ``err``.
    """
    h, err = _usable(points)
    if len(h) < 2:
        return None
    x, y = np.log10(h), np.log10(err)
    x0, x1 = math.floor(x.min()), math.ceil(x.max())
    y0, y1 = math.floor(y.min() - 0.25), math.ceil(y.max() + 0.25)
    x1 = max(x1, x0 + 1)
    if y1 - y0 < _MIN_DECADES_Y:  # room for the reference slopes below the data
        y0 = y1 - _MIN_DECADES_Y
    left, right, top, bottom = 52, 14, 14, 40
    pw, ph = width - left - right, height - top - bottom

    def px(xv: float) -> float:
        return left + (xv - x0) / (x1 - x0) * pw

    def py(yv: float) -> float:
        return top + (y1 - yv) / (y1 - y0) * ph

    parts = [f'<svg class="convergence" role="img" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" {_FONT} '
             f'font-size="11"><rect x="{left}" y="{top}" width="{pw}" height="{ph}" '
             f'fill="#fff" stroke="#999"/>']
    xstep = max(1, math.ceil((x1 - x0) / 8))
    ystep = max(1, math.ceil((y1 - y0) / 7))
    for k in range(x0, x1 + 1, xstep):
        parts.append(f'<line x1="{px(k):.1f}" x2="{px(k):.1f}" y1="{top}" y2="{top + ph}" '
                     f'stroke="#eee"/><text x="{px(k):.1f}" y="{top + ph + 14}" '
                     f'text-anchor="middle" fill="#444">{_decade(k)}</text>')
    for k in range(y0, y1 + 1, ystep):
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(k):.1f}" y2="{py(k):.1f}" '
                     f'stroke="#eee"/><text x="{left - 5}" y="{py(k) + 4:.1f}" '
                     f'text-anchor="end" fill="#444">{_decade(k)}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle" '
                 f'fill="#222">step h</text><text x="12" y="{top + ph / 2}" '
                 f'text-anchor="middle" fill="#222" transform="rotate(-90 12 {top + ph / 2})">'
                 f'error</text>')
    # reference slopes through the largest-h point, clipped to the plot box
    xa, ya = float(x[-1]), float(y[-1])
    for slope, dash in ((1, "6 4"), (2, "2 3")):
        lo = max(x0, xa + (y0 - ya) / slope)
        hi = min(x1, xa + (y1 - ya) / slope)
        if hi <= lo:
            continue
        # label a third of the way from the far end, on the upper-left side of the line
        xl = lo + (hi - lo) / 3
        parts.append(f'<line class="ref-slope" x1="{px(lo):.1f}" '
                     f'y1="{py(ya + slope * (lo - xa)):.1f}" x2="{px(hi):.1f}" '
                     f'y2="{py(ya + slope * (hi - xa)):.1f}" stroke="#777" '
                     f'stroke-dasharray="{dash}"/><text x="{px(xl) - 4:.1f}" '
                     f'y="{py(ya + slope * (xl - xa)) - 4:.1f}" fill="#555" font-size="10" '
                     f'text-anchor="end">slope {slope}</text>')
    slope, first = fit_slope(points), fit_range(h, err)
    label = ""
    if slope is not None and first is not None:  # the fitted line, under the data
        xs = x[first:]
        intercept = float(np.mean(y[first:]) - slope * np.mean(xs))
        xf0, xf1 = float(xs.min()), float(xs.max())
        parts.append(f'<line class="fit" x1="{px(xf0):.1f}" '
                     f'y1="{py(intercept + slope * xf0):.1f}" x2="{px(xf1):.1f}" '
                     f'y2="{py(intercept + slope * xf1):.1f}" stroke="#e69f00" '
                     f'stroke-width="6" stroke-opacity="0.4" stroke-linecap="round"/>')
        span = "" if first == 0 else f" for h ≥ {h[first]:.0e}"
        label = (f'<text class="fitted" x="{left + pw - 6}" y="{top + 16}" text-anchor="end" '
                 f'fill="#000" font-weight="600">fitted slope {slope:.2f}'
                 f'{escape(span)}</text>')
    path = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(x, y))
    parts.append(f'<polyline points="{path}" fill="none" stroke="#0072b2" stroke-width="2"/>')
    for a, b, hv, ev in zip(x, y, h, err):
        parts.append(f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="3" fill="#0072b2">'
                     f'<title>{escape(f"h = {hv:.3g}, error = {ev:.3g}")}</title></circle>')
    parts.append(label)
    parts.append("</svg>")
    return Markup("".join(parts))
