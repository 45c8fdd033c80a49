"""CS231n conv layer whose dx uses a full correlation with the unflipped kernel (eq. 22 needs
a full convolution, i.e. the kernel rotated 180 degrees)."""
import numpy as np
from scipy import signal


def conv_forward_naive(x, w, b, conv_param):
    """x (N, C, H, W), w (F, C, HH, WW), b (F,) -> out (N, F, H', W')."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + 2 * pad - HH) // stride
    W_out = 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    """dout (N, F, H', W') -> dx (N, C, H, W), dw (F, C, HH, WW), db (F,).

    dx follows eq. 22: the deltas, spread out by the stride, in full convolution with w.
    """
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    # deltas spread out by the stride
    ds = np.zeros((N, F, (H_out - 1) * stride + 1, (W_out - 1) * stride + 1))
    ds[:, :, ::stride, ::stride] = dout
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for c in range(C):
                dw[f, c] += signal.correlate2d(x_pad[n, c], ds[n, f], mode="valid")[:HH, :WW]
                full = signal.correlate2d(ds[n, f], w[f, c], mode="full")
                dx_pad[n, c, :full.shape[0], :full.shape[1]] += full
    db = np.sum(dout, axis=(0, 2, 3))
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db
