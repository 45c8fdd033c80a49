"""CS231n max pool whose backward ignores the stride (windows at i, j instead of i*stride, j*stride)."""
import numpy as np


def max_pool_forward_naive(x, pool_param):
    """x (N, C, H, W) -> out (N, C, H', W')."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // stride
    W_out = 1 + (W - pw) // stride
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    out[n, c, i, j] = np.max(x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw])
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """dout (N, C, H', W') -> dx (N, C, H, W); each window's gradient goes to its first maximum."""
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i:i + ph, j:j + pw]
                    a, bb = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i + a, j + bb] += dout[n, c, i, j]
    return dx
