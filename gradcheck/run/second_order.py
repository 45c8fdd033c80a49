"""Second-order checks (``gradcheck.judge.second_order``) of a run's ``torch.autograd.Function`` ops,
in a watched process, added to the run's records.

The process loads the target, says which op labels are Functions (their keys), then checks
each; every candidate call is announced and bounded by ``cfg.timeout`` as in the main workers
(``gradcheck.run.worker``): a call past its time, a crash or a silent process becomes ``error``
records of the op under way, and the run goes on. Objects that cannot be loaded by name (given
to ``gradcheck.check`` directly) are checked in the calling process.
"""
from __future__ import annotations

import json
import os
import shlex
import signal
import time
from typing import Any, Callable

from gradcheck.adapters.base import CandidateError, call_candidate, candidate_traceback
from gradcheck.config import RunConfig
from gradcheck.records import Record, RunResult
from gradcheck.judge.repro import taking_lines
from gradcheck.judge.second_order import check_function, second_order_keys

__all__ = ["second_order_plan", "run_second_order", "add_second_order", "repro_second_order"]

Key = tuple[str, str]
_GRACE_S = 10.0


class _Timeout(BaseException):
    """A candidate call ran past ``cfg.timeout`` (a BaseException: candidates cannot swallow it)."""


class _Caller:
    """Runs candidate calls in the watched process: announced to the parent, bounded in time."""

    def __init__(self, conn: Any, timeout: float):
        self.conn, self.timeout, self.current = conn, timeout, ""

    def __call__(self, where: str, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        self.current = where
        self.conn.send(("call", where))
        signal.setitimer(signal.ITIMER_REAL, self.timeout)
        try:
            return call_candidate(where, fn, *args, **kwargs)
        except (SystemExit, KeyboardInterrupt) as exc:
            raise CandidateError(where, exc, candidate_traceback(exc)) from None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self.conn.send(("ret",))


def _functions(impl: Any, labels: list[tuple[str, str]]) -> list[tuple[str, str, Any]]:
    get = getattr(impl, "autograd_function", None)
    if get is None:
        return []
    return [(label, op, fn) for label, op in labels if impl.missing(label) is None and (fn := get(label)) is not None]


def _lost(label: str, op: str, message: str) -> list[Record]:
    return [Record(label, q, o, "error", message=message) for q, o in second_order_keys(op)]


def _child(conn: Any, target: str, api: str, labels: list[tuple[str, str]], cfg: RunConfig, memory_limit: int,
           run: bool) -> None:
    code = 0
    try:
        from gradcheck.run.worker import _DEFERRED, _cap_memory

        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _DEFERRED)
        if cfg.device == "cpu":
            _cap_memory(memory_limit)
        import torch

        from gradcheck.adapters import LoadError, load

        torch.set_num_threads(1)
        try:
            impl = load(target, api, device=cfg.device, allow_tf32=cfg.allow_tf32)
        except LoadError as exc:
            conn.send(("crash", str(exc)))
            return
        todo = _functions(impl, labels)
        conn.send(("plan", {label: second_order_keys(op) for label, op, _ in todo}))
        if not run:
            return
        caller = _Caller(conn, cfg.timeout)

        def on_alarm(signum, frame):
            raise _Timeout(caller.current or "a candidate call")

        signal.signal(signal.SIGALRM, on_alarm)
        for label, op, fn in todo:
            try:
                records = check_function(fn, label, op, cfg, limits=impl.constraints(label), device=cfg.device, call=caller)
            except _Timeout as exc:
                records = _lost(label, op, f"{label}: timed out after {cfg.timeout:g} s in {exc}; the second-order "
                                "checks were stopped")
            conn.send(("done", label, records))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which records it
        code = 1
        try:
            conn.send(("crash", f"{type(exc).__name__}: {exc}"))
        except BaseException:  # noqa: BLE001 - the pipe is gone
            pass
    finally:
        try:
            conn.send(("end",))
            conn.close()
        except BaseException:  # noqa: BLE001
            pass
        os._exit(code)


def _watch(target: str, api: str, labels: list[tuple[str, str]], cfg: RunConfig, run: bool,
           on_done: Callable[[str, list[Record]], None] | None = None) -> tuple[dict[str, list[Key]], dict[str, list[Record]]]:
    """Run :func:`_child` and watch it: ``(plan, records by label)``."""
    from gradcheck.run.worker import _context, _died, _interrupts_deferred, _stop, memory_limit_bytes

    ctx = _context()
    ops = dict(labels)
    with _interrupts_deferred():
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(child, target, api, labels, cfg, memory_limit_bytes(1), run), daemon=True)
        proc.start()
        child.close()
    plan: dict[str, list[Key]] = {}
    done: dict[str, list[Record]] = {}
    what, since, last, current = "start-up", None, time.monotonic(), None
    problem = None
    try:
        while problem is None:
            if parent.poll(1.0):
                try:
                    msg = parent.recv()
                except (EOFError, OSError):
                    proc.join(5)
                    problem = f"{_died(proc)} during {what}"
                    break
                last = time.monotonic()
                if msg[0] == "call":
                    what, since = msg[1], last
                elif msg[0] == "ret":
                    since = None
                elif msg[0] == "plan":
                    plan = msg[1]
                    current = next(iter(plan), None)
                elif msg[0] == "done":
                    done[msg[1]] = msg[2]
                    if on_done:
                        on_done(msg[1], msg[2])
                    current = next((lab for lab in plan if lab not in done), None)
                elif msg[0] == "crash":
                    problem = f"the second-order checks failed: {msg[1]}"
                elif msg[0] == "end":
                    break
                continue
            now = time.monotonic()
            if since is not None and now - since > cfg.timeout + min(_GRACE_S, max(2.0, cfg.timeout / 2)):
                problem = f"timed out after {cfg.timeout:g} s in {what} (the process was stopped)"
            elif since is None and now - last > cfg.timeout + _GRACE_S:
                problem = f"no progress for {now - last:.0f} s after {what} (the process was stopped)"
            if problem:
                proc.kill()
    except BaseException:
        proc.kill()
        raise
    finally:
        parent.close()
        _stop(proc, 2.0)
    if problem and run:
        for label in plan:
            if label not in done:
                done[label] = _lost(label, ops[label], f"{label}: {problem}; the op's second-order checks were not run"
                                    if label != current else f"{label}: {problem}")
                if on_done:
                    on_done(label, done[label])
    return plan, done


