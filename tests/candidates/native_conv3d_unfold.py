"""A correct grouped conv3d by unfolding: ``sliding_window_view`` of the padded input over the
dilated kernel's extent, read at the stride (window positions) and the dilation (taps), gives
a (N, C, Do, Ho, Wo, k1, k2, k3) view; forward and dw are one einsum each over it, dx folds
the einsum of the deltas with the filters back, one strided slice per kernel tap."""
import itertools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _out_len(size, k, s, p, t):
    return (size + 2 * p - t * (k - 1) - 1) // s + 1


def _pad(x, padding):
    return np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding))


def _unfold(xp, k, stride, dilation, out):
    """(N, C, *Sp) -> (N, C, *So, *k): [n, c, i, m] = xp[n, c, i * stride + m * dilation]."""
    extent = tuple((kk - 1) * t + 1 for kk, t in zip(k, dilation))
    v = sliding_window_view(xp, extent, axis=(2, 3, 4))
    v = v[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)
          + tuple(slice(None, None, t) for t in dilation)]
    return v[(slice(None), slice(None)) + tuple(slice(0, o) for o in out)]


def _grouped(a, groups, axis):
    shape = a.shape[:axis] + (groups, a.shape[axis] // groups) + a.shape[axis + 1:]
    return a.reshape(shape)


def _geometry(x, w, stride, padding, dilation):
    return tuple(_out_len(n, k, s, p, t) for n, k, s, p, t in zip(x.shape[2:], w.shape[2:], stride, padding, dilation))


def conv3d_forward(x, w, b, *, stride, padding, dilation, groups):
    """x (N, C, D, H, W), w (F, C/groups, k1, k2, k3), b (F,) -> (N, F, Do, Ho, Wo)."""
    out = _geometry(x, w, stride, padding, dilation)
    cols = _grouped(_unfold(_pad(x, padding), w.shape[2:], stride, dilation, out), groups, 1)
    o = np.einsum("ngcijlabe,gdcabe->ngdijl", cols, _grouped(w, groups, 0))
    return o.reshape((x.shape[0], w.shape[0]) + out) + b[None, :, None, None, None]


def conv3d_backward(delta, x, w, b, *, stride, padding, dilation, groups):
    """delta (N, F, Do, Ho, Wo) -> dx (N, C, D, H, W), dw (F, C/groups, k1, k2, k3), db (F,)."""
    out = delta.shape[2:]
    xp = _pad(x, padding)
    cols = _grouped(_unfold(xp, w.shape[2:], stride, dilation, out), groups, 1)
    dg = _grouped(delta, groups, 1)
    dw = np.einsum("ngdijl,ngcijlabe->gdcabe", dg, cols).reshape(w.shape)
    dcols = np.einsum("ngdijl,gdcabe->ngcijlabe", dg, _grouped(w, groups, 0))
    dcols = dcols.reshape(x.shape[:2] + dcols.shape[3:])
    dxp = np.zeros_like(xp)
    for m in itertools.product(*(range(k) for k in w.shape[2:])):
        where = tuple(slice(mm * t, mm * t + (o - 1) * s + 1, s) for mm, t, s, o in zip(m, dilation, stride, out))
        dxp[(slice(None), slice(None)) + where] += dcols[(Ellipsis,) + m]
    crop = tuple(slice(p, p + n) for p, n in zip(padding, x.shape[2:]))
    return dxp[(slice(None), slice(None)) + crop], dw, delta.sum(axis=(0, 2, 3, 4))
