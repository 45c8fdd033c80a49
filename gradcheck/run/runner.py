"""A whole run: load the target, check each op (isolated), gather records into a RunResult."""
from __future__ import annotations

import datetime as _dt
import json
import platform
import signal
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from gradcheck.adapters import LoadError, load
from gradcheck.config import RunConfig
from gradcheck.records import Record, RunResult

__all__ = ["run_check", "load_checked", "check_ops", "versions", "select_ops", "add_repro", "merge_coverage", "sigterm_as_interrupt"]


def versions() -> dict[str, str]:
    """Versions of the harness and of what it stands on."""
    out = {"python": platform.python_version()}
    for name in ("gradcheck", "numpy", "scipy", "torch", "hypothesis"):
        try:
            mod = __import__(name)
            out[name] = str(getattr(mod, "__version__", "?"))
        except ImportError:
            out[name] = "missing"
    out["harness"] = out.pop("gradcheck")
    return out


def select_ops(available: dict[str, str], wanted: list[str] | None) -> list[tuple[str, str]]:
    """``[(label, op)]`` to run, each once (``--ops relu,relu`` is relu); unknown names raise
    ``LoadError`` listing the known ones."""
    if not wanted:
        return list(available.items())
    wanted = list(dict.fromkeys(wanted))
    unknown = [w for w in wanted if w not in available]
    if unknown:
        raise LoadError(f"unknown op{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                        f"choose from {', '.join(available)}")
    return [(w, available[w]) for w in wanted]


def add_repro(rec: Record, target: str, api: str, cfg: RunConfig) -> None:
    """Attach a command and a Python snippet that reproduce a failing record (``gradcheck.judge.repro``)."""
    from gradcheck.judge.repro import add_repro as attach

    attach(rec, target, api, cfg)


def merge_coverage(cov: dict[str, dict[str, list[Any]]], label: str, seen: list[dict[str, Any]]) -> None:
    """Fold the dimensions of the cases seen for ``label`` into ``cov`` (distinct values, sorted)."""
    dims = cov.setdefault(label, {})
    for item in seen:
        for k, v in item.items():
            vals = dims.setdefault(k, [])
            if v not in vals:
                vals.append(v)
    for k in dims:
        dims[k].sort(key=lambda v: json.dumps(v))


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` as SIGINT does (main thread only)."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def load_checked(target: str, api: str, cfg: RunConfig) -> Any:
    """The target through its adapter; with ``cfg.isolate`` loaded in a process of its own
    first, so import-time code that exits, crashes or hangs is a ``LoadError`` too."""
    if cfg.isolate:
        from gradcheck.run.worker import load_isolated

        return load_isolated(target, api, cfg)
    return load(target, api, device=cfg.device, allow_tf32=cfg.allow_tf32)


def check_ops(impl: Any, target: str, api: str, labels: list[tuple[str, str]], cfg: RunConfig,
              on_done: Callable[[str, list[Record], list], None]) -> None:
    """Check each ``(label, op)`` and hand its records (reproductions attached) and coverage to
    ``on_done``: ops the target lacks at once, without a candidate call; the others in watched
    workers with ``cfg.isolate``, else in this process."""
    from gradcheck.judge.search import check_op

    def done(label: str, records: list[Record], coverage: list) -> None:
        for r in records:
            add_repro(r, target, api, cfg)
        on_done(label, records, coverage)

    provided = []
    for label, op in labels:
        if impl.missing(label) is not None:
            done(label, check_op(impl, label, op, cfg), [])
        else:
            provided.append((label, op))
    if cfg.isolate:
        from gradcheck.run.worker import run_ops_isolated

        run_ops_isolated(target, api, provided, cfg, done)
    else:
        for label, op in provided:
            cov: list = []
            done(label, check_op(impl, label, op, cfg, cov), cov)


def run_check(target: str, api: str, cfg: RunConfig, *, progress: Callable[[str], None] | None = None,
              result: RunResult | None = None) -> RunResult:
    """Check ``target`` through the ``api`` adapter; never raises for what the candidate does.

    Raises :class:`LoadError` when the target cannot be loaded (see :func:`load_checked`) or
    ``cfg.ops`` names unknown ops. On ``KeyboardInterrupt`` / ``SIGTERM`` the partial result
    (``complete=False``) is in ``result`` (pass one in to keep it) and the interrupt is re-raised.
    """
    impl = load_checked(target, api, cfg)
    labels = select_ops(impl.ops(), cfg.ops)
    run = result if result is not None else RunResult(target=target, api=api)
    run.started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    run.seed, run.profile, run.device, run.versions = cfg.seed, cfg.profile, cfg.device, versions()
    run.complete = False
    t0 = time.perf_counter()
    done: dict[str, list[Record]] = {}

    def on_done(label: str, records: list[Record], coverage: list) -> None:
        done[label] = records
        run.records = [r for lab, _ in labels if lab in done for r in done[lab]]
        merge_coverage(run.coverage, label, coverage)
        run.duration_s = time.perf_counter() - t0
        if progress:
            counts = {s: sum(r.status == s for r in records) for s in ("pass", "fail", "error", "not-provided")}
            text = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
            progress(f"[{len(done)}/{len(labels)}] {label}: {text}")

    with sigterm_as_interrupt():
        check_ops(impl, target, api, labels, cfg, on_done)
    run.complete = True
    run.duration_s = time.perf_counter() - t0
    return run
