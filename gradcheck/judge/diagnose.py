"""Recognising the shape of an error: what a wrong value looks like, said in words.

:func:`gradcheck.judge.compare.compare` calls :func:`diagnose` (values) or :func:`diagnose_shape`
(shapes) when a comparison fails, and adds what they recognise to the record's message, one
``Pattern: ...`` line each. Four kinds of recogniser:

- **whole patterns**: zero everywhere, or the upstream gradient passed on unchanged; said alone;
- **explanations**: the candidate's value equals, element for element within the same
  tolerance, the true value of a slightly different computation — the kernel rotated by 180° or
  transposed, stride 1 or dilation 1 instead of the one given, one sample of the batch only.
  When one holds it is said alone: it accounts for every element;
- **patterns** of the error itself: wrong only where windows overlap, a constant ratio to the
  truth (and what that ratio is: 1/N, the window size, −1 ...), errors on a border band only, on
  every s-th row or column only, in one channel or one sample only;
- **shapes**: an empty axis (``a[p:-p]`` with ``p = 0``), the transpose, the height used for the
  width, one entry per sample where one per filter is due.

Each recogniser returns a sentence or ``None``; none claims more than it checked.

Long because it is a catalogue of independent recognisers, each a short function tried in order.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradcheck.cases import Case

__all__ = ["diagnose", "diagnose_shape", "EXPLANATIONS", "PATTERNS", "SHAPES", "MAX_EXPLAINED"]

#: Cases with more input elements than this get the patterns only (the explanations run the
#: truth once more per explanation).
MAX_EXPLAINED = 20_000

_GRADS = ("dx", "dw", "db", "dy")


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _within(a: np.ndarray, b: np.ndarray, bound: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= bound))


def _axis_name(axis: int) -> str:
    return "row" if axis == 2 else "column"


# -- explanations: the value of a slightly different computation ------------------------------
#: The last case's variants: one torch run per variant serves every quantity and oracle of it.
_LAST: dict[str, Any] = {"case": None, "runs": {}}


def _truth(case: Case, inputs: dict[str, np.ndarray], params: dict[str, Any], delta: np.ndarray, variant: str):
    """torch's (forward, gradients) of ``case.op`` on a variant of ``case``, remembered for the case."""
    from gradcheck.ops import SPECS
    from gradcheck.oracles.torch_oracle import torch_run

    if _LAST["case"] is not case:
        _LAST["case"], _LAST["runs"] = case, {}
    runs = _LAST["runs"]
    if variant not in runs:
        runs[variant] = torch_run(SPECS[case.op], inputs, params, delta)
    return runs[variant]


def _spec(case: Case):
    from gradcheck.ops import SPECS

    return SPECS[case.op]


def _pick(result, quantity: str) -> np.ndarray | None:
    out, grads = result
    return out if quantity == "forward" else grads.get(quantity)


def _is_conv(case: Case) -> bool:
    """A case of a 2-D convolution: a (D, C, k1, k2) kernel slid with stride and dilation."""
    return "w" in case.inputs and case.inputs["w"].ndim == 4 and {"stride", "dilation"} <= set(case.params)


def _is_pool(case: Case) -> bool:
    """A case of a 2-D pooling op: a window of ``kernel_size`` slid with stride."""
    return "kernel_size" in case.params and len(case.params["kernel_size"]) == 2


def _kernel_variant(case: Case, quantity: str, change: Callable[[np.ndarray], np.ndarray],
                    variant: str) -> np.ndarray | None:
    inputs = dict(case.inputs, w=change(case.inputs["w"]))
    value = _pick(_truth(case, inputs, case.params, case.delta, variant), quantity)
    if value is not None and quantity == "dw":
        value = change(value)  # the gradient with respect to the candidate's own, unchanged w
    return value


