"""Records: the one data structure every check produces and every report renders.

A :class:`Record` is the outcome of one check of one ``op`` × ``quantity`` × ``oracle``
(``conv2d`` × ``dw`` × ``torch``). A :class:`RunResult` is a whole run: the target, the
records, coverage, timing and versions. Terminal summary, JSON and HTML are all rendered
from these objects, never from separate logic.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "STATUSES",
    "FORMAT",
    "FORMAT_VERSION",
    "Counterexample",
    "Worst",
    "Record",
    "RunResult",
    "to_jsonable",
    "write_json_atomic",
    "write_text_atomic",
]

#: Every status a record can carry, in order of severity for display. ``partial``: passed on
#: every case it was judged on, but those cases missed features the candidate accepts
#: (``Record.untested``), so it is not a pass.
STATUSES = ("fail", "error", "partial", "pass", "not-provided")

#: The name and version of the JSON format of a run (:meth:`RunResult.to_dict`); the version
#: goes up when a field changes meaning or goes away (added fields keep it).
FORMAT, FORMAT_VERSION = "gradcheck-run", 1


@dataclass
class Counterexample:
    """The (smallest) input on which a check failed.

    ``shapes`` maps argument name to shape (``{"x": [1, 1, 3, 3], "w": [1, 1, 2, 2]}``),
    ``params`` the op's hyper-parameters (``{"stride": [1, 1], "padding": [0, 0]}``),
    ``kind`` is ``"smooth"`` (clear of kinks and ties) or ``"kink"`` (exactly on them).
    ``inputs`` optionally holds the arrays themselves as nested lists when they are small.
    """

    shapes: dict[str, list[int]]
    params: dict[str, Any]
    dtype: str = "float64"
    seed: int | None = None
    kind: str = "smooth"
    inputs: dict[str, Any] | None = None


@dataclass
class Worst:
    """The worst element of a failing comparison: its index and both values."""

    index: list[int]
    actual: float
    expected: float
    abs_err: float
    tolerance: float


@dataclass
class Record:
    """One check: ``op`` × ``quantity`` × ``oracle`` and its verdict.

    - ``quantity``: ``"forward"``, ``"dx"``, ``"dw"``, ``"db"``, ``"dy"`` or a structural
      property (``"shape"``, ``"determinism"``, ``"linearity"``, ``"inputs-unmodified"``, ...).
    - ``oracle``: ``"fd"``, ``"torch"``, ``"scipy"``, ``"subgradient"`` or ``"structure"``.
    - ``status``: one of :data:`STATUSES`.
    - ``max_abs_err`` / ``max_rel_err``: over all examples run (``None`` when not numeric).
    - ``tolerance``: the relative tolerance applied (per element it also scales with the
      magnitude of the terms summed; see ``gradcheck.tolerances``).
    - ``arrays``: for failures on small inputs, ``{"expected", "actual", "error"}`` nested
      lists (``error`` is ``|actual - expected| / tolerance`` per element, so > 1 is wrong).
    - ``convergence``: for gradient failures, ``[{"h": step, "err": fd error}, ...]``.
    - ``repro``: ``{"command": shell command, "python": snippet}``.
    - ``examples``: how many cases the check was judged on (``max_abs_err`` and friends are
      taken over all of them; ``worst`` and ``arrays`` over the counterexample alone).
    - ``covered``: the coverage features (``gradcheck.cases.coverage``) those cases reached.
    - ``untested``: features the candidate accepts that no judged case reached (a pass with
      any is reported as ``partial``).
    - ``excluded``: ``{feature: reason}`` for features left out on purpose (the candidate's
      convention or declared constraints, or cases it raised ``gradcheck.Unsupported`` on).
    - ``skipped``: cases the candidate declined with ``gradcheck.Unsupported``.
    - ``also``: where the same check errored on some cases and failed on others, the other
      finding (``{"status", "message", "counterexample", "worst", "arrays", "traceback"}``)
      with its own smallest case; the record's own fields hold the failure.
    - ``vacuous``: judged cases on which an all-zero result would have passed too (nothing to
      catch there); a pass on nothing but such cases is ``partial``.
    - ``drawn``: for a failure, the largest failing case drawn, before shrinking
      (``{"counterexample", "worst", "arrays", "message"}``): the error's pattern on a larger input.
    """

    op: str
    quantity: str
    oracle: str
    status: str
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    tolerance: float | None = None
    examples: int = 0
    message: str = ""
    counterexample: Counterexample | None = None
    worst: Worst | None = None
    arrays: dict[str, Any] | None = None
    convergence: list[dict[str, float]] | None = None
    repro: dict[str, str] | None = None
    traceback: str | None = None
    duration_s: float = 0.0
    covered: list[str] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)
    skipped: int = 0
    also: dict[str, Any] | None = None
    drawn: dict[str, Any] | None = None
    vacuous: int = 0

    @property
    def key(self) -> str:
        return f"{self.op}-{self.quantity}-{self.oracle}"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Record":
        d = dict(d)
        d.pop("key", None)
        if d.get("counterexample") is not None:
            d["counterexample"] = Counterexample(**d["counterexample"])
        if d.get("worst") is not None:
            d["worst"] = Worst(**d["worst"])
        for extra in ("also", "drawn"):
            sub = d.get(extra)
            if sub is not None:
                sub = dict(sub)
                if sub.get("counterexample") is not None and not isinstance(sub["counterexample"], Counterexample):
                    sub["counterexample"] = Counterexample(**sub["counterexample"])
                if sub.get("worst") is not None and not isinstance(sub["worst"], Worst):
                    sub["worst"] = Worst(**sub["worst"])
                d[extra] = sub
        return cls(**d)


@dataclass
class RunResult:
    """A whole run over one implementation."""

    target: str
    api: str
    records: list[Record] = field(default_factory=list)
    complete: bool = True
    started: str = ""
    duration_s: float = 0.0
    seed: int | None = None
    profile: str = "ci"
    device: str = "cpu"
    versions: dict[str, str] = field(default_factory=dict)
    coverage: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    ledger: list[dict[str, Any]] | None = None

    @property
    def passed(self) -> bool:
        """True when every record passed (``not-provided`` is not a failure; ``partial`` is not a pass)."""
        return self.complete and all(r.status in ("pass", "not-provided") for r in self.records)

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUSES}
        for r in self.records:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """The run as JSON (``gradcheck/schema/run.schema.json``), led by ``format`` and
        ``format_version`` (:data:`FORMAT_VERSION`)."""
        d = {"format": FORMAT, "format_version": FORMAT_VERSION, **to_jsonable(self)}
        d["passed"] = self.passed
        d["counts"] = self.counts()
        d["checks"] = d.pop("records")
        for c, r in zip(d["checks"], self.records):
            c["key"] = r.key
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunResult":
        d = dict(d)
        checks = d.pop("checks", d.pop("records", []))
        for extra in ("passed", "counts", "format", "format_version"):
            d.pop(extra, None)
        known = {f.name for f in dataclasses.fields(cls)}
        run = cls(**{k: v for k, v in d.items() if k in known})
        run.records = [Record.from_dict(c) for c in checks]
        return run


def to_jsonable(obj: Any) -> Any:
    """Dataclasses, numpy scalars/arrays and non-finite floats to plain JSON values.

    NaN and infinities become the strings ``"nan"``, ``"inf"``, ``"-inf"`` so the output
    is strict JSON.
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy arrays and scalars
        return to_jsonable(obj.tolist())
    if isinstance(obj, float):
        if math.isnan(obj):
            return "nan"
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    return repr(obj)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    An interrupted write never leaves half a file: readers see the old file or the new one.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """Serialise ``data`` (dataclasses welcome) as strict JSON, atomically."""
    write_text_atomic(path, json.dumps(to_jsonable(data), indent=2, allow_nan=False) + "\n")
