"""Native im2col conv that pads by replicating the border (mode='edge') instead of zeros,
with a backward exact for that forward: finite differences of its own forward agree."""
import numpy as np


def _out_len(size, k, s, p, d=1):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _windows(hw, k, stride, padding, dilation=(1, 1)):
    """Row and column indices, in the padded input, of every window: (Ho, k1, 1, 1), (1, 1, Wo, k2)."""
    (H, W), (k1, k2), (sh, sw), (ph, pw), (dh, dw) = hw, k, stride, padding, dilation
    ho, wo = _out_len(H, k1, sh, ph, dh), _out_len(W, k2, sw, pw, dw)
    rows = (np.arange(ho) * sh)[:, None] + np.arange(k1) * dh
    cols = (np.arange(wo) * sw)[:, None] + np.arange(k2) * dw
    return rows[:, :, None, None], cols[None, None, :, :]


def _pad(x, padding, value=0.0):
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _unpad(xp, padding, hw):
    ph, pw = padding
    return xp[:, :, ph:ph + hw[0], pw:pw + hw[1]]


def conv2d_forward(x, w, b, *, stride, padding, dilation):
    """x (N, C, H, W), w (D, C, k1, k2), b (D,) -> (N, D, Ho, Wo)."""
    rows, cols = _windows(x.shape[2:], w.shape[2:], stride, padding, dilation)
    ph, pw = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode="edge")  # replicate the border
    patches = xp[:, :, rows, cols]  # (N, C, Ho, k1, Wo, k2)
    return np.einsum("ncuavb,dcab->nduv", patches, w, optimize=True) + b[None, :, None, None]


def conv2d_backward(delta, x, w, b, *, stride, padding, dilation):
    """delta (N, D, Ho, Wo) -> dx (N, C, H, W), dw (D, C, k1, k2), db (D,)."""
    rows, cols = _windows(x.shape[2:], w.shape[2:], stride, padding, dilation)
    H, W = x.shape[2:]
    ph, pw = padding
    rows, cols = np.clip(rows - ph, 0, H - 1), np.clip(cols - pw, 0, W - 1)  # padded -> x, edge-replicated
    patches = x[:, :, rows, cols]
    dw = np.einsum("nduv,ncuavb->dcab", delta, patches, optimize=True)
    db = delta.sum(axis=(0, 2, 3))
    dpatches = np.einsum("nduv,dcab->ncuavb", delta, w, optimize=True)
    dx = np.zeros_like(x)
    np.add.at(dx, (slice(None), slice(None), rows, cols), dpatches)
    return dx, dw, db