def explain_flipped(actual, expected, bound, case: Case, quantity: str) -> str | None:
    """The value the kernel rotated by 180° gives (a convolution where a cross-correlation is due)."""
    if not _is_conv(case) or case.inputs["w"].shape[2:] == (1, 1):
        return None
    cf = _kernel_variant(case, quantity, lambda w: np.ascontiguousarray(w[..., ::-1, ::-1]), "flipped")
    if cf is None or not _within(actual, cf, bound):
        return None
    why = {
        "forward": "a true convolution, where the layer is a cross-correlation: "
                   "out[i, j] = sum over m, n of w[m, n] * x[i*s + m, j*s + n]",
        "dx": "dx is the upstream gradient correlated with the flipped kernel (a full convolution with w); "
              "yours uses the kernel unflipped, or flips it twice",
        "dw": "dw[m, n] pairs the upstream gradient with x[i*s + m, j*s + n]; yours pairs it with the "
              "mirrored position",
    }.get(quantity, "the kernel is flipped where it should not be")
    return (f"your {quantity} is exactly what the kernel rotated by 180° (w[:, :, ::-1, ::-1]) gives, at every "
            f"element: {why}.")


def explain_transposed(actual, expected, bound, case: Case, quantity: str) -> str | None:
    """The value the kernel with its two spatial axes swapped gives (square kernels only)."""
    if not _is_conv(case):
        return None
    k1, k2 = case.inputs["w"].shape[2:]
    if k1 != k2 or k1 == 1:
        return None
    cf = _kernel_variant(case, quantity, lambda w: np.ascontiguousarray(w.transpose(0, 1, 3, 2)), "transposed")
    if cf is None or not _within(actual, cf, bound):
        return None
    return (f"your {quantity} is exactly what the kernel with rows and columns swapped "
            f"(w.transpose(0, 1, 3, 2)) gives, at every element: the kernel's two indices m, n are swapped "
            f"somewhere.")


def _embedded(case: Case, params: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray] | None:
    """``params`` with the upstream gradient laid into the top-left corner of their output grid."""
    from gradcheck.ops import SPECS

    shape = tuple(SPECS[case.op].out_shape(case.shapes, params))
    d = case.delta
    if len(shape) != 4 or any(a < b for a, b in zip(shape, d.shape)):
        return None
    delta = np.zeros(shape)
    delta[:, :, : d.shape[2], : d.shape[3]] = d
    return params, delta


def _ignored(case: Case, quantity: str, name: str) -> np.ndarray | None:
    if quantity not in _GRADS or name not in case.params:
        return None
    value = tuple(case.params[name])
    if all(v == 1 for v in value):
        return None
    if name == "dilation" and case.inputs["w"].shape[2:] == (1, 1):
        return None
    got = _embedded(case, {**case.params, name: (1, 1)})
    if got is None:
        return None
    params, delta = got
    return _pick(_truth(case, case.inputs, params, delta, f"{name}=1"), quantity)


def explain_stride_ignored(actual, expected, bound, case: Case, quantity: str) -> str | None:
    """The gradient stride 1 gives, the same upstream gradient in its top-left corner."""
    if not (_is_conv(case) or _is_pool(case)):
        return None
    cf = _ignored(case, quantity, "stride")
    if cf is None or not _within(actual, cf, bound):
        return None
    s = list(case.params["stride"])
    return (f"your {quantity} is exactly what stride 1 gives with the same upstream gradient, at every element: "
            f"the windows are read at (i, j) instead of (i*stride, j*stride) — the stride {s} is ignored in "
            f"{quantity}.")


def explain_dilation_ignored(actual, expected, bound, case: Case, quantity: str) -> str | None:
    """The gradient dilation 1 gives, the same upstream gradient in its top-left corner."""
    if not _is_conv(case):
        return None
    cf = _ignored(case, quantity, "dilation")
    if cf is None or not _within(actual, cf, bound):
        return None
    d = list(case.params["dilation"])
    return (f"your {quantity} is exactly what dilation 1 gives with the same upstream gradient, at every element: "
            f"the kernel taps are read at offset m instead of m*dilation — the dilation {d} is ignored in "
            f"{quantity}.")


