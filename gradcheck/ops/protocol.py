"""The native protocol: what an implementation provides, op by op.

Plain functions on numpy arrays, NCHW, one forward and one backward per op. Hyper-parameters
are keyword arguments; spatial ones are ``(h, w)`` pairs of ints. Backward functions take the
upstream gradient ``delta`` (same shape as the forward output) first, then the forward's own
arguments, and return the gradients of the differentiable inputs in the order listed.
Backward recomputes what it needs from the inputs (no cache object), so each op is a pair of
pure functions. ``reference/`` speaks this protocol, and so can any candidate module.

==================  ==========================================================  =================
op                  forward / backward                                          gradients
==================  ==========================================================  =================
conv2d              ``conv2d_forward(x, w, b, *, stride, padding, dilation)``    ``dx, dw, db``
                    ``conv2d_backward(delta, x, w, b, *, stride, padding,
                    dilation)``; x (N,C,H,W), w (D,C,k1,k2), b (D,) -> (N,D,Ho,Wo)
relu                ``relu_forward(x)`` / ``relu_backward(delta, x)``             ``dx``
sigmoid             ``sigmoid_forward(x)`` / ``sigmoid_backward(delta, x)``       ``dx``
tanh                ``tanh_forward(x)`` / ``tanh_backward(delta, x)``             ``dx``
max_pool2d          ``max_pool2d_forward(x, *, kernel_size, stride, padding)``   ``dx``
                    ``max_pool2d_backward(delta, x, *, kernel_size, stride, padding)``
avg_pool2d          same arguments as max_pool2d (zero padding counted, as torch) ``dx``
l2_pool2d           same arguments as max_pool2d; o = sqrt(sum of squares)      ``dx``
mse                 ``mse_forward(y, t)`` -> 0-d E = 1/2 sum (t - y)^2 (eq. 9)   ``dy``
                    ``mse_backward(delta, y, t)`` (delta is 0-d)
dense               ``dense_forward(x, w, b)``: x (N,F), w (K,F), b (K,) -> (N,K) ``dx, dw, db``
                    ``dense_backward(delta, x, w, b)``
conv2d_relu         ``conv2d_relu_forward(x, w, b, *, stride, padding, dilation)`` ``dx, dw, db``
                    o = f(conv2d(x)) with f = ReLU (eqs. 7-8); likewise
conv2d_sigmoid      ``conv2d_sigmoid_*`` and ``conv2d_tanh_*``
conv2d_tanh
==================  ==========================================================  =================
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["OpProtocol", "PROTOCOL", "OP_NAMES"]


@dataclass(frozen=True)
class OpProtocol:
    """Names and argument lists of one op in the native protocol."""

    name: str
    inputs: tuple[str, ...]  # positional array arguments of the forward, in order
    grads: tuple[str, ...]  # names of the gradients backward returns, in order
    params: tuple[str, ...]  # keyword hyper-parameters

    @property
    def forward_name(self) -> str:
        return f"{self.name}_forward"

    @property
    def backward_name(self) -> str:
        return f"{self.name}_backward"


_CONV = ("stride", "padding", "dilation")
_POOL = ("kernel_size", "stride", "padding")

PROTOCOL: dict[str, OpProtocol] = {
    p.name: p
    for p in (
        OpProtocol("conv2d", ("x", "w", "b"), ("dx", "dw", "db"), _CONV),
        OpProtocol("relu", ("x",), ("dx",), ()),
        OpProtocol("sigmoid", ("x",), ("dx",), ()),
        OpProtocol("tanh", ("x",), ("dx",), ()),
        OpProtocol("max_pool2d", ("x",), ("dx",), _POOL),
        OpProtocol("avg_pool2d", ("x",), ("dx",), _POOL),
        OpProtocol("l2_pool2d", ("x",), ("dx",), _POOL),
        OpProtocol("mse", ("y", "t"), ("dy",), ()),
        OpProtocol("dense", ("x", "w", "b"), ("dx", "dw", "db"), ()),
        OpProtocol("conv2d_relu", ("x", "w", "b"), ("dx", "dw", "db"), _CONV),
        OpProtocol("conv2d_sigmoid", ("x", "w", "b"), ("dx", "dw", "db"), _CONV),
        OpProtocol("conv2d_tanh", ("x", "w", "b"), ("dx", "dw", "db"), _CONV),
    )
}

#: Every op the harness knows, in display order.
OP_NAMES: tuple[str, ...] = tuple(PROTOCOL)
