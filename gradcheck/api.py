"""The Python API: ``gradcheck.check`` and ``gradcheck.assert_gradients``, for a user's own tests.

A target may be given as

- a string, as on the command line: ``"reference"``, a dotted module name, a file path,
  optionally ``:attribute``;
- a module object (``import mylayers; gradcheck.check(mylayers)``);
- any object holding the functions (a class, an instance, a ``SimpleNamespace``), or one
  candidate on its own (an ``nn.Module`` instance or class, a ``torch.autograd.Function``, a
  function), with ``ops`` naming its op where its name or type does not;
- a mapping ``{op: (forward, backward)}`` (native and cs231n: the pair of functions of the
  convention; torch: ``{op: candidate}``).

Strings, module objects, and classes or functions reachable by name from their module are
loaded by name and checked in watched worker processes, as on the command line (a hang is a
timeout, a crash an error record). Anything else — instances, lambdas, mappings, objects whose
module cannot be imported again by a worker, a ``weights=`` mapping, or a single candidate
whose op only ``ops`` names — is checked in the calling process (``RunConfig.isolate =
False``): its calls are still caught and recorded, but a hang or a crash there is the caller's.
"""
from __future__ import annotations

import datetime as _dt
import inspect
import sys
import time
import types
from typing import Any, Iterable, Mapping

from gradcheck.adapters.base import LoadError
from gradcheck.config import RunConfig
from gradcheck.ops import PROTOCOL
from gradcheck.records import Record, RunResult

__all__ = ["check", "assert_gradients", "resolve"]


def _ops(ops: str | Iterable[str] | None) -> list[str] | None:
    """``"relu"`` / ``"relu,tanh"`` / ``["relu", "tanh"]`` -> a list of op names."""
    if ops is None:
        return None
    if isinstance(ops, str):
        names = [o.strip() for o in ops.split(",") if o.strip()]
    else:
        names = [str(o).strip() for o in ops]
    if not names:
        raise ValueError("ops: expected one or more op names")
    return names


def _module_name(module: types.ModuleType) -> str | None:
    """A string that loads ``module`` again in another process, or ``None``."""
    name = getattr(module, "__name__", "")
    path = getattr(module, "__file__", None)
    if name == "__main__" or name.startswith("_gradcheck_target_"):
        return path
    if getattr(module, "__package__", None) or path is None:
        return name  # a package's module resolves its relative imports only by name
    return path


def _by_name(obj: Any) -> str | None:
    """The target string of an object a worker can load again, or ``None``."""
    if isinstance(obj, types.ModuleType):
        return _module_name(obj)
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        return None
    qual, modname = getattr(obj, "__qualname__", ""), getattr(obj, "__module__", None)
    module = sys.modules.get(modname or "")
    if module is None or not qual.isidentifier() or getattr(module, qual, None) is not obj:
        return None
    where = _module_name(module)
    return f"{where}:{qual}" if where else None


def _mapping(target: Mapping, api: str) -> Any:
    """A namespace with the convention's names for ``{op: (forward, backward)}``."""
    ns = types.SimpleNamespace()
    if api == "cs231n":
        from gradcheck.adapters.cs231n import OPS

        names = {label: (c.forward, c.backward) for label, (_, c) in OPS.items()}
    else:
        names = {op: (p.forward_name, p.backward_name) for op, p in PROTOCOL.items()}
    for key, value in target.items():
        if key not in names:
            raise LoadError(f"unknown op {key!r} in the mapping; choose from {', '.join(names)}")
        if api == "torch":
            setattr(ns, key, value[0] if isinstance(value, tuple) and len(value) == 1 else value)
            continue
        if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(callable(v) for v in value)):
            raise LoadError(f"the mapping's {key!r} must be a pair (forward, backward) of functions")
        fwd, bwd = names[key]
        setattr(ns, fwd, value[0])
        setattr(ns, bwd, value[1])
    return ns


def _describe(obj: Any) -> str:
    if isinstance(obj, Mapping):
        return "mapping(" + ", ".join(map(str, obj)) + ")"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    return f"<{name or type(obj).__name__}>"


def resolve(target: Any, api: str = "native") -> tuple[str, Any]:
    """``(name, object)``: the target's name for reports, and what an adapter wraps
    (``None`` when the name alone loads it, in any process)."""
    if isinstance(target, str):
        return target, None
    if isinstance(target, Mapping):
        return _describe(target), _mapping(target, api)
    name = _by_name(target)
    return (name, None) if name is not None else (_describe(target), target)


def _adapter(obj: Any, name: str, api: str, cfg: RunConfig, op: str | None, weights: Mapping | None) -> Any:
    from gradcheck.adapters import APIS, load

    if api not in APIS:
        raise LoadError(f"unknown api {api!r}; choose one of {', '.join(APIS)}")
    if obj is None:
        if api != "torch" or (op is None and weights is None):
            return load(name, api, device=cfg.device, allow_tf32=cfg.allow_tf32)
        from gradcheck.adapters.loader import load_target

        obj = load_target(name)
    if api == "torch":
        from gradcheck.adapters.torch_adapter import TorchAdapter

        try:
            return TorchAdapter(obj, name, device=cfg.device, allow_tf32=cfg.allow_tf32, op=op,
                                weights=dict(weights) if weights else None)
        except (RuntimeError, ImportError) as exc:
            raise LoadError(str(exc)) from None
    if cfg.device != "cpu":
        raise LoadError(f"device {cfg.device} needs api='torch' (numpy implementations run on the CPU)")
    from gradcheck.adapters.cs231n import CS231nAdapter
    from gradcheck.adapters.native import NativeAdapter

    return (NativeAdapter if api == "native" else CS231nAdapter)(obj, name)