def explain_one_sample(actual, expected, bound, case: Case, quantity: str) -> str | None:
    """The value that only the first, or only the last, sample of the batch gives."""
    if quantity not in _GRADS or case.delta.ndim < 2 or not _spec(case).batched:
        return None
    n = case.delta.shape[0]
    if n < 2:
        return None
    for k in (0, n - 1):
        delta = np.zeros_like(case.delta)
        delta[k] = case.delta[k]
        cf = _pick(_truth(case, case.inputs, case.params, delta, f"sample {k}"), quantity)
        if cf is None or not _within(actual, cf, bound):
            continue
        which = "first" if k == 0 else "last"
        if quantity == "dx":
            rest = "the other sample" if n == 2 else f"the other {n - 1} samples"
            return (f"your dx is right for the {which} sample (n = {k}) and zero for {rest} of the batch "
                    f"(N = {n}): the loop over the batch is missing or stops early.")
        tail = (" — a loop over n that assigns (=) where it should add (+=) keeps only the last"
                if k == n - 1 else "")
        return (f"your {quantity} counts only the {which} sample of the batch (n = {k} of N = {n}): {quantity} "
                f"is a sum over every sample{tail}.")
    return None


#: Explanations, tried in this order; the first that holds is said alone.
EXPLANATIONS: tuple[Callable[..., str | None], ...] = (
    explain_stride_ignored,
    explain_dilation_ignored,
    explain_flipped,
    explain_transposed,
    explain_one_sample,
)


# -- patterns of the error ---------------------------------------------------------------------
def pattern_zero(actual, expected, bad, bound, case: Case, quantity: str) -> str | None:
    """Zero everywhere where the truth is not."""
    if actual.size == 0 or np.any(actual) or not np.any(np.abs(expected) > bound):
        return None
    return (f"your {quantity} is zero everywhere: nothing reaches it (a stub that returns zeros, or a result "
            f"computed but never written back).")


def pattern_delta_unchanged(actual, expected, bad, bound, case: Case, quantity: str) -> str | None:
    """The upstream gradient passed on unchanged (dx of an element-wise op)."""
    if quantity != "dx" or actual.shape != case.delta.shape or _within(expected, case.delta, bound):
        return None
    if not _within(actual, np.asarray(case.delta, np.float64), bound):
        return None
    hint = " (for ReLU: dx = delta where x > 0 and 0 elsewhere)" if _spec(case).kinks == "zero" else ""
    return f"your dx is the upstream gradient passed on unchanged: the local derivative is never applied{hint}."


def _factor_names(case: Case) -> list[tuple[float, str]]:
    """Meaningful constants of a case's geometry, as ``(value, words)``."""
    s = case.shapes
    names: list[tuple[float, str]] = [(-1.0, "−1: the sign is flipped"), (2.0, "2"), (0.5, "1/2")]
    first = next(iter(s.values()), ())
    if first:
        n = first[0]
        if n > 1:
            names += [(1.0 / n, f"1/N with N = {n}, the batch size: divided by the batch size"),
                      (float(n), f"N = {n}, the batch size")]
    if "x" in s and len(s["x"]) == 4:
        c = s["x"][1]
        if c > 1:
            names += [(float(c), f"C = {c}, the number of input channels")]
    if "w" in s and len(s["w"]) == 4:
        d, _, k1, k2 = s["w"]
        if k1 * k2 > 1:
            names += [(float(k1 * k2), f"k1*k2 = {k1 * k2}, the kernel size"),
                      (1.0 / (k1 * k2), f"1/(k1*k2), one over the kernel size {k1}x{k2}")]
        if d > 1:
            names += [(float(d), f"D = {d}, the number of filters")]
    if "kernel_size" in case.params:
        kh, kw = case.params["kernel_size"]
        if kh * kw > 1:
            names += [(1.0 / (kh * kw), f"1/{kh * kw}, one over the window size {kh}x{kw}"),
                      (float(kh * kw), f"{kh * kw}, the window size {kh}x{kw}")]
    if case.delta.ndim == 4:
        n, _, ho, wo = case.delta.shape
        if ho * wo > 1:
            names += [(1.0 / (ho * wo), f"1/(H'*W') with H'*W' = {ho * wo}, the output's size"),
                      (float(ho * wo), f"H'*W' = {ho * wo}, the output's size")]
    return names


