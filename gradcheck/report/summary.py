"""Many targets at once: one summary of target × op, in the terminal, as JSON and as an index page.

``gradcheck check a.py b.py submissions/*/layers.py`` checks each target as a single check
would (its ops in watched workers), writes each one's JSON and HTML report into one folder
under a name that tells the targets apart (``alice-layers``, ``bob-layers``), then
``summary.json`` and ``index.html`` linking the reports. The pytest plugin builds the same
summary from the records its (possibly distributed) items send back.

A cell of the table is the op's verdict over its checks: ``pass``, ``fail`` (with the
quantities that failed), ``error``, ``partial`` or ``not provided``; a target that cannot be
loaded has one row saying why.
"""
from __future__ import annotations

import os
import re
from typing import Any, Callable, Iterable

from gradcheck.ops import OP_NAMES
from gradcheck.records import Record, RunResult, write_json_atomic, write_text_atomic

__all__ = ["FORMAT", "FORMAT_VERSION", "target_names", "op_verdicts", "summarise", "format_table", "render_index",
           "write_summary", "TargetOutcome", "run_many"]

FORMAT, FORMAT_VERSION = "gradcheck-summary", 1
_ORDER = {"fail": 0, "error": 1, "partial": 2, "pass": 3, "not-provided": 4}


def _stem(target: str) -> list[str]:
    """The parts of a target that may name it, most specific last (``a/b/layers.py:X`` ->
    ``[a, b, layers-X]``)."""
    where, _, attr = target.partition(":") if not re.match(r"^[A-Za-z]:[\\/]", target) else (target, "", "")
    parts = [p for p in re.split(r"[\\/]+", where.rstrip("/\\")) if p and p not in (".", "..")]
    if parts and parts[-1].endswith(".py"):
        parts[-1] = parts[-1][:-3]
    parts = parts or ["target"]
    if attr:
        parts[-1] += f"-{attr}"
    return parts


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "target"


def target_names(targets: Iterable[str]) -> list[str]:
    """Short names that tell the targets apart, safe as file names.

    Each is the target's last path part (without ``.py``, with ``-attribute``), lengthened by
    folders only where two targets would share it: ``alice/layers.py``, ``bob/layers.py`` ->
    ``alice-layers``, ``bob-layers``. A repeated target gets ``-2``, ``-3``, ...
    """
    targets = list(targets)
    stems = [_stem(t) for t in targets]
    depth = [1] * len(targets)

    def name(i: int) -> str:
        return "-".join(stems[i][-depth[i]:])

    while True:
        seen: dict[str, list[int]] = {}
        for i in range(len(targets)):
            seen.setdefault(name(i), []).append(i)
        grow = [i for group in seen.values() if len(group) > 1 for i in group if depth[i] < len(stems[i])]
        if not grow:
            break
        for i in grow:
            depth[i] += 1
    out, used = [], {}
    for i in range(len(targets)):
        base = _safe(name(i))
        used[base] = used.get(base, 0) + 1
        out.append(base if used[base] == 1 else f"{base}-{used[base]}")
    return out


def op_verdicts(records: list[Record]) -> dict[str, dict[str, Any]]:
    """Per op: ``{"status", "failed": [quantity, ...], "message"}`` from its records (the worst
    status; the quantities that failed or errored; the first line of the first finding)."""
    by_op: dict[str, list[Record]] = {}
    for r in records:
        by_op.setdefault(r.op, []).append(r)
    out = {}
    for op, recs in by_op.items():
        worst = min(recs, key=lambda r: _ORDER.get(r.status, 9))
        status = worst.status
        failed = list(dict.fromkeys(r.quantity for r in recs if r.status == status and status in ("fail", "error")))
        first = next((r for r in recs if r.status == status and status != "pass"), None)
        message = (first.message or "").strip().splitlines()[0] if first is not None and (first.message or "").strip() else ""
        out[op] = {"status": status, "failed": failed, "message": message[:300]}
    return out


class TargetOutcome:
    """One target of a many-target run: its run (``None`` when it could not be loaded) and files."""

    def __init__(self, target: str, name: str, run: RunResult | None = None, error: str = "",
                 report: str | None = None, json_path: str | None = None):
        self.target, self.name, self.run, self.error = target, name, run, error
        self.report, self.json = report, json_path

    @property
    def status(self) -> str:
        if self.error:
            return "load-error"
        if self.run is None:
            return "not-run"
        if not self.run.complete:
            return "incomplete"
        if all(r.status == "not-provided" for r in self.run.records):
            return "nothing-checked"
        return "passed" if self.run.passed else "failed"


