"""The reference's kernels against torch's: forward plus backward on the CPU in float64.

``reference`` speaks the native protocol (``<op>_forward`` / ``<op>_backward`` on numpy
arrays); torch runs ``torch.nn.functional``'s op on tensors sharing the same memory
(``torch.from_numpy``) and autograd's backward, and hands the gradients back as numpy arrays.
Each kernel is first run once on both sides to check that they agree (and to warm up).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["Kernel", "KERNELS", "load_reference", "inputs", "reference_call", "torch_call", "max_difference"]


@dataclass(frozen=True)
class Kernel:
    """One kernel row: the native op, torch's name for it, and its hyper-parameters."""

    name: str  # row name (for --only)
    op: str  # native protocol op
    anchor: str  # "torch <function>"
    params: dict[str, tuple[int, int]]


def _pool(op: str, torch_name: str, k: int, s: int) -> Kernel:
    return Kernel(f"{op}-k{k}s{s}", op, f"torch {torch_name}", {"kernel_size": (k, k), "stride": (s, s), "padding": (0, 0)})


KERNELS: tuple[Kernel, ...] = (
    Kernel("conv2d", "conv2d", "torch conv2d", {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1)}),
    *(_pool(op, tn, k, s) for op, tn in (("max_pool2d", "max_pool2d"), ("avg_pool2d", "avg_pool2d"), ("l2_pool2d", "lp_pool2d"))
      for k, s in ((2, 2), (3, 2))),
)


def load_reference() -> Any:
    """The ``reference`` package; raises ``ImportError`` (or whatever its import raises) when it cannot be imported."""
    return importlib.import_module("reference")


def inputs(kernel: Kernel, x_shape: tuple[int, int, int, int], w_shape: tuple[int, int, int, int], seed: int = 0) -> dict[str, np.ndarray]:
    """Float64 standard-normal inputs and the upstream gradient ``delta``.

    conv2d: x (N, C, H, W), w (D, C, k1, k2), b (D,), delta (N, D, Ho, Wo); pools: x and delta
    (N, C, Ho, Wo).
    """
    from gradcheck.ops import SPECS

    rng = np.random.default_rng(seed)
    out = {"x": rng.standard_normal(x_shape)}
    if kernel.op == "conv2d":
        out["w"] = rng.standard_normal(w_shape)
        out["b"] = rng.standard_normal(w_shape[0])
    shape = SPECS[kernel.op].out_shape({k: v.shape for k, v in out.items()}, kernel.params)
    out["delta"] = rng.standard_normal(shape)
    return out


def reference_call(ref: Any, kernel: Kernel, arrays: dict[str, np.ndarray]) -> Callable[[], tuple[np.ndarray, ...]]:
    """``() -> (o, *grads)`` by the reference's ``<op>_forward`` then ``<op>_backward``.

    Raises ``AttributeError`` naming the function the reference lacks.
    """
    fwd = getattr(ref, f"{kernel.op}_forward", None)
    bwd = getattr(ref, f"{kernel.op}_backward", None)
    if fwd is None or bwd is None:
        raise AttributeError(f"reference has no {kernel.op}_forward / {kernel.op}_backward")
    names = ("x", "w", "b") if kernel.op == "conv2d" else ("x",)
    args = [arrays[k] for k in names]
    p = dict(kernel.params)

    def call() -> tuple[np.ndarray, ...]:
        o = fwd(*args, **p)
        g = bwd(arrays["delta"], *args, **p)
        return (o, *(g if isinstance(g, tuple) else (g,)))

    return call


def torch_call(kernel: Kernel, arrays: dict[str, np.ndarray]) -> Callable[[], tuple[np.ndarray, ...]]:
    """``() -> (o, *grads)`` by ``torch.nn.functional`` forward and autograd backward (CPU, float64)."""
    import torch
    import torch.nn.functional as F

    names = ("x", "w", "b") if kernel.op == "conv2d" else ("x",)
    p = kernel.params
    k, s = p.get("kernel_size"), p["stride"]

    def f(*t):
        if kernel.op == "conv2d":
            return F.conv2d(*t, stride=s, padding=p["padding"], dilation=p["dilation"])
        if kernel.op == "max_pool2d":
            return F.max_pool2d(t[0], k, s, p["padding"])
        if kernel.op == "avg_pool2d":
            return F.avg_pool2d(t[0], k, s, p["padding"], count_include_pad=True)
        return F.lp_pool2d(t[0], 2, k, s)  # padding 0 in every kernel row

    def call() -> tuple[np.ndarray, ...]:
        t = [torch.from_numpy(arrays[n]).requires_grad_() for n in names]
        o = f(*t)
        o.backward(torch.from_numpy(arrays["delta"]))
        return (o.detach().numpy(), *(v.grad.numpy() for v in t))

    return call


def max_difference(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> float:
    """Largest ``|a - b|`` relative to ``max |b|`` over the paired arrays (inf on a shape mismatch)."""
    worst = 0.0
    if len(a) != len(b):
        return float("inf")
    for u, v in zip(a, b):
        u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
        if u.shape != v.shape:
            return float("inf")
        worst = max(worst, float(np.abs(u - v).max(initial=0.0)) / max(float(np.abs(v).max(initial=0.0)), 1e-300))
    return worst
