"""Reference implementation of the seed's equations 7-22 and its pooling routing (numpy).

Every op speaks the native protocol of :mod:`gradcheck.protocol`: ``<op>_forward`` and
``<op>_backward`` are pure functions on NCHW numpy arrays, hyper-parameters are keyword
arguments (an int or an ``(h, w)`` pair), backward takes the upstream gradient ``delta`` first
and returns the gradients in the protocol's order. Inputs are never modified; the floating dtype
of the inputs is kept (float32 in, float32 out).

Modules: :mod:`.conv` (eqs. 4, 7, 10-22), :mod:`.activations` (eq. 8 and ``f'``),
:mod:`.layer` (conv + activation, eqs. 7-8, and ``layer_delta``, eqs. 20-22),
:mod:`.pooling` (max / average / L2 pooling), :mod:`.loss` (eq. 9), :mod:`.dense`, and
:mod:`.network` (a small CNN composed of all of them).
"""
from .activations import (
    ACTIVATIONS,
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from .classify import (
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
    svm_loss_backward,
    svm_loss_forward,
)
from .conv import conv2d_backward, conv2d_forward, conv2d_input_grad
from .convnd import (
    conv1d_backward,
    conv1d_forward,
    conv3d_backward,
    conv3d_forward,
    conv_transpose1d_backward,
    conv_transpose1d_forward,
    conv_transpose2d_backward,
    conv_transpose2d_forward,
    conv_transpose3d_backward,
    conv_transpose3d_forward,
)
from .dense import dense_backward, dense_forward
from .layer import (
    conv2d_activation_backward,
    conv2d_activation_forward,
    conv2d_relu_backward,
    conv2d_relu_forward,
    conv2d_sigmoid_backward,
    conv2d_sigmoid_forward,
    conv2d_tanh_backward,
    conv2d_tanh_forward,
    layer_delta,
)
from .dropout import dropout_backward, dropout_forward
from .loss import mse_backward, mse_forward
from .norm import (
    batch_norm_backward,
    batch_norm_forward,
    group_norm_backward,
    group_norm_forward,
    layer_norm_backward,
    layer_norm_forward,
)
from .network import (
    ActivationLayer,
    ConvLayer,
    DenseLayer,
    FlattenLayer,
    Network,
    PoolLayer,
    make_network,
)
from .pooling import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    l2_pool2d_backward,
    l2_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    max_pool2d_winners,
)

__all__ = [
    # native protocol (gradcheck.protocol.PROTOCOL), in its order
    "conv2d_forward",
    "conv2d_backward",
    "conv1d_forward",
    "conv1d_backward",
    "conv3d_forward",
    "conv3d_backward",
    "conv_transpose1d_forward",
    "conv_transpose1d_backward",
    "conv_transpose2d_forward",
    "conv_transpose2d_backward",
    "conv_transpose3d_forward",
    "conv_transpose3d_backward",
    "relu_forward",
    "relu_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "max_pool2d_forward",
    "max_pool2d_backward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
    "l2_pool2d_forward",
    "l2_pool2d_backward",
    "mse_forward",
    "mse_backward",
    "leaky_relu_forward",
    "leaky_relu_backward",
    "batch_norm_forward",
    "batch_norm_backward",
    "layer_norm_forward",
    "layer_norm_backward",
    "group_norm_forward",
    "group_norm_backward",
    "dropout_forward",
    "dropout_backward",
    "softmax_cross_entropy_forward",
    "softmax_cross_entropy_backward",
    "svm_loss_forward",
    "svm_loss_backward",
    "dense_forward",
    "dense_backward",
    "conv2d_relu_forward",
    "conv2d_relu_backward",
    "conv2d_sigmoid_forward",
    "conv2d_sigmoid_backward",
    "conv2d_tanh_forward",
    "conv2d_tanh_backward",
    # beyond the protocol
    "ACTIVATIONS",
    "conv2d_input_grad",
    "conv2d_activation_forward",
    "conv2d_activation_backward",
    "layer_delta",
    "max_pool2d_winners",
    "Network",
    "make_network",
    "ConvLayer",
    "ActivationLayer",
    "PoolLayer",
    "FlattenLayer",
    "DenseLayer",
]
