"""The three independent oracles, all with one signature::

    oracle(spec: OpSpec, case: Case, forward: Forward | None) -> Expected | None

- ``fd``: central finite differences of the candidate's *own* forward (needs ``forward``);
  its estimate is refined against the candidate's answer, so the battery judges it with
  :func:`gradcheck.judge.fd_check.elementwise_check` (step halving, confirmation one element
  at a time, low-precision bounds);
- ``torch``: ``torch.nn.functional`` in float64 with ``torch.autograd``;
- ``scipy``: the op's scipy closed form (``OpSpec.scipy``), where it has one;
- ``mask``: for an op that draws a random mask (dropout), the truth on the mask read from the
  candidate's own forward (needs ``forward``); torch and scipy, whose masks are their own, do
  not cover such an op.

``forward`` maps ``{"x": array, ...}`` (float64) to the candidate's output with the case's
hyper-parameters bound. Each oracle declares what it covers (``covers(spec) -> (forward,
gradients)``); the checks of an op (``gradcheck.judge.battery.check_keys``) and the columns of
every report (``gradcheck.report.marks``) follow from :data:`ORACLES` and its order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from gradcheck.cases import Case, Expected
from gradcheck.ops import OpSpec
from gradcheck.oracles import mask as _mask
from gradcheck.oracles import scipy_oracle as _scipy
from gradcheck.oracles.fd import finite_differences
from gradcheck.oracles.torch_oracle import torch_oracle

__all__ = ["ORACLES", "Oracle", "finite_differences", "torch_oracle", "scipy_oracle"]

scipy_oracle = _scipy.scipy_oracle


@dataclass(frozen=True)
class Oracle:
    """One oracle: its name, its words, what it covers, and how it is run."""

    name: str
    title: str  # what it is, in words (reports)
    run: Callable[[OpSpec, Case, Optional[Callable]], Optional[Expected]]
    covers: Callable[[OpSpec], tuple[bool, bool]]  # (forward, gradients)
    needs_forward: bool = False  # differences the candidate's own forward

    def __call__(self, spec: OpSpec, case: Case, forward: Callable | None = None) -> Expected | None:
        return self.run(spec, case, forward)


#: Oracle name -> oracle, in the order they are run and shown.
ORACLES: dict[str, Oracle] = {o.name: o for o in (
    Oracle("fd", "finite differences of your forward", finite_differences, lambda spec: (False, True),
           needs_forward=True),
    Oracle("torch", "torch autograd", torch_oracle, lambda spec: (not spec.random, not spec.random)),
    Oracle("scipy", "scipy.signal", scipy_oracle, _scipy.covers),
    Oracle("mask", "your own mask, read from your forward", _mask.mask_oracle, _mask.covers, needs_forward=True),
)}
