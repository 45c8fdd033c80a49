"""Conv layer whose forward returns one output row too many and whose dw is off by a factor of
two: the forward's shape bug must not hide the backward's."""
import reference


def conv2d_forward(x, w, b, *, stride, padding, dilation):
    """x (N, C, H, W), w (D, C, k1, k2), b (D,) -> (N, D, Ho + 1, Wo), the last row repeated."""
    import numpy as np

    o = reference.conv2d_forward(x, w, b, stride=stride, padding=padding, dilation=dilation)
    return np.concatenate([o, o[:, :, -1:]], axis=2)


def conv2d_backward(delta, x, w, b, *, stride, padding, dilation):
    """delta (N, D, Ho, Wo) -> dx, dw (twice too large), db."""
    dx, dw, db = reference.conv2d_backward(delta, x, w, b, stride=stride, padding=padding, dilation=dilation)
    return dx, 2.0 * dw, db
