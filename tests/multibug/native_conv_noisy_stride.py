"""A conv layer that is right, except that its backward adds fresh noise whenever a stride is
above 1: the gradient checks cannot be judged on those cases, so they are no pass."""
import numpy as np

import reference


def conv2d_forward(x, w, b, *, stride, padding, dilation):
    return reference.conv2d_forward(x, w, b, stride=stride, padding=padding, dilation=dilation)


def conv2d_backward(delta, x, w, b, *, stride, padding, dilation):
    grads = reference.conv2d_backward(delta, x, w, b, stride=stride, padding=padding, dilation=dilation)
    if max(stride) > 1:
        return tuple(g + 1e-6 * np.random.default_rng().standard_normal(g.shape) for g in grads)
    return grads
