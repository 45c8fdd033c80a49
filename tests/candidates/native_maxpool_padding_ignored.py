"""Native max pool whose backward reads each window from the unpadded input at padded
coordinates (numpy-ml's Pool2D backward bug): wrong routing whenever padding > 0."""
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


def _pool_patches(x, kernel_size, stride, padding, value):
    """(N, C, Ho, Wo, kh*kw) windows of x padded with ``value``, and their indices."""
    rows, cols = _windows(x.shape[2:], kernel_size, stride, padding)
    p = _pad(x, padding, value)[:, :, rows, cols]  # (N, C, Ho, kh, Wo, kw)
    n, c, ho, kh, wo, kw = p.shape
    return p.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, ho, wo, kh * kw), rows, cols


def _scatter(x, padding, rows, cols, g):
    """Scatter per-window gradients g (N, C, Ho, Wo, kh*kw) back onto x (N, C, H, W)."""
    n, c, ho, wo, _ = g.shape
    kh, kw = rows.shape[1], cols.shape[3]
    g = g.reshape(n, c, ho, wo, kh, kw).transpose(0, 1, 2, 4, 3, 5)
    dxp = np.zeros_like(_pad(x, padding))
    np.add.at(dxp, (slice(None), slice(None), rows, cols), g)
    return _unpad(dxp, padding, x.shape[2:])


def max_pool2d_forward(x, *, kernel_size, stride, padding):
    return _pool_patches(x, kernel_size, stride, padding, -np.inf)[0].max(axis=-1)


def max_pool2d_backward(delta, x, *, kernel_size, stride, padding):
    """Route each window's delta to its maximum (loops, as numpy-ml's Pool2D._bwd)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    n_ex, n_ch, out_rows, out_cols = delta.shape
    dxp = np.zeros_like(_pad(x, padding))
    for m in range(n_ex):
        for c in range(n_ch):
            for i in range(out_rows):
                for j in range(out_cols):
                    i0, i1 = i * sh, i * sh + kh
                    j0, j1 = j * sw, j * sw + kw
                    xi = x[m, c, i0:i1, j0:j1]
                    mask = np.zeros_like(xi).astype(bool)
                    r, s = np.argwhere(xi == np.max(xi))[0]
                    mask[r, s] = True
                    dxp[m, c, i0:i1, j0:j1] += mask * delta[m, c, i, j]
    return _unpad(dxp, padding, x.shape[2:])
