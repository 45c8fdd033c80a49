"""Gradient checks of one convolution: the harness against ``torch.autograd.gradcheck``.

Both sides check ``torch.nn.functional.conv2d`` in float64 against its own autograd backward.
The harness reaches it through the torch adapter (numpy arrays in and out, the way it reaches
any candidate); ``torch.autograd.gradcheck`` calls it on tensors.

- element-wise: :func:`elementwise_check` (finite differences of every element of ``dx``,
  ``dw``, ``db`` with error bounds, then the comparison with the backward) against
  ``torch.autograd.gradcheck`` in its default (slow) mode, which builds both full Jacobians.
- directional: :func:`directional_check` against ``gradcheck(..., fast_mode=True)``.
- planted: :class:`planted_conv2d` is the same conv whose backward is wrong in one element;
  both tools must catch it, and the harness must say where.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..battery import CONFIRM_LIMIT, Runner
from ..cases import Case
from ..compare import compare
from ..ops import SPECS
from ..oracles.fd import convergence, directional, finite_differences
from ..records import Record
from ..tolerances import magnitudes

__all__ = [
    "conv_case",
    "torch_conv",
    "planted_conv2d",
    "planted_adapter",
    "elementwise_check",
    "directional_check",
    "torch_gradcheck",
    "PARAMS",
]

#: stride 1, padding 1, no dilation, as (h, w) pairs.
PARAMS: dict[str, tuple[int, int]] = {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1)}


def conv_case(x_shape: tuple[int, int, int, int], w_shape: tuple[int, int, int, int], seed: int = 0) -> Case:
    """A float64 conv2d case: x (N, C, H, W), w (D, C, k1, k2), b (D,), delta (N, D, Ho, Wo); stride 1, padding 1."""
    rng = np.random.default_rng(seed)
    spec = SPECS["conv2d"]
    inputs = {"x": rng.standard_normal(x_shape), "w": rng.standard_normal(w_shape), "b": rng.standard_normal(w_shape[0])}
    out = spec.out_shape({k: v.shape for k, v in inputs.items()}, PARAMS)
    return Case("conv2d", inputs, dict(PARAMS), rng.standard_normal(out), seed=seed)


class _Holder:
    """An object holding one torch callable under the op name ``conv2d`` (for the torch adapter)."""

    def __init__(self, conv2d: Any):
        self.conv2d = conv2d


def torch_conv() -> Any:
    """``torch.nn.functional.conv2d`` behind the torch adapter."""
    import torch.nn.functional as F

    from ..adapters.torch_adapter import TorchAdapter

    return TorchAdapter(_Holder(F.conv2d), "torch.nn.functional")


def planted_conv2d(quantity: str, index: tuple[int, ...], error: float = 0.5) -> Any:
    """A ``torch.autograd.Function``: conv2d whose backward is wrong in one element of ``quantity``.

    The forward is ``torch.nn.functional.conv2d``; the backward is autograd's, except that
    ``quantity[index]`` (``"dx"``, ``"dw"`` or ``"db"``) gets ``error * g.flatten()[0]`` added,
    where ``g`` (N, D, Ho, Wo) is the upstream gradient: one wrong entry of the Jacobian, linear
    in ``g`` as a backward must be. Called as ``apply(x, w, b, stride, padding, dilation)``.
    """
    import torch
    import torch.nn.functional as F

    slot = {"dx": 0, "dw": 1, "db": 2}[quantity]

    class PlantedConv2d(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, b, stride, padding, dilation):  # type: ignore[override]
            ctx.save_for_backward(x, w, b)
            ctx.geometry = (stride, padding, dilation)
            return F.conv2d(x, w, b, stride, padding, dilation)

        @staticmethod
        def backward(ctx, g):  # type: ignore[override]
            x, w, b = (t.detach().requires_grad_() for t in ctx.saved_tensors)
            with torch.enable_grad():
                o = F.conv2d(x, w, b, *ctx.geometry)
                grads = [t.clone() for t in torch.autograd.grad(o, (x, w, b), g)]
            grads[slot][index] += error * g.flatten()[0]
            return (*grads, None, None, None)

    return PlantedConv2d


def planted_adapter(quantity: str, index: tuple[int, ...]) -> Any:
    """The torch adapter around :func:`planted_conv2d`."""
    from ..adapters.torch_adapter import TorchAdapter

    return TorchAdapter(_Holder(planted_conv2d(quantity, index)), "planted conv2d")


def elementwise_check(case: Case, impl: Any) -> dict[str, Record]:
    """The harness's element-wise gradient check of conv2d ``impl`` (an adapter) on ``case``.

    Finite differences of ``impl``'s forward (footprint-coloured, every element of ``dx``,
    ``dw``, ``db`` with an error bound), ``impl``'s backward, and one comparison per gradient;
    a failure is handled as the battery handles it (confirmed one element at a time when the
    case is small enough, and the Taylor remainder of the worst element measured).
    Returns ``{"dx": Record, "dw": Record, "db": Record}``.
    """
    spec = SPECS["conv2d"]
    run = Runner(impl, "conv2d", spec)
    fwd = run.forward64()(case)
    exp = finite_differences(spec, case, fwd)
    assert exp is not None
    actual = dict(zip(spec.grads, run.backward(case)))
    K = spec.reduction(case.shapes, case.params)
    mags = magnitudes(spec, case)
    single = None
    out = {}
    for q in spec.grads:
        rec = compare(actual[q], exp.grads[q], case=case, quantity=q, oracle="fd", reduction=K[q], magnitude=mags[q],
                      uncertainty=exp.uncertainty[q])
        if rec.status == "fail" and case.size() <= CONFIRM_LIMIT:
            single = single or finite_differences(spec, case, fwd, single=True)
            rec = compare(actual[q], single.grads[q], case=case, quantity=q, oracle="fd", reduction=K[q],
                          magnitude=mags[q], uncertainty=single.uncertainty[q])
        if rec.status == "fail" and rec.worst is not None:
            rec.convergence = convergence(spec, case, fwd, q, tuple(rec.worst.index), rec.worst.actual)
        out[q] = rec
    return out


def directional_check(case: Case, impl: Any, seed: int = 0) -> tuple[bool, float, float, float]:
    """The harness's directional screen of conv2d ``impl`` on ``case``.

    ``impl``'s backward, then ``<grad, u>`` against the central difference of
    ``<delta, forward>`` along a random direction ``u``. Returns
    ``(passed, analytic, numeric, bound)``.
    """
    spec = SPECS["conv2d"]
    run = Runner(impl, "conv2d", spec)
    grads = dict(zip(spec.grads, run.backward(case)))
    a, n, bound = directional(spec, case, run.forward64()(case), grads, seed=seed)
    return abs(a - n) <= bound, a, n, bound


def torch_gradcheck(case: Case, fn: Any = None, *, fast_mode: bool = False) -> bool:
    """``torch.autograd.gradcheck`` with its defaults (``fast_mode`` aside) on conv2d at ``case``'s inputs.

    ``fn`` is ``torch.nn.functional.conv2d`` by default, or an ``autograd.Function`` such as
    :func:`planted_conv2d`. Returns whether it passed (``raise_exception=False``, the only
    change from the defaults, so that a failure is a verdict rather than an exception).
    """
    import torch
    import torch.nn.functional as F

    x, w, b = (torch.tensor(case.inputs[k], requires_grad=True) for k in ("x", "w", "b"))
    geom = (case.params["stride"], case.params["padding"], case.params["dilation"])
    if fn is None:
        def f(x, w, b):
            return F.conv2d(x, w, b, *geom)
    else:
        def f(x, w, b):
            return fn.apply(x, w, b, *geom)
    return bool(torch.autograd.gradcheck(f, (x, w, b), fast_mode=fast_mode, raise_exception=False))
