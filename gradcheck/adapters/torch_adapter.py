"""PyTorch implementations, differentiated by autograd, on the device they ask for.

A target is either an object holding one candidate per op under the op's name (``conv2d``,
``relu``, ``max_pool2d``, ...; ``torch.nn.functional`` itself qualifies), or one candidate on
its own (``layers.py:MyConv``, or an object given to ``gradcheck.check``), whose op is told
(``ops=``), or read from the target's attribute name, its type (``nn.Conv2d`` -> ``conv2d``),
its name (``MyMaxPool2d`` -> ``max_pool2d``) or its weights' shapes. A candidate is

- a function taking tensors as the native protocol takes arrays and the op's hyper-parameters
  as keywords;
- a ``torch.autograd.Function`` subclass, called through ``apply`` with the hyper-parameters
  positional in protocol order; its hand-written backward is also checked to second order
  (``gradcheck.judge.second_order``);
- an ``nn.Module`` holding its own weights — an instance, a zero-argument factory, or a factory
  taking the geometry as ``nn.Conv2d`` does (``gradcheck.adapters.torch_module``); a pooling or
  activation module the same way;
- an ``nn.Module`` class built with the op's hyper-parameters and called with all the tensors
  (``Conv(stride=..., padding=..., dilation=...)(x, w, b)``).

The tensors are fresh copies of the battery's arrays; after each call, values the candidate
changed in place (an input, a parameter, the upstream gradient) are copied back into the arrays
it was given, so the ``inputs-unmodified`` check sees them. TF32 is switched off while checking
unless ``allow_tf32`` is given; then conv-like ops on CUDA are held to TF32's roundoff.

Long because a target may hold candidates under torch.nn.functional's names or be one candidate
of four kinds, each called its own way, and every call copies back what the candidate changed.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import numpy as np

from gradcheck.dtypes import to_array, to_tensor
from gradcheck.ops import PROTOCOL, SPECS
from gradcheck.adapters.base import BadReturn, LoadError, call_candidate
from gradcheck.adapters.constraints import call_kwargs, combine, limits_for, signature_limits
from gradcheck.adapters.loader import split_target
from gradcheck.adapters.torch_module import WEIGHT_SHAPES, Layer, layer_of, recognise_op

__all__ = ["TorchAdapter", "WEIGHTS_DECLARATION"]

#: The module-level name under which a target maps layer parameters to weights, per op
#: (``{"conv2d": {"w": "conv.weight", "b": "conv.bias"}}``).
WEIGHTS_DECLARATION = "GRADCHECK_WEIGHTS"


@dataclass
class _Entry:
    """One op's candidate: ``kind`` is ``function``, ``autograd``, ``layer`` or ``module-class``."""

    kind: str
    obj: Any
    name: str
    layer: Layer | None = None


def _is_single(obj: Any) -> bool:
    """Whether ``obj`` is one candidate rather than an object holding candidates by op name."""
    import functools

    import torch

    if isinstance(obj, torch.nn.Module):
        return True
    if isinstance(obj, type):
        return issubclass(obj, (torch.nn.Module, torch.autograd.Function))
    return inspect.isfunction(obj) or inspect.ismethod(obj) or inspect.isbuiltin(obj) or isinstance(obj, functools.partial)


