"""pytest plugin: ``pytest --gradcheck-target TARGET`` puts an implementation under the battery.

One test item per op × quantity × oracle (``gradcheck[conv2d-dw-torch]``); an op the target
does not provide is skipped with the reason. Works from any folder, one without tests of its
own included. Under pytest-xdist the items of one op stay in one worker (``xdist_group``; use
``--dist loadgroup``), and every record travels back to the controller, which writes the JSON
and HTML reports whole. Only options and hooks live here; the logic is in
``gradcheck.session`` and ``gradcheck.report``.
"""
from __future__ import annotations

import json
from typing import Any

import pytest

from .records import Record

_KEY = "gradcheck_record"


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("gradcheck", "gradient checks of a candidate implementation")
    g.addoption("--gradcheck-target", help="implementation to check: reference, a module, a file, optionally :attribute")
    g.addoption("--gradcheck-api", default="native", choices=("native", "cs231n", "torch"), help="calling convention")
    g.addoption("--gradcheck-ops", help="comma-separated ops (default: all)")
    g.addoption("--gradcheck-profile", choices=("ci", "thorough"), help="hypothesis profile (default: ci)")
    g.addoption("--gradcheck-max-examples", type=int, help="smooth cases per op")
    g.addoption("--gradcheck-seed", type=int, help="randomise case generation reproducibly")
    g.addoption("--gradcheck-dtype", default="float64", choices=("float64", "float32"))
    g.addoption("--gradcheck-device", default="cpu", help="cpu or cuda (torch API)")
    g.addoption("--gradcheck-timeout", type=float, default=20.0, help="seconds one candidate call may take")
    g.addoption("--gradcheck-json", metavar="PATH", help="write the records as JSON")
    g.addoption("--gradcheck-report", metavar="PATH", help="write the HTML report")


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


class GradcheckItem(pytest.Item):
    def __init__(self, *, label: str, quantity: str, oracle: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.label, self.quantity, self.oracle = label, quantity, oracle
        self.add_marker(pytest.mark.xdist_group(f"gradcheck-{label}"))

    def runtest(self) -> None:
        rec = self.config._gradcheck_session.record(self.label, self.quantity, self.oracle)
        self.user_properties.append((_KEY, json.dumps(_jsonable(rec))))
        if rec.status == "not-provided":
            pytest.skip(rec.message or "not provided")
        if rec.status in ("fail", "error"):
            raise GradcheckFailure(rec)

    def repr_failure(self, excinfo, style=None):  # type: ignore[override]
        if isinstance(excinfo.value, GradcheckFailure):
            return explain(excinfo.value.record)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.config._gradcheck_session.target, None, f"gradcheck {self.label} {self.quantity} {self.oracle}"


class GradcheckCollector(pytest.Collector):
    def collect(self):
        for label, q, o in self.config._gradcheck_session.keys():
            yield GradcheckItem.from_parent(self, name=f"{label}-{q}-{o}", label=label, quantity=q, oracle=o)


def _jsonable(rec: Record) -> Any:
    from .records import to_jsonable

    return to_jsonable(rec)


def pytest_configure(config: pytest.Config) -> None:
    config._gradcheck_session = None
    config._gradcheck_records = []
    target = config.getoption("--gradcheck-target")
    if not target:
        return
    from .adapters import LoadError
    from .config import RunConfig
    from .session import CheckSession

    ops = config.getoption("--gradcheck-ops")
    try:
        cfg = RunConfig(
            ops=[o.strip() for o in ops.split(",") if o.strip()] if ops else None,
            profile=config.getoption("--gradcheck-profile") or RunConfig().profile,
            max_examples=config.getoption("--gradcheck-max-examples"),
            seed=config.getoption("--gradcheck-seed"),
            dtype=config.getoption("--gradcheck-dtype"),
            device=config.getoption("--gradcheck-device"),
            timeout=config.getoption("--gradcheck-timeout"),
        )
        config._gradcheck_session = CheckSession(target, config.getoption("--gradcheck-api"), cfg)
    except (LoadError, ValueError) as exc:
        raise pytest.UsageError(f"gradcheck: {exc}") from None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    if config._gradcheck_session is None:
        return
    collector = GradcheckCollector.from_parent(session, name="gradcheck")
    items.extend(collector.collect())


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call" and not (report.when == "setup" and report.skipped):
        return
    for key, value in getattr(report, "user_properties", []):
        if key == _KEY:
            _records_sink.append(value)


_records_sink: list[str] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if config._gradcheck_session is None or hasattr(config, "workerinput"):
        return  # xdist workers send their records to the controller, which writes the reports
    json_path, html_path = config.getoption("--gradcheck-json"), config.getoption("--gradcheck-report")
    if not (json_path or html_path):
        return
    from .records import RunResult, write_json_atomic
    from .runner import versions

    s = config._gradcheck_session
    records = [Record.from_dict(json.loads(v)) for v in _records_sink]
    order = {k: i for i, k in enumerate(s.keys())}
    records.sort(key=lambda r: order.get((r.op, r.quantity, r.oracle), len(order)))
    run = RunResult(target=s.target, api=s.api, records=records, complete=len(records) == len(order),
                    seed=s.cfg.seed, profile=s.cfg.profile, device=s.cfg.device, versions=versions())
    if json_path:
        write_json_atomic(json_path, run.to_dict())
    if html_path:
        from .report import write_html

        write_html(run, html_path)