def pattern_constant_ratio(actual, expected, bad, bound, case: Case, quantity: str) -> str | None:
    """A constant ratio to the truth over every element (at least two of them not zero)."""
    scale = float(np.abs(expected).max(initial=0.0))
    if scale == 0.0:
        return None
    big = np.abs(expected) > 1e-3 * scale
    if int(big.sum()) < 2:
        return None
    ratio = float(np.median(actual[big] / expected[big]))
    if not np.isfinite(ratio) or abs(ratio - 1.0) < 1e-9 or ratio == 0.0:
        return None
    if not _within(actual, ratio * expected, bound):
        return None
    meaning = [words for value, words in _factor_names(case)
               if abs(ratio - value) <= 1e-6 * abs(value) and words != _fmt(value)]
    said = f" ({meaning[0]})" if meaning else ""
    return (f"your {quantity} is {_fmt(ratio)} times the truth at every element{said}: a constant factor "
            f"multiplies it.")


def _spatial_bad(bad: np.ndarray) -> np.ndarray | None:
    return bad.any(axis=(0, 1)) if bad.ndim == 4 else None


def pattern_border_band(actual, expected, bad, bound, case: Case, quantity: str) -> str | None:
    """Errors only on a band along the border, none inside it (padding, cropping)."""
    grid = _spatial_bad(bad)
    if grid is None:
        return None
    h, w = grid.shape
    rows, cols = np.indices((h, w))
    depth = np.minimum(np.minimum(rows, h - 1 - rows), np.minimum(cols, w - 1 - cols))
    if not grid.any():
        return None
    band = int(depth[grid].max()) + 1
    inside = depth >= band
    if h < 2 * band + 2 or w < 2 * band + 2 or int(grid.sum()) < 3 or grid[inside].any():
        return None  # the inside must be at least 2x2 and clean
    mid_r, mid_c = slice(band, h - band), slice(band, w - band)  # the sides without their corners
    sides = (grid[:band, mid_c].any(), grid[h - band:, mid_c].any(), grid[mid_r, :band].any(),
             grid[mid_r, w - band:].any())
    if sum(sides) < 3:
        return None  # one or two edges only: no band along the border
    pad = case.params.get("padding")
    pad_text = f" (the padding is {list(pad)})" if pad is not None else ""
    if np.all(actual[bad] == 0):
        return (f"your {quantity} is zero on a band {band} wide along the border and right inside it: the edge "
                f"rows and columns are lost (cropped, or shifted by the padding){pad_text}.")
    return (f"your {quantity} is wrong only on a band {band} wide along the border and right inside it: look at "
            f"how the edges are treated{pad_text}.")


def pattern_every_sth(actual, expected, bad, bound, case: Case, quantity: str) -> str | None:
    """Errors on every s-th row (or column) only, s >= 2."""
    if bad.ndim != 4:
        return None
    for axis in (2, 3):
        size = bad.shape[axis]
        lines = bad.any(axis=tuple(a for a in range(4) if a != axis))
        count = int(lines.sum())
        if size < 4 or count < 2 or count == size:
            continue
        idx = np.flatnonzero(lines)
        steps = set(np.diff(idx).tolist())
        if len(steps) != 1:
            continue
        s = steps.pop()
        if s < 2 or idx[0] >= s or size - 1 - idx[-1] >= s:
            continue
        stride, dilation = case.params.get("stride"), case.params.get("dilation")
        same = [name for name, v in (("stride", stride), ("dilation", dilation)) if v is not None and v[axis - 2] == s]
        st = f" — the {' and the '.join(same)} along that axis {'is' if len(same) == 1 else 'are'} {s}" if same else ""
        shown = ", ".join(str(i) for i in idx[:6]) + (", ..." if len(idx) > 6 else "")
        nth = f"{s}{'nd' if s % 10 == 2 and s != 12 else 'rd' if s % 10 == 3 and s != 13 else 'th'}"
        return (f"your {quantity} is wrong only on every {nth} {_axis_name(axis)} ({_axis_name(axis)}s {shown}) "
                f"and right on those between{st}.")
    return None


