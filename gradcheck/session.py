"""Checks run lazily, one op at a time, for callers that ask record by record (the pytest plugin)."""
from __future__ import annotations

from typing import Any

from .battery import check_keys
from .config import RunConfig
from .ops import SPECS
from .records import Record
from .runner import check_ops, load_checked, select_ops

__all__ = ["CheckSession"]


class CheckSession:
    """Loads a target once; checks an op the first time one of its records is asked for.

    ``isolate`` runs each op in a watched worker process (``gradcheck.worker``), as the
    command line does.
    """

    def __init__(self, target: str, api: str, cfg: RunConfig):
        self.target, self.api, self.cfg = target, api, cfg
        self.impl = load_checked(target, api, cfg)  # isolated: a crashing import cannot end pytest
        self.labels = select_ops(self.impl.ops(), cfg.ops)
        self._done: dict[str, dict[tuple[str, str], Record]] = {}
        self.coverage: dict[str, list[Any]] = {}

    def keys(self) -> list[tuple[str, str, str]]:
        """``(label, quantity, oracle)`` of every check, in display order."""
        return [(label, q, o) for label, op in self.labels for q, o in check_keys(SPECS[op])]

    def _run(self, label: str, op: str) -> None:
        def on_done(lab: str, records: list[Record], coverage: list) -> None:
            self._done[lab] = {(r.quantity, r.oracle): r for r in records}
            self.coverage[lab] = coverage

        check_ops(self.impl, self.target, self.api, [(label, op)], self.cfg, on_done)

    def record(self, label: str, quantity: str, oracle: str) -> Record:
        if label not in self._done:
            self._run(label, dict(self.labels)[label])
        return self._done[label][(quantity, oracle)]
