"""relu_backward is right on average but adds fresh noise (1e-6 relative) on every call."""
import numpy as np

_rng = np.random.default_rng()


def relu_forward(x):
    return np.maximum(x, 0.0)


def relu_backward(delta, x):
    dx = delta * (x > 0)
    return dx + 1e-6 * (np.abs(dx) + 1.0) * _rng.standard_normal(dx.shape)
