"""What the harness knows about an op, and the interface an op family fills in.

An :class:`OpSpec` is the one place an op is described: its native protocol (names, inputs,
gradients, hyper-parameters), its torch truth, its output shape, its finite-difference
footprints, its reduction lengths, its kink policy, its scipy closed form, the source text of
its truth for reproductions, and its entries in the conventions other code is written in
(CS231n, ``torch.nn``). Everything an op shares with the others of its family (geometry,
coverage features, constraint keys, ``nn.Module`` geometry) is a :class:`Family`; the ops of a
family live in one module of ``gradcheck.ops`` beside it.

Hyper-parameters are always normalised to tuples of ints (one per spatial axis) before they
reach an op.

Long because every field an op may fill in is declared and documented here, once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

__all__ = ["OpProtocol", "OpSpec", "Family", "Kink", "Bench", "CS231n", "ModuleMatch", "TorchCall", "Geometry", "Pick", "Shapes", "Params",
           "out_len", "cover", "check_limits", "pair", "fixed_pair", "int_pair", "torch"]

Shapes = dict[str, tuple[int, ...]]
Params = dict[str, tuple[int, ...]]
Geometry = tuple[Shapes, Params]
#: ``pick(lo, hi)`` -> an int in [lo, hi]: hypothesis's ``draw(integers(lo, hi))`` or a seeded
#: generator's; geometry code is written once against it.
Pick = Callable[[int, int], int]


@dataclass(frozen=True)
class OpProtocol:
    """Names and argument lists of one op in the native protocol."""

    name: str
    inputs: tuple[str, ...]  # positional array arguments of the forward, in order
    grads: tuple[str, ...]  # names of the gradients backward returns, in order
    params: tuple[str, ...]  # keyword hyper-parameters
    #: integer label arrays (class indices), passed positionally after ``inputs``; a case holds
    #: them among its params, as tuples of ints (hypothesis draws and shrinks them there)
    labels: tuple[str, ...] = ()
    #: hyper-parameters handed over as one number rather than a tuple (``groups``, ``p``)
    scalars: tuple[str, ...] = ()
    #: hyper-parameters a candidate's function may leave out of its signature: name -> (the
    #: limit that holds it at its default, the default); such a function is called without it
    #: and its cases are drawn at the default
    optional: tuple[tuple[str, str, Any], ...] = ()

    def call_kwargs(self, params: Params) -> dict[str, Any]:
        """The keyword arguments a candidate's forward and backward receive: every
        hyper-parameter but the labels, the scalars unwrapped (``groups=(2,)`` -> ``groups=2``)."""
        return {k: (v[0] if k in self.scalars else v) for k, v in params.items() if k not in self.labels}

    def written_kwargs(self, params: Params) -> dict[str, Any]:
        """:meth:`call_kwargs` less the optional hyper-parameters at their default: what a
        reproduction writes out, so that it runs whether or not the candidate takes them."""
        defaults = {name: default for name, _, default in self.optional}
        return {k: v for k, v in self.call_kwargs(params).items() if defaults.get(k, None) != v}

    def call_labels(self, params: Params) -> tuple[np.ndarray, ...]:
        """The label arrays, as int64, in protocol order."""
        return tuple(np.asarray(params[k], dtype=np.int64) for k in self.labels)

    @property
    def forward_name(self) -> str:
        return f"{self.name}_forward"

    @property
    def backward_name(self) -> str:
        return f"{self.name}_backward"


# -- geometry helpers shared by the families ------------------------------------------------------
def out_len(size: int, k: int, s: int, p: int, d: int = 1) -> int:
    """Output length of a window op along one axis (floor mode, as torch)."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def cover(k: int, s: int) -> int:
    """How many windows along one axis can cover one input element."""
    return max(1, math.ceil(k / s))


def check_limits(lowest: int = 1, **limits: int) -> None:
    """Raise ``ValueError`` unless every limit is an int of at least ``lowest``."""
    for name, value in limits.items():
        if not isinstance(value, int) or value < lowest:
            what = "a positive" if lowest == 1 else "a non-negative"
            raise ValueError(f"{name} must be {what} int, got {value!r}")


def pair(pick: Pick, lo: int, hi: int, square: bool = False) -> tuple[int, int]:
    """Two ints in [lo, hi], drawn apart unless ``square``."""
    first = pick(lo, hi)
    return (first, first) if square else (first, pick(lo, hi))


