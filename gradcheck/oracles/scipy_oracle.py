"""``scipy.signal`` and ``scipy.ndimage``: the closed forms, computed by other hands.

Each op that has a closed form gives it in its spec (``OpSpec.scipy``; written in the op's
module of ``gradcheck.ops``): conv2d by ``scipy.signal.correlate`` / ``convolve`` (eqs. 1,
13-14, 20-22), the pools' forwards by ``scipy.ndimage`` filters, sigmoid by
``scipy.special.expit``, conv + activation around ``f`` and ``f'``. This oracle runs it.
"""
from __future__ import annotations

from typing import Callable

from gradcheck.cases import Case, Expected
from gradcheck.ops import OpSpec

__all__ = ["scipy_oracle", "covers"]


def covers(spec: OpSpec) -> tuple[bool, bool]:
    """(forward, gradients) covered by the scipy oracle."""
    return spec.scipy is not None, spec.scipy is not None and spec.scipy_grads


def scipy_oracle(spec: OpSpec, case: Case, forward: Callable | None = None) -> Expected | None:
    """scipy's answer for the ops with a closed form, ``None`` for the others. ``forward`` is
    not used."""
    if spec.scipy is None:
        return None
    o, grads = spec.scipy(spec, case)
    return Expected("scipy", forward=o, grads=(grads or {}) if spec.scipy_grads else {})
