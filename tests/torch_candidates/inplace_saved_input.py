"""sigmoid and relu as torch.autograd.Functions whose backward overwrites the saved input in place.

The gradients are right (they are computed before the write), so only the inputs-unmodified
check can see the bug.
"""
import torch


class sigmoid(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.sigmoid(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        grad = g * s * (1 - s)
        x.sigmoid_()  # the bug: the caller's x is no longer its x
        return grad


class relu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        grad = g * (x > 0).to(g.dtype)
        x.add_(1)
        return grad


class tanh(torch.autograd.Function):
    """Correct, and leaves its input alone: the control."""

    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)
