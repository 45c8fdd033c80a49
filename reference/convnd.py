r"""N-d grouped convolution and N-d transposed convolution (cross-correlation plus bias).

Arrays are channel-first with ``d = x.ndim - 2`` spatial axes (``d`` in 1, 2, 3): input ``x``
(N, C, *S), filter bank ``w`` (D, C/G, *k), bias ``b`` (D,), output ``o`` (N, D, *O); ``G`` is
``groups``. The transposed convolution takes torch's weight layout (C_in, C_out/G, *k). Every
hyper-parameter of a spatial axis (``stride`` ``s``, ``padding`` ``p``, ``dilation`` ``t``,
``output_padding``) is an int or a tuple of ``d`` ints. The semantics are those of
``torch.nn.functional.conv{1,2,3}d`` and ``conv_transpose{1,2,3}d``.

Below, ``i``, ``m`` and ``i'`` are multi-indices over the ``d`` spatial axes (output position,
kernel offset, input position), ``xp`` is ``x`` zero-padded by ``p`` on both sides of every axis,
and products and sums of multi-indices are taken axis by axis.

Forward (eq. 7 with a batch, channels, groups and ``d`` axes)
-------------------------------------------------------------
Channel ``c`` lies in group ``g = c // (C/G)`` and filter ``d`` in group ``g = d // (D/G)``;
filter ``d`` only sees the ``C/G`` channels of its own group::

    o[N, d, i] = b[d] + sum_{c in group(d)} sum_m w[d, c - g*C/G, m] * xp[N, c, i*s + m*t]

``O = floor((S + 2p - t*(k-1) - 1) / s) + 1`` per axis. In the channel dimension this is a
block-diagonal map: the filter bank is ``G`` independent ``(D/G, C/G, *k)`` banks and each group
is an ordinary convolution of its own slice of channels. ``G = C`` with ``D = C*mult`` is the
depthwise convolution.

Backward (eqs. 10-22, generalised)
----------------------------------
With ``delta = dE/do`` (eq. 15), the chain rule of eq. 10 and the partial derivative of eq. 12
(``do[N,d,i] / dw[d,c,m] = xp[N,c,i*s+m*t]``) give, as in eq. 13::

    dw[d, c, m] = sum_{N, i} delta[N, d, i] * xp[N, g*C/G + c, i*s + m*t]

i.e. the correlation of the padded input with the deltas over every spatial axis, sampled at
the dilation ``t`` and read at the stride ``s``; the seed's eq. 13 is the case ``s = t = 1``,
``p = 0``, two spatial axes and ``G = C = D = 1``. As in :mod:`reference.conv`, ``dw`` follows
eq. 13, the correlation: eq. 14 as printed (eq. 2's convolution of ``rot180(delta)`` with ``o``)
lands on eq. 13 shifted. ``db[d] = sum_{N, i} delta[N, d, i]`` (eq. 10 with ``do/db = 1``).
For the input, eqs. 16-20 give::

    dxp[N, c, i'] = sum_{d in group(c)} sum_m delta[N, d, i] * w[d, c - g*C/G, m]
                    over the positions i with i*s + m*t = i'

This is eq. 20 (``dE/dx_{i'} = sum_m delta_{i'-m} w_m``; no ``f'`` here, it belongs to the
activation) with ``i' - m`` replaced by ``(i' - m*t) / s`` where that is a whole, in-range
index, and 0 elsewhere, then cropped by ``p`` to ``dx``. Equivalently it is the full convolution (eq. 2's
``*``) of the deltas, spread onto the stride grid (``s - 1`` zeros between neighbours), with the
channel-transposed kernel at dilation ``t`` - the correlation of the zero-padded spread deltas
with ``rot180(w)`` (eqs. 21-22; as printed, eq. 22's ``delta * rot180(w)`` with eq. 2's ``*``
flips the kernel twice). The group structure carries over unchanged: the adjoint of a
block-diagonal map is block-diagonal with the transposed blocks, so ``dx`` of group ``g`` only
uses the deltas and filters of group ``g``, and ``dw`` of group ``g`` only its input channels.
Input positions that no window reaches (stride larger than the kernel's extent, or rows left
over by the floor in ``O``) get zero gradient.

Transposed convolution
----------------------
The transposed convolution ``T`` is the adjoint of the convolution ``K`` with the same ``w``
(read as a (D, C/G, *k) bank with ``D = C_in`` and ``C = C_out``), stride, padding, dilation and
groups: ``<K(y), x> = <y, T(x)>``. So:

* forward: ``T(x) = K^T x`` is the convolution's ``dx`` (eq. 20 above) with ``x`` in the role of
  ``delta``, plus ``b`` (C_out,). The output size is
  ``(S_in - 1)*s - 2p + t*(k-1) + output_padding + 1``; ``output_padding`` (``< s`` or ``< t``
  on every axis) only resolves the ambiguity of the floor in ``O``: it adds rows at the end;
* backward, ``dx``: the adjoint of ``K^T`` is ``K``, so ``dx`` is the convolution's forward
  (eq. 7, no bias) applied to ``delta``;
* backward, ``dw``: eq. 13 with the roles of input and deltas swapped,
  ``dw[c_in, c, m] = sum_{N, i} x[N, c_in, i] * deltap[N, g*C_out/G + c, i*s + m*t]`` where
  ``deltap`` is ``delta`` zero-padded by ``p``; ``db`` sums ``delta`` as above.

Implementation
--------------
Every correlation (eq. 7 and eq. 13) goes through one unfolding (im2col): the padded input
(N, C, *Sp) is read through a strided view (C, *k, N, *O) whose element ``[c, m, N, i]`` is
``xp[N, c, i*s + m*t]``, copied once into columns (G, C/G * prod(k), N * prod(O)), and
multiplied by the flattened filters (G, D/G, C/G * prod(k)) in one batched matrix product over
the groups. ``dw`` is one batched product of the same columns with the deltas. The adjoint
direction (eq. 20: ``dx``, and the transposed convolution's forward) is col2im fused with the
product: for a run of kernel offsets, ``w[:, :, m]^T @ delta`` is one batched product over the
groups, and each offset's slice of it is added to the strided window ``i*s + m*t`` of the
padded result - eq. 20's sum over ``m`` (with stride 1 on every axis, one contiguous slice of
the flattened result, shifted per offset). Runs are bounded by :data:`BLOCK_ELEMENTS`, so the
full columns of eq. 20 are not held at once. There are no Python loops over samples, groups,
channels or positions; the only loop is over the ``prod(k)`` kernel offsets (the depthwise
path below also loops over chunks of channels).

Depthwise fast path
~~~~~~~~~~~~~~~~~~~
When every group has a single input channel (``C/G = 1``, so ``G = C``; the depthwise
convolution) and few filters (``D/G <= DEPTHWISE_MAX_MULTIPLIER``, ``m`` below), the products
above degenerate: each group's (D/G, prod(k)) @ (prod(k), N * prod(O)) product has an inner
dimension of only ``prod(k)``, so im2col copies ``prod(k)`` times the input to do a handful of
multiply-adds per copied element, and eq. 20's per-offset blocks are outer products. There,
with ``c = g`` the only channel of filter ``d = c*m + j``, the sums over ``c`` drop out and
eq. 7, eq. 13 and eq. 20 are sums over the kernel offsets of elementwise products::

    o[N, d, i]  = b[d] + sum_m w[d, 0, m] * xp[N, c, i*s + m*t]
    dw[d, 0, m] = sum_{N, i} delta[N, d, i] * xp[N, c, i*s + m*t]
    dxp[N, c, i*s + m*t] += sum_j delta[N, c*m + j, i] * w[c*m + j, 0, m]     (all i, m)

computed channel by channel (chunks of channels when they are small), each offset a
multiply and an add - or, for ``dw``, one dot product - over the channel's whole batch, with
nothing unfolded. A channel's padded input is staged flat (samples after one another); the
window of offset ``m`` is then the same strided grid shifted by a constant, and with stride 1
on every axis that grid is one contiguous run over the whole batch (positions past an
axis's output size are computed and cropped, or carry zero deltas). The transposed convolution
takes the same path when its adjoint convolution is depthwise (``C_out = G``, w (C_in, 1, *k)):
its forward is the ``dx`` sum above, its ``dx`` the ``o`` sum without bias, its ``dw`` the
``dw`` sum with ``x`` and ``delta`` swapped. Results agree with the im2col path to rounding
(the sums are taken in another order). Non-finite values: the zero deltas of the widened grid
would turn an infinite ``w`` into NaN in ``dx`` (``0 * inf``), and an infinite ``x`` at a
position no valid window reads into NaN in ``dw``, where torch has finite values; so the
adjoint sum (``dx``, the transposed forward) is taken here only for a finite ``w``, and a
non-finite ``dw`` is recomputed by the im2col path, which reads valid windows only.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Union

import numpy as np
from numpy.lib.stride_tricks import as_strided
from numpy.typing import ArrayLike, NDArray

from reference._windows import as_float_array, check_delta, result_dtype

__all__ = [
    "convnd_forward",
    "convnd_backward",
    "conv1d_forward",
    "conv1d_backward",
    "conv3d_forward",
    "conv3d_backward",
    "conv_transposend_forward",
    "conv_transposend_backward",
    "conv_transpose1d_forward",
    "conv_transpose1d_backward",
    "conv_transpose2d_forward",
    "conv_transpose2d_backward",
    "conv_transpose3d_forward",
    "conv_transpose3d_backward",
]

#: A spatial hyper-parameter as accepted by the public API: an int or a tuple of ``d`` ints.
IntTuple = Union[int, tuple[int, ...]]


class _Geometry(NamedTuple):
    """One convolution, seen from its wide side (``x`` of a convolution, ``o`` of a transposed one).

    ``size`` is the unpadded spatial size of the wide side, ``out`` that of the narrow side (the
    convolution's output); ``channels`` and ``filters`` are their channel counts (C and D).
    """

    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    size: tuple[int, ...]
    out: tuple[int, ...]
    channels: int
    filters: int


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _spatial(value: IntTuple, name: str, d: int, *, minimum: int = 0) -> tuple[int, ...]:
    """Normalise ``value`` (an int or a tuple of ``d`` ints) to a tuple of ``d`` ints."""
    if _is_int(value):
        out = (int(value),) * d
    else:
        try:
            items = tuple(value)  # type: ignore[arg-type]
        except TypeError:
            items = None
        if items is None or len(items) != d or not all(_is_int(v) for v in items):
            raise ValueError(
                f"{name} must be an int or a tuple of {d} ints (one per spatial axis), got {value!r}"
            )
        out = tuple(int(v) for v in items)
    if min(out) < minimum:
        raise ValueError(f"{name} must be >= {minimum} on every axis, got {value!r}")
    return out


def _check_arrays(x: NDArray, w: NDArray, b: NDArray, what: str, layout: str) -> int:
    """Check ranks and return ``d``, the number of spatial axes."""
    if x.ndim not in (3, 4, 5):
        raise ValueError(
            f"{what}: x must be (N, C, *spatial) with 1, 2 or 3 spatial axes, got shape {x.shape}"
        )
    d = x.ndim - 2
    if w.ndim != x.ndim:
        raise ValueError(f"{what}: w must be {layout} with {d} kernel axes like x, got shape {w.shape}")
    if min(w.shape[2:]) < 1:
        raise ValueError(f"{what}: kernel sizes must be >= 1, got w of shape {w.shape}")
    if b.ndim != 1:
        raise ValueError(f"{what}: b must be 1-d, got shape {b.shape}")
    return d


def _check_groups(groups: int, what: str, **counts: int) -> int:
    if not _is_int(groups) or groups < 1:
        raise ValueError(f"{what}: groups must be a positive int, got {groups!r}")
    for label, count in counts.items():
        if count % groups:
            raise ValueError(f"{what}: groups={groups} must divide the number of {label} ({count})")
    return int(groups)


def _conv_geometry(
    x: NDArray, w: NDArray, b: NDArray, stride: IntTuple, padding: IntTuple, dilation: IntTuple,
    groups: int, what: str,
) -> _Geometry:
    """Validate the arguments of a convolution; return its geometry."""
    d = _check_arrays(x, w, b, what, "(D, C/groups, *k)")
    c, dn = x.shape[1], w.shape[0]
    g = _check_groups(groups, what, **{"input channels": c, "filters D = w.shape[0]": dn})
    if w.shape[1] != c // g:
        raise ValueError(
            f"{what}: w must be (D, C/groups, *k) = ({dn}, {c // g}, ...) for {c} input channels "
            f"and groups={g}, got shape {w.shape}"
        )
    if b.shape != (dn,):
        raise ValueError(f"{what}: b must have shape ({dn},), got {b.shape}")
    s = _spatial(stride, "stride", d, minimum=1)
    p = _spatial(padding, "padding", d, minimum=0)
    t = _spatial(dilation, "dilation", d, minimum=1)
    kernel, size = tuple(w.shape[2:]), tuple(x.shape[2:])
    out = []
    for axis, (n, k, si, pi, ti) in enumerate(zip(size, kernel, s, p, t)):
        span = ti * (k - 1) + 1
        if n + 2 * pi < span:
            raise ValueError(
                f"{what}: window of extent {span} (kernel {k}, dilation {ti}) does not fit in "
                f"spatial axis {axis} of size {n} padded by {pi}"
            )
        out.append((n + 2 * pi - span) // si + 1)
    return _Geometry(kernel, s, p, t, g, size, tuple(out), c, dn)


def _transposed_geometry(
    x: NDArray, w: NDArray, b: NDArray, stride: IntTuple, padding: IntTuple,
    output_padding: IntTuple, dilation: IntTuple, groups: int, what: str,
) -> _Geometry:
    """Validate the arguments of a transposed convolution; return the adjoint convolution's geometry."""
    d = _check_arrays(x, w, b, what, "(C_in, C_out/groups, *k)")
    c_in = x.shape[1]
    if w.shape[0] != c_in:
        raise ValueError(
            f"{what}: w must be (C_in, C_out/groups, *k) with C_in = {c_in} (x's channels), got shape {w.shape}"
        )
    g = _check_groups(groups, what, **{"input channels": c_in})
    c_out = w.shape[1] * g
    if b.shape != (c_out,):
        raise ValueError(
            f"{what}: b must have shape (C_out,) = ({c_out},) (w.shape[1] * groups), got {b.shape}"
        )
    s = _spatial(stride, "stride", d, minimum=1)
    p = _spatial(padding, "padding", d, minimum=0)
    op = _spatial(output_padding, "output_padding", d, minimum=0)
    t = _spatial(dilation, "dilation", d, minimum=1)
    kernel, size_in = tuple(w.shape[2:]), tuple(x.shape[2:])
    size = []
    for axis, (n, k, si, pi, oi, ti) in enumerate(zip(size_in, kernel, s, p, op, t)):
        if oi >= si and oi >= ti:
            raise ValueError(
                f"{what}: output_padding must be smaller than either stride or dilation on every "
                f"axis, got output_padding={oi}, stride={si}, dilation={ti} on spatial axis {axis}"
            )
        m = (n - 1) * si - 2 * pi + ti * (k - 1) + oi + 1
        if m < 1:
            raise ValueError(
                f"{what}: output size {m} on spatial axis {axis} is not positive "
                f"(input {n}, stride {si}, padding {pi}, dilation {ti}, kernel {k}, output_padding {oi})"
            )
        size.append(m)
    return _Geometry(kernel, s, p, t, g, tuple(size), size_in, c_out, c_in)


def _pad(a: NDArray, padding: tuple[int, ...]) -> NDArray:
    """``a`` (N, C, *S) zero-padded by ``padding`` on both sides of each spatial axis.

    Returns ``a`` itself (not a copy) when there is no padding; callers only read it.
    """
    if not any(padding):
        return a
    ap = np.zeros((*a.shape[:2], *(v + 2 * q for v, q in zip(a.shape[2:], padding))), dtype=a.dtype)
    ap[(slice(None), slice(None), *(slice(q, q + v) for v, q in zip(a.shape[2:], padding)))] = a
    return ap


def _unfold(a: NDArray, geo: _Geometry) -> NDArray:
    """im2col of the wide side ``a`` (N, C, *S): columns (G, C/G * prod(k), N * prod(O)).

    Row ``(c, m)`` of group ``g``, column ``(N, i)`` holds ``ap[N, g*C/G + c, i*s + m*t]``, with
    ``ap`` the zero-padded ``a``: eq. 7's ``o^{l-1}_{i+m}`` for every window at once. It is read
    through one strided view (C, *k, N, *O) of ``ap`` and copied once.
    """
    n, c = a.shape[:2]
    ap = _pad(a, geo.padding)
    sn, sc, *ss = ap.strides
    view = as_strided(
        ap,
        shape=(c, *geo.kernel, n, *geo.out),
        strides=(sc, *(v * t for v, t in zip(ss, geo.dilation)), sn, *(v * s for v, s in zip(ss, geo.stride))),
        writeable=False,
    )
    g = geo.groups
    return np.ascontiguousarray(view).reshape(g, c // g * math.prod(geo.kernel), n * math.prod(geo.out))


def _channels_second(a_cn: NDArray, b: NDArray | None = None) -> NDArray:
    """(C, N, *S) -> C-contiguous (N, C, *S), adding ``b`` (C,) on the way if given."""
    c, n, *rest = a_cn.shape
    out = np.empty((n, c, *rest), dtype=a_cn.dtype)
    src = a_cn.swapaxes(0, 1)
    if b is None:
        np.copyto(out, src)
    else:
        np.add(src, b.reshape(1, c, *(1,) * len(rest)), out=out)
    return out


def _channels_first(a: NDArray, groups: int) -> NDArray:
    """(N, D, *O) -> (G, D/G, N * prod(O)), C-contiguous."""
    n, d = a.shape[:2]
    return np.ascontiguousarray(a.swapaxes(0, 1)).reshape(groups, d // groups, n * math.prod(a.shape[2:]))


def _filters(w: NDArray, groups: int) -> NDArray:
    """Filter bank (D, C/G, *k) as G stacked (D/G, C/G * prod(k)) matrices (a view)."""
    return w.reshape(groups, w.shape[0] // groups, math.prod(w.shape[1:]))


def _narrow(cols: NDArray, w: NDArray, geo: _Geometry, n: int, b: NDArray | None = None) -> NDArray:
    """Eq. 7 on unfolded columns: (G, D/G, C/G*K) @ (G, C/G*K, N*P) -> (N, D, *O) (+ ``b``)."""
    o = np.matmul(_filters(w, geo.groups), cols)
    return _channels_second(o.reshape(geo.filters, n, *geo.out), b)


#: Most elements of the block of columns that :func:`_wide` holds at a time (8 MiB of float64).
BLOCK_ELEMENTS = 1 << 20


def _wide(delta: NDArray, w: NDArray, geo: _Geometry, b: NDArray | None = None) -> NDArray:
    """Eq. 20 (the adjoint of eq. 7): narrow side (N, D, *O) -> wide side (N, C, *S) (+ ``b``).

    col2im fused with the product, a few kernel offsets at a time: for a run of offsets ``m``
    the block ``w[:, :, m]^T @ delta`` (G, C/G per offset, N*P) is one batched product over the
    groups, and each offset's slice is added to positions ``i*s + m*t`` of the padded result,
    which is finally cropped by the padding. The runs are as long as :data:`BLOCK_ELEMENTS`
    allows (all offsets at once for small inputs), so the columns of eq. 20 are never all held.

    With stride 1 on every axis the deltas are first laid on the padded grid of the trailing
    axes (zeros beyond ``O``): position ``i + m*t`` of the flattened padded result is then
    position ``i`` shifted by the constant ``sum_a m_a t_a * prod(Sp[a+1:])``, so each offset's
    accumulation is one long contiguous slice (the zeros land on positions they do not change).
    """
    g, n, c, dn = geo.groups, delta.shape[0], geo.channels, geo.filters
    cg, kk = c // g, math.prod(geo.kernel)
    padded = tuple(v + 2 * q for v, q in zip(geo.size, geo.padding))
    shift = all(s == 1 for s in geo.stride)
    if shift:
        grid = (geo.out[0], *padded[1:])
        frame = np.zeros((dn, n, *grid), dtype=delta.dtype)
        frame[(slice(None), slice(None), *(slice(0, o) for o in geo.out))] = delta.swapaxes(0, 1)
        delta_g = frame.reshape(g, dn // g, n * math.prod(grid))  # (G, D/G, N * prod(grid))
        steps = [math.prod(padded[a + 1 :]) for a in range(len(padded))]
        # the last offset's slice runs past the padded result by the trailing axes' extents
        slack = sum((k - 1) * t * st for k, t, st in zip(geo.kernel[1:], geo.dilation[1:], steps[1:]))
        acc = np.zeros((g, cg, n, math.prod(padded) + slack), dtype=delta.dtype)
    else:
        delta_g = _channels_first(delta, g)  # (G, D/G, N*P)
        acc = np.zeros((g, cg, n, *padded), dtype=delta.dtype)
    npos = delta_g.shape[-1]
    # (G, K, C/G, D/G): the transposed filters, offset-major so that a run of offsets is one matrix
    w_t = np.ascontiguousarray(w.reshape(g, dn // g, cg, kk).transpose(0, 3, 2, 1))
    run = max(1, min(kk, BLOCK_ELEMENTS // max(1, c * npos)))
    buf = np.empty((g, run * cg, npos), dtype=delta_g.dtype)
    offsets = list(np.ndindex(*geo.kernel))
    for q0 in range(0, kk, run):
        q1 = min(kk, q0 + run)
        w_run = w_t[:, q0:q1].reshape(g, (q1 - q0) * cg, dn // g)
        block = buf[:, : (q1 - q0) * cg]
        if dn == g:  # one filter per group: an outer product, cheaper as a broadcast
            np.multiply(w_run, delta_g, out=block)
        else:
            np.matmul(w_run, delta_g, out=block)
        if shift:
            length = npos // n
            block = block.reshape(g, q1 - q0, cg, n, length)
            for j, m in enumerate(offsets[q0:q1]):
                f = sum(mi * t * st for mi, t, st in zip(m, geo.dilation, steps))
                acc[:, :, :, f : f + length] += block[:, j]
        else:
            block = block.reshape(g, q1 - q0, cg, n, *geo.out)
            for j, m in enumerate(offsets[q0:q1]):
                window = tuple(
                    slice(mi * t, mi * t + s * (o - 1) + 1, s)
                    for mi, t, s, o in zip(m, geo.dilation, geo.stride, geo.out)
                )
                acc[(slice(None), slice(None), slice(None), *window)] += block[:, j]
    if shift:
        acc = acc[..., : math.prod(padded)]
    crop = tuple(slice(q, q + v) for v, q in zip(geo.size, geo.padding))
    return _channels_second(acc.reshape(c, n, *padded)[(slice(None), slice(None), *crop)], b)


def _weight_grad(cols: NDArray, delta: NDArray, geo: _Geometry, kernel_shape: tuple[int, ...]) -> NDArray:
    """Eq. 13: columns (G, C/G*K, N*P) against the narrow side (N, D, *O) -> ``kernel_shape``."""
    delta_g = _channels_first(delta, geo.groups)  # (G, D/G, N*P)
    # (cols @ delta^T)^T rather than delta @ cols^T: with the long N*P axis as the inner
    # dimension of a tall product OpenBLAS is faster
    dw = np.matmul(cols, delta_g.transpose(0, 2, 1)).transpose(0, 2, 1)
    return np.ascontiguousarray(dw).reshape(kernel_shape)


# ---------------------------------------------------------------------------------------------
# depthwise fast path (one input channel per group)
# ---------------------------------------------------------------------------------------------

#: Largest number of filters per group (``D/G``) the depthwise path takes; beyond it the batched
#: products of the im2col path amortise their copies better than per-tap elementwise work.
DEPTHWISE_MAX_MULTIPLIER = 4
#: Target elements of one chunk of channels in the depthwise path (its buffers stay in cache).
DEPTHWISE_CHUNK = 1 << 15


class _Layout(NamedTuple):
    """Where the depthwise path reads eq. 7's ``xp[N, c, i*s + m*t]``: flat offsets in one channel.

    Each channel's padded wide side (N, *Sp) is stored flat, ``block`` elements per channel (the
    ``N * prod(Sp)`` data, then zeros). Kernel offset ``m`` sits at flat offset
    ``offsets[m] = sum_a m_a t_a steps_a`` (``steps`` the row-major steps of ``Sp``), and the
    narrow side's positions form the *grid*: ``shape`` / ``strides`` (in elements, from the
    channel's start) such that grid element ``e`` plus ``offsets[m]`` is ``i*s + m*t`` for every
    output position ``i``. Trailing axes with stride 1 are widened to the padded extent so that
    they run contiguously (the whole channel is one run with stride 1 everywhere); the extra grid
    elements are cropped away (narrow side) or hold zero deltas (wide side, weights). ``full``
    is the grid per sample, unmerged, for that crop; ``block`` leaves room for the last offset's
    run past the data, so no channel's runs reach the next channel.
    """

    padded: tuple[int, ...]
    steps: tuple[int, ...]
    plane: int
    offsets: tuple[int, ...]
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    full: tuple[int, ...]
    block: int


def _depthwise_applies(geo: _Geometry, n: int) -> bool:
    """One input channel per group (``C = G``), few filters per group, a non-empty batch."""
    return geo.channels == geo.groups and geo.filters // geo.groups <= DEPTHWISE_MAX_MULTIPLIER and n > 0


def _layout(geo: _Geometry, n: int) -> _Layout:
    """The :class:`_Layout` of the depthwise path for a batch of ``n``."""
    d = len(geo.kernel)
    padded = tuple(v + 2 * q for v, q in zip(geo.size, geo.padding))
    steps = tuple(math.prod(padded[a + 1 :]) for a in range(d))
    plane = math.prod(padded)
    offsets = tuple(
        sum(mi * t * st for mi, t, st in zip(m, geo.dilation, steps)) for m in np.ndindex(*geo.kernel)
    )
    a0 = d  # axes a0.. all have stride 1
    while a0 > 0 and geo.stride[a0 - 1] == 1:
        a0 -= 1
    if a0 == 0:  # every axis and the samples: one run
        full, shape, strides = padded, (n * plane,), (1,)
    else:
        lead = tuple(s * st for s, st in zip(geo.stride[:a0], steps[:a0]))
        if a0 < d:
            full = (*geo.out[: a0 + 1], *padded[a0 + 1 :])
            shape, strides = (n, *geo.out[:a0], geo.out[a0] * steps[a0]), (plane, *lead, 1)
        else:
            full, shape, strides = geo.out, (n, *geo.out), (plane, *lead)
    extent = sum((k - 1) * s for k, s in zip(shape, strides)) + max(offsets) + 1
    return _Layout(padded, steps, plane, offsets, shape, strides, full, max(n * plane, extent))


def _view(
    buf: NDArray, offset: int, shape: tuple[int, ...], strides: tuple[int, ...], writeable: bool = False
) -> NDArray:
    """The strided view of the flat ``buf`` at element ``offset`` (strides in elements).

    Callers keep it inside ``buf``: :func:`_layout`'s ``block`` bounds every run it is asked for.
    """
    return as_strided(buf[offset:], shape=shape, strides=tuple(s * buf.itemsize for s in strides), writeable=writeable)


def _depthwise(
    geo: _Geometry, lay: _Layout, w: NDArray, *, wide: NDArray | None = None, narrow: NDArray | None = None,
    narrow_out: NDArray | None = None, wide_out: NDArray | None = None, weight_out: NDArray | None = None,
    bias: NDArray | None = None,
) -> None:
    """The depthwise path: eq. 7, eq. 20 and eq. 13 as sums over the kernel offsets, per channel.

    ``wide`` (N, C, *S) and ``narrow`` (N, D, *O) are the inputs it reads; it fills the arrays
    given: ``narrow_out`` (N, D, *O) by eq. 7 from ``wide``, ``wide_out`` (N, C, *S) by eq. 20
    from ``narrow``, ``weight_out`` (C, D/G, prod(k)) by eq. 13 from both; ``bias`` is added to
    whichever of the first two is filled. With ``C = G`` filter ``c*(D/G) + j`` sees channel ``c``
    only, so with ``u`` channel ``c`` of the padded wide side (flat, see :class:`_Layout`), ``e``
    a grid element and ``m`` a kernel offset::

        narrow[:, c*(D/G)+j, e]  = sum_m w[c*(D/G)+j, 0, m] * u[e + offsets[m]]         (eq. 7)
        u'[e + offsets[m]]      += w[c*(D/G)+j, 0, m] * narrow[:, c*(D/G)+j, e]         (eq. 20)
        dw[c*(D/G)+j, 0, m]      = sum_{N, e} narrow[:, c*(D/G)+j, e] * u[e + offsets[m]]  (eq. 13)

    with ``u'`` the padded ``wide_out``, cropped at the end. Per offset that is a multiply and
    an add (or one dot product) over a channel's whole batch. Channels go through in chunks of
    about :data:`DEPTHWISE_CHUNK` elements, each staged in small buffers that stay in cache; a
    chunk of one channel multiplies by scalar weights, a chunk of several by a column of them.
    """
    c, mult, d = geo.channels, geo.filters // geo.groups, len(geo.kernel)
    given = wide if wide is not None else narrow
    n, dtype = given.shape[0], given.dtype
    w3 = np.ascontiguousarray(w.reshape(c, mult, -1))
    pc = max(1, min(c, DEPTHWISE_CHUNK // (mult * lay.block)))  # channels per chunk
    interior = (slice(None), slice(None), *(slice(q, q + v) for v, q in zip(geo.size, geo.padding)))
    crop = (slice(None), slice(None), *(slice(0, o) for o in geo.out))
    column = (1,) * len(lay.shape)
    bias_shape = (1, -1, *(1,) * d)
    rows, padded_rows = (lay.block, *lay.strides), (lay.block, lay.plane, *lay.steps)
    axes = "abcdefgh"[: len(lay.shape)]
    # padding, the tail past each channel's data and the grid's extra elements are zero in the
    # staged inputs and stay so: every chunk rewrites only the interior / the cropped grid
    u = np.zeros(pc * lay.block, dtype) if wide is not None else None
    frame = np.zeros((pc, mult, *lay.shape), dtype) if narrow is not None else None
    du = np.empty(pc * lay.block, dtype) if wide_out is not None else None
    acc = np.empty((pc, mult, *lay.shape), dtype) if narrow_out is not None else None
    tmp = np.empty((pc, *lay.shape), dtype)
    for a in range(0, c, pc):
        z = min(c, a + pc) - a
        fs = slice(a * mult, (a + z) * mult)  # this chunk's filters
        t = tmp[:z]
        taps = [[w3[a, j, q] if z == 1 else w3[a : a + z, j, q].reshape(z, *column) for q in range(len(lay.offsets))]
                for j in range(mult)]
        if u is not None:
            np.copyto(_view(u, 0, (z, n, *lay.padded), padded_rows, True)[interior], wide[:, a : a + z].swapaxes(0, 1))
        if frame is not None:
            np.copyto(frame[:z].reshape(z * mult, n, *lay.full)[crop], narrow[:, fs].swapaxes(0, 1))
        if acc is not None:  # eq. 7
            for j in range(mult):
                out = acc[:z, j]
                for q, f in enumerate(lay.offsets):
                    v = _view(u, f, (z, *lay.shape), rows)
                    if q == 0:
                        np.multiply(v, taps[j][q], out=out)
                    else:
                        np.multiply(v, taps[j][q], out=t)
                        np.add(out, t, out=out)
            res = acc[:z].reshape(z * mult, n, *lay.full)[crop].swapaxes(0, 1)
            if bias is None:
                np.copyto(narrow_out[:, fs], res)
            else:
                np.add(res, bias[fs].reshape(bias_shape), out=narrow_out[:, fs])
        if du is not None:  # eq. 20
            du[: z * lay.block] = 0
            for j in range(mult):
                for q, f in enumerate(lay.offsets):
                    v = _view(du, f, (z, *lay.shape), rows, True)
                    np.multiply(frame[:z, j], taps[j][q], out=t)
                    np.add(v, t, out=v)
            res = _view(du, 0, (z, n, *lay.padded), padded_rows)[interior].swapaxes(0, 1)
            if bias is None:
                np.copyto(wide_out[:, a : a + z], res)
            else:
                np.add(res, bias[a : a + z].reshape(bias_shape), out=wide_out[:, a : a + z])
        if weight_out is not None:  # eq. 13
            for j in range(mult):
                for q, f in enumerate(lay.offsets):
                    v = _view(u, f, (z, *lay.shape), rows)
                    if z == 1 and len(lay.shape) == 1:  # one contiguous run: a BLAS dot
                        weight_out[a, j, q] = np.dot(frame[0, j], v[0])
                    else:
                        weight_out[a : a + z, j, q] = np.einsum(f"p{axes},p{axes}->p", frame[:z, j], v)


def _prepare(*arrays: ArrayLike) -> list[NDArray]:
    dtype = result_dtype(*(np.asarray(a) for a in arrays))
    return [as_float_array(a, dtype) for a in arrays]


def _check_rank(x: ArrayLike, d: int, what: str) -> None:
    shape = np.shape(x)
    if len(shape) != d + 2:
        raise ValueError(f"{what}: x must have {d} spatial axes (x.ndim == {d + 2}), got shape {shape}")


# ---------------------------------------------------------------------------------------------
# convolution
# ---------------------------------------------------------------------------------------------


def convnd_forward(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike,
    *,
    stride: IntTuple = 1,
    padding: IntTuple = 0,
    dilation: IntTuple = 1,
    groups: int = 1,
) -> NDArray:
    """Grouped N-d convolution forward pass (``torch.nn.functional.conv{1,2,3}d``).

    Eq. 7 over ``d`` spatial axes, with stride, zero padding, dilation and groups::

        o[N, d, i] = b[d] + sum_{c < C/G} sum_m w[d, c, m] * xp[N, g(d)*C/G + c, i*s + m*t]

    with ``g(d) = d // (D/G)`` and ``xp`` the input zero-padded by ``padding``.
    Ledger: eq4, eq7.

    Computed by im2col and one batched product over the groups; for a depthwise bank
    (``groups = C``, at most :data:`DEPTHWISE_MAX_MULTIPLIER` filters per group) by the
    depthwise fast path instead, ``o[N, d] = b[d] + sum_m w[d, 0, m] * xp[N, c, i*s + m*t]``
    as one multiply-add per kernel offset, since the products there have an inner dimension
    of only ``prod(k)`` (see the module's notes).

    Parameters
    ----------
    x : array (N, C, *S)
        Input, ``d = x.ndim - 2`` in (1, 2, 3) spatial axes.
    w : array (D, C/groups, *k)
        Filter bank, ``d`` kernel axes.
    b : array (D,)
        One bias per filter.
    stride, padding, dilation : int or tuple of d ints
        ``stride >= 1``, ``padding >= 0``, ``dilation >= 1``.
    groups : int
        Divides both ``C`` and ``D``; ``groups = C`` is the depthwise convolution.

    Returns
    -------
    array (N, D, *O)
        ``O = floor((S + 2p - dilation*(k-1) - 1) / stride) + 1`` per axis, in the promoted
        floating dtype of the inputs.
    """
    x, w, b = _prepare(x, w, b)
    geo = _conv_geometry(x, w, b, stride, padding, dilation, groups, "convnd_forward")
    n = x.shape[0]
    if _depthwise_applies(geo, n):
        o = np.empty((n, geo.filters, *geo.out), dtype=x.dtype)
        _depthwise(geo, _layout(geo, n), w, wide=x, narrow_out=o, bias=b)
        return o
    return _narrow(_unfold(x, geo), w, geo, n, b)


def convnd_backward(
    delta: ArrayLike,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike,
    *,
    stride: IntTuple = 1,
    padding: IntTuple = 0,
    dilation: IntTuple = 1,
    groups: int = 1,
) -> tuple[NDArray, NDArray, NDArray]:
    """Grouped N-d convolution backward pass: gradients with respect to ``x``, ``w`` and ``b``.

    * ``dw`` -- eq. 13: ``dw[d, c, m] = sum_{N, i} delta[N, d, i] * xp[N, g(d)*C/G + c, i*s + m*t]``;
    * ``db`` -- ``db[d] = sum_{N, i} delta[N, d, i]``;
    * ``dx`` -- eq. 20: ``dxp[N, c, i*s + m*t] += sum_{d in group(c)} delta[N, d, i] * w[d, c mod C/G, m]``
      over all ``i`` and ``m``, cropped by the padding: the full convolution of the
      stride-spread deltas with ``w`` (the correlation with ``rot180(w)``, corrected eq. 22).
      No ``f'`` factor: this is the convolution's own input gradient.

    Each group is independent: its gradients involve only its own channels and filters.
    A depthwise bank (``groups = C``, at most :data:`DEPTHWISE_MAX_MULTIPLIER` filters per
    group) takes the depthwise fast path: per kernel offset one dot product for ``dw`` and one
    multiply-add into the padded ``dx`` (see the module's notes).

    Parameters
    ----------
    delta : array (N, D, *O)
        ``dE/do``, the gradient with respect to the forward output.
    x : array (N, C, *S)
    w : array (D, C/groups, *k)
    b : array (D,)
    stride, padding, dilation, groups
        As in :func:`convnd_forward`.

    Returns
    -------
    dx : array (N, C, *S)
    dw : array (D, C/groups, *k)
    db : array (D,)
    """
    delta, x, w, b = _prepare(delta, x, w, b)
    geo = _conv_geometry(x, w, b, stride, padding, dilation, groups, "convnd_backward")
    n = x.shape[0]
    check_delta(delta, (n, geo.filters, *geo.out), "convnd_backward")
    db = delta.sum(axis=(0, *range(2, delta.ndim)))
    if _depthwise_applies(geo, n):
        finite = bool(np.isfinite(w).all())  # see the module notes on non-finite values
        dx, dw = np.empty_like(x) if finite else _wide(delta, w, geo), np.empty(w.shape, dtype=x.dtype)
        _depthwise(geo, _layout(geo, n), w, wide=x, narrow=delta, wide_out=dx if finite else None,
                   weight_out=dw.reshape(geo.channels, geo.filters // geo.groups, -1))
        if not np.isfinite(dw).all():
            dw = _weight_grad(_unfold(x, geo), delta, geo, w.shape)
        return dx, dw, db
    dw = _weight_grad(_unfold(x, geo), delta, geo, w.shape)
    dx = _wide(delta, w, geo)
    return dx, dw, db


def conv1d_forward(
    x: ArrayLike, w: ArrayLike, b: ArrayLike, *, stride: IntTuple = 1, padding: IntTuple = 0,
    dilation: IntTuple = 1, groups: int = 1,
) -> NDArray:
    """:func:`convnd_forward` for x (N, C, L), w (D, C/groups, k), b (D,) -> (N, D, Lo)."""
    _check_rank(x, 1, "conv1d_forward")
    return convnd_forward(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)


def conv1d_backward(
    delta: ArrayLike, x: ArrayLike, w: ArrayLike, b: ArrayLike, *, stride: IntTuple = 1,
    padding: IntTuple = 0, dilation: IntTuple = 1, groups: int = 1,
) -> tuple[NDArray, NDArray, NDArray]:
    """:func:`convnd_backward` for delta (N, D, Lo), x (N, C, L) -> (dx, dw, db)."""
    _check_rank(x, 1, "conv1d_backward")
    return convnd_backward(delta, x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)


def conv3d_forward(
    x: ArrayLike, w: ArrayLike, b: ArrayLike, *, stride: IntTuple = 1, padding: IntTuple = 0,
    dilation: IntTuple = 1, groups: int = 1,
) -> NDArray:
    """:func:`convnd_forward` for x (N, C, T, H, W), w (D, C/groups, k1, k2, k3), b (D,) -> (N, D, To, Ho, Wo)."""
    _check_rank(x, 3, "conv3d_forward")
    return convnd_forward(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)


def conv3d_backward(
    delta: ArrayLike, x: ArrayLike, w: ArrayLike, b: ArrayLike, *, stride: IntTuple = 1,
    padding: IntTuple = 0, dilation: IntTuple = 1, groups: int = 1,
) -> tuple[NDArray, NDArray, NDArray]:
    """:func:`convnd_backward` for delta (N, D, To, Ho, Wo), x (N, C, T, H, W) -> (dx, dw, db)."""
    _check_rank(x, 3, "conv3d_backward")
    return convnd_backward(delta, x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)


# ---------------------------------------------------------------------------------------------
# transposed convolution
# ---------------------------------------------------------------------------------------------


def conv_transposend_forward(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike,
    *,
    stride: IntTuple = 1,
    padding: IntTuple = 0,
    output_padding: IntTuple = 0,
    dilation: IntTuple = 1,
    groups: int = 1,
) -> NDArray:
    """Grouped N-d transposed convolution forward pass (``torch.nn.functional.conv_transpose{1,2,3}d``).

    The adjoint of :func:`convnd_forward` with the same ``w`` read as a (C_in, C_out/G, *k)
    bank: the convolution's ``dx`` (eq. 20) with ``x`` in the role of the deltas, plus ``b``::

        op[N, c, i*s + m*t] += sum_{c_in in group(c)} x[N, c_in, i] * w[c_in, c mod C_out/G, m]

    over all ``i`` and ``m``, cropped by ``padding`` (and extended by ``output_padding`` at
    the end of each axis), then ``o[N, c] += b[c]``. With ``C_out = groups`` (w (C_in, 1, *k),
    at most :data:`DEPTHWISE_MAX_MULTIPLIER` input channels per group) it is computed by the
    depthwise fast path, one multiply-add per kernel offset (see the module's notes).

    Parameters
    ----------
    x : array (N, C_in, *S_in)
        Input, ``d = x.ndim - 2`` in (1, 2, 3) spatial axes.
    w : array (C_in, C_out/groups, *k)
        Filter bank in torch's layout for transposed convolutions.
    b : array (C_out,)
    stride, padding, dilation : int or tuple of d ints
        ``stride >= 1``, ``padding >= 0``, ``dilation >= 1``.
    output_padding : int or tuple of d ints
        Extra size at the end of each output axis; must be smaller than either ``stride`` or
        ``dilation`` on every axis.
    groups : int
        Divides ``C_in``; ``C_out = w.shape[1] * groups``.

    Returns
    -------
    array (N, C_out, *S_out)
        ``S_out = (S_in - 1)*stride - 2*padding + dilation*(k-1) + output_padding + 1`` per
        axis, in the promoted floating dtype of the inputs.
    """
    x, w, b = _prepare(x, w, b)
    geo = _transposed_geometry(x, w, b, stride, padding, output_padding, dilation, groups, "conv_transposend_forward")
    n = x.shape[0]
    if _depthwise_applies(geo, n) and np.isfinite(w).all():  # see the module notes on non-finite values
        o = np.empty((n, geo.channels, *geo.size), dtype=x.dtype)
        _depthwise(geo, _layout(geo, n), w, narrow=x, wide_out=o, bias=b)
        return o
    return _wide(x, w, geo, b)


def conv_transposend_backward(
    delta: ArrayLike,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike,
    *,
    stride: IntTuple = 1,
    padding: IntTuple = 0,
    output_padding: IntTuple = 0,
    dilation: IntTuple = 1,
    groups: int = 1,
) -> tuple[NDArray, NDArray, NDArray]:
    """Grouped N-d transposed convolution backward pass: gradients for ``x``, ``w`` and ``b``.

    * ``dx`` -- the adjoint of the forward is the convolution: eq. 7 (no bias) applied to the
      deltas, ``dx[N, c_in, i] = sum_{c, m} w[c_in, c, m] * deltap[N, g*C_out/G + c, i*s + m*t]``;
    * ``dw`` -- eq. 13 with input and deltas swapped,
      ``dw[c_in, c, m] = sum_{N, i} x[N, c_in, i] * deltap[N, g*C_out/G + c, i*s + m*t]``;
    * ``db`` -- ``db[c] = sum_{N, i} delta[N, c, i]``;

    where ``deltap`` is ``delta`` zero-padded by ``padding`` and ``g`` the group of ``c_in``.
    Both ``dx`` and ``dw`` read the same unfolded ``deltap`` - or, with ``C_out = groups`` (as in
    :func:`conv_transposend_forward`), the same staged ``deltap`` of the depthwise fast path.

    Parameters
    ----------
    delta : array (N, C_out, *S_out)
        ``dE/do``, the gradient with respect to the forward output.
    x : array (N, C_in, *S_in)
    w : array (C_in, C_out/groups, *k)
    b : array (C_out,)
    stride, padding, output_padding, dilation, groups
        As in :func:`conv_transposend_forward`.

    Returns
    -------
    dx : array (N, C_in, *S_in)
    dw : array (C_in, C_out/groups, *k)
    db : array (C_out,)
    """
    delta, x, w, b = _prepare(delta, x, w, b)
    geo = _transposed_geometry(x, w, b, stride, padding, output_padding, dilation, groups, "conv_transposend_backward")
    n = x.shape[0]
    check_delta(delta, (n, geo.channels, *geo.size), "conv_transposend_backward")
    db = delta.sum(axis=(0, *range(2, delta.ndim)))
    if _depthwise_applies(geo, n):
        dx, dw = np.empty_like(x), np.empty(w.shape, dtype=x.dtype)
        _depthwise(geo, _layout(geo, n), w, wide=delta, narrow=x, narrow_out=dx,
                   weight_out=dw.reshape(geo.channels, geo.filters // geo.groups, -1))
        if not np.isfinite(dw).all():  # see the module notes on non-finite values
            dw = _weight_grad(_unfold(delta, geo), x, geo, w.shape)
        return dx, dw, db
    cols = _unfold(delta, geo)
    dx = _narrow(cols, w, geo, n)
    dw = _weight_grad(cols, x, geo, w.shape)
    return dx, dw, db


def conv_transpose1d_forward(
    x: ArrayLike, w: ArrayLike, b: ArrayLike, *, stride: IntTuple = 1, padding: IntTuple = 0,
    output_padding: IntTuple = 0, dilation: IntTuple = 1, groups: int = 1,
) -> NDArray:
    """:func:`conv_transposend_forward` for x (N, C_in, L), w (C_in, C_out/groups, k) -> (N, C_out, Lo)."""
    _check_rank(x, 1, "conv_transpose1d_forward")
    return conv_transposend_forward(
        x, w, b, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation, groups=groups
    )


def conv_transpose1d_backward(
    delta: ArrayLike, x: ArrayLike, w: ArrayLike, b: ArrayLike, *, stride: IntTuple = 1,
    padding: IntTuple = 0, output_padding: IntTuple = 0, dilation: IntTuple = 1, groups: int = 1,
) -> tuple[NDArray, NDArray, NDArray]:
    """:func:`conv_transposend_backward` for delta (N, C_out, Lo), x (N, C_in, L) -> (dx, dw, db)."""
    _check_rank(x, 1, "conv_transpose1d_backward")
    return conv_transposend_backward(
        delta, x, w, b, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation,
        groups=groups,
    )


def conv_transpose2d_forward(
    x: ArrayLike, w: ArrayLike, b: ArrayLike, *, stride: IntTuple = 1, padding: IntTuple = 0,
    output_padding: IntTuple = 0, dilation: IntTuple = 1, groups: int = 1,
) -> NDArray:
    """:func:`conv_transposend_forward` for x (N, C_in, H, W), w (C_in, C_out/groups, k1, k2) -> (N, C_out, Ho, Wo)."""
    _check_rank(x, 2, "conv_transpose2d_forward")
    return conv_transposend_forward(
        x, w, b, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation, groups=groups
    )


def conv_transpose2d_backward(
    delta: ArrayLike, x: ArrayLike, w: ArrayLike, b: ArrayLike, *, stride: IntTuple = 1,
    padding: IntTuple = 0, output_padding: IntTuple = 0, dilation: IntTuple = 1, groups: int = 1,
) -> tuple[NDArray, NDArray, NDArray]:
    """:func:`conv_transposend_backward` for delta (N, C_out, Ho, Wo), x (N, C_in, H, W) -> (dx, dw, db)."""
    _check_rank(x, 2, "conv_transpose2d_backward")
    return conv_transposend_backward(
        delta, x, w, b, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation,
        groups=groups,
    )


def conv_transpose3d_forward(
    x: ArrayLike, w: ArrayLike, b: ArrayLike, *, stride: IntTuple = 1, padding: IntTuple = 0,
    output_padding: IntTuple = 0, dilation: IntTuple = 1, groups: int = 1,
) -> NDArray:
    """:func:`conv_transposend_forward` for x (N, C_in, T, H, W), w (C_in, C_out/groups, k1, k2, k3).

    Returns (N, C_out, To, Ho, Wo).
    """
    _check_rank(x, 3, "conv_transpose3d_forward")
    return conv_transposend_forward(
        x, w, b, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation, groups=groups
    )


def conv_transpose3d_backward(
    delta: ArrayLike, x: ArrayLike, w: ArrayLike, b: ArrayLike, *, stride: IntTuple = 1,
    padding: IntTuple = 0, output_padding: IntTuple = 0, dilation: IntTuple = 1, groups: int = 1,
) -> tuple[NDArray, NDArray, NDArray]:
    """:func:`conv_transposend_backward` for delta (N, C_out, To, Ho, Wo), x (N, C_in, T, H, W) -> (dx, dw, db)."""
    _check_rank(x, 3, "conv_transpose3d_backward")
    return conv_transposend_backward(
        delta, x, w, b, stride=stride, padding=padding, output_padding=output_padding, dilation=dilation,
        groups=groups,
    )
