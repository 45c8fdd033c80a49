"""Native grouped conv1d whose dx correlates the spread, zero-padded deltas with the kernel
itself instead of the flipped kernel (the full convolution of eqs. 20-22 done as a
correlation without ``w[..., ::-1]``). Forward, dw and db are right; dx is right only for
1-tap or symmetric kernels."""
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
    wg = _grouped(w[None], groups)[0]  # (G, D/G, C/G, k)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p)))
    patches = _grouped(xp[:, :, _taps(lo, k, s, t)], groups)
    dg = _grouped(delta, groups)  # (N, G, D/G, Lo)
    dw = np.einsum("ngdl,ngclm->gdcm", dg, patches).reshape(w.shape)
    # dx: the deltas spread onto the stride grid, zero-padded by the kernel's extent, against
    # the kernel; the adjoint needs the kernel flipped, w[..., ::-1], and it is used unflipped
    ext = (k - 1) * t
    spread = np.zeros((n, delta.shape[1], (lo - 1) * s + 1), dtype=delta.dtype)
    spread[:, :, ::s] = delta
    spread = np.pad(spread, ((0, 0), (0, 0), (ext, ext)))
    reach = spread.shape[2] - ext  # padded-input positions some window reaches
    windows = _grouped(spread[:, :, _taps(reach, k, 1, t)], groups)  # (N, G, D/G, reach, k)
    dxp = np.zeros_like(xp)
    dxp[:, :, :reach] = np.einsum("ngdjm,gdcm->ngcj", windows, wg).reshape(n, c, reach)
    return dxp[:, :, p:p + length], dw, delta.sum(axis=(0, 2))
