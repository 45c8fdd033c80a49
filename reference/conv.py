"""2-D convolution layer (cross-correlation plus bias): forward eqs. 4/7, backward eqs. 10-22.

Arrays are NCHW: input ``x`` (N, C, H, W), filter bank ``w`` (D, C, k1, k2), bias ``b`` (D,),
output (N, D, Ho, Wo). Every correlation is computed the same way: the input is unfolded into
columns (one column per output position, one row per ``(c, m, n)``; built with one strided copy
per kernel offset) and multiplied by the flattened filters in a single matrix product.

The seed writes eqs. 13-14 and 20-22 for stride 1, no padding, no dilation and one channel.
This module implements their general form:

* ``dw`` (eq. 13): ``dw[d,c,m,n] = sum_{N,i,j} delta[N,d,i,j] * xp[N,c, i*s_h+m*d_h, j*s_w+n*d_w]``
  where ``xp`` is the zero-padded input - the correlation of the input with the deltas (what
  eq. 14 means; as printed it is shifted, see :func:`conv2d_backward`).
* ``dx`` (eqs. 15-22): the deltas are spread onto the stride grid (``s - 1`` zeros between
  neighbours), zero-padded to a *full* convolution and correlated with the 180-degree rotated,
  channel-transposed kernel, at the kernel's dilation - the full convolution (eq. 2's ``*``)
  of the deltas with ``w``, eq. 22 in its corrected form (as printed, ``delta * rot180(w)``
  flips the kernel twice); the result is cropped back to the unpadded input. This is the
  transposed convolution; input rows or columns that no window covers receive zero gradient.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._windows import (
    IntPair,
    Pair,
    as_float_array,
    check_delta,
    conv_output_hw,
    offset_view,
    offsets,
    pad2d,
    pair,
    result_dtype,
)

__all__ = ["conv2d_forward", "conv2d_backward", "conv2d_input_grad"]


def _geometry(
    x: NDArray, w: NDArray, b: NDArray, stride: IntPair, padding: IntPair, dilation: IntPair
) -> tuple[Pair, Pair, Pair, Pair]:
    """Validate shapes; return ``(stride, padding, dilation, (Ho, Wo))`` as pairs."""
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W) and w (D, C, k1, k2); got {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]}")
    if b.shape != (w.shape[0],):
        raise ValueError(f"b must have shape ({w.shape[0]},), got {b.shape}")
    s = pair(stride, "stride", minimum=1)
    p = pair(padding, "padding", minimum=0)
    d = pair(dilation, "dilation", minimum=1)
    out_hw = conv_output_hw(x.shape[2:], w.shape[2:], s, p, d)
    return s, p, d, out_hw


def _im2col(xp: NDArray, kernel: Pair, stride: Pair, dilation: Pair, out_hw: Pair) -> NDArray:
    """Unfold the padded input ``xp`` (N, C, Hp, Wp) into columns (C*k1*k2, N*Ho*Wo).

    Row ``(c, m, n)``, column ``(N, i, j)`` holds ``xp[N, c, i*s_h + m*d_h, j*s_w + n*d_w]``
    (the ``o^{l-1}_{i+m, j+n}`` of eq. 7). One strided copy per kernel offset.
    """
    n, c = xp.shape[:2]
    kh, kw = kernel
    ho, wo = out_hw
    cols = np.empty((c, kh, kw, n, ho, wo), dtype=xp.dtype)
    for _, m, k in offsets(kernel):
        cols[:, m, k] = offset_view(xp, m, k, stride, dilation, out_hw).transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * ho * wo)


def _correlate(xp: NDArray, w: NDArray, stride: Pair, dilation: Pair, out_hw: Pair) -> NDArray:
    """Eq. 4 without bias on a padded input: returns a (D, N, Ho, Wo) array (channel-major)."""
    d = w.shape[0]
    cols = _im2col(xp, w.shape[2:], stride, dilation, out_hw)
    o = w.reshape(d, -1) @ cols
    return o.reshape(d, xp.shape[0], *out_hw)


def _to_nchw(o_dn: NDArray, b: NDArray | None = None) -> NDArray:
    """(D, N, Ho, Wo) -> C-contiguous (N, D, Ho, Wo), adding ``b`` (D,) on the way if given."""
    d, n, ho, wo = o_dn.shape
    out = np.empty((n, d, ho, wo), dtype=o_dn.dtype)
    src = o_dn.transpose(1, 0, 2, 3)
    if b is None:
        np.copyto(out, src)
    else:
        np.add(src, b.reshape(1, d, 1, 1), out=out)
    return out


def conv2d_forward(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike,
    *,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> NDArray:
    """Convolution layer forward pass: cross-correlation of the input with each filter plus bias.

    Eq. 7 (eq. 4 with a batch, ``C`` channels and ``D`` filters, generalised to stride,
    zero padding and dilation per axis)::

        x^l[N, d, i, j] = sum_{c, m, n} w[d, c, m, n] * o^{l-1}[N, c, i*s_h + m*d_h, j*s_w + n*d_w] + b[d]

    where ``o^{l-1}`` is the input zero-padded by ``padding`` on each side.
    Ledger: eq4, eq7.

    Parameters
    ----------
    x : array (N, C, H, W)
        Input feature maps ``o^{l-1}``.
    w : array (D, C, k1, k2)
        Filter bank.
    b : array (D,)
        One bias per filter.
    stride, padding, dilation : int or (int, int)
        Per-axis hyper-parameters (``stride >= 1``, ``padding >= 0``, ``dilation >= 1``).
    groups : int
        Channels and filters split into ``groups`` groups, each filter seeing its own group's
        ``C / groups`` channels (w is then (D, C/groups, k1, k2)); computed by
        :func:`reference.convnd.convnd_forward`.

    Returns
    -------
    array (N, D, Ho, Wo)
        ``Ho = floor((H + 2*p_h - d_h*(k1-1) - 1) / s_h) + 1`` (likewise ``Wo``), in the
        promoted floating dtype of the inputs.
    """
    if groups != 1:
        from .convnd import _check_rank, convnd_forward

        _check_rank(x, 2, "conv2d_forward")
        return convnd_forward(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    dtype = result_dtype(np.asarray(x), np.asarray(w), np.asarray(b))
    x, w, b = (as_float_array(a, dtype) for a in (x, w, b))
    s, p, d, out_hw = _geometry(x, w, b, stride, padding, dilation)
    return _to_nchw(_correlate(pad2d(x, p), w, s, d, out_hw), b)


def conv2d_input_grad(
    delta: ArrayLike,
    x_shape: tuple[int, int, int, int],
    w: ArrayLike,
    *,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> NDArray:
    """Gradient of a convolution with respect to its input (eqs. 15-22 without ``f'``).

    Eq. 22 in its corrected form, generalised: ``dE/do^{l}`` is the full convolution (eq. 2's
    ``*``) of ``delta^{l+1}`` with ``w^{l+1}``, i.e. the correlation of the zero-padded deltas
    with ``rot180(w^{l+1})``.
    The deltas (N, D, Ho, Wo) are placed on the stride grid of a zero frame of size
    ``(H + d_h*(k1-1), W + d_w*(k2-1))`` at offset ``d*(k-1) - p`` per axis (entries that would
    land outside the frame touch only padding and are dropped), then correlated with the
    kernel rotated by 180 degrees and transposed to (C, D, k1, k2), at dilation ``d``.
    Ledger: eq20 (holds); eq21 and eq22 fail as printed (the seed's ``*`` of eq. 2 already
    flips the kernel, so ``delta * rot180(w)`` flips it twice). This follows the ledger's
    corrected form of eq. 22, ``delta * w`` with eq. 2's ``*``, i.e. the correlation of the
    zero-padded deltas with ``rot180(w)`` computed here.

    Parameters
    ----------
    delta : array (N, D, Ho, Wo)
        ``dE/dx^{l+1}`` (the deltas of eq. 15 of the layer above).
    x_shape : (N, C, H, W)
        Shape of the convolution's input.
    w : array (D, C, k1, k2)
        Filter bank of the convolution.
    stride, padding, dilation, groups : int or (int, int)
        As in :func:`conv2d_forward`.

    Returns
    -------
    array (N, C, H, W)
    """
    dtype = result_dtype(np.asarray(delta), np.asarray(w))
    delta, w = as_float_array(delta, dtype), as_float_array(w, dtype)
    n, c, h, wd = (int(v) for v in x_shape)
    if w.ndim != 4 or w.shape[1] != c:
        raise ValueError(f"w must be (D, {c}, k1, k2) for an input of shape {tuple(x_shape)}, got {w.shape}")
    dn, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    s = pair(stride, "stride", minimum=1)
    p = pair(padding, "padding")
    d = pair(dilation, "dilation", minimum=1)
    ho, wo = conv_output_hw((h, wd), (kh, kw), s, p, d)
    check_delta(delta, (n, dn, ho, wo), "conv2d_input_grad")
    frame_hw = (h + d[0] * (kh - 1), wd + d[1] * (kw - 1))
    frame = np.zeros((n, dn, *frame_hw), dtype=delta.dtype)
    src: list[slice] = []
    dst: list[slice] = []
    for size, k, st, pd, dl, out in zip(frame_hw, (kh, kw), s, p, d, (ho, wo)):
        off = dl * (k - 1) - pd  # delta[i] sits at frame index i*s + off
        lo = 0 if off >= 0 else (-off + st - 1) // st  # first delta index landing inside
        hi = min(out, (size - 1 - off) // st + 1)  # one past the last one inside
        if hi <= lo:
            return np.zeros((n, c, h, wd), dtype=delta.dtype)
        start = off + lo * st
        dst.append(slice(start, start + st * (hi - lo - 1) + 1, st))
        src.append(slice(lo, hi))
    frame[:, :, dst[0], dst[1]] = delta[:, :, src[0], src[1]]
    w_rot = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # rot180, (C, D, k1, k2)
    return _to_nchw(_correlate(frame, np.ascontiguousarray(w_rot), (1, 1), d, (h, wd)))


def conv2d_backward(
    delta: ArrayLike,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike,
    *,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> tuple[NDArray, NDArray, NDArray]:
    """Convolution layer backward pass: gradients of ``E`` with respect to ``x``, ``w`` and ``b``.

    The seed states eqs. 14 and 22 for stride 1, no padding, no dilation and a single channel;
    this implementation generalises them to a batch, channels, filters, stride, padding and
    dilation per axis.

    * ``dw`` -- eq. 13: ``dE/dw_{m',n'} = sum_i sum_j delta_{i,j} o^{l-1}_{i+m', j+n'}``, i.e.
      ``dw[d,c,m,n] = sum_{N,i,j} delta[N,d,i,j] * xp[N,c, i*s_h+m*d_h, j*s_w+n*d_w]``, the
      correlation of the (padded) input with the deltas (eq. 14), from eqs. 10-12.
    * ``db`` -- eq. 10 with ``dx^l/db = 1``: ``db[d] = sum_{N,i,j} delta[N,d,i,j]``.
    * ``dx`` -- eqs. 15-22: the full convolution (eq. 2's ``*``) of the stride-dilated deltas
      with the kernel (see :func:`conv2d_input_grad`); input rows/columns not covered by
      any window get zero gradient. No ``f'`` factor here: this is the convolution's own input
      gradient (``f'`` enters in :func:`reference.layer.layer_delta`).

    Ledger: eq10-eq13 and eq15-eq17 hold. eq14 fails as printed (eq. 2's convolution of
    ``rot180(delta)`` with ``o`` lands on eq. 13 shifted by ``(H - k1, W - k2)``), so ``dw``
    follows eq. 13, the correlation; ``dx`` follows the corrected eq. 22 (see
    :func:`conv2d_input_grad`).

    Parameters
    ----------
    delta : array (N, D, Ho, Wo)
        ``delta^l = dE/dx^l``, the gradient of ``E`` with respect to the forward output (eq. 15).
    x : array (N, C, H, W)
    w : array (D, C, k1, k2)
    b : array (D,)
    stride, padding, dilation, groups : int or (int, int)
        As in :func:`conv2d_forward`.

    Returns
    -------
    dx : array (N, C, H, W)
    dw : array (D, C, k1, k2)
    db : array (D,)
    """
    if groups != 1:
        from .convnd import _check_rank, convnd_backward

        _check_rank(x, 2, "conv2d_backward")
        return convnd_backward(delta, x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    dtype = result_dtype(np.asarray(delta), np.asarray(x), np.asarray(w), np.asarray(b))
    delta, x, w, b = (as_float_array(a, dtype) for a in (delta, x, w, b))
    s, p, d, out_hw = _geometry(x, w, b, stride, padding, dilation)
    n, dn = x.shape[0], w.shape[0]
    check_delta(delta, (n, dn, *out_hw), "conv2d_backward")
    delta_dn = np.ascontiguousarray(delta.transpose(1, 0, 2, 3)).reshape(dn, -1)  # (D, N*Ho*Wo)
    cols = _im2col(pad2d(x, p), w.shape[2:], s, d, out_hw)  # (C*k1*k2, N*Ho*Wo)
    # eq. 13 as one matrix product; (cols @ delta^T)^T rather than delta @ cols^T: the long
    # N*Ho*Wo axis as the inner dimension of a tall product is much faster in OpenBLAS
    dw = np.ascontiguousarray((cols @ delta_dn.T).T).reshape(w.shape)
    del cols
    db = delta.sum(axis=(0, 2, 3))
    dx = conv2d_input_grad(delta, x.shape, w, stride=s, padding=p, dilation=d)
    return dx, dw, db