def _name(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or type(obj).__name__


_TYPES = ", ".join(f"nn.{t}" for spec in SPECS.values() for t in spec.module.types)
_HINTS = ", ".join(dict.fromkeys(h for spec in SPECS.values() if spec.inner is None for h in spec.module.hints))
_WEIGHTS = " or ".join(f"{s['w']} ({op})" for op, s in WEIGHT_SHAPES.items())


def _looked_for() -> str:
    shapes = "; ".join(f"{op}: weight {s['w']} and bias {s['b']}" for op, s in WEIGHT_SHAPES.items())
    names = ", ".join(s.torch_name + (f" ({op})" if s.torch_name != op else "") for op, s in SPECS.items())
    return (f"looked for attributes named {names}, each a function on tensors, a torch.autograd.Function "
            f"subclass, or an nn.Module (class, instance or factory; a layer's own parameters: {shapes})")


def _modules_held(obj: Any) -> list[str]:
    import torch

    out = []
    for name in dir(obj):
        if name.startswith("_"):
            continue
        try:
            v = getattr(obj, name)
        except Exception:  # noqa: BLE001 - a property of a candidate object may raise
            continue
        if isinstance(v, torch.nn.Module) or (isinstance(v, type) and issubclass(v, torch.autograd.Function)
                                              and v is not torch.autograd.Function):
            out.append(f"{name} ({type(v).__name__ if not isinstance(v, type) else v.__name__})")
    return out


class TorchAdapter:
    """The torch convention over one target object (see the module docstring).

    Parameters
    ----------
    obj : object
        What the target string resolved to, or an object given to ``gradcheck.check``.
    target : str
        Its name in messages and reproductions.
    device : str
        ``"cpu"`` or ``"cuda[:N]"``.
    allow_tf32 : bool
        Leave TF32 on for CUDA convolutions.
    op : str, optional
        The op a single candidate implements (else it is recognised, see the module docstring).
    weights : dict, optional
        ``{"w": dotted name, "b": dotted name}``: the parameters of a single layer playing the
        op's weights (default ``weight`` and ``bias``).

    Raises
    ------
    LoadError
        When nothing is recognised (the message lists the names and shapes looked for), or a
        layer's parameters or hyper-parameters do not fit its op.
    """

    api = "torch"

    def __init__(self, obj: Any, target: str, *, device: str = "cpu", allow_tf32: bool = False, op: str | None = None,
                 weights: dict[str, str] | None = None):
        import torch

        self.obj, self.target, self.device, self.allow_tf32 = obj, target, device, allow_tf32
        if device.startswith("cuda"):
            if not torch.cuda.is_available():
                raise RuntimeError("--device cuda asked for, but torch sees no CUDA device")
            torch.backends.cuda.matmul.allow_tf32 = allow_tf32
            torch.backends.cudnn.allow_tf32 = allow_tf32
        if op is not None and op not in PROTOCOL:
            raise LoadError(f"unknown op {op!r}; choose from {', '.join(PROTOCOL)}")
        self.single = _is_single(obj)
        self.entries: dict[str, _Entry] = self._single(op, weights) if self.single else self._namespace(weights)
        for label in self.entries:
            self.constraints(label)

    # ---- finding the candidates -----------------------------------------------------------------

    def _single(self, op: str | None, weights: dict[str, str] | None) -> dict[str, _Entry]:
        attr = split_target(self.target)[1]
        op = op or (attr if attr in PROTOCOL else None) or recognise_op(self.obj)
        if op is None:
            import torch

            has = ""
            if isinstance(self.obj, torch.nn.Module):
                found = [f"{n} {tuple(p.shape)}" for n, p in self.obj.named_parameters()]
                has = f"; it has {', '.join(found) if found else 'no parameters'}"
            raise LoadError(
                f"{self.target}: cannot tell which op {_name(self.obj)} implements: looked at its type ({_TYPES}), its "
                f"name ({_HINTS}, ...) and a parameter weight of shape {_WEIGHTS}{has}; name the op (ops=...), or the "
                "attribute after it")
        return {op: self._entry(self.obj, op, _name(self.obj), weights)}

    def _namespace(self, weights: dict[str, str] | None) -> dict[str, _Entry]:
        declared = getattr(self.obj, WEIGHTS_DECLARATION, None) or {}
        if not isinstance(declared, dict):
            raise LoadError(f"{self.target}: {WEIGHTS_DECLARATION} must be a dict {{op: {{'w': name, 'b': name}}}}")
        out = {}
        for op, spec in SPECS.items():
            name = next((n for n in dict.fromkeys((spec.torch_name, op)) if callable(getattr(self.obj, n, None))), None)
            if name is not None:  # torch.nn.functional's name first (linear), then the op's (dense)
                out[op] = self._entry(getattr(self.obj, name), op, name, declared.get(op, weights))
        if not out:
            held = _modules_held(self.obj)
            hint = f"; it holds {', '.join(held)}: name one as the target ({self.target}:NAME)" if held else ""
            raise LoadError(f"{self.target} provides nothing the torch convention recognises; {_looked_for()}{hint}")
        return out

    def _entry(self, obj: Any, op: str, name: str, weights: dict[str, str] | None) -> _Entry:
        import torch

        where = self.target if self.target in (name, f"<{name}>") else f"{self.target}: {name}"
        if isinstance(obj, type) and issubclass(obj, torch.autograd.Function):
            return _Entry("autograd", obj, name)
        layer = layer_of(obj, op, where, weights)
        if layer is not None:
            return _Entry("layer", obj, name, layer)
        if isinstance(obj, type) and issubclass(obj, torch.nn.Module):
            return _Entry("module-class", obj, name)
        return _Entry("function", obj, name)

    # ---- the adapter interface ----------------------------------------------------------------------

    def ops(self) -> dict[str, str]:
        """Label -> protocol op: every op for an object holding candidates, the one op of a single one."""
        return {op: op for op in (self.entries if self.single else PROTOCOL)}

    def missing(self, op: str) -> str | None:
        return None if op in self.entries else f"{op} not found in {self.target}"

    def kind(self, op: str) -> str:
        """``function``, ``autograd``, ``layer`` or ``module-class``."""
        return self.entries[op].kind

    def autograd_function(self, op: str) -> Any:
        """The ``torch.autograd.Function`` subclass of ``op``, or ``None``."""
        entry = self.entries.get(op)
        return entry.obj if entry is not None and entry.kind == "autograd" else None

    def constraints(self, op: str) -> dict[str, Any]:
        """A layer's fixed geometry, combined with what the target declares for the op."""
        entry = self.entries.get(op)
        if entry is None:
            return {}
        own = entry.layer.constraints() if entry.layer is not None else {}
        call = SPECS[op].torch_call
        if entry.kind == "function" and call is not None:
            own = combine(own, call.limits)
        if entry.kind != "layer":
            own = combine(own, signature_limits(op, _signed(entry)))
        return combine(own, limits_for(self.obj, self.target, op, op, entry.obj))

    def tolerance_dtype(self, op: str, dtype: str) -> str:
        if self.allow_tf32 and self.device.startswith("cuda") and dtype == "float32" and SPECS[op].has_weights:
            return "tf32"
        return dtype

    # ---- calls ------------------------------------------------------------------------------------

    def _call(self, op: str, inputs: dict[str, np.ndarray], params: dict[str, Any], grad: bool):
        """``(output, {name: tensor})``: the candidate called on fresh tensors of ``inputs``."""
        import torch

        entry, p = self.entries[op], PROTOCOL[op]
        spec = SPECS[op]
        if spec.torch_call is not None and spec.torch_call.seeded:
            torch.manual_seed(int(params["seed"][0]))
        if entry.kind == "layer":
            module, weights = entry.layer.prepare(inputs, params, self.device, grad)
            first = p.inputs[0]
            x = to_tensor(inputs[first], self.device, requires_grad=grad)
            return call_candidate(f"{entry.name} module", module, x), {first: x, **weights}
        tensors = {k: to_tensor(inputs[k], self.device, requires_grad=grad and ("d" + k) in p.grads)
                   for k in p.inputs}
        labels = [torch.from_numpy(a).to(self.device) for a in p.call_labels(params)]
        args = list(tensors.values()) + labels
        kwargs = call_kwargs(op, _signed(entry), params)  # less an optional one the candidate does not take
        if entry.kind == "autograd":
            out = call_candidate(f"{entry.name}.apply", entry.obj.apply, *args, *kwargs.values())
        elif entry.kind == "module-class":
            module = call_candidate(f"{entry.name}(**params)", entry.obj, **kwargs)
            out = call_candidate(f"{entry.name} module", module, *args)
        elif spec.torch_call is not None and spec.torch_call.call is not None:
            t = {**tensors, **dict(zip(p.labels, labels))}
            out = call_candidate(entry.name, lambda: spec.torch_call.call(entry.obj, t, params))
        else:
            out = call_candidate(entry.name, entry.obj, *args, **kwargs)
        return out, tensors

    @staticmethod
    def _numpy(name: str, value: Any) -> np.ndarray:
        import torch

        if not isinstance(value, torch.Tensor):
            raise BadReturn(f"{name} must return a torch.Tensor, returned {type(value).__name__}")
        return to_array(value)

    def forward(self, op: str, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> Any:
        import torch

        tensors: dict[str, Any] = {}
        try:
            with torch.no_grad():
                out, tensors = self._call(op, inputs, params, False)
                return self._numpy(op, out)
        finally:
            _copy_back(tensors, inputs)

    def backward(self, op: str, delta: np.ndarray, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> Any:
        import torch

        p = PROTOCOL[op]
        tensors: dict[str, Any] = {}
        d = None
        try:
            with torch.enable_grad():
                out, tensors = self._call(op, inputs, params, True)
                if not isinstance(out, torch.Tensor):
                    raise BadReturn(f"{op} must return a torch.Tensor, returned {type(out).__name__}")
                d = to_tensor(delta, out.device).to(out.dtype)
                call_candidate(f"{op} backward", out.backward, d)
        finally:
            _copy_back(tensors, inputs)
            if d is not None:
                _copy_back({"delta": d}, {"delta": delta})
        grads = []
        for k in p.inputs:
            if ("d" + k) in p.grads:
                t = tensors[k]
                if t.grad is None:
                    raise BadReturn(f"autograd gave no gradient for {k}: it does not reach the output of {op}")
                grads.append(to_array(t.grad).copy())
        return tuple(grads) if len(grads) > 1 else grads[0]


def _signed(entry: _Entry) -> Any:
    """What takes the hyper-parameters of a candidate: its function, its class, or the
    ``forward`` of a ``torch.autograd.Function``."""
    return entry.obj.forward if entry.kind == "autograd" else entry.obj


def _copy_back(tensors: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Copy each tensor's values into its array where the candidate changed them in place
    (a tensor whose shape changed fills its array with NaN: it was modified, beyond copying)."""
    for k, t in tensors.items():
        a = arrays.get(k)
        if a is None:
            continue
        now = to_array(t)
        if now.shape != a.shape:
            a[...] = np.nan
        elif not np.array_equal(now, a, equal_nan=True):
            np.copyto(a, now, casting="unsafe")
