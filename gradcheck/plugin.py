"""pytest plugin: ``pytest --gradcheck-target TARGET`` puts implementations under the battery.

One test item per op × quantity × oracle (``gradcheck::conv2d-dw-torch``); an op the target
does not provide is skipped with the reason. Works from any folder, one without tests of its
own included.

Many targets — ``--gradcheck-target`` given several times, or a quoted glob
(``--gradcheck-target 'submissions/*/layers.py'``) — give one collector per target
(``gradcheck::alice-layers::conv2d-dw-torch``); a target that cannot be loaded is one failing
item, the others run. pytest-xdist distributes the items over its workers and hosts
(``-n auto``); with ``--dist loadgroup`` a target's checks stay together in one worker (one op's
with a single target). Every record travels back to the controller, which writes the reports
whole: ``--gradcheck-json`` / ``--gradcheck-report`` for one target, ``--gradcheck-out DIR`` for
each target's JSON and report plus ``summary.json`` and ``index.html``, and the target × op
table in the terminal summary. Only options and hooks live here; the logic is in
``gradcheck.run.session``, ``gradcheck.report.summary`` and ``gradcheck.report``.

Long because pytest's hooks (options, collection, items, reporting, the session's files) are
many; each is a few lines of wiring.
"""
from __future__ import annotations

import glob
import json
import os
from typing import Any

import pytest

from gradcheck.dtypes import DTYPES
from gradcheck.records import Record

_KEY = "gradcheck_record"


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("gradcheck", "gradient checks of a candidate implementation")
    g.addoption("--gradcheck-target", action="append", default=None,
                help="implementation to check: reference, a module, a file, optionally :attribute; repeat it, or give "
                "a quoted glob, for many targets")
    g.addoption("--gradcheck-api", default="native", choices=("native", "cs231n", "torch"), help="calling convention")
    g.addoption("--gradcheck-ops", help="comma-separated ops (default: all)")
    g.addoption("--gradcheck-profile", choices=("ci", "thorough"), help="hypothesis profile (default: ci)")
    g.addoption("--gradcheck-max-examples", type=int, help="smooth cases per op")
    g.addoption("--gradcheck-seed", type=int, help="randomise case generation reproducibly")
    g.addoption("--gradcheck-dtype", default="float64", choices=DTYPES)
    g.addoption("--gradcheck-deterministic", action="store_true", help="repeated calls must be bitwise equal")
    g.addoption("--gradcheck-device", default="cpu", help="cpu or cuda (torch API)")
    g.addoption("--gradcheck-timeout", type=float, default=20.0, help="seconds one candidate call may take")
    g.addoption("--gradcheck-json", metavar="PATH", help="write the records as JSON (one target)")
    g.addoption("--gradcheck-report", metavar="PATH", help="write the HTML report (one target)")
    g.addoption("--gradcheck-out", metavar="DIR", help="write each target's JSON and report, summary.json and index.html")


class GradcheckFailure(Exception):
    def __init__(self, record: Record):
        self.record = record
        super().__init__(record.message)


def explain(rec: Record) -> str:
    """The failure block of one record: verdict, message, smallest case, traceback, reproduction."""
    lines = [f"{rec.op} {rec.quantity} vs {rec.oracle}: {rec.status}", rec.message]
    if rec.counterexample is not None:
        ce = rec.counterexample
        lines.append(f"smallest case: shapes {ce.shapes}, params {ce.params}, dtype {ce.dtype}, {ce.kind}")
    if rec.traceback:
        lines += ["candidate traceback:", rec.traceback.rstrip()]
    if rec.repro:
        lines.append(f"reproduce: {rec.repro.get('command', '')}")
        if rec.repro.get("python"):
            lines += ["", rec.repro["python"]]
    return "\n".join(lines)


class _State:
    """The plugin's view of one pytest run: the targets, their names and (lazily) sessions."""

    def __init__(self, targets: list[str], api: str, cfg: Any, out: str | None):
        from gradcheck.report.summary import target_names

        self.targets, self.api, self.cfg, self.out = targets, api, cfg, out
        self.names = target_names(targets)
        self.many = len(targets) > 1 or out is not None
        self.sessions: dict[str, Any] = {}  # name -> CheckSession or the LoadError's message

    def load(self) -> None:
        from gradcheck.adapters import LoadError
        from gradcheck.run.session import CheckSession

        for target, name in zip(self.targets, self.names):
            if name in self.sessions:
                continue
            try:
                self.sessions[name] = CheckSession(target, self.api, self.cfg)
            except LoadError as exc:
                if not self.many:
                    raise
                self.sessions[name] = str(exc)