def pattern_one_slice(actual, expected, bad, bound, case: Case, quantity: str) -> str | None:
    """Errors in one channel only, or one sample only, of several."""
    if bad.ndim != 4:
        return None
    if int(bad.sum()) < 3:
        return None  # one or two wrong elements are in one channel by chance
    for axis, what in ((1, "channel"), (0, "sample")):
        size = bad.shape[axis]
        hit = np.flatnonzero(bad.any(axis=tuple(a for a in range(4) if a != axis)))
        if size >= 2 and len(hit) == 1:
            return (f"your {quantity} is wrong only in {what} {int(hit[0])} of {size}, right in the others: "
                    f"look at how the {what} index is used.")
    return None


def _window_count(size: int, k: int, s: int, p: int, d: int = 1) -> np.ndarray:
    """How many windows of one axis touch each of its ``size`` positions."""
    out = (size + 2 * p - d * (k - 1) - 1) // s + 1
    count = np.zeros(size, dtype=int)
    for i in range(max(out, 0)):
        taps = i * s - p + d * np.arange(k)
        count[np.unique(taps[(taps >= 0) & (taps < size)])] += 1
    return count


def _shared_units(case: Case) -> np.ndarray | None:
    """Per (H, W) unit of x, how many windows read it (pools and convs), or ``None``."""
    x = case.inputs.get("x")
    if x is None or x.ndim != 4:
        return None
    h, w = x.shape[2:]
    if _is_pool(case):
        (kh, kw), (sh, sw), (ph, pw) = case.params["kernel_size"], case.params["stride"], case.params["padding"]
        dh = dw = 1
    elif _is_conv(case):
        kh, kw = case.inputs["w"].shape[2:]
        (sh, sw), (ph, pw), (dh, dw) = case.params["stride"], case.params["padding"], case.params["dilation"]
    else:
        return None
    return np.outer(_window_count(h, kh, sh, ph, dh), _window_count(w, kw, sw, pw, dw))


def pattern_overlap(actual, expected, bad, bound, case: Case, quantity: str) -> str | None:
    """Errors only at input units that two or more windows share (``=`` where ``+=`` is due)."""
    if quantity != "dx" or bad.ndim != 4:
        return None
    count = _shared_units(case)
    grid = _spatial_bad(bad)
    if count is None or grid is None or count.shape != grid.shape or not grid.any():
        return None
    if count[grid].min() < 2 or not (count == 1).any():
        return None
    return ("your dx is wrong only at units that two or more windows share (the windows overlap), right at the "
            "others: the contributions of overlapping windows must add up (+=); assigning them (=) keeps "
            "only one window's.")


#: Patterns of the error, all said that hold (at most :data:`_MAX_PATTERNS`).
PATTERNS: tuple[Callable[..., str | None], ...] = (
    pattern_overlap,
    pattern_constant_ratio,
    pattern_border_band,
    pattern_every_sth,
    pattern_one_slice,
)
_MAX_PATTERNS = 2


def diagnose(actual: np.ndarray, expected: np.ndarray, *, case: Case, quantity: str, bound: np.ndarray,
             oracle: str = "torch") -> list[str]:
    """Sentences describing how ``actual`` differs from ``expected`` (empty when nothing is recognised).

    Parameters
    ----------
    actual, expected : ndarray, float64, same shape
        The candidate's value of ``quantity`` and the oracle's.
    case : Case
        The case both were computed on.
    quantity : str
        ``"forward"``, ``"dx"``, ``"dw"``, ``"db"`` or ``"dy"``.
    bound : ndarray, shape of ``expected``
        The allowed absolute error per element; an explanation must hold within it everywhere.
    oracle : str
        The oracle of the comparison; the explanations, which use torch's truth, are skipped for
        the subgradient rules (at a tie torch's choice is one valid answer among many).
    """
    a = np.asarray(actual, np.float64)
    e = np.asarray(expected, np.float64)
    if a.shape != e.shape or not np.all(np.isfinite(a)) or not np.all(np.isfinite(e)):
        return []
    bound = np.broadcast_to(np.asarray(bound, np.float64), e.shape)
    bad = ~(np.abs(a - e) <= bound)
    for whole in (pattern_zero, pattern_delta_unchanged):  # each accounts for every element: said alone
        said = whole(a, e, bad, bound, case, quantity)
        if said:
            return [said]
    if oracle != "subgradient" and quantity in ("forward",) + _GRADS and case.size() <= MAX_EXPLAINED:
        for explain in EXPLANATIONS:
            try:
                said = explain(a, e, bound, case, quantity)
            except Exception:  # noqa: BLE001 - a recogniser that cannot run recognises nothing
                said = None
            if said:
                return [said]
    out = []
    for pattern in PATTERNS:
        if oracle == "subgradient" and pattern is pattern_constant_ratio:
            continue  # the nearest valid gradient is no truth to be a multiple of
        said = pattern(a, e, bad, bound, case, quantity)
        if said:
            out.append(said)
        if len(out) == _MAX_PATTERNS:
            break
    return out


