"""Native grouped conv2d that handles ``groups`` by tiling each filter over all C channels
(``np.tile(w, (1, groups, 1, 1))``) and running an ungrouped im2col conv: a filter of group g
then sees the channels of every group with the same kernel, so a depthwise filter sees the
sum of all channels. The backward is consistent with that forward (dw sums the tiles), so it
agrees with finite differences; at ``groups = 1`` it is exactly right."""
import numpy as np


def _out_len(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _windows(hw, k, stride, padding, dilation):
    """Row and column indices, in the padded input, of every window: (Ho, 1, k1, 1), (1, Wo, 1, k2)."""
    (H, W), (k1, k2), (sh, sw), (ph, pw), (dh, dw) = hw, k, stride, padding, dilation
    ho, wo = _out_len(H, k1, sh, ph, dh), _out_len(W, k2, sw, pw, dw)
    rows = (np.arange(ho) * sh)[:, None] + np.arange(k1) * dh
    cols = (np.arange(wo) * sw)[:, None] + np.arange(k2) * dw
    return rows[:, None, :, None], cols[None, :, None, :]


def _pad(x, padding):
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def _full_filters(w, groups):
    """(D, C/groups, k1, k2) -> (D, C, k1, k2): every filter repeated over the groups' channels."""
    return np.tile(w, (1, groups, 1, 1))


def conv2d_forward(x, w, b, *, stride, padding, dilation, groups=1):
    """x (N, C, H, W), w (D, C/groups, k1, k2), b (D,) -> (N, D, Ho, Wo)."""
    rows, cols = _windows(x.shape[2:], w.shape[2:], stride, padding, dilation)
    patches = _pad(x, padding)[:, :, rows, cols]  # (N, C, Ho, Wo, k1, k2)
    return np.einsum("ncuvab,dcab->nduv", patches, _full_filters(w, groups)) + b[None, :, None, None]


def conv2d_backward(delta, x, w, b, *, stride, padding, dilation, groups=1):
    """delta (N, D, Ho, Wo) -> dx (N, C, H, W), dw (D, C/groups, k1, k2), db (D,)."""
    rows, cols = _windows(x.shape[2:], w.shape[2:], stride, padding, dilation)
    xp = _pad(x, padding)
    patches = xp[:, :, rows, cols]
    wf = _full_filters(w, groups)
    dwf = np.einsum("nduv,ncuvab->dcab", delta, patches)
    dw = dwf.reshape((w.shape[0], groups) + w.shape[1:]).sum(axis=1)
    dxp = np.zeros_like(xp)
    np.add.at(dxp, (slice(None), slice(None), rows, cols), np.einsum("nduv,dcab->ncuvab", delta, wf))
    (ph, pw), (h, wd) = padding, x.shape[2:]
    return dxp[:, :, ph:ph + h, pw:pw + wd], dw, delta.sum(axis=(0, 2, 3))
