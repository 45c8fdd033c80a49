"""A convolution layer with its activation (eqs. 7-8) and the layer-to-layer delta (eqs. 20-22).

``o^l = f(x^l)`` with ``x^l = conv2d(o^{l-1}, w^l) + b^l``. Arrays are NCHW: ``x`` (N, C, H, W),
``w`` (D, C, k1, k2), ``b`` (D,), output (N, D, Ho, Wo).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._windows import IntPair, as_float_array, check_delta, result_dtype
from .activations import ACTIVATIONS
from .conv import conv2d_backward, conv2d_forward, conv2d_input_grad

__all__ = [
    "conv2d_activation_forward",
    "conv2d_activation_backward",
    "conv2d_relu_forward",
    "conv2d_relu_backward",
    "conv2d_sigmoid_forward",
    "conv2d_sigmoid_backward",
    "conv2d_tanh_forward",
    "conv2d_tanh_backward",
    "layer_delta",
]


def _activation(name: str):
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; known: {sorted(ACTIVATIONS)}") from None


def conv2d_activation_forward(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike,
    *,
    activation: str,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> NDArray:
    """Convolution layer with activation: ``o^l = f(x^l)``, ``x^l = conv2d(o^{l-1}, w) + b``.

    Eq. 7 then eq. 8. Ledger: eq7, eq8.

    Parameters
    ----------
    x : array (N, C, H, W)
        The layer's input ``o^{l-1}``.
    w : array (D, C, k1, k2)
    b : array (D,)
    activation : {"relu", "sigmoid", "tanh"}
    stride, padding, dilation : int or (int, int)

    Returns
    -------
    o : array (N, D, Ho, Wo)
    """
    f, _ = _activation(activation)
    return f(conv2d_forward(x, w, b, stride=stride, padding=padding, dilation=dilation))


def conv2d_activation_backward(
    delta: ArrayLike,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike,
    *,
    activation: str,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> tuple[NDArray, NDArray, NDArray]:
    """Backward of :func:`conv2d_activation_forward`.

    ``delta^l = dE/dx^l = delta * f'(x^l)`` (the ``f'`` factor of eq. 19), then the convolution's
    gradients: ``dw`` by eq. 13, ``db`` by eq. 10, ``dx`` by eq. 22 (see
    :func:`reference.conv.conv2d_backward`). Ledger: eq13, eq19, eq22.

    Parameters
    ----------
    delta : array (N, D, Ho, Wo)
        ``dE/do^l``, the gradient with respect to the activated output.
    x : array (N, C, H, W)
    w : array (D, C, k1, k2)
    b : array (D,)
    activation : {"relu", "sigmoid", "tanh"}
    stride, padding, dilation : int or (int, int)

    Returns
    -------
    dx : array (N, C, H, W)
    dw : array (D, C, k1, k2)
    db : array (D,)
    """
    _, fprime = _activation(activation)
    dtype = result_dtype(np.asarray(delta), np.asarray(x), np.asarray(w), np.asarray(b))
    z = conv2d_forward(x, w, b, stride=stride, padding=padding, dilation=dilation)  # x^l
    delta = as_float_array(delta, dtype)
    check_delta(delta, z.shape, f"conv2d_{activation}_backward")
    return conv2d_backward(
        delta * fprime(z.astype(dtype, copy=False)), x, w, b,
        stride=stride, padding=padding, dilation=dilation,
    )


def layer_delta(
    delta_next: ArrayLike,
    w_next: ArrayLike,
    x_l: ArrayLike,
    *,
    activation: str,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> NDArray:
    """The delta of layer ``l`` from the delta of layer ``l+1``: eqs. 20-22.

    ``delta^l = dE/dx^l = (delta^{l+1} * w^{l+1}) . f'(x^l)`` -- the full convolution (eq. 2's
    ``*``) of layer ``l+1``'s (stride-dilated) deltas with its kernel, i.e. the input gradient of
    layer ``l+1``'s convolution (:func:`reference.conv.conv2d_input_grad`), times ``f'`` of layer
    ``l``'s pre-activation element-wise. For stride 1, no padding, no dilation this is eq. 20
    term by term: ``sum_{m,n} delta^{l+1}_{i'-m, j'-n} w^{l+1}_{m,n} f'(x^l_{i',j'})``.
    Ledger: eq20 (holds); eq21 and eq22 in their corrected form (as printed, ``rot180`` with
    eq. 2's ``*`` flips the kernel twice).

    Parameters
    ----------
    delta_next : array (N, D, Ho, Wo)
        ``delta^{l+1} = dE/dx^{l+1}``.
    w_next : array (D, C, k1, k2)
        Layer ``l+1``'s filters.
    x_l : array (N, C, H, W)
        Layer ``l``'s pre-activation; ``o^l = f(x^l)`` is layer ``l+1``'s input.
    activation : {"relu", "sigmoid", "tanh"}
        Layer ``l``'s ``f``.
    stride, padding, dilation : int or (int, int)
        Layer ``l+1``'s convolution hyper-parameters.

    Returns
    -------
    delta_l : array (N, C, H, W)
    """
    _, fprime = _activation(activation)
    dtype = result_dtype(np.asarray(delta_next), np.asarray(w_next), np.asarray(x_l))
    delta_next, w_next, x_l = (as_float_array(a, dtype) for a in (delta_next, w_next, x_l))
    d_o = conv2d_input_grad(delta_next, x_l.shape, w_next, stride=stride, padding=padding, dilation=dilation)
    return d_o * fprime(x_l)


def conv2d_relu_forward(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike,
    *,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> NDArray:
    """Convolution layer with ReLU: ``o = relu(conv2d(x, w) + b)`` (eqs. 7-8). Ledger: eq7, eq8.

    x (N, C, H, W), w (D, C, k1, k2), b (D,) -> o (N, D, Ho, Wo); see
    :func:`conv2d_activation_forward`.
    """
    return conv2d_activation_forward(
        x, w, b, activation="relu", stride=stride, padding=padding, dilation=dilation
    )


def conv2d_relu_backward(
    delta: ArrayLike,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike,
    *,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> tuple[NDArray, NDArray, NDArray]:
    """Backward of :func:`conv2d_relu_forward`: ``dx, dw, db`` (eqs. 13, 19, 22).

    delta (N, D, Ho, Wo) is ``dE/do``; returns dx (N, C, H, W), dw (D, C, k1, k2), db (D,);
    see :func:`conv2d_activation_backward`. Ledger: eq13, eq19, eq22.
    """
    return conv2d_activation_backward(
        delta, x, w, b, activation="relu", stride=stride, padding=padding, dilation=dilation
    )


def conv2d_sigmoid_forward(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike,
    *,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> NDArray:
    """Convolution layer with sigmoid: ``o = sigmoid(conv2d(x, w) + b)`` (eqs. 7-8). Ledger: eq7, eq8.

    x (N, C, H, W), w (D, C, k1, k2), b (D,) -> o (N, D, Ho, Wo); see
    :func:`conv2d_activation_forward`.
    """
    return conv2d_activation_forward(
        x, w, b, activation="sigmoid", stride=stride, padding=padding, dilation=dilation
    )


def conv2d_sigmoid_backward(
    delta: ArrayLike,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike,
    *,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> tuple[NDArray, NDArray, NDArray]:
    """Backward of :func:`conv2d_sigmoid_forward`: ``dx, dw, db`` (eqs. 13, 19, 22).

    delta (N, D, Ho, Wo) is ``dE/do``; returns dx (N, C, H, W), dw (D, C, k1, k2), db (D,);
    see :func:`conv2d_activation_backward`. Ledger: eq13, eq19, eq22.
    """
    return conv2d_activation_backward(
        delta, x, w, b, activation="sigmoid", stride=stride, padding=padding, dilation=dilation
    )


def conv2d_tanh_forward(
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike,
    *,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> NDArray:
    """Convolution layer with tanh: ``o = tanh(conv2d(x, w) + b)`` (eqs. 7-8). Ledger: eq7, eq8.

    x (N, C, H, W), w (D, C, k1, k2), b (D,) -> o (N, D, Ho, Wo); see
    :func:`conv2d_activation_forward`.
    """
    return conv2d_activation_forward(
        x, w, b, activation="tanh", stride=stride, padding=padding, dilation=dilation
    )


def conv2d_tanh_backward(
    delta: ArrayLike,
    x: ArrayLike,
    w: ArrayLike,
    b: ArrayLike,
    *,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> tuple[NDArray, NDArray, NDArray]:
    """Backward of :func:`conv2d_tanh_forward`: ``dx, dw, db`` (eqs. 13, 19, 22).

    delta (N, D, Ho, Wo) is ``dE/do``; returns dx (N, C, H, W), dw (D, C, k1, k2), db (D,);
    see :func:`conv2d_activation_backward`. Ledger: eq13, eq19, eq22.
    """
    return conv2d_activation_backward(
        delta, x, w, b, activation="tanh", stride=stride, padding=padding, dilation=dilation
    )
