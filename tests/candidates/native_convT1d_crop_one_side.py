"""Native grouped conv_transpose1d whose forward crops both sides' padding off the end of the
full output (the output is shifted by ``padding``); the backward is the right one, so forward,
dx and dw disagree where padding > 0."""
import itertools

import numpy as np


def _grouped(a, groups, axis):
    shape = a.shape[:axis] + (groups, a.shape[axis] // groups) + a.shape[axis + 1:]
    return a.reshape(shape)


def _flat(a):
    """(N, G, C, *S) -> (N, G, C, prod(S))."""
    return a.reshape(a.shape[:3] + (-1,))


def _buffer(x, w, stride, padding, output_padding, dilation):
    """Spatial size of the uncropped output: (S - 1) s + t (k - 1) + output_padding + 1."""
    return tuple((n - 1) * s + t * (k - 1) + op + 1
                 for n, k, s, op, t in zip(x.shape[2:], w.shape[2:], stride, output_padding, dilation))


def _taps(w, stride, dilation, size):
    """(tap, slices of the buffer it meets) for every kernel tap."""
    for m in itertools.product(*(range(k) for k in w.shape[2:])):
        yield m, (Ellipsis,) + tuple(slice(mm * t, mm * t + (n - 1) * s + 1, s)
                                     for mm, t, s, n in zip(m, dilation, stride, size))


def conv_transpose1d_forward(x, w, b, *, stride, padding, output_padding, dilation, groups):
    """x (N, C_in, L), w (C_in, C_out/groups, k), b (C_out,) -> (N, C_out, Lo)."""
    full = _buffer(x, w, stride, padding, output_padding, dilation)
    xg, wg = _grouped(x, groups, 1), _grouped(w, groups, 0)  # (N, G, Ci/G, L), (G, Ci/G, Co/G, k)
    y = np.zeros((x.shape[0], groups, w.shape[1]) + full, dtype=np.result_type(x, w))
    for m, where in _taps(w, stride, dilation, x.shape[2:]):
        y[where] += np.einsum("ngc...,gcd->ngd...", xg, wg[(Ellipsis,) + m])
    crop = tuple(slice(0, n - 2 * p) for p, n in zip(padding, full))
    y = y.reshape((x.shape[0], groups * w.shape[1]) + full)[(slice(None), slice(None)) + crop]
    return y + b.reshape((1, -1) + (1,) * len(full))


def conv_transpose1d_backward(delta, x, w, b, *, stride, padding, output_padding, dilation, groups):
    """delta (N, C_out, Lo) -> dx (N, C_in, L), dw (C_in, C_out/groups, k), db (C_out,)."""
    dfull = np.pad(delta, ((0, 0), (0, 0)) + tuple((p, p) for p in padding))
    dg, xg, wg = _grouped(dfull, groups, 1), _grouped(x, groups, 1), _grouped(w, groups, 0)
    dx, dw = np.zeros_like(xg), np.zeros_like(wg)
    for m, where in _taps(w, stride, dilation, x.shape[2:]):
        dx += np.einsum("ngd...,gcd->ngc...", dg[where], wg[(Ellipsis,) + m])
        dw[(Ellipsis,) + m] = np.einsum("ngcs,ngds->gcd", _flat(xg), _flat(dg[where]))
    return dx.reshape(x.shape), dw.reshape(w.shape), delta.sum(axis=(0,) + tuple(range(2, delta.ndim)))
