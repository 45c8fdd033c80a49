"""Low-precision verdicts: a float16 or bfloat16 result is judged against the framework's own
error in the same dtype, measured on the same inputs.

A rounding bound (``gradcheck.tolerances``) in bfloat16 is useless: ``gamma_K`` with
``u = 2**-8`` passes nearly anything once a sum has a few dozen terms. Instead, as
FlashAttention's tests do, torch's own implementation of the op is run in the candidate's dtype
(the case's inputs and upstream gradient are already values of that dtype) and its error
against the float64 truth is measured, per quantity, as the largest absolute error ``E_torch``.
A candidate's value passes, element by element, when

    |yours - truth| <= K_FRAMEWORK * E_torch + FLOOR * u * (|truth| + max|truth|)   (+ the oracle's own error)

``K_FRAMEWORK = 2`` (FlashAttention's factor), checked on the low-precision catalogue
(``tests/lowprec/``, measured with :func:`error_ratios` on the covering design of conv2d plus a
long reduction): the largest ratio of a correct kernel's error to torch's was 1.67 (unfold and
a matrix product, bfloat16 forward), the others 0.55–1.42 (a channel-by-channel loop in float32,
an FFT in float64 rounded once, torch.nn.functional itself), while the planted errors came to
3.1 (a 1% dx scale error, bfloat16) to 2048 (a dropped dx row, float16), a dw accumulated
position by position in the dtype to 13.0 (bfloat16) and 6.0 (float16). The floor, ``FLOOR`` unit
roundoffs of the element and of the largest true value, covers what torch may happen to avoid
where a correct kernel does not (a sum of two terms that torch gets exactly).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from gradcheck.cases import Case
from gradcheck.dtypes import LOW_PRECISION, unit_roundoff
from gradcheck.ops import OpSpec

__all__ = ["K_FRAMEWORK", "FLOOR", "framework_run", "framework_allowed", "is_low_precision"]

#: A candidate may be off from the truth by this many times torch's own error in its dtype.
K_FRAMEWORK = 2.0

#: ... plus this many unit roundoffs of the element and of the largest true value: the rounding
#: of the result and of one intermediate, which torch may happen to avoid where a correct kernel
#: does not.
FLOOR = 0.5


def is_low_precision(dtype: str) -> bool:
    return dtype in LOW_PRECISION


def framework_run(spec: OpSpec, case: Case, dtype: str | None = None, device: str = "cpu"
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """torch's own forward and gradients of ``case`` computed in ``dtype`` (default: the case's;
    ``"tf32"``: float32 with TF32 on, on a CUDA ``device``), as float64 arrays."""
    import torch

    dtype = dtype or case.dtype
    tdt = torch.float32 if dtype == "tf32" else getattr(torch, dtype)
    t = {k: torch.tensor(np.asarray(v, np.float64)).to(device=device, dtype=tdt).requires_grad_(k in spec.grad_inputs)
         for k, v in case.inputs.items()}
    flags = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = dtype == "tf32"
    try:
        with torch.enable_grad():
            o = spec.torch_forward(t, dict(case.params))
            o.backward(torch.tensor(np.asarray(case.delta, np.float64)).to(device=device, dtype=tdt))
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = flags
    grads = {"d" + k: (t[k].grad.to(torch.float64).cpu().numpy() if t[k].grad is not None
                       else np.zeros(case.inputs[k].shape)) for k in spec.grad_inputs}
    return o.detach().to(torch.float64).cpu().numpy(), grads


def framework_allowed(spec: OpSpec, case: Case, truth: dict[str, Any], *, dtype: str | None = None,
                      device: str = "cpu") -> dict[str, np.ndarray]:
    """Per quantity (``forward`` and each gradient), the allowed absolute error of every
    element: ``K_FRAMEWORK * E_torch + FLOOR * u * (|truth| + max|truth|)``; ``truth`` maps quantity to the
    float64 truth (torch in float64)."""
    dtype = dtype or case.dtype
    o, grads = framework_run(spec, case, dtype, device)
    mine = {"forward": o, **grads}
    u = 2.0**-11 if dtype == "tf32" else unit_roundoff(dtype)
    out = {}
    for q, t in truth.items():
        t = np.asarray(t, np.float64)
        e_torch = float(np.abs(mine[q] - t).max(initial=0.0))
        out[q] = K_FRAMEWORK * e_torch + FLOOR * u * (np.abs(t) + float(np.abs(t).max(initial=0.0)))
    return out


def error_ratios(impl: Any, label: str, op: str, dtype: str, cases: list[Case]) -> dict[str, float]:
    """Per quantity, the largest ``|yours - truth| / E_torch`` over ``cases``: how many times
    torch's own error in ``dtype`` a candidate's error is (the measurement behind
    :data:`K_FRAMEWORK`)."""
    from gradcheck.judge.battery import Runner
    from gradcheck.ops import SPECS
    from gradcheck.oracles.torch_oracle import torch_run

    spec = SPECS[op]
    run = Runner(impl, label, spec)
    out: dict[str, float] = {}
    for case in cases:
        truth_o, truth_g = torch_run(spec, case.inputs, case.params, case.delta)
        mine_o, mine_g = framework_run(spec, case, dtype)
        yours = {"forward": run.forward(case), **dict(zip(spec.grads, run.backward(case)))}
        truth, mine = {"forward": truth_o, **truth_g}, {"forward": mine_o, **mine_g}
        for q, t in truth.items():
            e_torch = float(np.abs(mine[q] - t).max(initial=0.0))
            e_yours = float(np.abs(np.asarray(yours[q], np.float64) - t).max(initial=0.0))
            floor = unit_roundoff(dtype) * float(np.abs(t).max(initial=0.0))
            out[q] = max(out.get(q, 0.0), e_yours / max(e_torch, floor, 1e-300))
    return out
