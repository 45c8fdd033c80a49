"""Pooling split across threads over the batch gives exactly the single-threaded result."""
from __future__ import annotations

import numpy as np
import pytest

import reference
from reference import _parallel

OPS = ["max_pool2d", "avg_pool2d", "l2_pool2d"]


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("kernel, stride, padding", [((2, 2), (2, 2), (0, 0)), ((3, 2), (2, 1), (1, 1))])
def test_threads_over_the_batch_change_nothing(monkeypatch, op, kernel, stride, padding):
    if op == "l2_pool2d":
        padding = (0, 0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 9, 8))
    fwd, bwd = getattr(reference, f"{op}_forward"), getattr(reference, f"{op}_backward")
    kw = {"kernel_size": kernel, "stride": stride, "padding": padding}
    monkeypatch.setattr(_parallel, "MIN_ELEMENTS", 1 << 40)
    o1 = fwd(x, **kw)
    d = rng.standard_normal(o1.shape)
    dx1 = bwd(d, x, **kw)
    monkeypatch.setattr(_parallel, "MIN_ELEMENTS", 1)
    monkeypatch.setattr(_parallel, "_threads", lambda: 3)
    calls = []
    original = _parallel._executor

    def counting():
        calls.append(1)
        return original()

    monkeypatch.setattr(_parallel, "_executor", counting)
    o2, dx2 = fwd(x, **kw), bwd(d, x, **kw)
    assert calls, "the batch was not split"
    assert np.array_equal(o1, o2) and np.array_equal(dx1, dx2)
    assert o2.dtype == x.dtype and dx2.shape == x.shape
