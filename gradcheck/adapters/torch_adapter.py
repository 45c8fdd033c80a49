"""PyTorch callables, differentiated by autograd, on the device they ask for.

For each op the target holds a callable under the op's name (``conv2d``, ``relu``,
``max_pool2d``, ...), taking tensors as the native protocol takes arrays and the op's
hyper-parameters as keywords (so ``torch.nn.functional`` itself qualifies). Three kinds are
recognised: a plain function; a ``torch.autograd.Function`` subclass (called through
``apply`` with the hyper-parameters positional, in protocol order); an ``nn.Module`` subclass
(a factory: built with the hyper-parameters as keywords, then called with the tensors).

TF32 is switched off while checking unless ``allow_tf32`` is given; then conv-like ops on
CUDA are held to TF32's roundoff rather than float32's.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..protocol import PROTOCOL
from .base import BadReturn, call_candidate

__all__ = ["TorchAdapter"]


class TorchAdapter:
    api = "torch"

    def __init__(self, obj: Any, target: str, *, device: str = "cpu", allow_tf32: bool = False):
        import torch

        self.obj, self.target, self.device, self.allow_tf32 = obj, target, device, allow_tf32
        if device.startswith("cuda"):
            if not torch.cuda.is_available():
                raise RuntimeError("--device cuda asked for, but torch sees no CUDA device")
            torch.backends.cuda.matmul.allow_tf32 = allow_tf32
            torch.backends.cudnn.allow_tf32 = allow_tf32

    def _fn(self, op: str):
        fn = getattr(self.obj, op, None)
        return fn if callable(fn) else None

    def ops(self) -> dict[str, str]:
        return {op: op for op in PROTOCOL}

    def missing(self, op: str) -> str | None:
        return None if self._fn(op) is not None else f"{op} not found in {self.target}"

    def constraints(self, op: str) -> dict[str, Any]:
        return {}

    def tolerance_dtype(self, op: str, dtype: str) -> str:
        if self.allow_tf32 and self.device.startswith("cuda") and dtype == "float32" and (op.startswith("conv2d") or op == "dense"):
            return "tf32"
        return dtype

    def _call(self, op: str, tensors: list, params: dict[str, Any]):
        import torch

        fn = self._fn(op)
        if isinstance(fn, type) and issubclass(fn, torch.autograd.Function):
            return call_candidate(f"{op}.apply", fn.apply, *tensors, *params.values())
        if isinstance(fn, type) and issubclass(fn, torch.nn.Module):
            module = call_candidate(f"{op}(**params)", fn, **params)
            return call_candidate(f"{op} module", module, *tensors)
        return call_candidate(op, fn, *tensors, **params)

    def _tensors(self, op: str, inputs: dict[str, np.ndarray], grad: bool) -> list:
        import torch

        p = PROTOCOL[op]
        return [
            torch.tensor(inputs[k], device=self.device, requires_grad=grad and ("d" + k) in p.grads)
            for k in p.inputs
        ]

    @staticmethod
    def _numpy(name: str, value: Any) -> np.ndarray:
        import torch

        if not isinstance(value, torch.Tensor):
            raise BadReturn(f"{name} must return a torch.Tensor, returned {type(value).__name__}")
        return value.detach().cpu().numpy()

    def forward(self, op: str, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> Any:
        import torch

        with torch.no_grad():
            return self._numpy(op, self._call(op, self._tensors(op, inputs, False), params))

    def backward(self, op: str, delta: np.ndarray, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> Any:
        import torch

        p = PROTOCOL[op]
        tensors = self._tensors(op, inputs, True)
        with torch.enable_grad():
            out = self._call(op, tensors, params)
            if not isinstance(out, torch.Tensor):
                raise BadReturn(f"{op} must return a torch.Tensor, returned {type(out).__name__}")
            d = torch.tensor(delta, dtype=out.dtype, device=out.device)
            call_candidate(f"{op} backward", out.backward, d)
        grads = []
        for k, t in zip(p.inputs, tensors):
            if ("d" + k) in p.grads:
                if t.grad is None:
                    raise BadReturn(f"autograd gave no gradient for {k}: it does not reach the output of {op}")
                grads.append(t.grad.detach().cpu().numpy())
        return tuple(grads) if len(grads) > 1 else grads[0]
