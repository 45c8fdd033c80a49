"""The element-wise activations o = f(x) (eq. 8): relu, sigmoid, tanh, leaky_relu.

x of any shape (NCHW here) -> o of the same shape; ``dx = delta * f'(x)``. Each activation
carries its numpy closed form ``(f, f')`` (used by the magnitudes, by scipy for sigmoid, and by
the layers of :mod:`gradcheck.ops.layer`) and its torch function. ReLU has a kink at 0 where any
c in [0, 1] is a valid derivative (``gradcheck.judge.subgradient``); the leaky ReLU's is
[0.01, 1].
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from gradcheck.ops.spec import (CS231n, Family, Geometry, Kink, ModuleMatch, OpProtocol, OpSpec, Params, Pick, Shapes,
                                check_limits, pair, torch)

__all__ = ["Activation", "ACTIVATIONS", "ElementwiseFamily", "ELEMENTWISE", "SPECS", "activation_magnitudes"]


def _sech2(z: np.ndarray) -> np.ndarray:
    """``1 / cosh(z)**2`` without overflow: ``4 e^{-2|z|} / (1 + e^{-2|z|})**2``."""
    e = np.exp(-2 * np.abs(z))
    return 4 * e / (1 + e) ** 2


def _expit(z: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(z)


#: The leaky ReLU's slope for x < 0 (torch's default ``negative_slope``).
LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class Activation:
    """An activation's closed forms: ``f``, ``f'`` (numpy) and its torch function's name.
    ``f_and_fprime`` gives both as computed in float64 from ``f`` (``1 - f**2``, ``f (1 - f)``),
    whose rounding the magnitudes must cover."""

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    fprime: Callable[[np.ndarray], np.ndarray]
    f_and_fprime: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    scipy: bool = False  # whether f comes from scipy (scipy.special.expit) rather than numpy
    source: str = "torch.{name}({x})"  # the torch call as source text

    def torch(self, z: Any) -> Any:
        t = torch()
        return getattr(t, self.name)(z) if hasattr(t, self.name) else getattr(t.nn.functional, self.name)(z)

    def torch_source(self, x: str) -> str:
        return self.source.format(name=self.name, x=x)


def _tanh_pair(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.tanh(z)
    return t, 1 - t * t


def _sigmoid_pair(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = _expit(z)
    return s, s * (1 - s)


ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("relu", lambda z: np.where(z > 0, z, 0.0), lambda z: np.heaviside(z, 0.0),
               lambda z: (np.maximum(z, 0), (z > 0).astype(np.float64))),
    Activation("sigmoid", _expit, lambda z: _expit(z) * (1 - _expit(z)), _sigmoid_pair, scipy=True),
    Activation("tanh", np.tanh, _sech2, _tanh_pair),
    Activation("leaky_relu", lambda z: np.where(z > 0, z, LEAKY_SLOPE * z), lambda z: np.where(z > 0, 1.0, LEAKY_SLOPE),
               lambda z: (np.where(z > 0, z, LEAKY_SLOPE * z), np.where(z > 0, 1.0, LEAKY_SLOPE)),
               source=f"F.leaky_relu({{x}}, {LEAKY_SLOPE})"),
)}


def activation_magnitudes(spec: OpSpec, case: Any, torch_run: Callable) -> dict[str, np.ndarray]:
    """|f(x)| + |f'(x)| per element: it also covers the cancellation in ``1 - tanh(x)**2`` and
    ``s (1 - s)``."""
    fx, fpx = ACTIVATIONS[spec.activation].f_and_fprime(case.inputs["x"])
    return {"forward": np.abs(fx) + 1e-300, "dx": np.abs(case.delta) * (np.abs(fx) + np.abs(fpx))}


class ElementwiseFamily(Family):
    """Geometry of an element-wise op: an NCHW input of any size."""

    name = "elementwise"
    features = ("N>1", "C>1", "non-square input")
    constraint_keys = {"batch": ("max", "max_batch"), "channels": ("max", "max_channels"), "size": ("max", "max_size")}
    small = {"max_batch": 2, "max_channels": 2, "max_size": 4}

    def geometry(self, pick: Pick, *, max_batch: int = 3, max_channels: int = 3, max_size: int = 6) -> Geometry:
        """Shape ``{"x": (N,C,H,W)}`` of an activation's input; no params."""
        check_limits(max_batch=max_batch, max_channels=max_channels, max_size=max_size)
        return {"x": (pick(1, max_batch), pick(1, max_channels)) + pair(pick, 1, max_size)}, {}

    def limits_within(self, shapes: Shapes, params: Params) -> dict[str, int]:
        n, c, h, w = shapes["x"]
        return {"max_batch": n, "max_channels": c, "max_size": max(h, w)}

    def long_reduction(self, own: dict[str, Any]) -> Geometry:
        return {"x": (2, 2, 32, 32)}, {}

    def features_of(self, shapes: Shapes, params: Params) -> set[str]:
        n, c, h, w = shapes["x"]
        return {name for name, v in {"N>1": n > 1, "C>1": c > 1, "non-square input": h != w}.items() if v}


ELEMENTWISE = ElementwiseFamily()


def _zero_first(inputs: dict[str, np.ndarray], params: Params, lo: int, hi: int) -> None:
    inputs["x"].flat[0] = 0.0


def _at_zero(case: Any) -> set[str]:
    return {"x = 0"} if (case.inputs["x"] == 0).any() else set()


RELU_KINK = Kink("zero", ("x = 0",), _at_zero, _zero_first, away=True, title="ReLU")


def _spec(name: str, kink: Kink | None = None, cs231n: tuple[CS231n, ...] = (),
          module: ModuleMatch | None = None) -> OpSpec:
    act = ACTIVATIONS[name]
    scipy = (lambda spec, case: (act.f(case.inputs["x"]), {"dx": case.delta * act.fprime(case.inputs["x"])})) \
        if act.scipy else None  # relu and tanh have no scipy counterpart of their own
    return OpSpec(
        OpProtocol(name, ("x",), ("dx",), ()), ELEMENTWISE, lambda t, p: act.torch(t["x"]),
        lambda t, p: act.torch_source(t["x"]), lambda s, p: s["x"], {"x": "elementwise"},
        lambda s, p: {"forward": 4, "dx": 4}, kink=kink, activation=name, scipy=scipy, scipy_grads=act.scipy,
        magnitudes=activation_magnitudes, cs231n=cs231n,
        module=module or ModuleMatch(types=(name.capitalize() if name != "relu" else "ReLU",), hints=(name,)),
    )


RELU = _spec("relu", RELU_KINK, (CS231n("relu_forward", "relu_backward", ("x",)),))
SIGMOID = _spec("sigmoid")
TANH = _spec("tanh")
LEAKY_RELU = _spec("leaky_relu", Kink("zero", ("x = 0",), _at_zero, _zero_first, away=True, slopes=(LEAKY_SLOPE, 1.0),
                                      title="leaky ReLU"),
                   module=ModuleMatch(types=("LeakyReLU",), hints=("leakyrelu",), rank=1))

SPECS = (RELU, SIGMOID, TANH, LEAKY_RELU)