def summarise(outcomes: list[TargetOutcome], *, api: str, started: str = "", duration_s: float = 0.0,
              complete: bool = True, profile: str | None = None, seed: int | None = None) -> dict[str, Any]:
    """The summary document (``summary.json``; schema ``gradcheck/schema/summary.schema.json``)."""
    ops: list[str] = []
    for o in outcomes:
        for r in (o.run.records if o.run else []):
            if r.op not in ops:
                ops.append(r.op)
    ops.sort(key=lambda op: (OP_NAMES.index(op.split(":")[0]) if op.split(":")[0] in OP_NAMES else len(OP_NAMES), op))
    targets = []
    for o in outcomes:
        run = o.run
        targets.append({
            "target": o.target, "name": o.name, "status": o.status, "message": o.error,
            "report": o.report, "json": o.json,
            "counts": run.counts() if run else {}, "duration_s": run.duration_s if run else 0.0,
            "ops": op_verdicts(run.records) if run else {},
        })
    counts: dict[str, int] = {}
    for t in targets:
        counts[t["status"]] = counts.get(t["status"], 0) + 1
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "api": api, "profile": profile, "seed": seed,
            "started": started, "duration_s": duration_s, "complete": complete and all(o.run is not None or o.error
                                                                                        for o in outcomes),
            "passed": bool(targets) and all(t["status"] == "passed" for t in targets),
            "counts": counts, "ops": ops, "targets": targets}


def _cell(v: dict[str, Any] | None) -> str:
    if v is None or v["status"] == "not-provided":
        return "–"
    if v["status"] in ("fail", "error"):
        return f"{v['status'].upper()} {','.join(v['failed'])}" if v["status"] == "fail" else "ERROR"
    return v["status"]


def format_table(summary: dict[str, Any]) -> str:
    """The terminal table: one row per target, one column per op, then the tally."""
    ops = summary["ops"]
    header = ["target"] + ops
    rows = []
    for t in summary["targets"]:
        if t["status"] in ("load-error", "not-run"):
            rows.append([t["name"], "cannot load: " + t["message"] if t["message"] else "not run"])
        else:
            rows.append([t["name"]] + [_cell(t["ops"].get(op)) for op in ops])
    widths = [max([len(header[k])] + [len(r[k]) for r in rows if len(r) == len(header) and k < len(r)])
              for k in range(len(header))]

    def line(cells: list[str]) -> str:
        if len(cells) != len(header):
            return f"{cells[0]:{widths[0]}}  {cells[1]}"
        return "  ".join(c.ljust(widths[k]) for k, c in enumerate(cells)).rstrip()

    lines = [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]
    tally = ", ".join(f"{n} {s}" for s, n in sorted(summary["counts"].items()))
    verdict = "PASSED" if summary["passed"] else ("INCOMPLETE" if not summary["complete"] else "FAILED")
    lines += ["", f"{verdict}: {len(summary['targets'])} targets ({tally or 'none'})"]
    return "\n".join(lines)


def render_index(summary: dict[str, Any]) -> str:
    """``index.html``: the table, each target linking its report (``templates/index.html``)."""
    import jinja2

    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template("index.html").render(s=summary, cell=_cell)


def write_summary(summary: dict[str, Any], folder: str) -> list[str]:
    """Write ``summary.json`` and ``index.html`` into ``folder``; the paths written."""
    json_path, html_path = os.path.join(folder, "summary.json"), os.path.join(folder, "index.html")
    write_json_atomic(json_path, summary)
    write_text_atomic(html_path, render_index(summary))
    return [json_path, html_path]


def run_many(targets: list[str], api: str, cfg: Any, folder: str, *, report: bool = True,
             progress: Callable[[str], None] | None = None, ledger: Callable[[RunResult], None] | None = None,
             on_target: Callable[[TargetOutcome], None] | None = None) -> tuple[dict[str, Any], bool]:
    """Check each target in turn and write its files and the summary into ``folder``.

    Returns
    -------
    (summary, interrupted)
        The summary document; ``interrupted`` when a ``KeyboardInterrupt`` stopped the run
        (what was checked is written, the rest marked ``not-run``).

    Raises
    ------
    OSError
        When a file cannot be written.
    """
    import datetime as dt
    import time

    from gradcheck.adapters import LoadError
    from gradcheck.run.runner import run_check
    from gradcheck.run.second_order import add_second_order

    names = target_names(targets)
    outcomes = [TargetOutcome(t, n) for t, n in zip(targets, names)]
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    interrupted = False
    for i, o in enumerate(outcomes):
        say = (lambda line, name=o.name: progress(f"{name}: {line}")) if progress else None
        if progress:
            progress(f"[{i + 1}/{len(outcomes)}] {o.target}")
        run = RunResult(target=o.target, api=api)
        try:
            run_check(o.target, api, cfg, progress=say, result=run)
            add_second_order(run, o.target, api, cfg, progress=say)
            if ledger is not None:
                ledger(run)
        except LoadError as exc:
            o.error = str(exc)
        except KeyboardInterrupt:
            run.complete = False
            interrupted = True
        if not o.error:
            o.run = run
            o.json = f"{o.name}.json"
            write_json_atomic(os.path.join(folder, o.json), run.to_dict())
            if report:
                from gradcheck.report import write_html

                o.report = f"{o.name}.html"
                write_html(run, os.path.join(folder, o.report))
        if on_target:
            on_target(o)
        if interrupted:
            break
    summary = summarise(outcomes, api=api, started=started, duration_s=time.perf_counter() - t0,
                        complete=not interrupted, profile=cfg.profile, seed=cfg.seed)
    write_summary(summary, folder)
    return summary, interrupted
