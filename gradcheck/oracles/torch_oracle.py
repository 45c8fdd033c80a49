"""PyTorch autograd in float64: ``torch.nn.functional`` forward, ``torch.autograd`` backward."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradcheck.cases import Case, Expected
from gradcheck.ops import OpSpec

__all__ = ["torch_oracle", "torch_run"]


def torch_run(spec: OpSpec, inputs: dict[str, np.ndarray], params: dict[str, Any], delta: np.ndarray,
              forward: Callable | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Forward and the gradients of ``<delta, o>`` of ``forward`` (default ``spec.torch_forward``).

    Every array goes in as a float64 CPU tensor; a gradient autograd leaves undefined (the
    input does not reach the output) is returned as zeros.
    """
    import torch

    f = forward or spec.torch_forward
    t = {k: torch.tensor(np.asarray(v, np.float64), requires_grad=k in spec.grad_inputs) for k, v in inputs.items()}
    with torch.enable_grad():
        o = f(t, params)
        o.backward(torch.tensor(np.asarray(delta, np.float64)))
    grads = {
        "d" + k: (t[k].grad.numpy() if t[k].grad is not None else np.zeros(inputs[k].shape))
        for k in spec.grad_inputs
    }
    return o.detach().numpy(), grads


def torch_oracle(spec: OpSpec, case: Case, forward: Callable | None = None) -> Expected:
    """The truth according to torch, in float64 (``forward`` is not used)."""
    o, grads = torch_run(spec, case.inputs, case.params, case.delta)
    return Expected("torch", forward=o, grads=grads)
