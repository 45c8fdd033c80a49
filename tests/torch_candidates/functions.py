"""Hand-written torch.autograd.Functions, right and wrong to second order.

Namespaces (target ``functions.py:<name>``):

- ``correct``: sigmoid and conv2d whose backward is built of torch ops (differentiable again)
  and whose ``jvp`` is right.
- ``saved_constant``: sigmoid whose backward uses ``sigmoid(x)`` saved on ``ctx`` as a detached
  constant: first order right, double backward wrong (the bug class of intermediates on ctx).
- ``numpy_backward``: conv2d whose backward goes through numpy, not marked once_differentiable:
  its double backward silently gives zeros.
- ``once``: the same backward, marked ``@once_differentiable`` (it says so: not checked twice).
- ``jvp_bug``: sigmoid whose ``jvp`` forgets the ``(1 - s)`` factor.
"""
import types

import numpy as np
import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable


class Sigmoid(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        ctx.save_for_forward(x)
        return torch.sigmoid(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return g * s * (1 - s)

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return t * s * (1 - s)


class Conv2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation):
        ctx.save_for_backward(x, w, b)
        ctx.save_for_forward(x, w, b)
        ctx.p = (stride, padding, dilation)
        return F.conv2d(x, w, b, stride, padding, dilation)

    @staticmethod
    def backward(ctx, g):
        x, w, b = ctx.saved_tensors
        s, p, d = ctx.p
        dx = torch.nn.grad.conv2d_input(x.shape, w, g, s, p, d)
        dw = torch.nn.grad.conv2d_weight(x, w.shape, g, s, p, d)
        return dx, dw, g.sum((0, 2, 3)), None, None, None

    @staticmethod
    def jvp(ctx, tx, tw, tb, *_):
        x, w, b = ctx.saved_tensors
        s, p, d = ctx.p
        return F.conv2d(tx, w, tb, s, p, d) + F.conv2d(x, tw, None, s, p, d)


correct = types.SimpleNamespace(sigmoid=Sigmoid, conv2d=Conv2d)


class SigmoidSavedConstant(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        s = torch.sigmoid(x)
        ctx.s = s.detach()  # a constant: the double backward cannot see that s depends on x
        return s

    @staticmethod
    def backward(ctx, g):
        s = ctx.s
        return g * s * (1 - s)


saved_constant = types.SimpleNamespace(sigmoid=SigmoidSavedConstant)


def _numpy_conv_backward(ctx, g):
    x, w, b = ctx.saved_tensors
    s, p, d = ctx.p
    with torch.enable_grad():
        xx, ww = x.detach().requires_grad_(), w.detach().requires_grad_()
        dx, dw = torch.autograd.grad(F.conv2d(xx, ww, None, s, p, d), (xx, ww), g.detach())
    dx, dw = torch.from_numpy(dx.numpy().copy()), torch.from_numpy(dw.numpy().copy())  # leaves the graph
    return dx, dw, g.sum((0, 2, 3)).detach(), None, None, None


class Conv2dNumpy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation):
        ctx.save_for_backward(x, w, b)
        ctx.p = (stride, padding, dilation)
        return F.conv2d(x, w, b, stride, padding, dilation)

    backward = staticmethod(_numpy_conv_backward)


class Conv2dOnce(Conv2dNumpy):
    backward = staticmethod(once_differentiable(_numpy_conv_backward))


numpy_backward = types.SimpleNamespace(conv2d=Conv2dNumpy)
once = types.SimpleNamespace(conv2d=Conv2dOnce)


class SigmoidJvpBug(Sigmoid):
    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return t * torch.sigmoid(x)  # missing (1 - s)


jvp_bug = types.SimpleNamespace(sigmoid=SigmoidJvpBug)
