"""A correct conv2d (the reference's) that handles only stride 1 and no dilation, and says so
by raising ``gradcheck.Unsupported`` for anything else (padding is fine)."""
import gradcheck
from reference import conv2d_backward as _backward
from reference import conv2d_forward as _forward


def _only_stride_1(stride, dilation):
    if tuple(stride) != (1, 1) or tuple(dilation) != (1, 1):
        raise gradcheck.Unsupported(f"only stride 1 and dilation 1 (got stride {tuple(stride)}, dilation {tuple(dilation)})")


def conv2d_forward(x, w, b, *, stride, padding, dilation):
    _only_stride_1(stride, dilation)
    return _forward(x, w, b, stride=stride, padding=padding, dilation=dilation)


def conv2d_backward(delta, x, w, b, *, stride, padding, dilation):
    _only_stride_1(stride, dilation)
    return _backward(delta, x, w, b, stride=stride, padding=padding, dilation=dilation)
