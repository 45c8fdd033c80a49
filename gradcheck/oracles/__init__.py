"""The three independent oracles, all with one signature::

    oracle(spec: OpSpec, case: Case, forward: Forward | None) -> Expected

- ``fd``: central finite differences of the candidate's *own* forward (needs ``forward``);
- ``torch``: ``torch.nn.functional`` in float64 with ``torch.autograd``;
- ``scipy``: ``scipy.signal`` correlate/convolve closed forms and ``scipy.ndimage`` filters.

``forward`` maps ``{"x": array, ...}`` (float64) to the candidate's output with the case's
hyper-parameters bound. An oracle that does not cover an op returns ``None``.
"""
from __future__ import annotations

from typing import Callable, Optional

from gradcheck.cases import Case, Expected
from gradcheck.ops import OpSpec
from gradcheck.oracles.fd import finite_differences
from gradcheck.oracles.scipy_oracle import scipy_oracle
from gradcheck.oracles.torch_oracle import torch_oracle

__all__ = ["ORACLES", "Oracle", "finite_differences", "torch_oracle", "scipy_oracle"]

Oracle = Callable[[OpSpec, Case, Optional[Callable]], Optional[Expected]]

#: Oracle name -> oracle, in the order they are run and shown.
ORACLES: dict[str, Oracle] = {"fd": finite_differences, "torch": torch_oracle, "scipy": scipy_oracle}