def _run_here(impl: Any, name: str, api: str, cfg: RunConfig) -> RunResult:
    """The run of an adapter in this process (``gradcheck.run.runner.run_check`` without the load)."""
    from gradcheck.run.runner import check_ops, merge_coverage, select_ops, versions

    labels = select_ops(impl.ops(), cfg.ops)
    run = RunResult(target=name, api=api, complete=False)
    run.started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    run.seed, run.profile, run.device, run.versions = cfg.seed, cfg.profile, cfg.device, versions()
    t0 = time.perf_counter()
    done: dict[str, list[Record]] = {}

    def on_done(label: str, records: list[Record], coverage: list) -> None:
        done[label] = records
        merge_coverage(run.coverage, label, coverage)

    check_ops(impl, name, api, labels, cfg, on_done)
    run.records = [r for label, _ in labels for r in done.get(label, [])]
    if name.startswith(("<", "mapping(")):  # no name to load it by: a command or an import of it cannot reproduce
        for r in run.records:
            r.repro = None
    run.complete = True
    run.duration_s = time.perf_counter() - t0
    return run


def check(target: Any, api: str = "native", *, ops: str | Iterable[str] | None = None,
          weights: Mapping[str, str] | None = None, isolate: bool | None = None, **config: Any) -> RunResult:
    """Check ``target``'s forward and backward and return the :class:`~gradcheck.records.RunResult`.

    Parameters
    ----------
    target : str, module, object or mapping
        See the module docstring.
    api : {"native", "cs231n", "torch"}
        The calling convention.
    ops : str or list of str, optional
        ``"relu"``, ``"conv2d,relu"`` or ``["conv2d", "relu"]``; default every op provided. A
        single op also names the op of a single candidate (a module, Function or function).
    weights : mapping, optional
        torch: ``{"w": "conv.weight", "b": "conv.bias"}``, the layer parameters that play the
        op's weights (default ``weight`` and ``bias``).
    isolate : bool, optional
        ``False`` checks in this process; ``True`` insists on worker processes (the target must
        be loadable by name); default: workers where the target can be loaded by name.
    **config
        :class:`~gradcheck.config.RunConfig` fields: ``max_examples``, ``kink_examples``,
        ``seed``, ``profile``, ``dtype``, ``device``, ``timeout``, ``jobs``, ...

    Returns
    -------
    RunResult
        ``.passed``, ``.records`` (one per op × quantity × oracle), ``.to_dict()`` (the JSON).

    Raises
    ------
    LoadError
        When the target cannot be loaded or holds nothing the convention recognises.
    ValueError
        For a malformed option.
    """
    from gradcheck.run.second_order import add_second_order

    names = _ops(ops)
    if names is None and isinstance(target, Mapping):
        names = [str(k) for k in target]  # a mapping says which ops it has: the others are not "not provided"
    cfg = RunConfig(ops=names, **config)
    name, obj = resolve(target, api)
    one_op = names[0] if names and len(names) == 1 else None
    in_process = isolate is False or obj is not None or weights is not None
    if isolate and in_process:
        raise ValueError(f"isolate=True: {name} cannot be loaded by name in a worker process"
                         + (" (weights= is given)" if weights is not None else ""))
    if not in_process:
        from gradcheck.run.runner import run_check

        try:
            run = run_check(name, api, cfg)
        except LoadError as exc:
            told = one_op is not None and "cannot tell which op" in str(exc)  # only ``ops`` names its op
            if isolate or (isinstance(target, str) and not told):
                raise
            in_process, obj = True, None if isinstance(target, str) else target  # check it here
    if in_process:
        cfg.isolate = False
        impl = _adapter(obj, name, api, cfg, one_op, weights)
        run = _run_here(impl, name, api, cfg)
        add_second_order(run, name, api, cfg, impl=impl)
    else:
        add_second_order(run, name, api, cfg)
    return run


def _message(run: RunResult) -> str:
    """The terminal's account of a failed run: its summary, which holds one block per failing op
    and quantity (or the report's own per-failure function, where there is one)."""
    from gradcheck.report import terminal

    block = getattr(terminal, "format_failure", None)
    if callable(block):
        bad = [r for r in run.records if r.status in ("fail", "error", "partial")]
        return "\n\n".join(block(r) for r in bad)
    return terminal.format_summary(run)


def assert_gradients(target: Any, api: str = "native", **kwargs: Any) -> RunResult:
    """Like :func:`check`, for pytest: raise ``AssertionError`` unless every check passed.

    The message is what ``gradcheck check`` prints: the table and one block per failing op and
    quantity (the smallest case, the worst element and its error against what is allowed there,
    the command that reproduces it). A run in which nothing was checked (every op not provided)
    fails too.

    Returns
    -------
    RunResult
        The run, when it passed.
    """
    __tracebackhide__ = True  # pytest shows the message, not this frame
    from gradcheck.report.terminal import format_summary

    run = check(target, api, **kwargs)
    if not any(r.status == "pass" for r in run.records):
        raise AssertionError(f"gradcheck: nothing was checked in {run.target}:\n" + format_summary(run))
    if not run.passed:
        raise AssertionError(_message(run))
    return run
