"""Candidate code runs in worker processes the harness watches.

Each op is checked in a fresh worker (started from a fork server that has numpy, torch and the
harness already imported, so a start costs milliseconds). The worker announces every candidate
call to the parent and arms a timer around it:

- a call that raises is an ``error`` record (``gradcheck.judge.battery``), and the run goes on;
- a call that runs past ``timeout`` seconds is interrupted by ``SIGALRM`` in the worker; one
  stuck in native code, where the signal cannot land, is killed by the parent a little later
  (2 to 10 s, depending on ``timeout``); either way the op's unfinished checks become
  ``error`` records ("timed out after N s"); a worker silent for ``timeout`` + 10 s between
  calls is stopped too;
- a call that kills its process (segmentation fault, ``os._exit``, the kernel's OOM killer) ends
  only that worker: the op's unfinished checks become ``error`` records naming the call, and the
  next op gets a fresh worker;
- a worker's address space is capped (``resource.RLIMIT_AS``; ``$GRADCHECK_MEMORY_LIMIT``, e.g.
  ``2G``, sets the cap), so a runaway allocation raises ``MemoryError`` in the candidate instead
  of taking the machine down;
- a candidate that calls ``sys.exit`` or raises ``KeyboardInterrupt`` gets an ``error`` record
  like any other exception; an unexpected failure of the harness inside a worker is an
  ``error`` record with the harness's traceback, never a lost op;
- SIGINT and SIGTERM are held back while a worker starts, so an interrupt never leaves a
  worker unwatched; the parent then stops every worker and re-raises ``KeyboardInterrupt``;
- the target itself is first imported in a process of its own (:func:`load_isolated`), so
  import-time code that exits, crashes or hangs is a ``LoadError``, not the end of the run.

Long because watching a process (start-up, heartbeats, timeouts, signals, memory limits, a death
mid-call) is one protocol between parent and child.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import re
import signal
import sys
import time
import traceback
from contextlib import contextmanager
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterator

from gradcheck.adapters.base import CandidateError, candidate_traceback
from gradcheck.config import RunConfig
from gradcheck.records import Record

__all__ = ["run_ops_isolated", "load_isolated", "LoadedTarget", "memory_limit_bytes", "MEMORY_LIMIT_ENV"]

#: Seconds a worker may go without a word, on top of ``timeout``, before it is stopped.
_GRACE_S = 10.0
#: Environment variable that sets the address space of one worker (``2G``, ``512M``, bytes).
MEMORY_LIMIT_ENV = "GRADCHECK_MEMORY_LIMIT"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def _call_grace(timeout: float) -> float:
    """Seconds past ``timeout`` a candidate call gets for ``SIGALRM`` to land before the kill."""
    return min(_GRACE_S, max(2.0, timeout / 2))


def memory_limit_bytes(jobs: int = 1) -> int:
    """The address space one CPU worker may take, in bytes.

    ``$GRADCHECK_MEMORY_LIMIT`` when set (a number of bytes, or with a ``K``/``M``/``G``/``T``
    suffix, powers of 1024); otherwise three quarters of physical memory shared among the
    ``jobs`` workers that run at once (but at least 2 GiB each where there is that much).
    Raises ``ValueError`` for a malformed ``$GRADCHECK_MEMORY_LIMIT``.
    """
    text = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if text:
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?", text.upper())
        if not m or float(m.group(1)) <= 0:
            raise ValueError(f"{MEMORY_LIMIT_ENV} must be a size such as 2G, 512M or 2147483648, got {text!r}")
        return int(float(m.group(1)) * _UNITS[m.group(2)])
    try:
        usable = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 0.75)
    except (ValueError, OSError):
        usable = 16 << 30
    return max(usable // max(1, jobs), min(usable, 2 << 30))


class _Watched:
    """Wraps an adapter: announces each candidate call and bounds its time."""

    def __init__(self, impl: Any, conn: Connection, timeout: float):
        self._impl, self._conn, self._timeout = impl, conn, timeout
        self.current = ""  # the call under way, for the timeout's message

    def __getattr__(self, name: str) -> Any:
        return getattr(self._impl, name)

    def _guard(self, what: str, fn: Callable, *args: Any) -> Any:
        self.current = what
        self._conn.send(("call", what))
        signal.setitimer(signal.ITIMER_REAL, self._timeout)
        try:
            return fn(*args)
        except (SystemExit, KeyboardInterrupt) as exc:  # sys.exit() in a candidate is its error, not the worker's end
            raise CandidateError(what, exc, candidate_traceback(exc)) from None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self._conn.send(("ret",))

    def forward(self, label, inputs, params):
        return self._guard(f"{label} forward", self._impl.forward, label, inputs, params)

    def backward(self, label, delta, inputs, params):
        return self._guard(f"{label} backward", self._impl.backward, label, delta, inputs, params)


def _worker_main(conn: Connection, target: str, api: str, label: str, op: str, cfg: RunConfig, threads: int,
                 memory_limit: int | None = None) -> None:
    """Check one op and send ``("done", records, coverage)``; never returns normally.

    Any failure of the harness itself is sent as ``("crash", message, traceback)``. The
    process ends with ``os._exit`` so threads a candidate left running cannot keep it alive.
    """
    code = 0
    try:
        records, coverage = _check_in_worker(conn, target, api, label, op, cfg, threads, memory_limit)
        conn.send(("done", records, coverage))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which records it
        code = 1
        try:
            conn.send(("crash", f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        except BaseException:  # noqa: BLE001 - the parent is gone or the pipe was closed by the candidate
            pass
    finally:
        try:
            conn.close()
        except BaseException:  # noqa: BLE001
            pass
        os._exit(code)


def _cap_memory(limit: int | None) -> None:
    """Cap this process's address space at ``limit`` bytes (where the platform allows)."""
    if not limit:
        return
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def _check_in_worker(conn: Connection, target: str, api: str, label: str, op: str, cfg: RunConfig, threads: int,
                     memory_limit: int | None) -> tuple[list[Record], list]:
    from gradcheck.adapters import load
    from gradcheck.judge.search import CandidateTimeout, check_op

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _DEFERRED)  # blocked while the worker was being started
    if cfg.device == "cpu":
        _cap_memory(memory_limit)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
    watched = _Watched(load(target, api, device=cfg.device, allow_tf32=cfg.allow_tf32), conn, cfg.timeout)

    def on_alarm(signum, frame):
        raise CandidateTimeout(watched.current or "a candidate call")

    signal.signal(signal.SIGALRM, on_alarm)
    coverage: list = []
    records = check_op(watched, label, op, cfg, coverage)
    return records, coverage