def second_order_plan(target: str, api: str, labels: list[tuple[str, str]], cfg: RunConfig,
                      impl: Any = None) -> dict[str, list[Key]]:
    """``{label: second-order keys}`` of the labels that are ``torch.autograd.Function`` ops
    (empty for other APIs). ``impl`` (an adapter in this process) is asked directly."""
    if api != "torch":
        return {}
    if impl is not None and hasattr(impl, "autograd_function"):
        return {label: second_order_keys(op) for label, op, _ in _functions(impl, labels)}
    return _watch(target, api, labels, cfg, run=False)[0]


def run_second_order(target: str, api: str, labels: list[tuple[str, str]], cfg: RunConfig, impl: Any = None,
                     on_done: Callable[[str, list[Record]], None] | None = None) -> dict[str, list[Record]]:
    """The second-order records of each Function label: in this process when ``impl`` (an
    adapter here) is given or ``cfg.isolate`` is off, else in a watched process."""
    if api != "torch":
        return {}
    if impl is None and not cfg.isolate:
        from gradcheck.adapters import load

        impl = load(target, api, device=cfg.device, allow_tf32=cfg.allow_tf32)
    if impl is not None and hasattr(impl, "autograd_function"):
        out = {}
        for label, op, fn in _functions(impl, labels):
            out[label] = check_function(fn, label, op, cfg, limits=impl.constraints(label), device=cfg.device)
            if on_done:
                on_done(label, out[label])
        return out
    return _watch(target, api, labels, cfg, run=True, on_done=on_done)[1]


def repro_second_order(rec: Record, target: str, api: str, cfg: RunConfig, op: str) -> None:
    """A command and a ``torch.autograd.gradgradcheck`` / ``gradcheck(check_forward_ad=True)``
    snippet on the smallest case, for a failing second-order record."""
    if rec.status not in ("fail", "error"):
        return
    named = not target.startswith(("<", "mapping("))  # an object given to gradcheck.check has no name to load
    cmd = ["gradcheck", "check", target, "--api", api, "--ops", rec.op, "--profile", cfg.profile]
    if cfg.seed is not None:
        cmd += ["--seed", str(cfg.seed)]
    rec.repro = {"command": shlex.join(cmd)} if named else {}
    ce = rec.counterexample
    if ce is None or ce.inputs is None:
        rec.repro = rec.repro or None
        return
    from gradcheck.ops import SPECS

    spec = SPECS[op]
    names = [k for k in spec.inputs]
    params = spec.protocol.call_kwargs(ce.params)
    hyper = "taking(Fn.forward, params)" if spec.protocol.optional else "params"  # as the harness calls it
    check = ("torch.autograd.gradgradcheck(f, inputs)" if rec.quantity.endswith("-double") else
             "torch.autograd.gradcheck(f, inputs, check_forward_ad=True)")
    fn = (f"Fn = load({target!r}, 'torch').autograd_function({rec.op!r})" if named else
          "Fn = ...  # the torch.autograd.Function that was checked")
    lines = ["import torch", "from gradcheck.adapters import load", fn,
             *[f"{k} = torch.tensor({json.dumps(ce.inputs[k])}, dtype=torch.float64, "
               f"requires_grad={k in spec.grad_inputs})" for k in names],
             f"params = dict({', '.join(f'{k}={v!r}' for k, v in params.items())})",
             *taking_lines(spec.protocol),
             f"inputs = ({', '.join(names)},)",
             f"f = lambda {', '.join(names)}: Fn.apply({', '.join(names)}, *{hyper}.values())",
             f"print({check})  # raises where the check fails"]
    rec.repro["python"] = "\n".join(lines)


def add_second_order(run: RunResult, target: str, api: str, cfg: RunConfig, impl: Any = None,
                     progress: Callable[[str], None] | None = None) -> None:
    """Check the run's Function ops to second order and put the records after each op's own."""
    if api != "torch":
        return
    labels, seen = [], set()
    for r in run.records:
        if r.op not in seen:
            seen.add(r.op)
            if r.status != "not-provided":
                labels.append((r.op, r.op.split(":")[0]))
    if not labels:
        return

    def on_done(label: str, records: list[Record]) -> None:
        if progress:
            bad = sum(r.status in ("fail", "error") for r in records)
            progress(f"{label}: second order, {len(records) - bad} of {len(records)} without a finding")

    extra = run_second_order(target, api, labels, cfg, impl=impl, on_done=on_done)
    ops = dict(labels)
    for label, records in extra.items():
        for r in records:
            repro_second_order(r, target, api, cfg, ops[label])
    ordered: list[Record] = []
    for label in dict.fromkeys(r.op for r in run.records):
        ordered += [r for r in run.records if r.op == label] + extra.get(label, [])
    run.records = ordered
