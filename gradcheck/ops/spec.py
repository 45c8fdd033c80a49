"""The ops the harness checks: what each takes, what it returns, and how its outputs depend on
its inputs.

An :class:`OpSpec` joins the native protocol entry of an op (names, gradients, hyper-parameters)
with what the oracles and the comparison need to know about it:

- ``torch_forward``: the op written with ``torch.nn.functional`` (the torch oracle's truth).
- ``out_shape``: the output shape from the input shapes and hyper-parameters.
- ``footprints``: for each differentiable input, which outputs each element can move (used by
  the finite-difference oracle to perturb many elements in one forward evaluation; see
  ``gradcheck.ops.footprints``).
- ``reduction``: for the forward and each gradient, the length of the longest sum behind one
  output element; tolerances grow with it (``gradcheck.judge.tolerances``).
- ``kinks``: the stated kink policy of the op (``"relu"``, ``"max"``, ``"l2"`` or ``None``).

Hyper-parameters are always normalised to ``(h, w)`` tuples of ints before they reach an op.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from gradcheck.ops.protocol import PROTOCOL, OpProtocol

__all__ = ["OpSpec", "SPECS", "conv_out_len", "pool_out_shape", "conv_out_shape"]

Shapes = dict[str, tuple[int, ...]]
Params = dict[str, tuple[int, int]]


def conv_out_len(size: int, k: int, s: int, p: int, d: int = 1) -> int:
    """Output length of a window op along one axis (floor mode, as torch)."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def conv_out_shape(shapes: Shapes, params: Params) -> tuple[int, ...]:
    n, _, h, w = shapes["x"]
    d, _, k1, k2 = shapes["w"]
    (sh, sw), (ph, pw), (dh, dw) = params["stride"], params["padding"], params["dilation"]
    return (n, d, conv_out_len(h, k1, sh, ph, dh), conv_out_len(w, k2, sw, pw, dw))


def pool_out_shape(shapes: Shapes, params: Params) -> tuple[int, ...]:
    n, c, h, w = shapes["x"]
    (kh, kw), (sh, sw), (ph, pw) = params["kernel_size"], params["stride"], params["padding"]
    return (n, c, conv_out_len(h, kh, sh, ph), conv_out_len(w, kw, sw, pw))


def _cover(k: int, s: int) -> int:
    """How many windows along one axis can cover one input element."""
    return max(1, math.ceil(k / s))


def _conv_reduction(shapes: Shapes, params: Params) -> dict[str, int]:
    _, c, _, _ = shapes["x"]
    d, _, k1, k2 = shapes["w"]
    n, _, ho, wo = conv_out_shape(shapes, params)
    (sh, sw) = params["stride"]
    return {
        "forward": c * k1 * k2 + 1,
        "dx": d * _cover(k1, sh) * _cover(k2, sw),
        "dw": n * ho * wo,
        "db": n * ho * wo,
    }


def _pool_reduction(shapes: Shapes, params: Params) -> dict[str, int]:
    (kh, kw), (sh, sw) = params["kernel_size"], params["stride"]
    return {"forward": kh * kw, "dx": _cover(kh, sh) * _cover(kw, sw) * (1 + kh * kw)}


def _elementwise_reduction(shapes: Shapes, params: Params) -> dict[str, int]:
    return {"forward": 4, "dx": 4}


def _torch():
    import torch  # imported lazily: the parent process of a run never needs torch

    return torch


def _conv_t(t: dict[str, Any], p: Params):
    F = _torch().nn.functional
    return F.conv2d(t["x"], t["w"], t["b"], stride=p["stride"], padding=p["padding"], dilation=p["dilation"])


