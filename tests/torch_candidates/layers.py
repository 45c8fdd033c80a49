"""PyTorch layers as their authors write them: nn.Modules holding their own weights.

- ``CorrectConv``: built like ``nn.Conv2d`` (in_channels, out_channels, kernel_size, stride,
  padding, dilation), its own ``weight`` and ``bias``; forward by ``F.conv2d``.
- ``ConvDwScaled``: the same, its forward through a hand-written Function whose ``dw`` is off
  by 1% (the bug); ``dx`` and ``db`` are right.
- ``BrokenMaxPool``: a max-pooling module (``kernel_size``, ``stride``, ``padding`` as
  ``nn.MaxPool2d`` names them) whose backward halves the gradient; ``broken_pool`` is one.
- ``Wrapped``: a conv whose weights live in ``self.conv`` (``wrapped.py`` maps them).
- ``conv2d``: a fixed 1x1 instance of ``CorrectConv`` (the geometry today's strategies can pin).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class CorrectConv(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1):
        super().__init__()
        k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, *k))
        self.bias = nn.Parameter(torch.randn(out_channels))
        self.stride, self.padding, self.dilation = stride, padding, dilation

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)


class _ConvDwScaled(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation):
        ctx.save_for_backward(x, w)
        ctx.p = (stride, padding, dilation)
        return F.conv2d(x, w, b, stride, padding, dilation)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        s, p, d = ctx.p
        dx = torch.nn.grad.conv2d_input(x.shape, w, g, s, p, d)
        dw = torch.nn.grad.conv2d_weight(x, w.shape, g, s, p, d)
        return dx, dw * 1.01, g.sum((0, 2, 3)), None, None, None


class ConvDwScaled(CorrectConv):
    def forward(self, x):
        return _ConvDwScaled.apply(x, self.weight, self.bias, self.stride, self.padding, self.dilation)


class _HalfMaxPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, k, s, p):
        with torch.enable_grad():
            xx = x.detach().requires_grad_()
            out = F.max_pool2d(xx, k, s, p)
        ctx.save_for_backward(xx, out)
        return out.detach()

    @staticmethod
    def backward(ctx, g):
        xx, out = ctx.saved_tensors
        (dx,) = torch.autograd.grad(out, xx, g)
        return dx * 0.5, None, None, None


class BrokenMaxPool(nn.Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride or kernel_size, padding

    def forward(self, x):
        return _HalfMaxPool.apply(x, self.kernel_size, self.stride, self.padding)


class Wrapped(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)

    def forward(self, x):
        return self.conv(x)


broken_pool = BrokenMaxPool(2)
conv2d = CorrectConv(1, 1, 1)
wrapped = Wrapped()
