"""Checks run lazily, one op at a time, for callers that ask record by record (the pytest plugin)."""
from __future__ import annotations

from typing import Any

from .adapters import load
from .battery import check_keys
from .config import RunConfig
from .explore import check_op
from .ops import SPECS
from .records import Record
from .runner import add_repro, select_ops

__all__ = ["CheckSession"]


class CheckSession:
    """Loads a target once; checks an op the first time one of its records is asked for.

    ``isolate`` runs each op in a watched worker process (``gradcheck.worker``), as the
    command line does.
    """

    def __init__(self, target: str, api: str, cfg: RunConfig):
        self.target, self.api, self.cfg = target, api, cfg
        if cfg.isolate:  # an import that crashes or hangs must not take the test session down
            from .worker import load_isolated

            self.impl = load_isolated(target, api, cfg)
        else:
            self.impl = load(target, api, device=cfg.device, allow_tf32=cfg.allow_tf32)
        self.labels = select_ops(self.impl.ops(), cfg.ops)
        self._done: dict[str, dict[tuple[str, str], Record]] = {}
        self.coverage: dict[str, list[Any]] = {}

    def keys(self) -> list[tuple[str, str, str]]:
        """``(label, quantity, oracle)`` of every check, in display order."""
        return [(label, q, o) for label, op in self.labels for q, o in check_keys(SPECS[op])]

    def _run(self, label: str, op: str) -> None:
        got: dict[str, list[Record]] = {}

        def on_done(lab: str, records: list[Record], coverage: list) -> None:
            got[lab] = records
            self.coverage[lab] = coverage

        if self.cfg.isolate and self.impl.missing(label) is None:
            from .worker import run_ops_isolated

            run_ops_isolated(self.target, self.api, [(label, op)], self.cfg, on_done)
        else:
            cov: list = []
            on_done(label, check_op(self.impl, label, op, self.cfg, cov), cov)
        for r in got[label]:
            add_repro(r, self.target, self.api, self.cfg)
        self._done[label] = {(r.quantity, r.oracle): r for r in got[label]}

    def record(self, label: str, quantity: str, oracle: str) -> Record:
        if label not in self._done:
            self._run(label, dict(self.labels)[label])
        return self._done[label][(quantity, oracle)]
