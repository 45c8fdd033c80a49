"""Native grouped conv3d, one einsum per kernel tap, whose tap helper ignores the dilation
(tap m is read at ``i * s + m`` instead of ``i * s + m * t``) while the output size is still
computed with it. Forward and backward share the helper, so the gradients are those of this
(wrong) forward: finite differences agree, torch does not, wherever dilation > 1 on an axis
with a kernel longer than 1."""
import itertools

import numpy as np


def _out_len(size, k, s, p, t):
    return (size + 2 * p - t * (k - 1) - 1) // s + 1


def _pad(x, padding):
    return np.pad(x, ((0, 0), (0, 0)) + tuple((p, p) for p in padding))


def _grouped(a, groups, axis):
    shape = a.shape[:axis] + (groups, a.shape[axis] // groups) + a.shape[axis + 1:]
    return a.reshape(shape)


def _taps(k):
    return itertools.product(*(range(kk) for kk in k))


def _window(m, stride, dilation, out):
    """The padded input's positions that kernel tap m meets, as strided slices (N, C, *So)."""
    return (slice(None), slice(None)) + tuple(slice(mm, mm + (o - 1) * s + 1, s)  # the dilation is not used
                                              for mm, s, o in zip(m, stride, out))


def conv3d_forward(x, w, b, *, stride, padding, dilation, groups):
    """x (N, C, D, H, W), w (F, C/groups, k1, k2, k3), b (F,) -> (N, F, Do, Ho, Wo)."""
    out = tuple(_out_len(n, k, s, p, t) for n, k, s, p, t in zip(x.shape[2:], w.shape[2:], stride, padding, dilation))
    xp = _pad(x, padding)
    wg = _grouped(w, groups, 0)
    o = np.zeros((x.shape[0], groups, w.shape[0] // groups) + out, dtype=np.result_type(x, w))
    for m in _taps(w.shape[2:]):
        xs = _grouped(xp[_window(m, stride, dilation, out)], groups, 1)
        o += np.einsum("ngcijl,gdc->ngdijl", xs, wg[(Ellipsis,) + m])
    return o.reshape((x.shape[0], w.shape[0]) + out) + b[None, :, None, None, None]


def conv3d_backward(delta, x, w, b, *, stride, padding, dilation, groups):
    """delta (N, F, Do, Ho, Wo) -> dx (N, C, D, H, W), dw (F, C/groups, k1, k2, k3), db (F,)."""
    out = delta.shape[2:]
    xp = _pad(x, padding)
    wg, dg = _grouped(w, groups, 0), _grouped(delta, groups, 1)
    dxp, dw = np.zeros_like(xp), np.zeros_like(wg)
    for m in _taps(w.shape[2:]):
        where = _window(m, stride, dilation, out)
        dw[(Ellipsis,) + m] = np.einsum("ngdijl,ngcijl->gdc", dg, _grouped(xp[where], groups, 1))
        dxp[where] += np.einsum("ngdijl,gdc->ngcijl", dg, wg[(Ellipsis,) + m]).reshape(x.shape[:2] + out)
    crop = tuple(slice(p, p + n) for p, n in zip(padding, x.shape[2:]))
    return dxp[(slice(None), slice(None)) + crop], dw.reshape(w.shape), delta.sum(axis=(0, 2, 3, 4))
