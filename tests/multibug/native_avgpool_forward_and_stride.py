"""Average pooling with two bugs: the forward divides by the count of real (unpadded) elements
(torch counts the padding), and the backward spreads each gradient as if the stride were 1."""
import numpy as np


def _geometry(x, kernel_size, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    n, c, h, w = x.shape
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    return kh, kw, sh, sw, ph, pw, ho, wo


def avg_pool2d_forward(x, *, kernel_size, stride, padding):
    """x (N, C, H, W) -> (N, C, Ho, Wo)."""
    kh, kw, sh, sw, ph, pw, ho, wo = _geometry(x, kernel_size, stride, padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ones = np.pad(np.ones(x.shape[2:]), ((ph, ph), (pw, pw)))
    out = np.zeros(x.shape[:2] + (ho, wo))
    for i in range(ho):
        for j in range(wo):
            win = (slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
            out[:, :, i, j] = xp[:, :, win[0], win[1]].sum(axis=(2, 3)) / ones[win].sum()
    return out


def avg_pool2d_backward(delta, x, *, kernel_size, stride, padding):
    """delta (N, C, Ho, Wo) -> dx (N, C, H, W)."""
    kh, kw, sh, sw, ph, pw, ho, wo = _geometry(x, kernel_size, stride, padding)
    dxp = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * ph + kh * ho, x.shape[3] + 2 * pw + kw * wo))
    for i in range(ho):
        for j in range(wo):
            dxp[:, :, i:i + kh, j:j + kw] += delta[:, :, i:i + 1, j:j + 1] / (kh * kw)
    return dxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]