#: The plugin's state for one pytest run (``None`` when no target was given), and the summary
#: of several targets, kept in ``config.stash`` as pytest's own plugins keep theirs.
STATE = pytest.StashKey["_State | None"]()
SUMMARY = pytest.StashKey[Any]()


class GradcheckItem(pytest.Item):
    def __init__(self, *, session_: Any, target_name: str, index: int, total: int, label: str, quantity: str,
                 oracle: str, group: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.check_session, self.target_name, self.index, self.total = session_, target_name, index, total
        self.label, self.quantity, self.oracle = label, quantity, oracle
        self.add_marker(pytest.mark.xdist_group(group))

    def runtest(self) -> None:
        rec = self.check_session.record(self.label, self.quantity, self.oracle)
        from gradcheck.records import to_jsonable

        self.user_properties.append((_KEY, json.dumps({"target": self.target_name, "index": self.index,
                                                       "total": self.total, "record": to_jsonable(rec)})))
        if rec.status == "not-provided":
            pytest.skip(rec.message or "not provided")
        if rec.status in ("fail", "error"):
            raise GradcheckFailure(rec)

    def repr_failure(self, excinfo, style=None):  # type: ignore[override]
        if isinstance(excinfo.value, GradcheckFailure):
            return explain(excinfo.value.record)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.check_session.target, None, f"gradcheck {self.label} {self.quantity} {self.oracle}"


class LoadErrorItem(pytest.Item):
    """A target of many that could not be loaded: one failing item that says why."""

    def __init__(self, *, target: str, target_name: str, message: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.target, self.target_name, self.message = target, target_name, message
        self.add_marker(pytest.mark.xdist_group(f"gradcheck-{target_name}"))

    def runtest(self) -> None:
        self.user_properties.append((_KEY, json.dumps({"target": self.target_name, "error": self.message})))
        raise GradcheckFailure(Record("load", "load", "load", "error", message=self.message))

    def repr_failure(self, excinfo, style=None):  # type: ignore[override]
        return f"cannot load {self.target}: {self.message}"

    def reportinfo(self):
        return self.target, None, f"gradcheck load {self.target}"


class TargetCollector(pytest.Collector):
    def __init__(self, *, session_: Any, target_name: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.check_session, self.target_name = session_, target_name

    def collect(self):
        keys = self.check_session.keys()
        for i, (label, q, o) in enumerate(keys):
            yield GradcheckItem.from_parent(self, name=f"{label}-{q}-{o}", session_=self.check_session,
                                            target_name=self.target_name, index=i, total=len(keys), label=label,
                                            quantity=q, oracle=o, group=f"gradcheck-{self.target_name}")


class GradcheckCollector(pytest.Collector):
    def collect(self):
        state: _State = self.config.stash[STATE]
        if not state.many:
            s = state.sessions[state.names[0]]
            keys = s.keys()
            for i, (label, q, o) in enumerate(keys):
                yield GradcheckItem.from_parent(self, name=f"{label}-{q}-{o}", session_=s, target_name=state.names[0],
                                                index=i, total=len(keys), label=label, quantity=q, oracle=o,
                                                group=f"gradcheck-{label}")
            return
        for target, name in zip(state.targets, state.names):
            s = state.sessions[name]
            if isinstance(s, str):
                yield LoadErrorItem.from_parent(self, name=f"{name}::load", target=target, target_name=name, message=s)
            else:
                yield TargetCollector.from_parent(self, name=name, session_=s, target_name=name)


def _expand(patterns: list[str]) -> list[str]:
    """Targets from the option's values: a glob pattern is expanded (sorted); anything else is
    kept as it is (a module name, ``reference``, a file to be reported missing)."""
    out: list[str] = []
    for p in patterns:
        hits = sorted(glob.glob(p)) if any(ch in p for ch in "*?[") else []
        for t in hits or [p]:
            if t not in out:
                out.append(t)
    return out


def _xdist_workers() -> int:
    """How many pytest-xdist workers this run has (1 without xdist)."""
    try:
        return max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    except ValueError:
        return 1


def pytest_configure(config: pytest.Config) -> None:
    config.stash[STATE] = None
    _records_sink.clear()
    patterns = config.getoption("--gradcheck-target")
    if not patterns:
        return
    from gradcheck.adapters import LoadError
    from gradcheck.config import run_config

    ops = config.getoption("--gradcheck-ops")
    targets = _expand(patterns)
    out = config.getoption("--gradcheck-out")
    try:
        cfg = run_config(
            ops=ops,
            profile=config.getoption("--gradcheck-profile"),
            max_examples=config.getoption("--gradcheck-max-examples"),
            seed=config.getoption("--gradcheck-seed"),
            dtype=config.getoption("--gradcheck-dtype"),
            deterministic=config.getoption("--gradcheck-deterministic"),
            device=config.getoption("--gradcheck-device"),
            timeout=config.getoption("--gradcheck-timeout"),
            # under pytest-xdist each worker checks one op at a time: as many ops run at once as there
            # are workers, and their worker processes share the cores and memory (``RunConfig.jobs``)
            jobs=_xdist_workers(),
        )
        state = _State(targets, config.getoption("--gradcheck-api"), cfg, out)
        if state.many and (config.getoption("--gradcheck-json") or config.getoption("--gradcheck-report")):
            raise ValueError("--gradcheck-json and --gradcheck-report name one target's files; with several targets "
                             "use --gradcheck-out DIR")
        if not state.many:
            state.load()  # one target: a bad one is a usage error, before anything runs
    except (LoadError, ValueError) as exc:
        raise pytest.UsageError(f"gradcheck: {exc}") from None
    config.stash[STATE] = state


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    state = config.stash.get(STATE, None)
    if state is None:
        return
    state.load()
    collector = GradcheckCollector.from_parent(session, name="gradcheck")
    for node in collector.collect():
        if isinstance(node, pytest.Item):
            items.append(node)
        else:
            items.extend(node.collect())


_records_sink: list[dict[str, Any]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call" and not (report.when == "setup" and report.skipped):
        return
    for key, value in getattr(report, "user_properties", []):
        if key == _KEY:
            _records_sink.append(json.loads(value))


def _runs(state: _State) -> tuple[list[Any], dict[str, str]]:
    """The runs of the targets, built from the records that came back (in key order), and the
    load errors by target name."""
    from gradcheck.records import RunResult
    from gradcheck.run.runner import versions

    got: dict[str, list[dict[str, Any]]] = {}
    errors: dict[str, str] = {}
    for item in _records_sink:
        if "error" in item:
            errors[item["target"]] = item["error"]
        else:
            got.setdefault(item["target"], []).append(item)
    runs = []
    for target, name in zip(state.targets, state.names):
        items = sorted(got.get(name, []), key=lambda it: it["index"])
        if not items:
            runs.append(None)
            continue
        records = [Record.from_dict(it["record"]) for it in items]
        runs.append(RunResult(target=target, api=state.api, records=records,
                              complete=len({it["index"] for it in items}) == items[0]["total"], seed=state.cfg.seed,
                              profile=state.cfg.profile, device=state.cfg.device, versions=versions()))
    return runs, errors


def _write_many(state: _State, runs: list[Any], errors: dict[str, str]) -> dict[str, Any]:
    from gradcheck.records import write_json_atomic
    from gradcheck.report import write_html
    from gradcheck.report.summary import TargetOutcome, summarise, write_summary

    outcomes = []
    for target, name, run in zip(state.targets, state.names, runs):
        o = TargetOutcome(target, name, run, errors.get(name, ""))
        if run is not None and state.out:
            o.json, o.report = f"{name}.json", f"{name}.html"
            write_json_atomic(os.path.join(state.out, o.json), run.to_dict())
            write_html(run, os.path.join(state.out, o.report))
        outcomes.append(o)
    summary = summarise(outcomes, api=state.api, profile=state.cfg.profile, seed=state.cfg.seed,
                        complete=all(r is not None and r.complete for r, n in zip(runs, state.names) if n not in errors))
    if state.out:
        write_summary(summary, state.out)
    return summary


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    state: _State | None = config.stash.get(STATE, None)
    if state is None or hasattr(config, "workerinput"):
        return  # xdist workers send their records to the controller, which writes the reports
    runs, errors = _runs(state)
    if not errors and all(r is None for r in runs):
        return  # nothing ran (--collect-only, everything deselected): no report to write
    if state.many:
        config.stash[SUMMARY] = _write_many(state, runs, errors)
        return
    json_path, html_path = config.getoption("--gradcheck-json"), config.getoption("--gradcheck-report")
    run = runs[0]
    if run is None or not (json_path or html_path):
        return
    from gradcheck.records import write_json_atomic

    if json_path:
        write_json_atomic(json_path, run.to_dict())
    if html_path:
        from gradcheck.report import write_html

        write_html(run, html_path)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    summary = config.stash.get(SUMMARY, None)
    if summary is None:
        return
    from gradcheck.report.summary import format_table

    terminalreporter.section("gradcheck: target × op")
    terminalreporter.write_line(format_table(summary))
    state = config.stash.get(STATE, None)
    if state is not None and state.out:
        terminalreporter.write_line(f"summary: {os.path.join(state.out, 'summary.json')}, "
                                    f"{os.path.join(state.out, 'index.html')}")