def int_pair(value: Any, what: str, where: str) -> tuple[int, int]:
    """A module attribute as an ``(h, w)`` pair of ints; ``ValueError`` naming it otherwise."""
    bad = ValueError(f"{where}: {what} must be an int or a pair of ints, got {value!r}")
    if isinstance(value, bool) or value is None:
        raise bad
    if isinstance(value, int):
        return (value, value)
    try:
        out = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise bad from None
    if len(out) != 2:
        raise bad
    return out  # type: ignore[return-value]


def torch():
    """torch, imported lazily: the parent process of a run never needs it."""
    import torch as _torch

    return _torch


def fixed_pair(value: Any) -> tuple[int, int] | None:
    """A ``fixed_*`` pair as ints (a layer's own geometry: the cases are drawn with it), or None."""
    return None if value is None else (int(value[0]), int(value[1]))


# -- conventions -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CS231n:
    """One pair of an op's functions in the CS231n ``layers.py`` convention.

    ``forward(*arrays, param)`` returns ``(out, cache)``, ``backward(dout, cache)`` the gradients.
    ``arrays``: the inputs passed positionally; ``param``: ``params -> (name, dict)`` for the
    dict argument (``conv_param``) or ``None``; ``transposed``: inputs the convention holds
    transposed (handed over as transposed copies, their gradients transposed back);
    ``limits``: what the convention cannot express (one stride for both axes); ``variant``:
    ``None`` for the main pair, ``"fast"`` for ``*_fast``; ``optional``: a target may lack it;
    ``backward=None``: the forward returns ``(loss, dx)`` (``softmax_loss``), the gradient of
    the loss itself, scaled by the upstream gradient; ``shaped``: inputs the convention holds
    in another shape (gamma ``(1, C, 1, 1)``), handed over reshaped, their gradients reshaped back.
    """

    forward: str
    backward: str | None
    arrays: tuple[str, ...]
    param: Callable[[Params], tuple[str, dict[str, Any]]] | None = None
    transposed: tuple[str, ...] = ()
    shaped: dict[str, Callable[[tuple[int, ...]], tuple[int, ...]]] = field(default_factory=dict)
    labels: tuple[str, ...] = ()
    scalars: tuple[str, ...] = ()
    limits: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None
    optional: bool = False


@dataclass(frozen=True)
class TorchCall:
    """An op in the torch convention: the ``torch.nn.functional`` name and signature.

    ``name``: the attribute a namespace target holds it under (``F.linear`` is ``dense``);
    ``call(fn, tensors, params)``: how a function of that signature is called on the inputs'
    tensors (``None``: ``fn(*tensors, **call_kwargs)``); ``limits``: what the signature's own
    function refuses (``F.batch_norm`` refuses a set of one value), for function candidates;
    ``seeded``: torch's generator is seeded with the case's ``seed`` before every call;
    ``source``: ``call`` as source text over ``fn``, the inputs' names and ``params`` (for
    reproductions).
    """

    name: str
    call: Callable[[Callable, dict[str, Any], Params], Any] | None = None
    limits: dict[str, Any] = field(default_factory=dict)
    seeded: bool = False
    source: str = ""


@dataclass(frozen=True)
class ModuleMatch:
    """How an ``nn.Module`` (or a function named like one) is recognised as this op."""

    types: tuple[str, ...] = ()  # torch.nn class names: nn.Conv2d -> this op
    hints: tuple[str, ...] = ()  # normalised name fragments: "maxpool" in "MyMaxPool2d"
    weight_dims: int | None = None  # a module whose ``weight`` has this many dims (its weights decide)
    rank: int = 0  # more specific names are tried first (higher rank first)


@dataclass(frozen=True)
class Bench:
    """One case ``gradcheck bench`` times the reference's forward + backward on, against the
    torch function ``anchor``; the row is named ``op`` or ``op-suffix``; ``quick_shapes`` serve
    ``--quick``."""

    shapes: Shapes
    params: Params
    anchor: str
    quick_shapes: Shapes
    suffix: str | None = None


