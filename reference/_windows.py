"""Window geometry shared by convolution and pooling (private).

Every sliding-window op of the seed visits, for output position ``(i, j)`` and kernel offset
``(m, n)``, the (padded) input element ``(i*s_h + m*d_h, j*s_w + n*d_w)``: eq. 7 with a stride
``s`` and a dilation ``d`` (the seed's eq. 7 is the case ``s = d = 1``). The helpers here turn
hyper-parameters into ``(h, w)`` pairs, compute output sizes, pad, and return, for one kernel
offset, the strided view of the input that all output positions read at that offset. Ops loop
over the ``kh*kw`` offsets only; each step is one vectorised operation over the whole batch.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "IntPair",
    "Pair",
    "as_float_array",
    "check_delta",
    "conv_output_hw",
    "offset_view",
    "offsets",
    "pad2d",
    "pair",
    "result_dtype",
]

#: A spatial hyper-parameter as accepted by the public API: an int or an ``(h, w)`` pair.
IntPair = Union[int, tuple[int, int]]
#: A normalised spatial hyper-parameter.
Pair = tuple[int, int]


def pair(value: IntPair, name: str, *, minimum: int = 0) -> Pair:
    """Normalise ``value`` (an int or a pair of ints) to an ``(h, w)`` tuple of ints.

    Raises ``ValueError`` when a component is below ``minimum`` or is not an integer.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        out = (int(value), int(value))
    else:
        try:
            items = tuple(value)  # type: ignore[arg-type]
        except TypeError:
            raise ValueError(f"{name} must be an int or an (h, w) pair, got {value!r}") from None
        if len(items) != 2 or not all(
            isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in items
        ):
            raise ValueError(f"{name} must be an int or an (h, w) pair, got {value!r}")
        out = (int(items[0]), int(items[1]))
    if min(out) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return out


def result_dtype(*arrays: NDArray) -> np.dtype:
    """The floating dtype of a computation on ``arrays`` (numpy promotion; integers -> float64)."""
    dtype = np.result_type(*arrays)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.dtype(np.float64)
    return dtype


def as_float_array(a: ArrayLike, dtype: np.dtype | None = None) -> NDArray:
    """``a`` as a floating numpy array (no copy when it already is one of ``dtype``)."""
    a = np.asarray(a)
    if dtype is None:
        dtype = result_dtype(a)
    return a.astype(dtype, copy=False)


def conv_output_hw(
    hw: Pair, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair
) -> Pair:
    """Output size ``(Ho, Wo)`` of a window op: ``floor((H + 2p - d(k-1) - 1) / s) + 1`` per axis.

    Raises ``ValueError`` when the (dilated) window does not fit in the padded input.
    """
    out = []
    for size, k, s, p, d in zip(hw, kernel, stride, padding, dilation):
        span = d * (k - 1) + 1
        if size + 2 * p < span:
            raise ValueError(
                f"window of extent {span} (kernel {k}, dilation {d}) does not fit in an "
                f"input of size {size} padded by {p}"
            )
        out.append((size + 2 * p - span) // s + 1)
    return (out[0], out[1])


def pad2d(x: NDArray, padding: Pair, value: float = 0.0) -> NDArray:
    """Pad the last two axes of ``x`` (N, C, H, W) by ``padding`` on both sides with ``value``.

    Returns ``x`` itself (not a copy) when there is no padding; callers only read it.
    """
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    xp[:, :, ph : ph + h, pw : pw + w] = x
    return xp


def offsets(kernel: Pair) -> Iterator[tuple[int, int, int]]:
    """Kernel offsets ``(q, m, n)`` in row-major window order, ``q = m*kw + n``."""
    kh, kw = kernel
    for m in range(kh):
        for n in range(kw):
            yield m * kw + n, m, n


def offset_view(
    a: NDArray, m: int, n: int, stride: Pair, dilation: Pair, out_hw: Pair
) -> NDArray:
    """The elements of ``a`` (..., Hp, Wp) read at kernel offset ``(m, n)`` by every output.

    Element ``[..., i, j]`` of the returned view (..., Ho, Wo) is
    ``a[..., i*s_h + m*d_h, j*s_w + n*d_w]``. It is a basic-slicing view: writing into it writes
    into ``a``.
    """
    (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out_hw
    r0, c0 = m * dh, n * dw
    return a[..., r0 : r0 + sh * (ho - 1) + 1 : sh, c0 : c0 + sw * (wo - 1) + 1 : sw]


def check_delta(delta: NDArray, shape: tuple[int, ...], what: str) -> None:
    """Raise ``ValueError`` unless ``delta`` has the forward output's ``shape``."""
    if delta.shape != tuple(shape):
        raise ValueError(f"{what}: delta has shape {delta.shape}, expected {tuple(shape)}")
