"""conv2d that switches TF32 on by itself: a float32 kernel quietly computing at 10-bit precision."""
import torch
import torch.nn.functional as F


def conv2d(x, w, b, stride, padding, dilation):
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = True
    return F.conv2d(x, w, b, stride, padding, dilation)
