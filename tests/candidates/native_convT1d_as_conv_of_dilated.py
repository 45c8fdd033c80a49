"""A correct grouped conv_transpose1d as a direct convolution: the input spread onto the
stride grid (stride - 1 zeros between samples), padded by ``dilation * (k - 1) - padding``
on both sides (cropped where that is negative) plus output_padding at the end, then
correlated at stride 1 and the same dilation with the flipped kernel whose in- and
out-channel axes are swapped within each group. The backward is the chain rule back through
that conv, the padding and the spreading."""
import numpy as np


def _grouped(a, groups, axis):
    shape = a.shape[:axis] + (groups, a.shape[axis] // groups) + a.shape[axis + 1:]
    return a.reshape(shape)


def _pad_or_crop(a, lo, hi):
    """Pad the last axis by lo / hi zeros, or crop it where they are negative."""
    a = a[..., max(0, -lo):a.shape[-1] - max(0, -hi)]
    return np.pad(a, ((0, 0), (0, 0), (max(0, lo), max(0, hi))))


def _pad_or_crop_adjoint(g, lo, hi):
    g = g[..., max(0, lo):g.shape[-1] - max(0, hi)]
    return np.pad(g, ((0, 0), (0, 0), (max(0, -lo), max(0, -hi))))


def _conv_kernel(w, groups):
    """(C_in, C_out/G, k) -> the direct conv's (C_out, C_in/G, k): swapped per group, flipped."""
    wg = _grouped(w, groups, 0)  # (G, C_in/G, C_out/G, k)
    return wg.transpose(0, 2, 1, 3)[..., ::-1].reshape(groups * w.shape[1], w.shape[0] // groups, w.shape[2])


def _setup(x, w, stride, padding, output_padding, dilation):
    (s,), (p,), (op,), (t,) = stride, padding, output_padding, dilation
    k = w.shape[2]
    spread = np.zeros(x.shape[:2] + ((x.shape[2] - 1) * s + 1,), dtype=x.dtype)
    spread[:, :, ::s] = x
    lo = t * (k - 1) - p
    z = _pad_or_crop(spread, lo, lo + op)
    n_out = z.shape[2] - t * (k - 1)
    taps = np.arange(n_out)[:, None] + np.arange(k) * t  # (L_out, k), stride 1
    return s, t, lo, op, z, taps


def conv_transpose1d_forward(x, w, b, *, stride, padding, output_padding, dilation, groups):
    """x (N, C_in, L), w (C_in, C_out/groups, k), b (C_out,) -> (N, C_out, L_out)."""
    z, taps = _setup(x, w, stride, padding, output_padding, dilation)[-2:]
    wc = _grouped(_conv_kernel(w, groups), groups, 0)  # (G, C_out/G, C_in/G, k)
    patches = _grouped(z[:, :, taps], groups, 1)  # (N, G, C_in/G, L_out, k)
    o = np.einsum("ngclm,gdcm->ngdl", patches, wc)
    return o.reshape(x.shape[0], -1, taps.shape[0]) + b[None, :, None]


def conv_transpose1d_backward(delta, x, w, b, *, stride, padding, output_padding, dilation, groups):
    """delta (N, C_out, L_out) -> dx (N, C_in, L), dw (C_in, C_out/groups, k), db (C_out,)."""
    s, _, lo, op, z, taps = _setup(x, w, stride, padding, output_padding, dilation)
    wc = _grouped(_conv_kernel(w, groups), groups, 0)  # (G, C_out/G, C_in/G, k)
    patches = _grouped(z[:, :, taps], groups, 1)
    dg = _grouped(delta, groups, 1)  # (N, G, C_out/G, L_out)
    dwc = np.einsum("ngdl,ngclm->gdcm", dg, patches)  # the direct conv's kernel gradient
    dw = dwc[..., ::-1].transpose(0, 2, 1, 3).reshape(w.shape)
    dz = np.zeros_like(z)
    np.add.at(dz, (slice(None), slice(None), taps),
              np.einsum("ngdl,gdcm->ngclm", dg, wc).reshape(z.shape[:2] + taps.shape))
    dx = _pad_or_crop_adjoint(dz, lo, lo + op)[:, :, ::s]
    return dx, dw, delta.sum(axis=(0, 2))