_DEFERRED = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back while a worker is being started; they land when it is registered.

    An interrupt in the middle of a start would leave a worker nobody watches, or a fork server
    or worker printing a traceback about a half-sent request. The mask is inherited, so the
    fork server (started by the first start) ignores the terminal's Ctrl-C, and a new worker
    is not interrupted before it has set its own handlers.
    """
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, _DEFERRED)
    except (AttributeError, OSError, ValueError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _quiet_forkserver() -> None:
    """Start the fork server with its standard error on /dev/null (idempotent).

    Its workers inherit it: what candidate code prints to stderr, and the tracebacks the fork
    server prints when the parent is stopped in the middle of a start, stay out of the
    terminal; everything the harness needs travels through the workers' pipes.
    """
    from multiprocessing import forkserver

    try:
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except OSError:
        forkserver.ensure_running()
        return
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        forkserver.ensure_running()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _context() -> mp.context.BaseContext:
    methods = mp.get_all_start_methods()
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["numpy", "torch", "hypothesis", "scipy.signal", "gradcheck.judge.search"])
        _quiet_forkserver()
        return ctx
    return mp.get_context("spawn")


def _died(proc: mp.process.BaseProcess) -> str:
    code = proc.exitcode
    if code is None:
        return "the worker process stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the worker process was killed by {name}"
    return f"the worker process exited with status {code}"


def _lost(label: str, op: str, message: str, tb: str | None = None) -> list[Record]:
    from gradcheck.judge.battery import check_keys
    from gradcheck.ops import SPECS

    return [Record(label, q, o, "error", message=message, traceback=tb) for q, o in check_keys(SPECS[op])]


def _stop(proc: mp.process.BaseProcess, wait_s: float = 5.0) -> None:
    """Join ``proc``; kill it if it does not end within ``wait_s`` seconds."""
    proc.join(wait_s)
    if proc.is_alive():
        proc.kill()
        proc.join(wait_s)


def _job_over(job: dict[str, Any], msg: tuple | None) -> list[Record] | None:
    """Records of a finished job from its last message (``None``: the pipe closed), or
    ``None`` when ``msg`` is an ordinary progress message."""
    label, op = job["label"], job["op"]
    if msg is None:
        _stop(job["proc"])
        return _lost(label, op, f"{_died(job['proc'])} during {job['what']}; the op's remaining checks were not run")
    if msg[0] == "call":
        job["what"], job["call_since"] = msg[1], time.monotonic()
    elif msg[0] == "ret":
        job["call_since"] = None
    elif msg[0] == "done":
        _stop(job["proc"])
        job["coverage"] = msg[2]
        return msg[1]
    elif msg[0] == "crash":
        _stop(job["proc"])
        return _lost(label, op, f"the harness failed while checking {label} (after {job['what']}): {msg[1]}; "
                     "the op's remaining checks were not run", tb=msg[2])
    return None


def _overdue(job: dict[str, Any], cfg: RunConfig, now: float) -> list[Record] | None:
    """Kill a worker stuck past its deadline and return its records, else ``None``."""
    since = job["call_since"]
    if since is not None and now - since > cfg.timeout + _call_grace(cfg.timeout):
        why = (f"timed out after {cfg.timeout:g} s in {job['what']} "
               "(stuck where it could not be interrupted; the worker was stopped)")
    elif since is None and now - job["last"] > cfg.timeout + _GRACE_S:
        after = "start-up" if job["what"] == "start-up" else f"{job['what']} returned"
        why = (f"no progress for {now - job['last']:.0f} s after {after}: stuck between candidate calls, e.g. in a "
               f"method of an object the candidate returned (the limit is --timeout {cfg.timeout:g} s + "
               f"{_GRACE_S:g} s; the worker was stopped)")
    else:
        return None
    job["proc"].kill()
    job["proc"].join(5)
    return _lost(job["label"], job["op"], why)


def run_ops_isolated(
    target: str,
    api: str,
    labels: list[tuple[str, str]],
    cfg: RunConfig,
    on_done: Callable[[str, list[Record], list], None],
) -> None:
    """Check each ``(label, op)`` in its own worker, ``cfg.jobs`` at a time.

    ``on_done(label, records, coverage)`` is called as each op finishes (in completion order),
    so nothing is lost when the run is interrupted. Raises ``KeyboardInterrupt`` through after
    stopping the workers. Raises ``ValueError`` for a malformed ``$GRADCHECK_MEMORY_LIMIT``
    before any worker starts.
    """
    memory_limit = memory_limit_bytes(cfg.jobs)
    ctx = _context()
    threads = max(1, (os.cpu_count() or 1) // max(1, cfg.jobs))
    queue = list(labels)
    running: dict[Connection, dict[str, Any]] = {}
    try:
        while queue or running:
            while queue and len(running) < max(1, cfg.jobs):
                label, op = queue.pop(0)
                with _interrupts_deferred():
                    parent, child = ctx.Pipe(duplex=False)
                    proc = ctx.Process(target=_worker_main, args=(child, target, api, label, op, cfg, threads,
                                                                  memory_limit), daemon=True)
                    proc.start()
                    child.close()
                    running[parent] = {"proc": proc, "label": label, "op": op, "last": time.monotonic(),
                                       "what": "start-up", "call_since": None, "coverage": []}
            ready = wait(list(running), timeout=1.0)
            for conn in list(running):
                job = running[conn]
                records = None
                if conn in ready:
                    try:
                        while records is None and conn.poll():
                            records = _job_over(job, conn.recv())
                            job["last"] = time.monotonic()
                    except (EOFError, OSError):
                        records = _job_over(job, None)
                else:
                    records = _overdue(job, cfg, time.monotonic())
                if records is not None:
                    del running[conn]
                    conn.close()
                    on_done(job["label"], records, job["coverage"])
    except BaseException:
        for job in running.values():
            job["proc"].kill()
        for job in running.values():
            job["proc"].join(5)
        for conn in running:
            conn.close()
        raise


#: Seconds the target's import may take, at least (``--timeout`` when that is longer).
IMPORT_TIMEOUT_S = 60.0


class LoadedTarget:
    """What the parent needs to know of a target loaded in another process: its op labels,
    which are missing and why, and the limits its convention puts on cases."""

    def __init__(self, target: str, api: str, ops: dict[str, str], missing: dict[str, str | None],
                 constraints: dict[str, dict[str, Any]]):
        self.target, self.api = target, api
        self._ops, self._missing, self._constraints = ops, missing, constraints

    def ops(self) -> dict[str, str]:
        return dict(self._ops)

    def missing(self, label: str) -> str | None:
        return self._missing[label]

    def constraints(self, label: str) -> dict[str, Any]:
        return dict(self._constraints[label])


def _probe_main(conn: Connection, target: str, api: str, device: str, allow_tf32: bool, memory_limit: int | None) -> None:
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _DEFERRED)
        if device == "cpu":
            _cap_memory(memory_limit)
        from gradcheck.adapters import LoadError, load

        try:
            impl = load(target, api, device=device, allow_tf32=allow_tf32)
        except LoadError as exc:
            conn.send(("loaderror", str(exc)))
        else:
            ops = impl.ops()
            conn.send(("loaded", ops, {k: impl.missing(k) for k in ops}, {k: dict(impl.constraints(k)) for k in ops}))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        code = 1
        try:
            conn.send(("crash", f"{type(exc).__name__}: {exc}"))
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


def _probe_context() -> mp.context.BaseContext:
    """A plain fork while torch is not loaded here (cheap: the command line has not loaded it
    yet), else the fork server (forking a process whose thread pools are running is unsafe)."""
    import sys

    if "torch" not in sys.modules and "fork" in mp.get_all_start_methods():
        return mp.get_context("fork")
    return _context()


def load_isolated(target: str, api: str, cfg: RunConfig) -> LoadedTarget:
    """Load ``target`` through the ``api`` adapter in a process of its own and describe it.

    Raises :class:`~gradcheck.adapters.LoadError` as :func:`gradcheck.adapters.load` does, and
    also when importing the target ends its process (``os._exit``, a crash) or does not finish
    within ``max(cfg.timeout, IMPORT_TIMEOUT_S)`` seconds. Raises ``KeyboardInterrupt`` through
    after stopping the process.
    """
    from gradcheck.adapters import LoadError

    memory_limit = memory_limit_bytes(cfg.jobs)
    ctx = _probe_context()
    deadline = max(cfg.timeout, IMPORT_TIMEOUT_S)
    with _interrupts_deferred():
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_probe_main, args=(child, target, api, cfg.device, cfg.allow_tf32, memory_limit),
                           daemon=True)
        proc.start()
        child.close()
    try:
        started = time.monotonic()
        while not parent.poll(0.2):
            if time.monotonic() - started > deadline:
                raise LoadError(f"importing {target} did not finish within {deadline:g} s")
        try:
            msg = parent.recv()
        except (EOFError, OSError):
            proc.join(5)
            how = _died(proc).replace("the worker process", "the process")
            raise LoadError(f"importing {target} ended its process ({how})") from None
    finally:
        parent.close()
        _stop(proc, 2.0)
    if msg[0] == "loaded":
        return LoadedTarget(target, api, msg[1], msg[2], msg[3])
    if msg[0] == "loaderror":
        raise LoadError(msg[1])
    raise LoadError(f"loading {target} failed: {msg[1]}")
