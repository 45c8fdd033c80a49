"""Independent sources of truth for the ledger: scipy, torch (autograd) and finite differences.

Nothing here follows the seed: forwards are ``torch.nn.functional`` / ``scipy.signal`` calls
in float64, gradients come from torch autograd or from central differences of those forwards.
Every function takes a case (see :mod:`gradcheck.ledger.cases`) and returns a float64 array.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from scipy import signal

from gradcheck.ledger.cases import Case

__all__ = [
    "ACTIVATIONS",
    "FD_STEP",
    "activation",
    "mse_sum",
    "mse_mean",
    "central_differences",
    "conv_layer",
    "conv_layer_hwc",
    "loss_of_x",
    "dw_torch",
    "dw_fd",
    "delta_torch",
    "dx_torch",
    "dx_fd",
    "jacobian_x_w_torch",
    "jacobian_x_w_fd",
    "jacobian_xnext_x_torch",
    "jacobian_xnext_x_fd",
    "pool_dx_torch",
    "pool_dx_fd",
    "correlate_valid",
    "convolve_full",
    "convolve_valid",
    "correlate_full",
]

#: Step of the central differences (float64; truncation ~h^2, rounding ~eps/h).
FD_STEP = 1e-6


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


#: name -> (torch function, python f, python f').
ACTIVATIONS: dict[str, tuple[Callable, Callable[[float], float], Callable[[float], float]]] = {
    "relu": (torch.relu, lambda v: max(0.0, v), lambda v: 1.0 if v > 0 else 0.0),
    "tanh": (torch.tanh, math.tanh, lambda v: 1.0 - math.tanh(v) ** 2),
    "sigmoid": (torch.sigmoid, _sigmoid, lambda v: _sigmoid(v) * (1.0 - _sigmoid(v))),
}


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float64))


def central_differences(fun: Callable[[torch.Tensor], torch.Tensor], x: np.ndarray,
                        h: float = FD_STEP) -> np.ndarray:
    """Gradient of a scalar function by central differences, all steps in one batch.

    Parameters
    ----------
    fun : callable
        Maps a batch ``(B, *x.shape)`` to ``(B,)`` or ``(B, *out)`` values.
    x : ndarray
        Point of evaluation, any shape.

    Returns
    -------
    ndarray
        ``(*x.shape)`` for scalar ``fun``, ``(*out, *x.shape)`` otherwise.
    """
    n = x.size
    steps = torch.eye(n, dtype=torch.float64).reshape(n, *x.shape) * h
    base = _t(x).unsqueeze(0)
    values = fun(torch.cat([base + steps, base - steps]))
    diff = (values[:n] - values[n:]) / (2 * h)  # (n, *out)
    out_shape = diff.shape[1:]
    diff = diff.reshape(n, -1).T.reshape(*out_shape, *x.shape)
    return diff.numpy()


def activation(name: str, x: np.ndarray) -> np.ndarray:
    """``torch.relu`` / ``torch.tanh`` / ``torch.sigmoid`` of x, any shape."""
    return ACTIVATIONS[name][0](_t(x)).numpy()


def mse_sum(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``torch.nn.functional.mse_loss(y, t, reduction='sum')``: 0-d."""
    return F.mse_loss(_t(y), _t(t), reduction="sum").numpy()


