"""conv2d whose hand-written backward accumulates dw term by term in the low-precision dtype
itself (no float32 accumulator): on long reductions its error grows far past torch's."""
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
            x32, w32 = x.detach().float().requires_grad_(), w.detach().float().requires_grad_()
            o = F.conv2d(x32, w32, None, stride=stride, padding=padding, dilation=dilation)
            dx, = torch.autograd.grad(o, x32, delta.float())
        k1, k2 = w.shape[2:]
        xp = F.pad(x, (padding[1], padding[1], padding[0], padding[0]))
        dw = torch.zeros_like(w)  # in the low-precision dtype, one output position at a time
        for i in range(delta.shape[2]):
            for j in range(delta.shape[3]):
                r, c = i * stride[0], j * stride[1]
                patch = xp[:, :, r:r + dilation[0] * (k1 - 1) + 1:dilation[0], c:c + dilation[1] * (k2 - 1) + 1:dilation[1]]
                dw = dw + torch.einsum("nd,nckl->dckl", delta[:, :, i, j], patch)
        db = delta.float().sum(dim=(0, 2, 3)).to(b.dtype)
        return dx.to(x.dtype), dw, db, None, None, None