# -- shapes ------------------------------------------------------------------------------------
def shape_empty_axis(got: tuple[int, ...], want: tuple[int, ...], case: Case, quantity: str) -> str | None:
    if len(got) != len(want) or not any(g == 0 < w for g, w in zip(got, want)):
        return None
    pad = case.params.get("padding")
    zero_pad = pad is not None and any(p == 0 for p in pad)
    when = f" — here the padding is {list(pad)}" if zero_pad else ""
    return (f"your {quantity} has an empty axis: a slice like a[p:-p] is empty when p = 0 (-0 is 0){when}; "
            f"slice a[p:p + H] instead.")


def shape_transposed(got, want, case: Case, quantity: str) -> str | None:
    if len(got) != 2 or tuple(got) != tuple(want)[::-1] or want[0] == want[1]:
        return None
    name = quantity[1:]
    return (f"your {quantity} has the transposed shape: a gradient has the shape of what it is the gradient of "
            f"({name} is {tuple(want)} here).")


def shape_height_for_width(got, want, case: Case, quantity: str) -> str | None:
    if len(got) != 4 or tuple(got[:2]) != tuple(want[:2]) or want[2] == want[3]:
        return None
    h, w = want[2:]
    if tuple(got[2:]) == (h, h):
        return f"your {quantity} is {h} wide where {w} is due: the height (H = {h}) is used for the width."
    if tuple(got[2:]) == (w, w):
        return f"your {quantity} is {w} high where {h} is due: the width (W = {w}) is used for the height."
    return None


def shape_wrong_axes(got, want, case: Case, quantity: str) -> str | None:
    if len(got) != len(want) or len(got) != 1 or case.delta.ndim < 2:
        return None
    n = case.delta.shape[0]
    if n >= 2 and got[0] == n != want[0]:
        return (f"your {quantity} has one entry per sample (N = {n}) where one per channel ({want[0]}) is due: "
                f"it is summed over the wrong axes (for db: over N, H', W', i.e. axis=(0, 2, 3)).")
    return None


def shape_extra_axes(got, want, case: Case, quantity: str) -> str | None:
    if len(got) <= len(want) or int(np.prod(got)) == int(np.prod(want)):
        return None  # an axis of length 1 too many is no missing sum
    it = iter(got)
    if all(any(g == w for g in it) for w in want):
        return (f"your {quantity} keeps {len(got) - len(want)} ax{'i' if len(got) - len(want) == 1 else 'e'}s "
                f"more than is due ({tuple(got)} for {tuple(want)}): a sum over them is missing.")
    return None


#: Shape recognisers, all said that hold.
SHAPES: tuple[Callable[..., str | None], ...] = (
    shape_empty_axis, shape_transposed, shape_height_for_width, shape_wrong_axes, shape_extra_axes)


def diagnose_shape(got: tuple[int, ...], want: tuple[int, ...], *, case: Case, quantity: str) -> list[str]:
    """Sentences describing how the shape ``got`` departs from ``want`` (empty when not recognised)."""
    out = []
    for shape in SHAPES:
        said = shape(tuple(got), tuple(want), case, quantity)
        if said:
            out.append(said)
    return out
