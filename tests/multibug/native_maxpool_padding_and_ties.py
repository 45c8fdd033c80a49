"""Max pooling with two bugs: the backward ignores the padding (routes to the unpadded
coordinates of the window's corner), and it sends the gradient to every tied maximum."""
import numpy as np


def _geometry(x, kernel_size, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    h, w = x.shape[2:]
    return kh, kw, sh, sw, ph, pw, (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def max_pool2d_forward(x, *, kernel_size, stride, padding):
    """x (N, C, H, W) -> (N, C, Ho, Wo)."""
    kh, kw, sh, sw, ph, pw, ho, wo = _geometry(x, kernel_size, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    out = np.empty(x.shape[:2] + (ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].max(axis=(2, 3))
    return out


def max_pool2d_backward(delta, x, *, kernel_size, stride, padding):
    """delta (N, C, Ho, Wo) -> dx (N, C, H, W)."""
    kh, kw, sh, sw, ph, pw, ho, wo = _geometry(x, kernel_size, stride, padding)
    h, w = x.shape[2:]
    dx = np.zeros_like(x)
    for i in range(ho):
        for j in range(wo):
            r0, c0 = i * sh, j * sw  # the padding forgotten: these are padded coordinates
            win = x[:, :, r0:r0 + kh, c0:c0 + kw]
            if win.size == 0:
                continue
            m = win.max(axis=(2, 3), keepdims=True)
            dx[:, :, r0:r0 + kh, c0:c0 + kw] += (win == m) * delta[:, :, i:i + 1, j:j + 1]
    return dx
