"""Gradient checks of one convolution: the harness against ``torch.autograd.gradcheck``.

Both sides check ``torch.nn.functional.conv2d`` in float64 against its own autograd backward.
The harness reaches it through the torch adapter (numpy arrays in and out, the way it reaches
any candidate); ``torch.autograd.gradcheck`` calls it on tensors. Every check here calls the
harness's own routines (``gradcheck.oracles.fd``, ``gradcheck.oracles.localise``), not copies.

- element-wise: :func:`elementwise_check` (finite differences of every element of ``dx``,
  ``dw``, ``db`` with error bounds, then the comparison with the backward) against
  ``torch.autograd.gradcheck`` in its default (slow) mode, which builds both full Jacobians.
- directional: :func:`directional_check` against ``gradcheck(..., fast_mode=True)``.
- planted: :class:`planted_conv2d` is the same conv whose backward is wrong in one element;
  both tools must catch it, and the harness must say where.
- large: :func:`screen_check` (the large-case path: the directional screen, then group testing
  where it disagrees) and :func:`forced_localisation` (the search run on a correct gradient,
  every level tested); :func:`slow_gradcheck_estimate` extrapolates the slow mode's cost.
"""
from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from gradcheck.judge.battery import CONFIRM_LIMIT, Runner
from gradcheck.cases import Case
from gradcheck.ops.conv import CONV2D
from gradcheck.judge.fd_check import elementwise_check as elementwise_check_of
from gradcheck.oracles import fd as FD
from gradcheck.oracles import localise as LZ
from gradcheck.records import Record
from gradcheck.oracles.magnitudes import magnitudes

__all__ = [
    "conv_case",
    "torch_conv",
    "planted_conv2d",
    "planted_adapter",
    "elementwise_check",
    "directional_check",
    "screen_check",
    "forced_localisation",
    "forward_seconds",
    "colours",
    "torch_gradcheck",
    "slow_gradcheck_estimate",
    "PARAMS",
]

#: stride 1, padding 1, no dilation, as (h, w) pairs.
PARAMS: dict[str, tuple[int, int]] = {"stride": (1, 1), "padding": (1, 1), "dilation": (1, 1)}


def conv_case(x_shape: tuple[int, int, int, int], w_shape: tuple[int, int, int, int], seed: int = 0) -> Case:
    """A float64 conv2d case: x (N, C, H, W), w (D, C, k1, k2), b (D,), delta (N, D, Ho, Wo); stride 1, padding 1."""
    rng = np.random.default_rng(seed)
    spec = CONV2D
    inputs = {"x": rng.standard_normal(x_shape), "w": rng.standard_normal(w_shape), "b": rng.standard_normal(w_shape[0])}
    out = spec.out_shape({k: v.shape for k, v in inputs.items()}, PARAMS)
    return Case(CONV2D.name, inputs, dict(PARAMS), rng.standard_normal(out), seed=seed)


class _Holder:
    """An object holding one torch callable under conv2d's op name (for the torch adapter)."""

    def __init__(self, fn: Any):
        setattr(self, CONV2D.name, fn)


def torch_conv() -> Any:
    """``torch.nn.functional.conv2d`` behind the torch adapter."""
    import torch.nn.functional as F

    from gradcheck.adapters.torch_adapter import TorchAdapter

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
    from gradcheck.adapters.torch_adapter import TorchAdapter

    return TorchAdapter(_Holder(planted_conv2d(quantity, index)), f"planted {CONV2D.name}")


def elementwise_check(case: Case, impl: Any, *, report: dict[str, Any] | None = None) -> dict[str, Record]:
    """The harness's element-wise gradient check of conv2d ``impl`` (an adapter) on ``case``.

    ``impl``'s backward, then :func:`gradcheck.judge.fd_check.elementwise_check`: finite
    differences of ``impl``'s forward (footprint-coloured, every element of ``dx``, ``dw``,
    ``db`` with an error bound, step halving only where the first estimate is inconclusive),
    one comparison per gradient, a failure confirmed one element at a time when the case is
    small enough, and the Taylor remainder of the worst element. Perturbed copies are not
    stacked along the batch axis (the battery's float64 forward takes the case's batch only).
    Returns ``{"dx": Record, "dw": Record, "db": Record}``; ``report`` as
    :func:`gradcheck.oracles.fd.finite_differences` fills it.
    """
    spec = CONV2D
    run = Runner(impl, CONV2D.name, spec)
    actual = dict(zip(spec.grads, run.backward(case)))
    return elementwise_check_of(spec, CONV2D.name, case, run.forward64()(case), actual, mags=magnitudes(spec, case),
                                dtype="float64", confirm_limit=CONFIRM_LIMIT, report=report)


def colours(case: Case) -> int:
    """Colours of conv2d's ``x``, ``w`` and ``b`` on ``case``: the element-wise check's floor is
    two forward evaluations per colour."""
    from gradcheck.ops import footprints

    spec = CONV2D
    return sum(int(footprints.colours(spec.footprints[n], case.inputs[n].shape, case.params, case.shapes["w"]).max()) + 1
               for n in spec.grad_inputs)


