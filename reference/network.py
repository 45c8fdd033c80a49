"""A small CNN built from the reference ops: conv -> f -> pool -> ... -> flatten -> dense -> eq. 9.

The network exists to check the layer-to-layer bookkeeping of the seed end to end: every layer's
backward receives the delta of the layer above (``dE/d`` its output) and hands its own ``dx`` to
the layer below, from ``dE/dy`` of the loss (eq. 9) down to the input. ``Network.backward``
returns, for every layer, that arriving delta and the gradients it computed, so each can be
compared with another implementation layer by layer.

Layers are plain objects with ``forward(x) -> o`` and ``backward(delta, x) -> (dx, grads)``;
they hold their parameters, the network holds the cached layer inputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._windows import IntPair
from .activations import ACTIVATIONS
from .conv import conv2d_backward, conv2d_forward
from .dense import dense_backward, dense_forward
from .loss import mse_backward, mse_forward
from .pooling import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    l2_pool2d_backward,
    l2_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)

__all__ = [
    "Layer",
    "ConvLayer",
    "ActivationLayer",
    "PoolLayer",
    "FlattenLayer",
    "DenseLayer",
    "Network",
    "make_network",
]


class Layer(Protocol):
    """What the network needs of a layer."""

    kind: str

    def forward(self, x: NDArray) -> NDArray: ...

    def backward(self, delta: NDArray, x: NDArray) -> tuple[NDArray, dict[str, NDArray]]: ...


@dataclass
class ConvLayer:
    """Convolution ``x^l = conv2d(o^{l-1}, w) + b`` (eq. 7); w (D, C, k1, k2), b (D,).

    The delta arriving at this layer is the seed's ``delta^l = dE/dx^l`` (eq. 15).
    Ledger: eq7, eq13, eq22.
    """

    w: NDArray
    b: NDArray
    stride: IntPair = 1
    padding: IntPair = 0
    dilation: IntPair = 1
    kind: str = "conv2d"

    def _hyper(self) -> dict[str, Any]:
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation}

    def forward(self, x: NDArray) -> NDArray:
        """(N, C, H, W) -> (N, D, Ho, Wo)."""
        return conv2d_forward(x, self.w, self.b, **self._hyper())

    def backward(self, delta: NDArray, x: NDArray) -> tuple[NDArray, dict[str, NDArray]]:
        """delta (N, D, Ho, Wo) -> dx (N, C, H, W) and ``{"dw": (D, C, k1, k2), "db": (D,)}``."""
        dx, dw, db = conv2d_backward(delta, x, self.w, self.b, **self._hyper())
        return dx, {"dw": dw, "db": db}


@dataclass
class ActivationLayer:
    """Element-wise ``o^l = f(x^l)`` (eq. 8); ``name`` is a key of ``ACTIVATIONS``. Ledger: eq8, eq19."""

    name: str
    kind: str = "activation"

    def forward(self, x: NDArray) -> NDArray:
        """Any shape -> same shape."""
        return ACTIVATIONS[self.name][0](x)

    def backward(self, delta: NDArray, x: NDArray) -> tuple[NDArray, dict[str, NDArray]]:
        """``dx = delta * f'(x)`` (the ``f'`` factor of eq. 19)."""
        return delta * ACTIVATIONS[self.name][1](x), {}


_POOLS = {
    "max": (max_pool2d_forward, max_pool2d_backward),
    "avg": (avg_pool2d_forward, avg_pool2d_backward),
    "l2": (l2_pool2d_forward, l2_pool2d_backward),
}


@dataclass
class PoolLayer:
    """Max, average or L2 pooling (``mode`` in ``{"max", "avg", "l2"}``).

    Ledger: pool-max, pool-avg, pool-l2.
    """

    mode: str
    kernel_size: IntPair
    stride: IntPair | None = None
    padding: IntPair = 0
    kind: str = "pool"

    def _hyper(self) -> dict[str, Any]:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding}

    def forward(self, x: NDArray) -> NDArray:
        """(N, C, H, W) -> (N, C, Ho, Wo)."""
        return _POOLS[self.mode][0](x, **self._hyper())

    def backward(self, delta: NDArray, x: NDArray) -> tuple[NDArray, dict[str, NDArray]]:
        """delta (N, C, Ho, Wo) -> dx (N, C, H, W), routed as the seed's pooling section says."""
        return _POOLS[self.mode][1](delta, x, **self._hyper()), {}


@dataclass
class FlattenLayer:
    """(N, C, H, W) -> (N, C*H*W): the feature maps "squashed into a one dimension vector"."""

    kind: str = "flatten"

    def forward(self, x: NDArray) -> NDArray:
        return x.reshape(x.shape[0], -1)

    def backward(self, delta: NDArray, x: NDArray) -> tuple[NDArray, dict[str, NDArray]]:
        return delta.reshape(x.shape), {}


