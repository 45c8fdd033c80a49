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

from gradcheck.ops import SPECS

__all__ = ["Kernel", "KERNELS", "load_reference", "inputs", "reference_call", "torch_call", "max_difference",
           "mask_difference"]


@dataclass(frozen=True)
class Kernel:
    """One kernel row: the native op, its case and the torch function it is timed against."""

    name: str  # row name (for --only)
    op: str  # native protocol op
    anchor: str  # "torch <function>"
    params: dict[str, tuple[int, ...]]
    shapes: dict[str, tuple[int, ...]]
    quick_shapes: dict[str, tuple[int, ...]]

    @property
    def family(self) -> str:
        return SPECS[self.op].family.name

    @property
    def group(self) -> str:
        """The ``--only`` group of its row (``convs``, ``norms``, ...)."""
        return SPECS[self.op].family.bench_group or f"{self.family}s"


#: Every op's benchmark cases (``OpSpec.bench``), in op order.
KERNELS: tuple[Kernel, ...] = tuple(
    Kernel(op if b.suffix is None else f"{op}-{b.suffix}", op, f"torch {b.anchor}", b.params, b.shapes, b.quick_shapes)
    for op, spec in SPECS.items() for b in spec.bench
)


def load_reference() -> Any:
    """The ``reference`` package; raises ``ImportError`` (or whatever its import raises) when it cannot be imported."""
    return importlib.import_module("reference")


def inputs(kernel: Kernel, quick: bool = False, seed: int = 0) -> dict[str, np.ndarray]:
    """Float64 standard-normal inputs of the kernel's case (its quick one with ``quick``) and the
    upstream gradient ``delta`` of the output's shape."""
    rng = np.random.default_rng(seed)
    shapes = kernel.quick_shapes if quick else kernel.shapes
    out = {k: rng.standard_normal(shape) for k, shape in shapes.items()}
    out["delta"] = rng.standard_normal(SPECS[kernel.op].out_shape(shapes, kernel.params))
    return out


def reference_call(ref: Any, kernel: Kernel, arrays: dict[str, np.ndarray]) -> Callable[[], tuple[np.ndarray, ...]]:
    """``() -> (o, *grads)`` by the reference's ``<op>_forward`` then ``<op>_backward``.

    Raises ``AttributeError`` naming the function the reference lacks.
    """
    p = SPECS[kernel.op].protocol
    fwd = getattr(ref, p.forward_name, None)
    bwd = getattr(ref, p.backward_name, None)
    if fwd is None or bwd is None:
        raise AttributeError(f"reference has no {p.forward_name} / {p.backward_name}")
    args = [arrays[k] for k in p.inputs] + list(p.call_labels(kernel.params))
    params = p.call_kwargs(kernel.params)

    def call() -> tuple[np.ndarray, ...]:
        o = fwd(*args, **params)
        g = bwd(arrays["delta"], *args, **params)
        return (o, *(g if isinstance(g, tuple) else (g,)))

    return call


def torch_call(kernel: Kernel, arrays: dict[str, np.ndarray]) -> Callable[[], tuple[np.ndarray, ...]]:
    """``() -> (o, *grads)`` by the op's torch truth (``OpSpec.torch_forward``: ``torch.nn.functional``)
    forward and autograd backward (CPU, float64)."""
    import torch

    spec = SPECS[kernel.op]
    names = spec.grad_inputs

    def call() -> tuple[np.ndarray, ...]:
        t = {k: torch.from_numpy(arrays[k]).requires_grad_(k in names) for k in spec.inputs}
        o = spec.torch_forward(t, kernel.params)
        o.backward(torch.from_numpy(arrays["delta"]))
        return (o.detach().numpy(), *(t[k].grad.numpy() for k in names))

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


def mask_difference(kernel: Kernel, arrays: dict[str, np.ndarray], got: tuple[np.ndarray, ...]) -> float:
    """For a random op (dropout), whose mask is its own: the largest difference of ``(o, dx)``
    from the op on the mask read from ``o`` (``x / (1 - p)`` where kept, ``delta / (1 - p)``
    there in dx), relative to the largest of those."""
    from gradcheck.oracles.mask import on_mask

    return max_difference(got, on_mask(arrays["x"], arrays["delta"], got[0], float(kernel.params["p"][0])))
