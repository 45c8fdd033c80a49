"""Which outputs each input element can move: colourings for batched finite differences.

Perturbing one element per forward evaluation costs two evaluations per element (four with
step halving). But an element of ``x`` in a convolution moves only the outputs whose window
covers it, in its own sample; an element of ``w`` only its own filter's output channel. Two
elements whose *footprints* (sets of outputs they move) are disjoint can be perturbed in the
same evaluation, and each output change attributed to the one element that caused it. This is
the Curtis–Powell–Reid colouring of a sparse Jacobian.

A footprint kind provides:

- ``colours(kind, shape, spec_params)``: an integer array of the input's shape; elements of one
  colour have pairwise disjoint footprints;
- ``attribute(kind, D, shape, spec_params)``: for every input element, the sum of the output
  array ``D`` over that element's footprint (an array of the input's shape);
- ``reach(kind, mask, out_shape, spec_params)``: the outputs a set of input elements can move
  (the union of their footprints; the transpose of ``attribute``).

Both rest on the op's stated structure (samples independent, windows of the stated size).
The harness checks batch independence on every op, and every finite-difference verdict that
disagrees with a candidate is confirmed one element at a time (``gradcheck.oracles.fd``), so a
candidate whose structure differs from the stated one cannot pass by the colouring's grace.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["KINDS", "colours", "attribute", "reach", "window_geometry", "window_adjoint", "window_reach"]

KINDS = (
    "window-mixing",
    "sample",
    "window",
    "filter",
    "out-channel",
    "elementwise",
    "dense-rows",
    "dense-weight",
    "dense-bias",
    "full",
)


def window_geometry(kind: str, params: dict[str, Any], w_shape: tuple[int, ...] | None):
    """``(kernel, stride, padding, dilation)`` as (h, w) pairs for a windowed input."""
    if kind == "window-mixing":
        assert w_shape is not None
        return tuple(w_shape[2:]), params["stride"], params["padding"], params["dilation"]
    return params["kernel_size"], params["stride"], params["padding"], (1, 1)


def window_adjoint(g: np.ndarray, in_hw: tuple[int, int], kernel, stride, padding, dilation) -> np.ndarray:
    """Sum, for every input position, of ``g`` over the outputs whose window covers it.

    Parameters
    ----------
    g : ndarray, shape (N, C, Ho, Wo)
    in_hw : (H, W) of the input.

    Returns
    -------
    ndarray, shape (N, C, H, W)
    """
    n, c, ho, wo = g.shape
    (k1, k2), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    h, w = in_hw
    buf = np.zeros((n, c, max(h + 2 * ph, (k1 - 1) * dh + sh * (ho - 1) + 1), max(w + 2 * pw, (k2 - 1) * dw + sw * (wo - 1) + 1)), dtype=g.dtype)
    for m in range(k1):
        for q in range(k2):
            buf[:, :, m * dh : m * dh + sh * (ho - 1) + 1 : sh, q * dw : q * dw + sw * (wo - 1) + 1 : sw] += g
    return buf[:, :, ph : ph + h, pw : pw + w]


def window_reach(m: np.ndarray, out_hw: tuple[int, int], kernel, stride, padding, dilation) -> np.ndarray:
    """For every output position, whether its window covers a ``True`` element of ``m``.

    Parameters
    ----------
    m : bool ndarray, shape (N, C, H, W)
    out_hw : (Ho, Wo) of the output.

    Returns
    -------
    bool ndarray, shape (N, C, Ho, Wo)
    """
    n, c, h, w = m.shape
    ho, wo = out_hw
    (k1, k2), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    buf = np.zeros((n, c, max(h + 2 * ph, (k1 - 1) * dh + sh * (ho - 1) + 1), max(w + 2 * pw, (k2 - 1) * dw + sw * (wo - 1) + 1)), dtype=bool)
    buf[:, :, ph : ph + h, pw : pw + w] = m
    out = np.zeros((n, c, ho, wo), dtype=bool)
    for a in range(k1):
        for q in range(k2):
            out |= buf[:, :, a * dh : a * dh + sh * (ho - 1) + 1 : sh, q * dw : q * dw + sw * (wo - 1) + 1 : sw]
    return out


def _period(kernel: int, dilation: int, size: int) -> int:
    # Two positions at least `span` apart never share a window.
    return max(1, min(dilation * (kernel - 1) + 1, size))


def colours(kind: str, shape: tuple[int, ...], params: dict[str, Any], w_shape=None) -> np.ndarray:
    """Integer colour of every element of an input of ``shape`` (see module docstring)."""
    if kind in ("window-mixing", "window"):
        n, c, h, w = shape
        (k1, k2), _, _, (dh, dw) = window_geometry(kind, params, w_shape)
        p1, p2 = _period(k1, dh, h), _period(k2, dw, w)
        ii = (np.arange(h) % p1)[:, None] * p2 + (np.arange(w) % p2)[None, :]
        cc = np.arange(c)[:, None, None] * (p1 * p2) if kind == "window-mixing" else np.zeros((c, 1, 1), int)
        return np.broadcast_to(cc + ii[None], shape).copy()
    if kind in ("filter", "sample"):  # filter: w[d] moves channel d; sample: x[n] moves sample n
        per = np.arange(int(np.prod(shape[1:]))).reshape(shape[1:])
        return np.broadcast_to(per, shape).copy()
    if kind in ("out-channel", "elementwise", "dense-bias"):
        return np.zeros(shape, dtype=int)
    if kind in ("dense-rows", "dense-weight"):
        return np.broadcast_to(np.arange(shape[1]), shape).copy()
    if kind == "full":
        return np.arange(int(np.prod(shape))).reshape(shape)
    raise ValueError(f"unknown footprint kind {kind!r}")


def attribute(kind: str, D: np.ndarray, shape: tuple[int, ...], params: dict[str, Any], w_shape=None) -> np.ndarray:
    """Sum of ``D`` (an output-shaped array) over each input element's footprint."""
    if kind in ("window-mixing", "window"):
        g = D.sum(axis=1, keepdims=True) if kind == "window-mixing" else D
        out = window_adjoint(g, shape[2:], *window_geometry(kind, params, w_shape))
        return np.broadcast_to(out, shape)
    if kind == "filter":
        per = D.sum(axis=(0,) + tuple(range(2, D.ndim)))
        return np.broadcast_to(per.reshape((-1,) + (1,) * (len(shape) - 1)), shape)
    if kind == "sample":
        per = D.reshape(D.shape[0], -1).sum(axis=1)
        return np.broadcast_to(per.reshape((-1,) + (1,) * (len(shape) - 1)), shape)
    if kind == "out-channel":
        return D.sum(axis=(0,) + tuple(range(2, D.ndim))).reshape(shape)
    if kind == "elementwise":
        return D
    if kind == "dense-rows":
        return np.broadcast_to(D.sum(axis=1)[:, None], shape)
    if kind == "dense-weight":
        return np.broadcast_to(D.sum(axis=0)[:, None], shape)
    if kind == "dense-bias":
        return D.sum(axis=0).reshape(shape)
    if kind == "full":
        return np.full(shape, D.sum())
    raise ValueError(f"unknown footprint kind {kind!r}")


