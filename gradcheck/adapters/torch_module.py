"""PyTorch layers as their authors wrote them: ``nn.Module`` objects holding their own weights.

A *layer* is one of

- an ``nn.Module`` instance (``nn.Conv2d(2, 3, 3, stride=2)``, or the user's own module), or a
  zero-argument factory returning one: its geometry is fixed (channels, filters and kernel
  from the weight's shape; ``stride``, ``padding``, ``dilation`` — or ``kernel_size``,
  ``stride``, ``padding`` for pooling — read from the attributes ``nn.Conv2d`` and
  ``nn.MaxPool2d`` name them by; an absent attribute means ``nn.Conv2d``'s default), and cases
  are drawn with it fixed;
- a *geometry factory*: a class or callable taking the op's geometry by ``nn.Conv2d``'s names
  (``in_channels, out_channels, kernel_size, stride, padding, dilation``; ``in_features,
  out_features`` for dense) — ``nn.Conv2d`` itself is one. It is built once per geometry, so
  every geometry can be drawn; a geometry argument it does not take is held at its default.

The layer's parameters play the op's weights: ``weight`` -> ``w`` and ``bias`` -> ``b`` unless a
mapping (``{"w": "conv.weight", "b": "conv.bias"}``, dotted names into the module) is given.
For each case they are set to the case's values, the layer is called on ``x``, and autograd's
gradients for the input *and for each parameter* are the backward's.

Long because a layer may come as an instance, a zero-argument factory or a geometry factory, and
each way has its own checks and messages.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from gradcheck.dtypes import dtype_of, to_tensor
from gradcheck.ops import PROTOCOL, SPECS
from gradcheck.adapters.base import CandidateError, LoadError, Unsupported, call_candidate

__all__ = ["Layer", "recognise_op", "layer_of", "is_geometry_factory", "zero_argument_factory", "WEIGHT_SHAPES"]

#: What the weights of each op with weights must look like (ops with a linear part of their own).
WEIGHT_SHAPES = {op: spec.family.weight_shapes for op, spec in SPECS.items()
                 if spec.has_weights and spec.inner is None and spec.family.module_geometry}
_DEFAULT_MAP = {"w": "weight", "b": "bias"}

# normalised name fragments that say which op a class or function implements, most specific first
_NAME_HINTS = tuple((op, spec.module.hints) for op, spec in sorted(SPECS.items(), key=lambda kv: -kv[1].module.rank)
                    if spec.module.hints)


def _geometry_names(op: str) -> tuple[str, ...]:
    """The constructor arguments a geometry factory of ``op`` takes (``nn.Conv2d``'s names)."""
    return SPECS[op].family.module_geometry


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _torch_types() -> list[tuple[type, str]]:
    import torch.nn as nn

    return [(getattr(nn, t), op) for op, spec in SPECS.items() for t in spec.module.types]


def recognise_op(obj: Any) -> str | None:
    """The op a torch object implements, from its type (``nn.Conv2d`` -> ``conv2d``), its name
    (``MyMaxPool2d`` -> ``max_pool2d``) or, for a module instance, its weights' shapes; ``None``
    when none of these says."""
    cls = obj if isinstance(obj, type) else type(obj)
    for base, op in _torch_types():
        if isinstance(cls, type) and issubclass(cls, base):
            return op
    names = [getattr(obj, "__name__", ""), getattr(cls, "__name__", "")]
    for name in filter(None, map(_norm, names)):
        for op, hints in _NAME_HINTS:
            if any(h in name for h in hints):
                return op
    import torch

    if isinstance(obj, torch.nn.Module):
        w = getattr(obj, "weight", None)
        if isinstance(w, torch.Tensor):
            return {spec.module.weight_dims: op for op, spec in SPECS.items() if spec.module.weight_dims}.get(w.dim())
    return None


def _parameters(fn: Callable) -> dict[str, inspect.Parameter] | None:
    try:
        target = fn.__init__ if isinstance(fn, type) else fn
        params = dict(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return None
    if isinstance(fn, type):
        params.pop(next(iter(params), ""), None)  # self
    return params


def is_geometry_factory(fn: Any, op: str) -> bool:
    """Whether ``fn`` (a class or callable) takes the geometry of ``op`` by ``nn.Conv2d``'s names."""
    names = _geometry_names(op)
    if not names or not callable(fn):
        return False
    params = _parameters(fn)
    return params is not None and all(n in params for n in names[:2])


def zero_argument_factory(fn: Any, op: str) -> bool:
    """Whether ``fn`` is a callable that takes no required argument and none of ``op``'s
    hyper-parameters (so calling it gives one fixed module)."""
    params = _parameters(fn)
    if params is None:
        return False
    if not isinstance(fn, type) and any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params.values()):
        return False  # a wrapper taking anything (``*args, **kwargs``) is not known to be a factory
    required = [p for p in params.values() if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    named = set(PROTOCOL[op].params) | set(_geometry_names(op))
    return not required and not (named & set(params))


def _resolve(module: Any, dotted: str):
    obj = module
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _describe_parameters(module: Any) -> str:
    found = [f"{n} {tuple(p.shape)}" for n, p in module.named_parameters()]
    return ", ".join(found) if found else "no parameters"


def _suggest(module: Any, want: int) -> str:
    """A weight mapping the module's parameters would fit (a ``want``-dimensional weight and a
    bias), as a hint (or ``""``)."""
    params = dict(module.named_parameters())
    for name, p in params.items():
        if name.endswith("weight") and p.dim() == want:
            bias = name[: -len("weight")] + "bias"
            if bias in params and params[bias].dim() == 1 and params[bias].shape[0] == p.shape[0]:
                return f"; map them with weights={{'w': {name!r}, 'b': {bias!r}}} (or {'GRADCHECK_WEIGHTS'} in the file)"
    return ""


def _weights(module: Any, op: str, mapping: dict[str, str] | None, where: str) -> dict[str, Any]:
    """``{"w": parameter, "b": parameter}`` of a module for ``op`` (an op with weights)."""
    import torch

    fam = SPECS[op].family
    mapping = {**_DEFAULT_MAP, **(mapping or {})}
    unknown = set(mapping) - set(_DEFAULT_MAP)
    if unknown:
        raise LoadError(f"{where}: the weight mapping names {', '.join(sorted(unknown))}; {op} has the weights w and b")
    shapes = fam.weight_shapes
    looked = f"{mapping['w']} {shapes['w']} and {mapping['b']} {shapes['b']}"
    out = {}
    for key in ("w", "b"):
        p = _resolve(module, mapping[key])
        if not isinstance(p, torch.Tensor):
            extra = " (the module was built without a bias; build it with bias=True)" if key == "b" and p is None and \
                hasattr(module, mapping[key]) else ""
            raise LoadError(f"{where}: {op} needs parameters {looked}; {mapping[key]} is "
                            f"{'missing' if p is None else type(p).__name__}{extra}; the module has "
                            f"{_describe_parameters(module)}{_suggest(module, fam.weight_dims)}")
        out[key] = p
    w, b = out["w"], out["b"]
    want = fam.weight_dims
    if w.dim() != want or b.dim() != 1 or b.shape[0] != w.shape[0]:
        raise LoadError(f"{where}: {op} needs parameters {looked}; found {mapping['w']} {tuple(w.shape)} and "
                        f"{mapping['b']} {tuple(b.shape)}")
    return out


@dataclass
class _Fixed:
    """The geometry a module instance is fixed at (``None`` where the op has none)."""

    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # only the fixed dimensions, -1 = free
    params: dict[str, tuple[int, int]] = field(default_factory=dict)


def _fixed_geometry(module: Any, op: str, weights: dict[str, Any], where: str) -> _Fixed:
    try:
        shapes, params = SPECS[op].family.module_params(module, op, weights, where)
    except ValueError as exc:  # the module is configured outside the op: said in the family's words
        raise LoadError(str(exc)) from None
    return _Fixed(shapes, params)


def _fixed_limits(op: str, fixed: _Fixed) -> tuple[dict[str, Any], dict[str, Any]]:
    """(limits today's strategies understand, ``fixed_*`` limits that pin the geometry exactly)."""
    if not fixed.shapes and not fixed.params:
        return {}, {}
    return SPECS[op].family.module_limits(fixed.shapes, fixed.params)


def strategies_take(op: str, limits: dict[str, Any]) -> bool:
    """Whether the op's geometry (``gradcheck.ops``) draws cases under ``limits`` (it may not know
    every ``fixed_*`` limit)."""
    try:
        SPECS[op].geometry(lambda lo, hi: lo, **limits)
    except TypeError:
        return False
    return True


def _describe(shapes: dict[str, tuple[int, ...]], params: dict[str, Any]) -> str:
    parts = [f"{k} {tuple('*' if v < 0 else v for v in s)}" for k, s in shapes.items()]
    parts += [f"{k} {tuple(v)}" for k, v in params.items()]
    return ", ".join(parts)


class Layer:
    """One op's layer: a fixed module, or a geometry factory built once per geometry.

    Parameters
    ----------
    obj : nn.Module, class or callable
        The module instance, a zero-argument factory, or a geometry factory.
    op : str
        The protocol op it implements.
    where : str
        How to name it in messages.
    mapping : dict, optional
        ``{"w": dotted name, "b": dotted name}`` of the parameters playing the weights.
    """

    def __init__(self, obj: Any, op: str, where: str, mapping: dict[str, str] | None = None):
        import torch

        self.op, self.where, self.mapping = op, where, mapping
        self.spec = SPECS[op]
        self.factory: Callable | None = None
        self._built: dict[tuple, Any] = {}
        self.fixed: _Fixed | None = None
        if isinstance(obj, torch.nn.Module):
            module = obj
        elif is_geometry_factory(obj, op):
            self.factory = obj
            self.accepts = _parameters(obj) or {}
            return
        elif zero_argument_factory(obj, op):
            try:
                module = call_candidate(f"{where}()", obj)
            except CandidateError as exc:
                raise LoadError(f"building the module failed: {exc}") from None
            if not isinstance(module, torch.nn.Module):
                raise LoadError(f"{where}() returned {type(module).__name__}, not an nn.Module")
        else:
            raise LoadError(f"{where} is neither an nn.Module, a zero-argument factory of one, nor a factory taking "
                            f"{', '.join(_geometry_names(op) or ('the geometry',))}")
        self.module = module
        self.weights = _weights(module, op, mapping, where) if self.spec.has_weights else {}
        self.fixed = _fixed_geometry(module, op, self.weights, where)
        self._dtype = None

    # ---- limits ---------------------------------------------------------------------------

    def constraints(self) -> dict[str, Any]:
        """The limits cases are drawn within: the module's fixed geometry, exactly where the
        strategies can pin it (``fixed_*``), else as bounds (cases off it are declined)."""
        if self.factory is not None:
            return self._factory_limits()
        limits, exact = _fixed_limits(self.op, self.fixed)
        return {**limits, **exact} if exact and strategies_take(self.op, {**limits, **exact}) else limits

    def _factory_limits(self) -> dict[str, Any]:
        takes = self.accepts
        if any(p.kind == p.VAR_KEYWORD for p in takes.values()):
            return {}
        return self.spec.family.factory_limits(set(takes))

    # ---- one case ---------------------------------------------------------------------------

    def _geometry(self, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> dict[str, Any]:
        geo = self.spec.family.factory_args(inputs, params)
        # one number where both axes agree: modules written for square geometry take an int
        return {k: (v[0] if isinstance(v, tuple) and len(v) == 2 and v[0] == v[1] else v) for k, v in geo.items()}

    def _build(self, inputs: dict[str, np.ndarray], params: dict[str, Any]):
        import torch

        geo = self._geometry(inputs, params)
        key = tuple(sorted((k, repr(v)) for k, v in geo.items()))
        if key not in self._built:
            takes = self.accepts
            kwargs = geo if any(p.kind == p.VAR_KEYWORD for p in takes.values()) else \
                {k: v for k, v in geo.items() if k in takes}
            name = getattr(self.factory, "__name__", "factory")
            module = call_candidate(f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})", self.factory, **kwargs)
            if not isinstance(module, torch.nn.Module):
                raise LoadError(f"{self.where} returned {type(module).__name__}, not an nn.Module")
            if len(self._built) > 64:
                self._built.clear()
            self._built[key] = (module, _weights(module, self.op, self.mapping, self.where), [None])
        return self._built[key]

    def _check_fits(self, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> None:
        fixed = self.fixed
        bad = [k for k, s in fixed.shapes.items() if any(f >= 0 and f != v for f, v in zip(s, inputs[k].shape))]
        bad += [k for k, v in fixed.params.items() if tuple(params.get(k, v)) != tuple(v)]
        if bad:
            raise Unsupported(f"the module is fixed at {_describe(fixed.shapes, fixed.params)}; this case has "
                              f"{_describe({k: inputs[k].shape for k in fixed.shapes}, params)}")

    def prepare(self, inputs: dict[str, np.ndarray], params: dict[str, Any], device: str, requires_grad: bool):
        """The module set to the case's weights, and the parameters playing them.

        Returns
        -------
        (module, weights)
            ``weights`` maps ``"w"``/``"b"`` to the module's parameter tensors, which now hold
            ``inputs["w"]``/``inputs["b"]`` and require grad when ``requires_grad``.
        """
        import torch

        x = inputs[PROTOCOL[self.op].inputs[0]]
        dtype = getattr(torch, dtype_of(x))
        if self.factory is not None:
            module, weights, state = self._build(inputs, params)
        else:
            self._check_fits(inputs, params)
            module, weights, state = self.module, self.weights, [self._dtype]
        if state[0] != (dtype, device):
            call_candidate(f"{self.where}.to({dtype}, {device})", module.to, device=device, dtype=dtype)
            if self.factory is None:
                self._dtype = (dtype, device)
                if self.spec.has_weights:
                    self.weights = weights = _weights(module, self.op, self.mapping, self.where)
            else:
                state[0] = (dtype, device)
        for k, p in weights.items():
            if tuple(p.shape) != inputs[k].shape:
                raise Unsupported(f"the module's {k} has shape {tuple(p.shape)}, this case's is {inputs[k].shape}")
            with torch.no_grad():
                p.copy_(to_tensor(inputs[k], p.device).to(p.dtype))
            p.grad = None
            if requires_grad and not p.requires_grad:
                p.requires_grad_(True)
        return module, weights


def layer_of(obj: Any, op: str, where: str, mapping: dict[str, str] | None = None) -> Layer | None:
    """The :class:`Layer` of ``obj`` for ``op``, or ``None`` where ``obj`` is not a layer (a
    functional callable, an ``autograd.Function``, or a module class built with the op's
    hyper-parameters and called with the weights)."""
    import torch

    if isinstance(obj, torch.nn.Module):
        return Layer(obj, op, where, mapping)
    if isinstance(obj, type) and issubclass(obj, torch.autograd.Function):
        return None
    if SPECS[op].has_weights and is_geometry_factory(obj, op):
        return Layer(obj, op, where, mapping)
    if callable(obj) and zero_argument_factory(obj, op) and (isinstance(obj, type) or _returns_module_hint(obj)):
        return Layer(obj, op, where, mapping)
    return None


def _returns_module_hint(fn: Any) -> bool:
    """A plain function with no required argument cannot be an op (every op takes a tensor):
    it is taken for a factory."""
    return inspect.isfunction(fn) or inspect.ismethod(fn)
