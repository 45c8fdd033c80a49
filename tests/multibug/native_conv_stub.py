"""A conv layer whose backward is still the assignment's stub: it declines every case."""
import reference


def conv2d_forward(x, w, b, *, stride, padding, dilation):
    return reference.conv2d_forward(x, w, b, stride=stride, padding=padding, dilation=dilation)


def conv2d_backward(delta, x, w, b, *, stride, padding, dilation):
    raise NotImplementedError
