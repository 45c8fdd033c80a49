"""What a candidate says it supports, turned into the limits cases are drawn within.

A candidate declares the geometry it handles in one of two ways (both may be used; the
function's own declaration wins key by key):

- a module-level dict, one entry per op::

      GRADCHECK_CONSTRAINTS = {"conv2d": {"square": True, "dilation": False}}

- a decorator on the op's forward (native, cs231n) or on the op's callable (torch)::

      @gradcheck.supports(stride=1, padding=False)
      def conv2d_forward(x, w, b, *, stride, padding, dilation): ...

Declaration keys are those of the op's family (``False`` = not supported, an int = the largest
supported), listed with the family in ``gradcheck.ops`` (``Family.constraint_keys``); e.g. for
convolutions ``square`` (one stride/padding/dilation for both axes), ``stride``, ``padding``,
``dilation`` (bool or int), ``kernel``, ``batch``, ``channels``, ``filters`` (int); for pooling
``square``, ``padding`` (bool), ``stride`` (bool or int), ``window``, ``batch``, ``channels``.

:func:`declared_limits` maps them to the limits of ``gradcheck.cases.strategies`` (``max_stride``,
``square``, ``padding``, ...); an unknown op or key, or a value of the wrong kind, is a
:class:`~gradcheck.adapters.base.LoadError` naming the known ones. Cases outside the limits are
never drawn; the records list the features they leave out as excluded.
"""
from __future__ import annotations

from typing import Any, Callable

from gradcheck.ops import FAMILIES, PROTOCOL, SPECS
from gradcheck.adapters.base import LoadError

__all__ = ["DECLARATION", "ATTRIBUTE", "KEYS", "supports", "family", "declared_limits", "combine", "declaration_of",
           "limits_for", "accepts", "signature_limits", "call_kwargs"]

#: The module-level name a candidate declares its constraints under.
DECLARATION = "GRADCHECK_CONSTRAINTS"
#: The attribute :func:`supports` puts on a function or class.
ATTRIBUTE = "__gradcheck_constraints__"

# key -> (kind, limit name); kinds: "flag" (bool -> the limit itself), "count" (bool or int,
# False -> the smallest value), "max" (int -> max_<name>), "switch" (bool -> limit on/off)
#: family name -> declaration key -> (kind, limit)
KEYS: dict[str, dict[str, tuple[str, str]]] = {name: f.constraint_keys for name, f in FAMILIES.items()}
#: the smallest value of a "count" limit: what ``False`` stands for
_SMALLEST = {"max_stride": 1, "max_padding": 0, "max_dilation": 1}


def family(op: str) -> str:
    """The name of ``op``'s family (``OpSpec.family.name``)."""
    return SPECS[op].family.name


def supports(**declared: Any) -> Callable[[Any], Any]:
    """Decorator: declare the geometry a forward (or a torch callable or class) supports.

    Parameters
    ----------
    **declared
        Declaration keys of the op's family (see the module docstring), e.g.
        ``stride=1, dilation=False, square=True``. They are checked when the target is
        loaded, against the op the function implements.

    Returns
    -------
    callable
        A decorator that returns its argument unchanged, with the declaration attached.
    """

    def mark(fn: Any) -> Any:
        merged = {**getattr(fn, ATTRIBUTE, {}), **declared}
        try:
            setattr(fn, ATTRIBUTE, merged)
        except (AttributeError, TypeError):
            raise TypeError(f"gradcheck.supports cannot mark {type(fn).__name__} objects; decorate a function or class")
        return fn

    return mark


def _known(keys: dict[str, Any]) -> str:
    return ", ".join(keys)