@dataclass
class DenseLayer:
    """Fully connected ``o = x w^T + b``; w (K, F), b (K,). Ledger: eq7, eq13, eq17."""

    w: NDArray
    b: NDArray
    kind: str = "dense"

    def forward(self, x: NDArray) -> NDArray:
        """(N, F) -> (N, K)."""
        return dense_forward(x, self.w, self.b)

    def backward(self, delta: NDArray, x: NDArray) -> tuple[NDArray, dict[str, NDArray]]:
        """delta (N, K) -> dx (N, F) and ``{"dw": (K, F), "db": (K,)}``."""
        dx, dw, db = dense_backward(delta, x, self.w, self.b)
        return dx, {"dw": dw, "db": db}


class Network:
    """A stack of layers followed by the loss of eq. 9.

    ``forward(x, t)`` runs the layers, caches every layer's input, and returns ``E``;
    ``backward()`` then propagates ``dE/dy`` down the stack. Ledger: eq9, eq15, eq20.

    Parameters
    ----------
    layers : sequence of layer objects
        Each with ``forward(x)`` and ``backward(delta, x) -> (dx, grads)``
        (:class:`ConvLayer`, :class:`ActivationLayer`, :class:`PoolLayer`,
        :class:`FlattenLayer`, :class:`DenseLayer`).
    """

    def __init__(self, layers: list[Layer]) -> None:
        self.layers = list(layers)
        self._inputs: list[NDArray] | None = None
        self._y: NDArray | None = None
        self._t: NDArray | None = None

    def predict(self, x: ArrayLike) -> NDArray:
        """The network output ``y`` (N, K) for input ``x`` (N, C, H, W), nothing cached (eqs. 7-8)."""
        o = np.asarray(x)
        for layer in self.layers:
            o = layer.forward(o)
        return o

    def forward(self, x: ArrayLike, t: ArrayLike) -> NDArray:
        """Run the network on ``x`` (N, C, H, W) and return the eq. 9 loss against ``t`` (N, K).

        Returns
        -------
        E : 0-d array
        """
        o = np.asarray(x)
        inputs = []
        for layer in self.layers:
            inputs.append(o)
            o = layer.forward(o)
        self._inputs, self._y, self._t = inputs, o, np.asarray(t)
        return mse_forward(o, self._t)

    def backward(self) -> list[dict[str, Any]]:
        """Backpropagate the last :meth:`forward`'s loss through every layer.

        Returns
        -------
        list of dict, one per layer, in layer order
            ``"kind"``: the layer's kind; ``"delta"``: ``dE/d`` the layer's output (for a conv
            layer, the seed's ``delta^l``); ``"dx"``: ``dE/d`` the layer's input; and for
            parameter layers ``"dw"`` and ``"db"``.
        """
        if self._inputs is None or self._y is None or self._t is None:
            raise RuntimeError("call forward(x, t) before backward()")
        delta = mse_backward(np.asarray(1.0, dtype=self._y.dtype), self._y, self._t)
        grads: list[dict[str, Any]] = []
        for layer, x in zip(reversed(self.layers), reversed(self._inputs)):
            dx, params = layer.backward(delta, x)
            grads.append({"kind": layer.kind, "delta": delta, "dx": dx, **params})
            delta = dx
        return grads[::-1]


def make_network(
    rng: np.random.Generator,
    *,
    batch: int = 2,
    channels: int = 1,
    size: int = 8,
    filters: int = 2,
    kernel: int = 3,
    activation: str = "relu",
    pool: str = "max",
    classes: int = 3,
    dtype: Any = np.float64,
) -> tuple[Network, NDArray, NDArray]:
    """A small random CNN with an input and a target to run it on.

    x (batch, channels, size, size) -> conv kernel x kernel (``filters`` filters) -> activation
    -> 2x2 pooling -> flatten -> dense (``classes`` outputs) -> eq. 9 against a random target.
    The defaults give x (2, 1, 8, 8) -> conv 3x3 (2 filters) -> relu -> maxpool 2 -> dense 3.
    Ledger: eq7, eq8, eq9, pool-max.

    Returns
    -------
    network : Network
    x : array (batch, channels, size, size)
    t : array (batch, classes)
    """
    conv_hw = size - kernel + 1
    features = filters * (conv_hw // 2) ** 2

    def draw(*shape: int, scale: float = 1.0) -> NDArray:
        return (scale * rng.standard_normal(shape)).astype(dtype)

    network = Network(
        [
            ConvLayer(draw(filters, channels, kernel, kernel, scale=kernel**-1), draw(filters, scale=0.1)),
            ActivationLayer(activation),
            PoolLayer(pool, kernel_size=2),
            FlattenLayer(),
            DenseLayer(draw(classes, features, scale=features**-0.5), draw(classes, scale=0.1)),
        ]
    )
    return network, draw(batch, channels, size, size), draw(batch, classes)