def mse_mean(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``torch.nn.functional.mse_loss(y, t, reduction='mean')``: 0-d."""
    return F.mse_loss(_t(y), _t(t), reduction="mean").numpy()


# --- scipy ---------------------------------------------------------------------------------

def correlate_valid(I: np.ndarray, K: np.ndarray) -> np.ndarray:
    """``scipy.signal.correlate2d(I, K, mode='valid')``: (H-k1+1, W-k2+1)."""
    return signal.correlate2d(I, K, mode="valid")


def correlate_full(I: np.ndarray, K: np.ndarray) -> np.ndarray:
    """``scipy.signal.correlate2d(I, K, mode='full')``: (H+k1-1, W+k2-1)."""
    return signal.correlate2d(I, K, mode="full")


def convolve_full(I: np.ndarray, K: np.ndarray) -> np.ndarray:
    """``scipy.signal.convolve2d(I, K, mode='full')``: (H+k1-1, W+k2-1)."""
    return signal.convolve2d(I, K, mode="full")


def convolve_valid(I: np.ndarray, K: np.ndarray) -> np.ndarray:
    """``scipy.signal.convolve2d(I, K, mode='valid')``: (|H-k1|+1, |W-k2|+1)."""
    return signal.convolve2d(I, K, mode="valid")


# --- one layer, dw setting -----------------------------------------------------------------

def conv_layer(o_prev: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """``torch.nn.functional.conv2d``: o_prev (H, W), w (k1, k2) -> (H-k1+1, W-k2+1)."""
    out = F.conv2d(_t(o_prev)[None, None], _t(w)[None, None], _t([b]))
    return out[0, 0].numpy()


def conv_layer_hwc(I: np.ndarray, K: np.ndarray, b: float) -> np.ndarray:
    """``torch.nn.functional.conv2d`` of one filter: I (H, W, C), K (k1, k2, C) -> (Ho, Wo)."""
    out = F.conv2d(_t(I).permute(2, 0, 1)[None], _t(K).permute(2, 0, 1)[None], _t([b]))
    return out[0, 0].numpy()


def _E_of_w(case: Case) -> Callable[[torch.Tensor], torch.Tensor]:
    o_prev, G, b = _t(case["o_prev"]), _t(case["G"]), float(case["b"])

    def E(w_batch: torch.Tensor) -> torch.Tensor:  # (B, k1, k2) -> (B,)
        x = F.conv2d(o_prev[None, None], w_batch[:, None]) + b  # (1, B, Ho, Wo)
        return (x[0] * G).sum(dim=(1, 2))
    return E


def dw_torch(case: Case) -> np.ndarray:
    """``dE/dw^l`` by torch autograd, E = sum(G * x^l): (k1, k2)."""
    w = _t(case["w"]).requires_grad_(True)
    _E_of_w(case)(w[None]).sum().backward()
    return w.grad.numpy()


def dw_fd(case: Case) -> np.ndarray:
    """``dE/dw^l`` by central differences: (k1, k2)."""
    return central_differences(_E_of_w(case), case["w"])


def delta_torch(case: Case) -> np.ndarray:
    """``delta^l = dE/dx^l`` in the dw setting, by torch autograd: (H-k1+1, W-k2+1)."""
    x = _t(conv_layer(case["o_prev"], case["w"], case["b"])).requires_grad_(True)
    (x * _t(case["G"])).sum().backward()
    return x.grad.numpy()


def jacobian_x_w_torch(case: Case) -> np.ndarray:
    """``dx^l_{ij} / dw_{m'n'}`` by torch autograd: (Ho, Wo, k1, k2)."""
    o_prev, b = _t(case["o_prev"]), _t([case["b"]])
    fun = lambda w: F.conv2d(o_prev[None, None], w[None, None], b)[0, 0]  # noqa: E731
    return torch.autograd.functional.jacobian(fun, _t(case["w"]), vectorize=True).numpy()


def jacobian_x_w_fd(case: Case) -> np.ndarray:
    """``dx^l_{ij} / dw_{m'n'}`` by central differences: (Ho, Wo, k1, k2)."""
    o_prev, b = _t(case["o_prev"]), float(case["b"])
    fun = lambda wb: F.conv2d(o_prev[None, None], wb[:, None])[0] + b  # noqa: E731
    return central_differences(fun, case["w"])


# --- two layers, dx setting ----------------------------------------------------------------

def _xnext_of_x(case: Case) -> Callable[[torch.Tensor], torch.Tensor]:
    f = ACTIVATIONS[case["f"]][0]
    w_next, b_next = _t(case["w_next"]), float(case["b_next"])

    def xnext(x_batch: torch.Tensor) -> torch.Tensor:  # (B, H, W) -> (B, Ho, Wo)
        return F.conv2d(f(x_batch)[:, None], w_next[None, None])[:, 0] + b_next
    return xnext


def _E_of_x(case: Case) -> Callable[[torch.Tensor], torch.Tensor]:
    xnext, G = _xnext_of_x(case), _t(case["G"])
    return lambda x_batch: (xnext(x_batch) * G).sum(dim=(1, 2))


def loss_of_x(case: Case) -> Callable[[torch.Tensor], torch.Tensor]:
    """``E`` as a function of ``x^l`` alone, (H, W) tensor -> 0-d tensor (dx setting)."""
    E = _E_of_x(case)
    return lambda x: E(x[None])[0]


def dx_torch(case: Case) -> np.ndarray:
    """``dE/dx^l`` by torch autograd, E = sum(G * x^{l+1}): (H, W)."""
    x = _t(case["x"]).requires_grad_(True)
    _E_of_x(case)(x[None]).sum().backward()
    return x.grad.numpy()


def dx_fd(case: Case) -> np.ndarray:
    """``dE/dx^l`` by central differences: (H, W)."""
    return central_differences(_E_of_x(case), case["x"])


def jacobian_xnext_x_torch(case: Case) -> np.ndarray:
    """``dx^{l+1}_{ij} / dx^l_{i'j'}`` by torch autograd: (Ho, Wo, H, W)."""
    xnext = _xnext_of_x(case)
    fun = lambda x: xnext(x[None])[0]  # noqa: E731
    return torch.autograd.functional.jacobian(fun, _t(case["x"]), vectorize=True).numpy()


def jacobian_xnext_x_fd(case: Case) -> np.ndarray:
    """``dx^{l+1}_{ij} / dx^l_{i'j'}`` by central differences: (Ho, Wo, H, W)."""
    return central_differences(_xnext_of_x(case), case["x"])


# --- pooling -------------------------------------------------------------------------------

def _pool(kind: str, N: int, s: int) -> Callable[[torch.Tensor], torch.Tensor]:
    if kind == "max":
        return lambda x: F.max_pool2d(x, N, s)
    if kind == "avg":
        return lambda x: F.avg_pool2d(x, N, s)
    if kind == "l2":
        return lambda x: F.lp_pool2d(x, 2, N, s)
    raise ValueError(f"unknown pooling {kind!r}")


def _pool_E(kind: str, case: Case) -> Callable[[torch.Tensor], torch.Tensor]:
    pool, delta = _pool(kind, case["N"], case["s"]), _t(case["delta"])
    return lambda x_batch: (pool(x_batch[:, None])[:, 0] * delta).sum(dim=(1, 2))


def pool_dx_torch(kind: str, case: Case) -> np.ndarray:
    """``dx`` of max / avg / L2 (``lp_pool2d``, p = 2) pooling by torch autograd: (H, W)."""
    x = _t(case["x"]).requires_grad_(True)
    _pool_E(kind, case)(x[None]).sum().backward()
    return x.grad.numpy()


def pool_dx_fd(kind: str, case: Case) -> np.ndarray:
    """``dx`` of max / avg / L2 pooling by central differences of the torch forward: (H, W)."""
    return central_differences(_pool_E(kind, case), case["x"])
