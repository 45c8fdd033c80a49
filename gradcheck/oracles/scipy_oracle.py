"""``scipy.signal`` and ``scipy.ndimage``: the closed forms, computed by other hands.

- conv2d forward: ``correlate(x_n, w_d, 'valid')`` (eq. 1, summed over channels by the
  valid correlation along the channel axis), strided and with a dilated kernel.
- dw (eqs. 13–14): ``correlate(x_n, delta_s, 'valid')``, ``delta_s`` the deltas spread out by
  the stride, read at multiples of the dilation.
- dx (eqs. 20–22): ``convolve(delta_s, w_dilated, 'full')``, summed over filters, cropped by
  the padding; rows no window reaches get zero.
- db: the sum of the deltas.
- pools forward: ``maximum_filter`` / ``uniform_filter`` (L2: of ``x**2``, square-rooted).
- sigmoid: ``scipy.special.expit`` and ``expit * (1 - expit)`` (relu and tanh alone: none).
- conv2d_<f>: the conv closed forms around ``f`` and ``f'``.

Loops here run over samples and filters, never over pixels; the oracle is for small cases.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import ndimage, signal, special

from gradcheck.cases import Case, Expected
from gradcheck.ops import OpSpec, conv_out_shape, pool_out_shape

__all__ = ["scipy_oracle", "conv_forward", "conv_grads"]


def _dilate(a: np.ndarray, dh: int, dw: int) -> np.ndarray:
    """Insert ``dh - 1`` / ``dw - 1`` zeros between the elements of the last two axes."""
    h, w = a.shape[-2:]
    out = np.zeros(a.shape[:-2] + ((h - 1) * dh + 1, (w - 1) * dw + 1), dtype=a.dtype)
    out[..., ::dh, ::dw] = a
    return out


def _pad(x: np.ndarray, ph: int, pw: int, value: float = 0.0) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, params) -> np.ndarray:
    """x (N,C,H,W), w (D,C,k1,k2), b (D,) -> (N,D,Ho,Wo) by ``scipy.signal.correlate``."""
    (sh, sw), (ph, pw), (dh, dw) = params["stride"], params["padding"], params["dilation"]
    n_, d_, ho, wo = conv_out_shape({"x": x.shape, "w": w.shape}, params)
    xp, wd = _pad(x, ph, pw), _dilate(w, dh, dw)
    o = np.empty((n_, d_, ho, wo))
    for n in range(n_):
        for d in range(d_):
            o[n, d] = signal.correlate(xp[n], wd[d], mode="valid")[0, ::sh, ::sw][:ho, :wo] + b[d]
    return o


def conv_grads(delta: np.ndarray, x: np.ndarray, w: np.ndarray, params) -> dict[str, np.ndarray]:
    """dx, dw, db of ``<delta, conv2d(x, w, b)>``; delta (N,D,Ho,Wo)."""
    (sh, sw), (ph, pw), (dh, dw) = params["stride"], params["padding"], params["dilation"]
    n_, c_, h, wd_ = x.shape
    d_, _, k1, k2 = w.shape
    xp, wdil = _pad(x, ph, pw), _dilate(w, dh, dw)
    ds = _dilate(delta, sh, sw)  # (N, D, (Ho-1)sh+1, (Wo-1)sw+1)
    dxp = np.zeros_like(xp)
    dw_ = np.zeros(w.shape)
    for n in range(n_):
        for d in range(d_):
            corr = signal.correlate(xp[n], ds[n, d][None], mode="valid")  # (C, ., .)
            dw_[d] += corr[:, : (k1 - 1) * dh + 1 : dh, : (k2 - 1) * dw + 1 : dw]
            full = signal.convolve(ds[n, d][None], wdil[d], mode="full")
            dxp[n, :, : full.shape[1], : full.shape[2]] += full
    return {"dx": dxp[:, :, ph : ph + h, pw : pw + wd_], "dw": dw_, "db": delta.sum(axis=(0, 2, 3))}


def _pool_forward(kind: str, x: np.ndarray, params) -> np.ndarray:
    (kh, kw), (sh, sw), (ph, pw) = params["kernel_size"], params["stride"], params["padding"]
    _, _, ho, wo = pool_out_shape({"x": x.shape}, params)
    size, origin = (1, 1, kh, kw), (0, 0, -(kh // 2), -(kw // 2))
    if kind == "max":
        y = ndimage.maximum_filter(_pad(x, ph, pw, -np.inf), size=size, origin=origin, mode="constant", cval=-np.inf)
    elif kind == "avg":
        y = ndimage.uniform_filter(_pad(x, ph, pw), size=size, origin=origin, mode="constant")
    else:
        y = np.sqrt(np.maximum(ndimage.uniform_filter(_pad(x, ph, pw) ** 2, size=size, origin=origin, mode="constant") * kh * kw, 0))
    return y[:, :, : (ho - 1) * sh + 1 : sh, : (wo - 1) * sw + 1 : sw]


def _sech2(z: np.ndarray) -> np.ndarray:
    """``1 / cosh(z)**2`` without overflow: ``4 e^{-2|z|} / (1 + e^{-2|z|})**2``."""
    e = np.exp(-2 * np.abs(z))
    return 4 * e / (1 + e) ** 2


def _activation(name: str) -> tuple[Callable, Callable] | None:
    if name == "sigmoid":
        return special.expit, lambda z: special.expit(z) * (1 - special.expit(z))
    if name == "relu":
        return (lambda z: np.where(z > 0, z, 0.0)), (lambda z: np.heaviside(z, 0.0))
    if name == "tanh":
        return np.tanh, _sech2
    return None


def scipy_oracle(spec: OpSpec, case: Case, forward: Callable | None = None) -> Expected | None:
    """scipy's answer for the ops it covers (conv2d and its composites, pools' forward,
    activations), ``None`` for the others. ``forward`` is not used."""
    if not spec.scipy:
        return None
    p, inp = case.params, case.inputs
    if spec.name.endswith("_pool2d"):
        return Expected("scipy", forward=_pool_forward(spec.name.split("_")[0], inp["x"], p))
    if spec.is_conv:
        z = conv_forward(inp["x"], inp["w"], inp["b"], p)
        if spec.activation is None:
            return Expected("scipy", forward=z, grads=conv_grads(case.delta, inp["x"], inp["w"], p))
        f, fprime = _activation(spec.activation)
        return Expected("scipy", forward=f(z), grads=conv_grads(case.delta * fprime(z), inp["x"], inp["w"], p))
    if spec.name != "sigmoid":
        return None  # relu and tanh have no scipy counterpart of their own
    f, fprime = _activation(spec.name)
    return Expected("scipy", forward=f(inp["x"]), grads={"dx": case.delta * fprime(inp["x"])})
