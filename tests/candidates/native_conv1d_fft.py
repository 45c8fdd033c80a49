"""A correct grouped conv1d by FFT (``numpy.fft.rfft``): the forward is the correlation of the
padded input with the dilated kernel (zeros between its taps), read at every stride-th
position; dw is the correlation of the padded input with the deltas spread onto the stride
grid, read at every dilation-th lag; dx is the linear convolution of the spread deltas with
the dilated kernel, cropped by the padding. One transform length, long enough that no
circular wrap-around reaches the positions read."""
import numpy as np


def _out_len(size, k, s, p, t):
    return (size + 2 * p - t * (k - 1) - 1) // s + 1


def _grouped(a, groups, axis):
    """Split ``axis`` of length C into (groups, C / groups)."""
    shape = a.shape[:axis] + (groups, a.shape[axis] // groups) + a.shape[axis + 1:]
    return a.reshape(shape)


def _dilated(w, t):
    """(D, C, k) -> (D, C, (k - 1) t + 1), t - 1 zeros between the taps."""
    out = np.zeros(w.shape[:2] + ((w.shape[2] - 1) * t + 1,), dtype=w.dtype)
    out[:, :, ::t] = w
    return out


def _spread(delta, s):
    """(N, D, Lo) -> (N, D, (Lo - 1) s + 1), s - 1 zeros between the deltas."""
    out = np.zeros(delta.shape[:2] + ((delta.shape[2] - 1) * s + 1,), dtype=delta.dtype)
    out[:, :, ::s] = delta
    return out


def _setup(x, w, stride, padding, dilation):
    (s,), (p,), (t,) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (p, p)))
    wd = _dilated(w, t)
    nfft = xp.shape[2] + wd.shape[2]  # >= every linear correlation / convolution length used
    return s, p, t, xp, wd, nfft


def conv1d_forward(x, w, b, *, stride, padding, dilation, groups):
    """x (N, C, L), w (D, C/groups, k), b (D,) -> (N, D, Lo)."""
    s, p, t, xp, wd, nfft = _setup(x, w, stride, padding, dilation)
    lo = _out_len(x.shape[2], w.shape[2], s, p, t)
    X = _grouped(np.fft.rfft(xp, nfft), groups, 1)  # (N, G, C/G, F)
    W = _grouped(np.fft.rfft(wd, nfft), groups, 0)  # (G, D/G, C/G, F)
    corr = np.fft.irfft(np.einsum("ngcf,gdcf->ngdf", X, np.conj(W)), nfft)  # corr[j] = sum_u wd[u] xp[j + u]
    o = corr[..., :(lo - 1) * s + 1:s].reshape(x.shape[0], w.shape[0], lo)
    return (o + b[None, :, None]).astype(np.result_type(x, w, b))


def conv1d_backward(delta, x, w, b, *, stride, padding, dilation, groups):
    """delta (N, D, Lo) -> dx (N, C, L), dw (D, C/groups, k), db (D,)."""
    s, p, t, xp, wd, nfft = _setup(x, w, stride, padding, dilation)
    dtype = np.result_type(delta, x, w)
    X = _grouped(np.fft.rfft(xp, nfft), groups, 1)  # (N, G, C/G, F)
    W = _grouped(np.fft.rfft(wd, nfft), groups, 0)  # (G, D/G, C/G, F)
    S = _grouped(np.fft.rfft(_spread(delta, s), nfft), groups, 1)  # (N, G, D/G, F)
    # dw[d, c, m] = sum_{n, j} spread[n, d, j] xp[n, c, j + m t]
    lags = np.fft.irfft(np.einsum("ngcf,ngdf->gdcf", X, np.conj(S)), nfft)
    dw = lags[..., :(w.shape[2] - 1) * t + 1:t].reshape(w.shape)
    # dxp[n, c, j] = sum_{d, u} spread[n, d, j - u] wd[d, c, u]
    full = np.fft.irfft(np.einsum("ngdf,gdcf->ngcf", S, W), nfft)
    dxp = full.reshape(x.shape[0], x.shape[1], nfft)[:, :, :xp.shape[2]]
    dx = dxp[:, :, p:p + x.shape[2]]
    return dx.astype(dtype), dw.astype(dtype), delta.sum(axis=(0, 2))
