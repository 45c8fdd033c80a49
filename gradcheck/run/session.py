"""Checks run lazily, one op at a time, for callers that ask record by record (the pytest plugin)."""
from __future__ import annotations

from typing import Any

from gradcheck.judge.battery import check_keys
from gradcheck.config import RunConfig
from gradcheck.ops import SPECS
from gradcheck.records import Record
from gradcheck.run.runner import check_ops, load_checked, select_ops

__all__ = ["CheckSession"]


class CheckSession:
    """Loads a target once; checks an op the first time one of its records is asked for.

    ``isolate`` runs each op in a watched worker process (``gradcheck.run.worker``), as the
    command line does. ``torch.autograd.Function`` ops of the torch API also have the
    second-order checks (``gradcheck.judge.second_order``), run the first time one is asked for.

    Raises
    ------
    LoadError
        When the target cannot be loaded or ``cfg.ops`` names unknown ops.
    """

    def __init__(self, target: str, api: str, cfg: RunConfig):
        from gradcheck.run.second_order import second_order_plan

        self.target, self.api, self.cfg = target, api, cfg
        self.impl = load_checked(target, api, cfg)  # isolated: a crashing import cannot end pytest
        self.labels = select_ops(self.impl.ops(), cfg.ops)
        provided = [(label, op) for label, op in self.labels if self.impl.missing(label) is None]
        self.second: dict[str, list[tuple[str, str]]] = \
            {k: [tuple(x) for x in v] for k, v in second_order_plan(target, api, provided, cfg).items()} if provided else {}
        self._done: dict[str, dict[tuple[str, str], Record]] = {}
        self._second_done: dict[str, dict[tuple[str, str], Record]] = {}
        self.coverage: dict[str, list[Any]] = {}

    def keys(self) -> list[tuple[str, str, str]]:
        """``(label, quantity, oracle)`` of every check, in display order."""
        out = []
        for label, op in self.labels:
            out += [(label, q, o) for q, o in check_keys(SPECS[op])]
            out += [(label, q, o) for q, o in self.second.get(label, [])]
        return out

    def _run(self, label: str, op: str) -> None:
        def on_done(lab: str, records: list[Record], coverage: list) -> None:
            self._done[lab] = {(r.quantity, r.oracle): r for r in records}
            self.coverage[lab] = coverage

        check_ops(self.impl, self.target, self.api, [(label, op)], self.cfg, on_done)

    def _run_second(self, label: str, op: str) -> None:
        from gradcheck.run.second_order import repro_second_order, run_second_order

        records = run_second_order(self.target, self.api, [(label, op)], self.cfg).get(label, [])
        for r in records:
            repro_second_order(r, self.target, self.api, self.cfg, op)
        got = {(r.quantity, r.oracle): r for r in records}
        self._second_done[label] = {k: got.get(k) or Record(label, *k, "error", message="the second-order checks gave "
                                                            "no record for this check") for k in self.second[label]}

    def record(self, label: str, quantity: str, oracle: str) -> Record:
        op = dict(self.labels)[label]
        if (quantity, oracle) in self.second.get(label, []):
            if label not in self._second_done:
                self._run_second(label, op)
            return self._second_done[label][(quantity, oracle)]
        if label not in self._done:
            self._run(label, op)
        return self._done[label][(quantity, oracle)]
