"""Convolution layers with their activation: o = f(conv2d(x, w, b)) (eqs. 7-8).

conv2d_relu, conv2d_sigmoid, conv2d_tanh: the arguments, shapes and gradients of conv2d
(:mod:`gradcheck.ops.conv`, the ``inner`` linear part), with ``delta * f'(z)`` flowing into
conv2d's backward (eqs. 19-22). Inside conv2d + ReLU a pre-activation of exactly 0 is a kink:
f'(0) may be 0, 1/2 or 1, applied alike to every kink.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradcheck.ops.activation import ACTIVATIONS
from gradcheck.ops.conv import CONV, CONV2D, CONV_CS231N, FOOTPRINTS, PARAMS, conv_forward, conv_grads, conv_out_shape, \
    conv_reduction, conv_source, conv_torch
from gradcheck.ops.spec import CS231n, Kink, ModuleMatch, OpProtocol, OpSpec, Params

__all__ = ["SPECS", "layer_magnitudes"]


def layer_magnitudes(spec: OpSpec, case: Any, torch_run: Callable) -> dict[str, np.ndarray]:
    """o = f(z): |dz| = |delta * f'(z)|, then the linear conv part on absolute values; f'(z)
    computed as 1 - f**2 or f (1 - f) is off by about u |f|, not u |f'|, hence |f'| + |f|."""
    z, _ = torch_run(spec.inner, case.inputs, case.params, np.zeros_like(case.delta))
    fz, fpz = ACTIVATIONS[spec.activation].f_and_fprime(z)
    absin = {k: np.abs(v) for k, v in case.inputs.items()}
    mfwd, grads = torch_run(spec.inner, absin, case.params, np.abs(case.delta) * (np.abs(fpz) + np.abs(fz)))
    return {"forward": mfwd + np.abs(fz), **grads}


def _preactivation(case: Any) -> np.ndarray:
    i = case.inputs
    return conv_forward(i["x"], i["w"], i["b"], case.params)


def _on_zero(inputs: dict[str, np.ndarray], params: Params, lo: int, hi: int) -> None:
    """Make the first pre-activation exactly 0 through the bias."""
    z = conv_forward(inputs["x"], inputs["w"], np.zeros_like(inputs["b"]), params)
    inputs["b"][0] = -z[0, 0, 0, 0]


def _clear(case: Any, scale: float, margin: float) -> bool:
    z = np.abs(_preactivation(case))
    return bool(z.min() > margin * float(z.max()))  # clear of 0 on the scale of z


RELU_INSIDE = Kink("zero-inside", ("pre-activation = 0",),
                   lambda case: {"pre-activation = 0"} if (_preactivation(case) == 0).any() else set(), _on_zero,
                   clear=_clear, title="ReLU")


def _layer(f: str, kink: Kink | None, cs231n: tuple[CS231n, ...], hints: tuple[str, ...]) -> OpSpec:
    act = ACTIVATIONS[f]

    def scipy(spec: OpSpec, case: Any):
        i = case.inputs
        z = conv_forward(i["x"], i["w"], i["b"], case.params)
        return act.f(z), conv_grads(case.delta * act.fprime(z), i["x"], i["w"], case.params)

    return OpSpec(
        OpProtocol(f"conv2d_{f}", ("x", "w", "b"), ("dx", "dw", "db"), PARAMS), CONV,
        lambda t, p: act.torch(conv_torch(t, p)), lambda t, p: f"torch.{f}({conv_source(t, p)})", conv_out_shape,
        FOOTPRINTS, lambda s, p: {k: v + 4 for k, v in conv_reduction(s, p).items()}, kink=kink, activation=f,
        inner=CONV2D, scipy=scipy, scipy_grads=True, magnitudes=layer_magnitudes, divide_by_scale=("w",),
        cs231n=cs231n, module=ModuleMatch(hints=hints, rank=2),
    )


SPECS = (
    _layer("relu", RELU_INSIDE, (CS231n("conv_relu_forward", "conv_relu_backward", **CONV_CS231N, optional=True),),
           ("conv2drelu", "convrelu")),
    _layer("sigmoid", None, (), ("conv2dsigmoid", "convsigmoid")),
    _layer("tanh", None, (), ("conv2dtanh", "convtanh")),
)