def _act(name: str) -> Callable[[Any], Any]:
    torch = _torch()
    return {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[name]


def _pool_t(kind: str) -> Callable[[dict[str, Any], Params], Any]:
    def f(t: dict[str, Any], p: Params):
        F = _torch().nn.functional
        k, s, pad = p["kernel_size"], p["stride"], p["padding"]
        if kind == "max":
            return F.max_pool2d(t["x"], k, s, pad)
        if kind == "avg":
            return F.avg_pool2d(t["x"], k, s, pad, count_include_pad=True)
        x = F.pad(t["x"], (pad[1], pad[1], pad[0], pad[0]))
        return F.lp_pool2d(x, 2, k, s)

    return f


@dataclass(frozen=True)
class OpSpec:
    """Everything the harness knows about one op."""

    protocol: OpProtocol
    torch_forward: Callable[[dict[str, Any], Params], Any]
    out_shape: Callable[[Shapes, Params], tuple[int, ...]]
    footprints: dict[str, str]
    reduction: Callable[[Shapes, Params], dict[str, int]]
    kinks: str | None = None
    activation: str | None = None  # for conv2d_<f> composites and the activations themselves
    scipy: bool = True  # whether the scipy oracle covers this op

    @property
    def name(self) -> str:
        return self.protocol.name

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.protocol.inputs

    @property
    def grads(self) -> tuple[str, ...]:
        return self.protocol.grads

    @property
    def params(self) -> tuple[str, ...]:
        return self.protocol.params

    @property
    def grad_inputs(self) -> tuple[str, ...]:
        """The inputs the gradients are taken with respect to (``dx`` -> ``x``)."""
        return tuple(g[1:] for g in self.grads)

    @property
    def is_conv(self) -> bool:
        return self.name == "conv2d" or self.name.startswith("conv2d_")

    @property
    def family(self) -> str:
        """``"conv"``, ``"pool"``, ``"dense"``, ``"elementwise"`` or ``"mse"``: ops of one family
        share geometry, coverage features and constraint vocabulary."""
        if self.is_conv:
            return "conv"
        if self.name.endswith("_pool2d"):
            return "pool"
        if self.name in ("dense", "mse"):
            return self.name
        return "elementwise"


def _make_specs() -> dict[str, OpSpec]:
    conv_fp = {"x": "window-mixing", "w": "filter", "b": "out-channel"}
    specs = [
        OpSpec(PROTOCOL["conv2d"], _conv_t, conv_out_shape, conv_fp, _conv_reduction),
        OpSpec(PROTOCOL["max_pool2d"], _pool_t("max"), pool_out_shape, {"x": "window"}, _pool_reduction, kinks="max"),
        OpSpec(PROTOCOL["avg_pool2d"], _pool_t("avg"), pool_out_shape, {"x": "window"}, _pool_reduction),
        OpSpec(PROTOCOL["l2_pool2d"], _pool_t("l2"), pool_out_shape, {"x": "window"}, _pool_reduction, kinks="l2"),
        OpSpec(
            PROTOCOL["mse"],
            lambda t, p: 0.5 * ((t["t"] - t["y"]) ** 2).sum(),
            lambda s, p: (),
            {"y": "full"},
            lambda s, p: {"forward": math.prod(s["y"]) + 1, "dy": 2},
            scipy=False,
        ),
        OpSpec(
            PROTOCOL["dense"],
            lambda t, p: _torch().nn.functional.linear(t["x"], t["w"], t["b"]),
            lambda s, p: (s["x"][0], s["w"][0]),
            {"x": "dense-rows", "w": "dense-weight", "b": "dense-bias"},
            lambda s, p: {"forward": s["x"][1] + 1, "dx": s["w"][0], "dw": s["x"][0], "db": s["x"][0]},
            scipy=False,
        ),
    ]
    for f in ("relu", "sigmoid", "tanh"):
        specs.append(
            OpSpec(
                PROTOCOL[f],
                (lambda f: lambda t, p: _act(f)(t["x"]))(f),
                lambda s, p: s["x"],
                {"x": "elementwise"},
                _elementwise_reduction,
                kinks="relu" if f == "relu" else None,
                activation=f,
            )
        )
        specs.append(
            OpSpec(
                PROTOCOL[f"conv2d_{f}"],
                (lambda f: lambda t, p: _act(f)(_conv_t(t, p)))(f),
                conv_out_shape,
                conv_fp,
                lambda s, p: {k: v + 4 for k, v in _conv_reduction(s, p).items()},
                kinks="relu" if f == "relu" else None,
                activation=f,
            )
        )
    by_name = {s.name: s for s in specs}
    return {name: by_name[name] for name in PROTOCOL}


#: Every op's spec, keyed by op name, in protocol order.
SPECS: dict[str, OpSpec] = _make_specs()