# -- kinks -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Kink:
    """An op's kink policy: where its derivative does not exist, and what is valid there.

    ``rule`` names the subgradient rule of ``gradcheck.judge.subgradient`` that judges its kink
    cases (``"zero"``: any c in [0, 1] at 0, as ReLU; ``"zero-inside"``: the same, after the op's
    linear part; ``"max"``: routing to any maximum of a tie; ``"l2"``: any vector of norm <= |delta| at a
    zero window). ``features``: the value features a kink case can show; ``features_of(case)``
    which of them it shows; ``place(inputs, params, lo, hi)`` puts a constructed case on the kink
    (in place); ``values``: the small integers kink cases are drawn from; ``sparse``: kink cases
    are half zeros; ``clear(case, scale)``: whether a smooth case stays clear of the kink by
    ``margin * scale`` (else another seed is drawn); ``spread``: smooth values are drawn
    pairwise distinct (no ties); ``away``: smooth values are moved ``margin`` clear of 0;
    ``slopes``: the one-sided derivatives (left, right) at a kink at 0 (ReLU: (0, 1)); ``title``:
    the op's name in messages ("ReLU").
    """

    rule: str
    features: tuple[str, ...]
    features_of: Callable[[Any], set[str]]
    place: Callable[[dict[str, np.ndarray], Params, int, int], None]
    values: tuple[int, int] = (-2, 2)
    sparse: bool = False
    clear: Callable[[Any, float, float], bool] | None = None
    spread: bool = False
    away: bool = False
    slopes: tuple[float, float] = (0.0, 1.0)
    title: str = ""


# -- families --------------------------------------------------------------------------------------
class Family:
    """What the ops of one family share. Subclasses fill it in (``gradcheck.ops.conv`` ...).

    - ``name``: the family's name, for messages (``"conv"``).
    - ``features``: the geometry features its covering design must reach (``gradcheck.cases.coverage``).
    - ``constraint_keys``: what a candidate may declare it supports: key -> (kind, limit)
      (``gradcheck.adapters.constraints``).
    - ``small``: limits of the small cases second-order checks are drawn within.
    - ``module_geometry``: constructor argument names of its geometry factories (``nn.Conv2d``'s).
    - ``weight_shapes``: the shapes of the weights a module of this family holds, for messages;
      ``weight_dims``: how many dimensions its weight ``w`` has.
    - ``bench_group``: the ``gradcheck bench --only`` group its ops' rows belong to.
    """

    name: str = ""
    features: tuple[str, ...] = ()
    constraint_keys: dict[str, tuple[str, str]] = {}
    small: dict[str, int] = {}
    module_geometry: tuple[str, ...] = ()
    weight_shapes: dict[str, str] = {}
    weight_dims: int = 0
    bench_group: str | None = None  # the ``gradcheck bench --only`` group of its rows (default: name + "s")

    def geometry(self, pick: Pick, **limits: Any) -> Geometry | None:
        """One geometry drawn with ``pick`` within ``limits`` (``None``: the draw is rejected)."""
        raise NotImplementedError

    def limits_within(self, shapes: Shapes, params: Params) -> dict[str, int]:
        """Limits under which :meth:`geometry` draws nothing larger than this geometry."""
        raise NotImplementedError

    def long_reduction(self, own: dict[str, Any]) -> Geometry:
        """One geometry whose sums are long (where low-precision accumulation shows)."""
        raise NotImplementedError

    def features_of(self, shapes: Shapes, params: Params) -> set[str]:
        """The geometry features of one case."""
        raise NotImplementedError

    def module_params(self, module: Any, op: str, weights: dict[str, Any], where: str) -> tuple[Shapes, Params]:
        """The geometry a module instance is fixed at: the fixed dimensions of each input's shape
        (``-1`` = free) and its hyper-parameters; ``ValueError`` with the reason when the module is
        configured outside the op."""
        return {}, {}

    def module_limits(self, shapes: Shapes, params: Params) -> tuple[dict[str, Any], dict[str, Any]]:
        """(limits the strategies understand, ``fixed_*`` limits pinning the geometry exactly) of a
        module's fixed geometry."""
        return {}, {}

    def factory_args(self, inputs: dict[str, np.ndarray], params: Params) -> dict[str, Any]:
        """The constructor arguments (``module_geometry``) that build a module for one case."""
        return {}

    def factory_limits(self, takes: set[str]) -> dict[str, int]:
        """Limits for a module factory that takes only the arguments ``takes``."""
        return {}


# -- the spec --------------------------------------------------------------------------------------
Magnitudes = Callable[["OpSpec", Any, Callable], dict[str, np.ndarray]]
ScipyForm = Callable[["OpSpec", Any], tuple[np.ndarray, Optional[dict[str, np.ndarray]]]]


