"""Native conv layer with three bugs: dx ignores the dilation, dw comes back with its kernel
flipped (rot180), and db is a mean over the batch instead of a sum."""
import numpy as np


def _out_len(size, k, s, p, d=1):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _windows(hw, k, stride, padding, dilation=(1, 1)):
    (H, W), (k1, k2), (sh, sw), (ph, pw), (dh, dw) = hw, k, stride, padding, dilation
    ho, wo = _out_len(H, k1, sh, ph, dh), _out_len(W, k2, sw, pw, dw)
    rows = (np.arange(ho) * sh)[:, None] + np.arange(k1) * dh
    cols = (np.arange(wo) * sw)[:, None] + np.arange(k2) * dw
    return rows[:, :, None, None], cols[None, None, :, :]


def _pad(x, padding):
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def conv2d_forward(x, w, b, *, stride, padding, dilation):
    """x (N, C, H, W), w (D, C, k1, k2), b (D,) -> (N, D, Ho, Wo)."""
    rows, cols = _windows(x.shape[2:], w.shape[2:], stride, padding, dilation)
    patches = _pad(x, padding)[:, :, rows, cols]
    return np.einsum("ncuavb,dcab->nduv", patches, w, optimize=True) + b[None, :, None, None]


def conv2d_backward(delta, x, w, b, *, stride, padding, dilation):
    """delta (N, D, Ho, Wo) -> dx (N, C, H, W), dw (D, C, k1, k2), db (D,)."""
    rows, cols = _windows(x.shape[2:], w.shape[2:], stride, padding, dilation)
    xp = _pad(x, padding)
    dw = np.einsum("nduv,ncuavb->dcab", delta, xp[:, :, rows, cols], optimize=True)[:, :, ::-1, ::-1].copy()
    db = delta.mean(axis=0).sum(axis=(1, 2))
    dpatches = np.einsum("nduv,dcab->ncuavb", delta, w, optimize=True)
    (sh, sw), (k1, k2), (ho, wo) = stride, w.shape[2:], delta.shape[2:]
    r = ((np.arange(ho) * sh)[:, None] + np.arange(k1))[:, :, None, None]  # the dilation forgotten
    c = ((np.arange(wo) * sw)[:, None] + np.arange(k2))[None, None, :, :]
    dxp = np.zeros_like(xp)
    np.add.at(dxp, (slice(None), slice(None), r, c), dpatches)
    ph, pw = padding
    return dxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]], dw, db