def declared_limits(op: str, declared: dict[str, Any], where: str) -> dict[str, Any]:
    """The strategy limits of a declaration for ``op``.

    Parameters
    ----------
    op : str
        A protocol op (a key of ``gradcheck.ops.SPECS``).
    declared : dict
        Declaration keys to values (see the module docstring).
    where : str
        Where the declaration came from, for the error message.

    Returns
    -------
    dict
        Limits for ``gradcheck.cases.strategies`` (``{"max_dilation": 1, "square": True}``).

    Raises
    ------
    LoadError
        For an unknown key or a value of the wrong kind (one line, naming the known keys).
    """
    if not isinstance(declared, dict):
        raise LoadError(f"{where}: expected a dict of constraints, got {type(declared).__name__}")
    table = KEYS[family(op)]
    limits: dict[str, Any] = {}
    for key, value in declared.items():
        if key not in table:
            raise LoadError(f"{where}: unknown constraint {key!r} for {op}; known: {_known(table)}")
        kind, limit = table[key]
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if kind in ("flag", "switch"):
            if not isinstance(value, bool):
                raise LoadError(f"{where}: {key} must be True or False, got {value!r}")
            if kind == "flag" and value:
                limits[limit] = True
            elif kind == "switch" and not value:
                limits[limit] = False
        elif kind == "count":
            if value is True:
                continue
            if value is False:
                limits[limit] = _SMALLEST[limit]
            elif is_int and value >= _SMALLEST[limit]:
                limits[limit] = value
            else:
                raise LoadError(f"{where}: {key} must be True, False or an int >= {_SMALLEST[limit]} "
                                f"(the largest supported), got {value!r}")
        else:
            if not is_int or value < 1:
                raise LoadError(f"{where}: {key} must be a positive int (the largest supported), got {value!r}")
            limits[limit] = value
    return limits


def combine(*limit_sets: dict[str, Any]) -> dict[str, Any]:
    """The limits every set asks for at once: the smaller of two maxima, ``square`` if any
    asks for it, pooling ``padding`` only if none switches it off; other limits must agree
    (the first one stands)."""
    out: dict[str, Any] = {}
    for limits in limit_sets:
        for k, v in limits.items():
            if k not in out:
                out[k] = v
            elif k.startswith("max_"):
                out[k] = min(out[k], v)
            elif k == "square":
                out[k] = bool(out[k] or v)
            elif k == "padding" and isinstance(v, bool):
                out[k] = bool(out[k] and v)
    return out


def declaration_of(obj: Any, target: str) -> dict[str, dict[str, Any]]:
    """The module-level declaration of ``obj`` (``{op: {key: value}}``), validated for its ops.

    Raises
    ------
    LoadError
        When the declaration is not a dict of dicts or names an op the harness does not know.
    """
    decl = getattr(obj, DECLARATION, None)
    if decl is None:
        return {}
    where = f"{target}: {DECLARATION}"
    if not isinstance(decl, dict):
        raise LoadError(f"{where} must be a dict {{op: {{constraint: value}}}}, got {type(decl).__name__}")
    for op, value in decl.items():
        base = str(op).split(":")[0]
        if base not in PROTOCOL:
            raise LoadError(f"{where}: unknown op {op!r}; known: {', '.join(PROTOCOL)}")
        declared_limits(base, value, f"{where}[{op!r}]")
    return decl


def limits_for(obj: Any, target: str, label: str, op: str, *functions: Any) -> dict[str, Any]:
    """The declared limits of one op label: the module-level entry (by label, else by op),
    updated key by key by the declarations on ``functions`` (forward first)."""
    decl = declaration_of(obj, target)
    declared = dict(decl.get(label, decl.get(op, {})))
    where = f"{target}: {DECLARATION}[{label!r}]"
    for fn in functions:
        own = getattr(fn, ATTRIBUTE, None) if fn is not None else None
        if own:
            name = getattr(fn, "__qualname__", getattr(fn, "__name__", type(fn).__name__))
            where = f"{target}: @supports on {name}"
            declared_limits(op, own, where)
            declared.update(own)
    return declared_limits(op, declared, where)


def accepts(fn: Any, name: str) -> bool:
    """Whether ``fn`` takes a keyword argument ``name`` (``True`` where its signature cannot be
    read, as for builtins, or it takes ``**kwargs``)."""
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def signature_limits(op: str, *functions: Any) -> dict[str, Any]:
    """Limits that hold each optional hyper-parameter of ``op`` (``OpProtocol.optional``,
    ``groups`` of conv2d) at its default where one of ``functions`` does not take it: such a
    candidate is called without it, on cases it can express."""
    out: dict[str, Any] = {}
    for name, limit, default in PROTOCOL[op].optional:
        if any(fn is not None and not accepts(fn, name) for fn in functions):
            out[limit] = default
    return out


def call_kwargs(op: str, fn: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The keyword hyper-parameters ``fn`` is called with (``OpProtocol.call_kwargs``), less the
    optional ones it does not take."""
    p = PROTOCOL[op]
    kwargs = p.call_kwargs(params)
    for name, _, _ in p.optional:
        if name in kwargs and not accepts(fn, name):
            del kwargs[name]
    return kwargs