@dataclass(frozen=True)
class OpSpec:
    """Everything the harness knows about one op.

    - ``torch_forward(t, params)``: the op written with ``torch.nn.functional`` (the truth).
    - ``torch_source(t, params)``: the same as source text, ``t`` the inputs' expressions.
    - ``out_shape(shapes, params)``: the output shape.
    - ``footprints``: input -> footprint kind (``gradcheck.ops.footprints``).
    - ``reduction(shapes, params)``: for the forward and each gradient, the length of the longest
      sum behind one output element (``gradcheck.tolerances``).
    - ``kink``: the kink policy (``None``: smooth everywhere).
    - ``activation``: the activation's name, for ops that are or end in one.
    - ``inner``: the linear part of a composite (conv2d of conv2d_relu).
    - ``limits``: limits the op itself sets on its family's geometry (L2 pooling: no padding).
    - ``scipy``: the scipy closed form ``(spec, case) -> (forward, grads or None)``.
    - ``magnitudes``: ``(spec, case, torch_run) -> {quantity: M}``, the sums of absolute values
      of the terms (``None``: torch on the absolute values of the inputs, see ``absolute``).
    - ``absolute``: whether the magnitudes take absolute values of the inputs (false where
      that would change which terms are summed: a max).
    - ``divide_by_scale``: inputs whose smooth values are divided by the case's scale (a
      conv's w: pre-activations stay O(scale), not O(scale**2)).
    - ``batched``: whether samples are independent (false for a loss summed over the batch).
    - ``cs231n``: its pairs in the CS231n convention; ``module``: how torch objects are
      recognised as it.
    - ``bench``: the cases ``gradcheck bench`` times its reference on.
    - ``normwise``: inputs the op is linear in, each (a convolution's x and w): an FFT may
      compute it, whose rounding scales with their norms (``gradcheck.judge.compare``).
    - ``torch_call``: its name and signature in the torch convention (``None``: the op's name,
      called as the native forward is).
    - ``random``: the forward draws a mask from its ``seed`` (dropout): there is no truth
      independent of the candidate; the mask is read from the candidate's forward
      (``gradcheck.oracles.mask``) and its statistics are tested.
    """

    protocol: OpProtocol
    family: Family
    torch_forward: Callable[[dict[str, Any], Params], Any]
    torch_source: Callable[[dict[str, str], Params], str]
    out_shape: Callable[[Shapes, Params], tuple[int, ...]]
    footprints: dict[str, str]
    reduction: Callable[[Shapes, Params], dict[str, int]]
    kink: Kink | None = None
    activation: str | None = None
    inner: Optional["OpSpec"] = None
    limits: dict[str, Any] = field(default_factory=dict)
    scipy: ScipyForm | None = None
    scipy_grads: bool = False
    magnitudes: Magnitudes | None = None
    absolute: bool = True
    divide_by_scale: tuple[str, ...] = ()
    batched: bool = True
    cs231n: tuple[CS231n, ...] = ()
    module: ModuleMatch = field(default_factory=ModuleMatch)
    bench: tuple[Bench, ...] = ()
    torch_call: TorchCall | None = None
    random: bool = False
    normwise: tuple[str, ...] = ()

    @property
    def torch_name(self) -> str:
        """The op's name in the torch convention."""
        return self.torch_call.name if self.torch_call else self.name

    @property
    def name(self) -> str:
        return self.protocol.name

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.protocol.inputs

    @property
    def grads(self) -> tuple[str, ...]:
        return self.protocol.grads

    @property
    def params(self) -> tuple[str, ...]:
        return self.protocol.params

    @property
    def grad_inputs(self) -> tuple[str, ...]:
        """The inputs the gradients are taken with respect to (``dx`` -> ``x``)."""
        return tuple(g[1:] for g in self.grads)

    @property
    def kinks(self) -> str | None:
        """The kink rule's name, or ``None``."""
        return self.kink.rule if self.kink else None

    @property
    def kink_features(self) -> tuple[str, ...]:
        return self.kink.features if self.kink else ()

    @property
    def has_weights(self) -> bool:
        return bool(self.family.weight_shapes)

    def geometry(self, pick: Pick, **limits: Any) -> Geometry | None:
        """One geometry of the family within the op's own limits and ``limits``, with the
        hyper-parameters the op's protocol has (a family may draw more: conv2d's ``groups``)."""
        return self._own(self.family.geometry(pick, **{**self.limits, **limits}))

    def long_reduction(self) -> Geometry:
        return self._own(self.family.long_reduction(self.limits))  # type: ignore[return-value]

    def _own(self, g: Geometry | None) -> Geometry | None:
        if g is None:
            return None
        shapes, params = g
        return shapes, {k: v for k, v in params.items() if k in self.params or k in self.protocol.labels}
