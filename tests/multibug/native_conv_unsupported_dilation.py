"""A correct conv layer that declines dilation (raises gradcheck.Unsupported), as layers
written for one geometry do."""
import gradcheck
import reference


def conv2d_forward(x, w, b, *, stride, padding, dilation):
    if dilation != (1, 1):
        raise gradcheck.Unsupported("dilation is not implemented")
    return reference.conv2d_forward(x, w, b, stride=stride, padding=padding, dilation=dilation)


def conv2d_backward(delta, x, w, b, *, stride, padding, dilation):
    if dilation != (1, 1):
        raise gradcheck.Unsupported("dilation is not implemented")
    return reference.conv2d_backward(delta, x, w, b, stride=stride, padding=padding, dilation=dilation)
