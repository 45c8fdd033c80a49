"""Native grouped conv1d (unfolded windows, einsum) whose dw reads the input windows at
stride 1 (taps ``i + m * t`` instead of ``i * s + m * t``), as if the deltas were of a
stride-1 conv. Forward, dx and db are right, and so is dw at stride 1."""
import numpy as np


def _out_len(size, k, s, p, t):
    return (size + 2 * p - t * (k - 1) - 1) // s + 1


def _taps(n_out, k, s, t):
    """(n_out, k) indices ``i * s + m * t`` of every window's taps."""
    return (np.arange(n_out) * s)[:, None] + np.arange(k) * t


def _grouped(a, groups):
    """(N, C, ...) -> (N, groups, C / groups, ...)."""
    return a.reshape((a.shape[0], groups, a.shape[1] // groups) + a.shape[2:])


def conv1d_forward(x, w, b, *, stride, padding, dilation, groups):
    """x (N, C, L), w (D, C/groups, k), b (D,) -> (N, D, Lo)."""
    (s,), (p,), (t,) = stride, padding, dilation
    k = w.shape[2]
    lo = _out_len(x.shape[2], k, s, p, t)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p)))
    patches = _grouped(xp[:, :, _taps(lo, k, s, t)], groups)  # (N, G, C/G, Lo, k)
    o = np.einsum("ngclm,gdcm->ngdl", patches, _grouped(w[None], groups)[0])
    return o.reshape(x.shape[0], w.shape[0], lo) + b[None, :, None]


def conv1d_backward(delta, x, w, b, *, stride, padding, dilation, groups):
    """delta (N, D, Lo) -> dx (N, C, L), dw (D, C/groups, k), db (D,)."""
    (s,), (p,), (t,) = stride, padding, dilation
    n, c, length = x.shape
    k, lo = w.shape[2], delta.shape[2]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p)))
    dg = _grouped(delta, groups)  # (N, G, D/G, Lo)
    unstrided = _grouped(xp[:, :, _taps(lo, k, 1, t)], groups)  # stride dropped
    dw = np.einsum("ngdl,ngclm->gdcm", dg, unstrided).reshape(w.shape)
    idx = _taps(lo, k, s, t)
    dpatches = np.einsum("ngdl,gdcm->ngclm", dg, _grouped(w[None], groups)[0]).reshape(n, c, lo, k)
    dxp = np.zeros_like(xp)
    np.add.at(dxp, (slice(None), slice(None), idx), dpatches)
    return dxp[:, :, p:p + length], dw, delta.sum(axis=(0, 2))
