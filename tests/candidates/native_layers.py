"""A correct vectorised implementation of the native protocol (im2col convolution).

Arrays are NCHW. Windows are gathered with one fancy index into a
(N, C, Ho, k1, Wo, k2) array of patches; backward passes scatter back with ``np.add.at``.
"""
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
    patches = _pad(x, padding)[:, :, rows, cols]  # (N, C, Ho, k1, Wo, k2)
    return np.einsum("ncuavb,dcab->nduv", patches, w, optimize=True) + b[None, :, None, None]


def conv2d_backward(delta, x, w, b, *, stride, padding, dilation):
    """delta (N, D, Ho, Wo) -> dx (N, C, H, W), dw (D, C, k1, k2), db (D,)."""
    rows, cols = _windows(x.shape[2:], w.shape[2:], stride, padding, dilation)
    xp = _pad(x, padding)
    patches = xp[:, :, rows, cols]
    dw = np.einsum("nduv,ncuavb->dcab", delta, patches, optimize=True)
    db = delta.sum(axis=(0, 2, 3))
    dpatches = np.einsum("nduv,dcab->ncuavb", delta, w, optimize=True)
    dxp = np.zeros_like(xp)
    np.add.at(dxp, (slice(None), slice(None), rows, cols), dpatches)
    return _unpad(dxp, padding, x.shape[2:]), dw, db


def dense_forward(x, w, b):
    """x (N, F), w (K, F), b (K,) -> (N, K)."""
    return x @ w.T + b


def dense_backward(delta, x, w, b):
    """delta (N, K) -> dx (N, F), dw (K, F), db (K,)."""
    return delta @ w, delta.T @ x, delta.sum(axis=0)


def relu_forward(x):
    return np.maximum(x, 0.0)


def relu_backward(delta, x):
    return delta * (x > 0)


def sigmoid_forward(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def sigmoid_backward(delta, x):
    s = sigmoid_forward(x)
    return delta * s * (1.0 - s)


def tanh_forward(x):
    return np.tanh(x)


def tanh_backward(delta, x):
    return delta * (1.0 - np.tanh(x) ** 2)


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
    """Each window's delta goes to its first maximum (row-major order)."""
    p, rows, cols = _pool_patches(x, kernel_size, stride, padding, -np.inf)
    onehot = np.arange(p.shape[-1]) == p.argmax(axis=-1)[..., None]
    return _scatter(x, padding, rows, cols, onehot * delta[..., None])


def avg_pool2d_forward(x, *, kernel_size, stride, padding):
    """Zero padding counts in the divisor."""
    return _pool_patches(x, kernel_size, stride, padding, 0.0)[0].mean(axis=-1)


def avg_pool2d_backward(delta, x, *, kernel_size, stride, padding):
    p, rows, cols = _pool_patches(x, kernel_size, stride, padding, 0.0)
    g = np.broadcast_to(delta[..., None] / p.shape[-1], p.shape)
    return _scatter(x, padding, rows, cols, g)


def l2_pool2d_forward(x, *, kernel_size, stride, padding):
    return np.sqrt((_pool_patches(x, kernel_size, stride, padding, 0.0)[0] ** 2).sum(axis=-1))


def l2_pool2d_backward(delta, x, *, kernel_size, stride, padding):
    """dx = delta * x / o per window; an all-zero window passes nothing."""
    p, rows, cols = _pool_patches(x, kernel_size, stride, padding, 0.0)
    o = np.sqrt((p ** 2).sum(axis=-1, keepdims=True))
    g = np.divide(p, o, out=np.zeros_like(p), where=o > 0) * delta[..., None]
    return _scatter(x, padding, rows, cols, g)
