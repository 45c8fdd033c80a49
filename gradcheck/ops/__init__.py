"""The ops the harness checks, one module per family; this table is the native protocol.

Plain functions on numpy arrays, NCHW, one forward and one backward per op. Hyper-parameters
are keyword arguments; spatial ones are tuples of ints, one per spatial axis; ``groups``, ``p``
and ``seed`` are one number (``OpProtocol.scalars``); class labels are an int64 array passed
after the inputs (``OpProtocol.labels``). Backward functions take the
upstream gradient ``delta`` (same shape as the forward output) first, then the forward's own
arguments, and return the gradients of the differentiable inputs in the order listed.
Backward recomputes what it needs from the inputs (no cache object), so each op is a pair of
pure functions. ``reference/`` speaks this protocol, and so can any candidate module.

==================  ==========================================================  =================
op                  forward / backward                                          gradients
==================  ==========================================================  =================
conv2d              ``conv2d_forward(x, w, b, *, stride, padding, dilation,      ``dx, dw, db``
                    groups)`` / ``conv2d_backward(delta, x, w, b, *, ...)``;
                    x (N,C,H,W), w (D,C/groups,k1,k2), b (D,) -> (N,D,Ho,Wo);
                    ``groups`` optional (a candidate without it: groups = 1)
conv1d, conv3d      as conv2d over 1 or 3 spatial axes                          ``dx, dw, db``
conv_transpose1d    ``conv_transpose2d_forward(x, w, b, *, stride, padding,      ``dx, dw, db``
conv_transpose2d    output_padding, dilation, groups)``; w (C_in, C_out/groups,
conv_transpose3d    k...), b (C_out,), as torch
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
batch_norm          ``batch_norm_forward(x, gamma, beta)`` (training mode)       ``dx, dgamma,
layer_norm          ``layer_norm_forward(x, gamma, beta)``                       dbeta``
group_norm          ``group_norm_forward(x, gamma, beta, *, groups)``
dropout             ``dropout_forward(x, *, p, seed)``, p the drop probability   ``dx``
softmax_cross_      ``softmax_cross_entropy_forward(x, y)`` -> 0-d mean loss;     ``dx``
entropy, svm_loss   ``svm_loss_forward(x, y)``; x (N,K), y (N,) int64
==================  ==========================================================  =================

Each module holds a family's shared geometry (:class:`~gradcheck.ops.spec.Family`) and its ops'
specs (:class:`~gradcheck.ops.spec.OpSpec`): :mod:`.conv`, :mod:`.activation`, :mod:`.pool`,
:mod:`.loss`, :mod:`.dense`, :mod:`.layer` (conv + activation), :mod:`.norm`, :mod:`.convnd`,
:mod:`.dropout`, :mod:`.classify`. An op is added by writing its
spec in one of them (or a new one, listed in ``_MODULES``), its reference function, and its
tests; nothing outside this folder names it.
"""
from __future__ import annotations

from gradcheck.ops import activation, classify, conv, convnd, dense, dropout, layer, loss, norm, pool
from gradcheck.ops.conv import conv_out_shape
from gradcheck.ops.pool import pool_out_shape
from gradcheck.ops.spec import Family, OpProtocol, OpSpec, out_len

__all__ = ["SPECS", "PROTOCOL", "OP_NAMES", "OpSpec", "OpProtocol", "Family", "FAMILIES", "out_len",
           "conv_out_shape", "pool_out_shape"]

#: The family modules, in display order.
_MODULES = (conv, convnd, activation, pool, loss, dense, layer, norm, dropout, classify)

#: Every op's spec, keyed by op name, in display order.
SPECS: dict[str, OpSpec] = {s.name: s for m in _MODULES for s in m.SPECS}

#: Every op's native protocol entry.
PROTOCOL: dict[str, OpProtocol] = {name: s.protocol for name, s in SPECS.items()}

#: Every op the harness knows, in display order.
OP_NAMES: tuple[str, ...] = tuple(SPECS)

#: Every family, by name.
FAMILIES: dict[str, Family] = {s.family.name: s.family for s in SPECS.values()}