def reach(kind: str, mask: np.ndarray, out_shape: tuple[int, ...], params: dict[str, Any], w_shape=None) -> np.ndarray:
    """The outputs (a bool array of ``out_shape``) that the ``True`` elements of ``mask`` (an
    input-shaped bool array) can move: the union of their stated footprints.

    ``attribute(kind, D, ...)`` is zero on ``mask`` for every ``D`` that vanishes on
    ``reach(kind, mask, ...)``.
    """
    mask = np.asarray(mask, dtype=bool)
    out_shape = tuple(out_shape)
    if kind in ("window-mixing", "window"):
        m = mask.any(axis=1, keepdims=True) if kind == "window-mixing" else mask
        r = window_reach(m, out_shape[2:], *window_geometry(kind, params, w_shape))
        return np.broadcast_to(r, out_shape)
    rest = (1,) * (len(out_shape) - 2)
    if kind == "filter":
        return np.broadcast_to(mask.reshape(mask.shape[0], -1).any(axis=1).reshape((1, -1) + rest), out_shape)
    if kind == "sample":
        return np.broadcast_to(mask.reshape(mask.shape[0], -1).any(axis=1).reshape((-1,) + (1,) * (len(out_shape) - 1)),
                               out_shape)
    if kind == "out-channel":
        return np.broadcast_to(mask.reshape(-1).reshape((1, -1) + rest), out_shape)
    if kind == "elementwise":
        return mask
    if kind == "dense-rows":
        return np.broadcast_to(mask.any(axis=1)[:, None], out_shape)
    if kind == "dense-weight":
        return np.broadcast_to(mask.any(axis=1)[None, :], out_shape)
    if kind == "dense-bias":
        return np.broadcast_to(mask.reshape(-1)[None, :], out_shape)
    if kind == "full":
        return np.full(out_shape, bool(mask.any()))
    raise ValueError(f"unknown footprint kind {kind!r}")
