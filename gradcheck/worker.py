"""Candidate code runs in worker processes the harness watches.

Each op is checked in a fresh worker (started from a fork server that has numpy, torch and the
harness already imported, so a start costs milliseconds). The worker announces every candidate
call to the parent and arms a timer around it:

- a call that raises is an ``error`` record (``gradcheck.battery``), and the run goes on;
- a call that runs past ``timeout`` seconds is interrupted by ``SIGALRM`` in the worker; one
  stuck in native code, where the signal cannot land, is killed by the parent a little later;
  either way the op's unfinished checks become ``error`` records ("timed out after N s");
- a call that kills its process (segmentation fault, ``os._exit``, the kernel's OOM killer) ends
  only that worker: the op's unfinished checks become ``error`` records naming the call, and the
  next op gets a fresh worker;
- a worker's address space is capped (``resource.RLIMIT_AS``), so a runaway allocation raises
  ``MemoryError`` in the candidate instead of taking the machine down.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from multiprocessing.connection import Connection, wait
from typing import Any, Callable

from .battery import check_keys
from .config import RunConfig
from .ops import SPECS
from .records import Record

__all__ = ["run_ops_isolated", "memory_limit_bytes"]

_GRACE_S = 10.0


def memory_limit_bytes() -> int:
    """Three quarters of physical memory: the address space one CPU worker may take."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 0.75)
    except (ValueError, OSError):
        return 16 << 30


class _Watched:
    """Wraps an adapter: announces each candidate call and bounds its time."""

    def __init__(self, impl: Any, conn: Connection, timeout: float):
        self._impl, self._conn, self._timeout = impl, conn, timeout

    def __getattr__(self, name: str) -> Any:
        return getattr(self._impl, name)

    def _guard(self, what: str, fn: Callable, *args: Any) -> Any:
        self._conn.send(("call", what))
        signal.setitimer(signal.ITIMER_REAL, self._timeout)
        try:
            return fn(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def forward(self, label, inputs, params):
        return self._guard(f"{label} forward", self._impl.forward, label, inputs, params)

    def backward(self, label, delta, inputs, params):
        return self._guard(f"{label} backward", self._impl.backward, label, delta, inputs, params)


def _worker_main(conn: Connection, target: str, api: str, label: str, op: str, cfg: RunConfig, threads: int) -> None:
    from .adapters import load
    from .explore import CandidateTimeout, check_op

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    current = {"what": ""}

    def on_alarm(signum, frame):
        raise CandidateTimeout(current["what"] or "a candidate call")

    signal.signal(signal.SIGALRM, on_alarm)
    if cfg.device == "cpu":
        try:
            import resource

            limit = memory_limit_bytes()
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ImportError, ValueError, OSError):
            pass
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
    impl = load(target, api, device=cfg.device, allow_tf32=cfg.allow_tf32)
    watched = _Watched(impl, conn, cfg.timeout)
    orig_send = conn.send

    def send(msg):
        if msg[0] == "call":
            current["what"] = msg[1]
        orig_send(msg)

    conn.send = send  # type: ignore[method-assign]
    coverage: list = []
    records = check_op(watched, label, op, cfg, coverage)
    orig_send(("done", records, coverage))
    conn.close()


def _context() -> mp.context.BaseContext:
    methods = mp.get_all_start_methods()
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["numpy", "torch", "hypothesis", "scipy.signal", "gradcheck.explore"])
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


def _lost(label: str, op: str, message: str) -> list[Record]:
    return [Record(label, q, o, "error", message=message) for q, o in check_keys(SPECS[op])]


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
    stopping the workers.
    """
    ctx = _context()
    threads = max(1, (os.cpu_count() or 1) // max(1, cfg.jobs))
    queue = list(labels)
    running: dict[Connection, dict[str, Any]] = {}
    try:
        while queue or running:
            while queue and len(running) < max(1, cfg.jobs):
                label, op = queue.pop(0)
                parent, child = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_worker_main, args=(child, target, api, label, op, cfg, threads), daemon=True)
                proc.start()
                child.close()
                running[parent] = {"proc": proc, "label": label, "op": op, "last": time.monotonic(), "what": "start-up"}
            ready = wait(list(running), timeout=1.0)
            now = time.monotonic()
            for conn in list(running):
                job = running[conn]
                if conn in ready:
                    try:
                        msg = conn.recv()
                    except (EOFError, OSError):
                        job["proc"].join(5)
                        on_done(job["label"], _lost(job["label"], job["op"], f"{_died(job['proc'])} during {job['what']}; "
                                                    "the op's remaining checks were not run"), [])
                        del running[conn]
                        continue
                    job["last"] = now
                    if msg[0] == "call":
                        job["what"] = msg[1]
                    elif msg[0] == "done":
                        on_done(job["label"], msg[1], msg[2])
                        job["proc"].join(5)
                        del running[conn]
                elif now - job["last"] > cfg.timeout + _GRACE_S:
                    job["proc"].kill()
                    job["proc"].join(5)
                    on_done(job["label"], _lost(job["label"], job["op"], f"timed out after {cfg.timeout:g} s in {job['what']} "
                                                "(stuck where it could not be interrupted; the worker was stopped)"), [])
                    del running[conn]
    except BaseException:
        for job in running.values():
            job["proc"].kill()
        for job in running.values():
            job["proc"].join(5)
        raise
