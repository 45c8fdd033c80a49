"""conv2d whose dw is off by 0.1% (a tiny scale error), differentiated on the GPU."""
import torch
import torch.nn.functional as F


class _Conv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation):
        ctx.save_for_backward(x, w, b)
        ctx.p = (stride, padding, dilation)
        return F.conv2d(x, w, b, stride, padding, dilation)

    @staticmethod
    def backward(ctx, g):
        x, w, b = ctx.saved_tensors
        s, p, d = ctx.p
        with torch.enable_grad():
            xx, ww, bb = x.detach().requires_grad_(), w.detach().requires_grad_(), b.detach().requires_grad_()
            dx, dw, db = torch.autograd.grad(F.conv2d(xx, ww, bb, s, p, d), (xx, ww, bb), g)
        return dx, dw * 1.001, db, None, None, None


conv2d = _Conv
