"""A correct grouped conv2d: an explicit loop over the groups, each an ungrouped im2col conv
(columns (C/groups * k1 * k2, N * Ho * Wo), one matrix product with the flattened filters) on
its own slice of channels and filters; col2im with ``np.add.at`` for dx."""
import numpy as np


def _out_len(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _windows(hw, k, stride, padding, dilation):
    """Row and column indices, in the padded input, of every window: (1, 1, k1, 1, Ho, 1), (1, 1, 1, k2, 1, Wo)."""
    (H, W), (k1, k2), (sh, sw), (ph, pw), (dh, dw) = hw, k, stride, padding, dilation
    ho, wo = _out_len(H, k1, sh, ph, dh), _out_len(W, k2, sw, pw, dw)
    rows = np.arange(k1)[:, None, None, None] * dh + (np.arange(ho) * sh)[None, None, :, None]
    cols = np.arange(k2)[None, :, None, None] * dw + (np.arange(wo) * sw)[None, None, None, :]
    return rows, cols, ho, wo


def _im2col(xp, rows, cols):
    """(N, C, Hp, Wp) -> (C * k1 * k2, N * Ho * Wo)."""
    cols_ = xp[:, :, rows, cols]  # (N, C, k1, k2, Ho, Wo)
    n, c, k1, k2, ho, wo = cols_.shape
    return cols_.transpose(1, 2, 3, 0, 4, 5).reshape(c * k1 * k2, n * ho * wo)


def _conv(x, w, stride, padding, dilation):
    """Ungrouped conv without bias: (N, C, H, W), (D, C, k1, k2) -> (N, D, Ho, Wo)."""
    (ph, pw) = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    rows, cols, ho, wo = _windows(x.shape[2:], w.shape[2:], stride, padding, dilation)
    out = w.reshape(w.shape[0], -1) @ _im2col(xp, rows, cols)  # (D, N * Ho * Wo)
    return out.reshape(w.shape[0], x.shape[0], ho, wo).transpose(1, 0, 2, 3)


def _conv_backward(delta, x, w, stride, padding, dilation):
    """Ungrouped conv's dx and dw."""
    (ph, pw), (h, wd) = padding, x.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    rows, cols, ho, wo = _windows(x.shape[2:], w.shape[2:], stride, padding, dilation)
    d2 = delta.transpose(1, 0, 2, 3).reshape(w.shape[0], -1)  # (D, N * Ho * Wo)
    dw = (d2 @ _im2col(xp, rows, cols).T).reshape(w.shape)
    dcols = w.reshape(w.shape[0], -1).T @ d2  # (C * k1 * k2, N * Ho * Wo)
    n, c = x.shape[:2]
    dcols = dcols.reshape((c,) + w.shape[2:] + (n, ho, wo)).transpose(3, 0, 1, 2, 4, 5)
    dxp = np.zeros_like(xp)
    np.add.at(dxp, (slice(None), slice(None), rows, cols), dcols)
    return dxp[:, :, ph:ph + h, pw:pw + wd], dw


def _split(groups, x, w):
    cg, dg = x.shape[1] // groups, w.shape[0] // groups
    return [(slice(g * cg, (g + 1) * cg), slice(g * dg, (g + 1) * dg)) for g in range(groups)]


def conv2d_forward(x, w, b, *, stride, padding, dilation, groups=1):
    """x (N, C, H, W), w (D, C/groups, k1, k2), b (D,) -> (N, D, Ho, Wo)."""
    out = [_conv(x[:, cs], w[fs], stride, padding, dilation) for cs, fs in _split(groups, x, w)]
    return np.concatenate(out, axis=1) + b[None, :, None, None]


def conv2d_backward(delta, x, w, b, *, stride, padding, dilation, groups=1):
    """delta (N, D, Ho, Wo) -> dx (N, C, H, W), dw (D, C/groups, k1, k2), db (D,)."""
    parts = [_conv_backward(delta[:, fs], x[:, cs], w[fs], stride, padding, dilation)
             for cs, fs in _split(groups, x, w)]
    dx = np.concatenate([p[0] for p in parts], axis=1)
    dw = np.concatenate([p[1] for p in parts], axis=0)
    return dx, dw, delta.sum(axis=(0, 2, 3))
