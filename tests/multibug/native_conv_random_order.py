"""A correct conv layer whose backward sums dw's terms in a fresh random order on every call,
as kernels with atomic adds do: repeats differ by a few ulps. It passes the default check and
fails --deterministic."""
import numpy as np

import reference


def conv2d_forward(x, w, b, *, stride, padding, dilation):
    return reference.conv2d_forward(x, w, b, stride=stride, padding=padding, dilation=dilation)


def conv2d_backward(delta, x, w, b, *, stride, padding, dilation):
    dx, _, db = reference.conv2d_backward(delta, x, w, b, stride=stride, padding=padding, dilation=dilation)
    (sh, sw), (ph, pw), (dh, dw_) = stride, padding, dilation
    k1, k2 = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = delta.shape[2:]
    terms = []
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * sh:i * sh + dh * (k1 - 1) + 1:dh, j * sw:j * sw + dw_ * (k2 - 1) + 1:dw_]
            terms.append(delta[:, :, i, j][:, :, None, None, None] * patch[:, None])  # (N, D, C, k1, k2)
    terms = np.concatenate(terms, axis=0)
    order = np.random.default_rng().permutation(len(terms))
    dw = np.zeros_like(w)
    for t in terms[order]:  # one term at a time, in a varying order
        dw += t
    return dx, dw, db
