"""What the harness needs from an implementation, whatever its convention."""
from __future__ import annotations

import os
import traceback
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Target", "Implementation", "FunctionTable", "CandidateError", "BadReturn", "LoadError", "Unsupported", "call_candidate",
           "candidate_traceback"]


_HARNESS = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class LoadError(Exception):
    """The target could not be loaded (missing, syntax error, nothing recognised)."""


class Unsupported(Exception):
    """Raised by a candidate for a case it does not handle (a geometry outside its convention);
    a ``NotImplementedError`` from candidate code is read the same way.

    The case is skipped, not failed; the records count the skipped cases and list the
    coverage features left untested because of them as excluded, with this message.
    """


class CandidateError(Exception):
    """A call into candidate code raised; carries the candidate's own traceback lines."""

    def __init__(self, where: str, exc: BaseException, tb: str):
        self.where, self.exc, self.tb = where, exc, tb
        super().__init__(f"{where} raised {type(exc).__name__}: {exc}")


class BadReturn(Exception):
    """A candidate returned something its convention does not allow (wrong type or arity)."""


@runtime_checkable
class Target(Protocol):
    """A loaded target as the run sees it: which op labels it has, which it lacks and why, and
    the limits its convention and its declarations put on cases. The adapters implement it in
    the process that loaded the target; ``gradcheck.run.worker.LoadedTarget`` implements it in
    the parent, from what a probe process reported.

    ``ops()`` maps each label (``"conv2d"``, ``"conv2d:fast"``) to its protocol op;
    ``missing(label)`` says what is absent (``None``: provided); ``constraints(label)`` are the
    limits of ``gradcheck.cases.strategies``.
    """

    target: str
    api: str

    def ops(self) -> dict[str, str]: ...

    def missing(self, label: str) -> str | None: ...

    def constraints(self, label: str) -> dict[str, Any]: ...


@runtime_checkable
class Implementation(Target, Protocol):
    """An implementation, seen through an adapter: a :class:`Target` that can be called.

    ``forward(label, inputs, params)`` returns the op's output; ``backward(label, delta,
    inputs, params)`` returns the gradients named by the op's protocol, in order (a single
    array for one gradient). Both receive fresh numpy arrays they may keep; what they return is
    passed on untouched, so a wrong type is reported as such. ``tolerance_dtype(label, dtype)``
    is the arithmetic the results are judged in (``"tf32"`` where the candidate asked for it).
    """

    def forward(self, label: str, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> Any: ...

    def backward(self, label: str, delta: np.ndarray, inputs: dict[str, np.ndarray], params: dict[str, Any]) -> Any: ...

    def tolerance_dtype(self, label: str, dtype: str) -> str: ...


class FunctionTable:
    """An adapter over a target object whose ops are pairs of named functions."""

    api = "?"

    def __init__(self, obj: Any, target: str):
        self.obj, self.target = obj, target

    def _fn(self, name: str | None):
        if name is None:
            return None
        fn = getattr(self.obj, name, None)
        return fn if callable(fn) else None

    def _missing(self, *names: str) -> str | None:
        """``"<a> and <b> not found in <target>"`` for the names the target lacks, or ``None``."""
        absent = [n for n in names if self._fn(n) is None]
        return f"{' and '.join(absent)} not found in {self.target}" if absent else None

    def constraints(self, label: str) -> dict[str, Any]:
        return {}

    def tolerance_dtype(self, label: str, dtype: str) -> str:
        return dtype


def candidate_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` without the harness's own frames."""
    frames = traceback.extract_tb(exc.__traceback__)
    kept = [f for f in frames if not os.path.abspath(f.filename).startswith(_HARNESS)] or frames[-1:]
    lines = traceback.format_list(kept) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines)


def call_candidate(where: str, fn, *args, **kwargs) -> Any:
    """Call candidate code; any exception becomes a :class:`CandidateError`."""
    try:
        return fn(*args, **kwargs)
    except (CandidateError, Unsupported):
        raise
    except NotImplementedError as exc:  # the usual way to say "not this geometry"
        raise Unsupported(f"{where} raised NotImplementedError" + (f": {exc}" if str(exc) else "")) from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - whatever the candidate raises is a result
        raise CandidateError(where, exc, candidate_traceback(exc)) from None
