"""For the forward and each gradient, the sum of the absolute values of its terms (``M``).

The tolerance of an element is ``gamma_K * M`` (``gradcheck.tolerances``). Linear parts are run
on absolute values (``conv2d(|x|, |w|) + |b|``, gradients with ``|delta|``) by torch in float64;
an op whose absolute values would change which terms are summed (a max) is run on its own
values; an op with a closed form of its own (activations, the loss, conv + activation) gives it
in its spec (``OpSpec.magnitudes``).
"""
from __future__ import annotations

import numpy as np

from gradcheck.cases import Case
from gradcheck.ops import OpSpec
from gradcheck.oracles.torch_oracle import torch_run

__all__ = ["magnitudes", "normwise_scales"]


def magnitudes(spec: OpSpec, case: Case) -> dict[str, np.ndarray]:
    """``{quantity: M}`` for the forward and every gradient of ``spec`` on ``case``."""
    if spec.magnitudes is not None:
        return spec.magnitudes(spec, case, torch_run)
    inputs = {k: np.abs(v) for k, v in case.inputs.items()} if spec.absolute else case.inputs
    o, grads = torch_run(spec, inputs, case.params, np.abs(case.delta))
    return {"forward": np.abs(o), **{k: np.abs(v) for k, v in grads.items()}}


def normwise_scales(spec: OpSpec, case: Case) -> dict[str, float]:
    """For an op linear in each of ``spec.normwise`` (a convolution's x and w): per quantity, the
    product of the 2-norms of the operands behind it (forward: all of them; the gradient of one:
    delta and the others). An FFT or Winograd kernel is normwise stable: its error scales with
    these, not with the terms an element reads (Higham §24.1). Empty for other ops."""
    if not spec.normwise:
        return {}
    norms = {k: float(np.linalg.norm(np.asarray(case.inputs[k], np.float64))) for k in spec.normwise}
    d = float(np.linalg.norm(np.asarray(case.delta, np.float64)))
    out = {"forward": float(np.prod(list(norms.values())))}
    for k in spec.normwise:
        out["d" + k] = d * float(np.prod([v for j, v in norms.items() if j != k]))
    return out
