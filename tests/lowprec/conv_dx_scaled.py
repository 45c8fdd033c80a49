"""conv2d whose backward returns dx 1% too large."""
import torch
import torch.nn.functional as F


class conv2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation):
        ctx.save_for_backward(x, w, b)
        ctx.hp = (stride, padding, dilation)
        return F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation)

    @staticmethod
    def backward(ctx, delta):
        x, w, b = ctx.saved_tensors
        stride, padding, dilation = ctx.hp
        with torch.enable_grad():
            xs, ws, bs = (t.detach().float().requires_grad_() for t in (x, w, b))
            o = F.conv2d(xs, ws, bs, stride=stride, padding=padding, dilation=dilation)
            dx, dw, db = torch.autograd.grad(o, (xs, ws, bs), delta.float())
        return (1.01 * dx).to(x.dtype), dw.to(w.dtype), db.to(b.dtype), None, None, None