def forward_seconds(case: Case, impl: Any, number: int) -> float:
    """Median seconds of ``number`` plain forward evaluations through the harness's float64 forward."""
    f = Runner(impl, CONV2D.name, CONV2D).forward64()(case)
    inputs = {k: v.astype(np.float64) for k, v in case.inputs.items()}
    f(inputs)
    times = []
    for _ in range(number):
        t0 = time.perf_counter()
        f(inputs)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def screen_check(case: Case, impl: Any, grads: dict[str, np.ndarray] | None = None,
                 details: dict[str, Any] | None = None) -> dict[tuple[str, str], Record] | None:
    """The harness's finite-difference check of a large case (:func:`gradcheck.oracles.localise.screen`,
    what the battery runs above ``SCREEN_ABOVE`` elements): the directional screen and, where
    it disagrees, the wrong elements located by group testing. ``grads``: ``impl``'s backward,
    computed here when not given (the battery computes it once for all its checks)."""
    spec = CONV2D
    run = Runner(impl, CONV2D.name, spec)
    if grads is None:
        grads = dict(zip(spec.grads, run.backward(case)))
    return LZ.screen(spec, CONV2D.name, case, run.forward64()(case), grads, dtype="float64", seed=case.seed or 0,
                     details=details)


def forced_localisation(case: Case, impl: Any, grads: dict[str, np.ndarray] | None = None) -> LZ.Localisation:
    """The group-testing search run on ``impl`` whatever the screen says, both halves tested
    at every level (:func:`gradcheck.oracles.localise.locate` with ``force=True``): on a correct
    gradient no test may disagree and no element may be located."""
    spec = CONV2D
    run = Runner(impl, CONV2D.name, spec)
    if grads is None:
        grads = dict(zip(spec.grads, run.backward(case)))
    mags = magnitudes(spec, case)
    K = spec.reduction(case.shapes, case.params)
    allowed = {q: FD.allowed_error(q, mags[q], K[q], "float64") for q in spec.grads}
    return LZ.locate(spec, case, run.forward64()(case), grads, allowed=allowed, forward_magnitude=mags["forward"],
                     seed=case.seed or 0, force=True)


def directional_check(case: Case, impl: Any, seed: int = 0) -> tuple[bool, float, float, float]:
    """The harness's directional screen of conv2d ``impl`` on ``case``.

    ``impl``'s backward, then ``<grad, u>`` against the central difference of
    ``<delta, forward>`` along a random direction ``u``. Returns
    ``(passed, analytic, numeric, bound)``.
    """
    spec = CONV2D
    run = Runner(impl, CONV2D.name, spec)
    grads = dict(zip(spec.grads, run.backward(case)))
    a, n, bound = FD.directional(spec, case, run.forward64()(case), grads, seed=seed)
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


def slow_gradcheck_estimate(case: Case, fn: Any = None, *, number: int = 3) -> dict[str, float]:
    """The cost of ``torch.autograd.gradcheck``'s slow mode on conv2d at ``case``, extrapolated
    from a timed fraction of its work.

    The slow mode builds the numerical Jacobian column by column (each input element moved by
    ``+eps`` and ``-eps``: two forward calls) and the analytical one row by row, twice (one
    ``autograd.grad`` with a one-hot output gradient per output element, repeated for its
    reentrancy check). ``number`` of each are timed here (medians), the same way; the estimate
    is ``2 n_in t_forward + 2 n_out t_vjp``, a lower bound (the copies into the dense
    Jacobians, which would take ``n_in n_out 8`` bytes each, are not counted).
    """
    import torch
    import torch.nn.functional as F

    x, w, b = (torch.tensor(case.inputs[k], requires_grad=True) for k in ("x", "w", "b"))
    geom = (case.params["stride"], case.params["padding"], case.params["dilation"])

    def f(x, w, b):
        return F.conv2d(x, w, b, *geom) if fn is None else fn.apply(x, w, b, *geom)

    def med(call) -> float:
        call()
        ts = []
        for _ in range(number):
            t0 = time.perf_counter()
            call()
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts)

    xc, wc, bc = (t.detach().clone() for t in (x, w, b))
    flat = xc.view(-1)
    k = flat.numel() // 2

    def one_column() -> None:  # what the numerical Jacobian does per input element
        with torch.no_grad():
            orig = flat[k].item()
            flat[k] = orig + 1e-6
            f(xc, wc, bc)
            flat[k] = orig - 1e-6
            f(xc, wc, bc)
            flat[k] = orig

    out = f(x, w, b)
    g = torch.zeros_like(out)
    g.view(-1)[g.numel() // 2] = 1.0

    def one_row() -> None:  # what the analytical Jacobian does per output element
        torch.autograd.grad(out, (x, w, b), g, retain_graph=True, allow_unused=True)

    t_col, t_row = med(one_column), med(one_row)
    n_in = sum(int(np.prod(case.inputs[k_].shape)) for k_ in ("x", "w", "b"))
    n_out = int(out.numel())
    return {"t_column_s": t_col, "t_row_s": t_row, "n_in": n_in, "n_out": n_out,
            "estimate_s": n_in * t_col + 2 * n_out * t_row, "jacobian_bytes": 8.0 * n_in * n_out}
