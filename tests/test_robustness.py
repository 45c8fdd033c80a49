"""A candidate that misbehaves never takes the harness down, and no result is lost.

Every test runs a purpose-built misbehaving candidate (``tests/misbehaving/``) through the real
isolated path: ``run_check(..., RunConfig(isolate=True))`` (each op in a watched worker
process), ``run_ops_isolated`` directly, or the ``gradcheck`` command in a subprocess. Each
candidate pairs the misbehaving op (``relu``) with a correct one (``tanh``), so a test also
sees that the run goes on after the fault.
"""
from __future__ import annotations

import html.parser
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import gradcheck
from gradcheck.adapters import LoadError, load
from gradcheck.judge.battery import Runner, evaluate
from gradcheck.cases import SMALL_ARRAY, Case
from gradcheck.config import RunConfig
from gradcheck.ops import SPECS
from gradcheck.records import Record, RunResult, to_jsonable, write_text_atomic
from gradcheck.report import write_html
from gradcheck.run.runner import run_check
from gradcheck.run.worker import MEMORY_LIMIT_ENV, memory_limit_bytes, run_ops_isolated

BAD = Path(__file__).parent / "misbehaving"
HARNESS_DIR = os.path.dirname(os.path.abspath(gradcheck.__file__))
GRADIENT_KEYS = [("dx", "fd"), ("dx", "torch")]


def target(name: str, variant: str | None = None) -> str:
    path = str(BAD / name)
    return f"{path}:{variant}" if variant else path


_RUNS: dict[tuple, RunResult] = {}


def check(tgt: str, ops=("relu", "tanh"), timeout: float = 2.0, jobs: int = 1) -> RunResult:
    """The isolated run the command line does, small: 3 smooth and 1 kink case per op.

    Runs are kept for the module (the ``ci`` profile is derandomised, so a second run would
    give the same records); tests only read them.
    """
    key = (tgt, tuple(ops), timeout, jobs, os.environ.get(MEMORY_LIMIT_ENV))
    if key not in _RUNS:
        cfg = RunConfig(ops=list(ops), profile="ci", max_examples=3, kink_examples=1, timeout=timeout, jobs=jobs,
                        isolate=True)
        _RUNS[key] = run_check(tgt, "native", cfg)
    return _RUNS[key]


def of(run: RunResult, op: str) -> dict[tuple[str, str], Record]:
    return {(r.quantity, r.oracle): r for r in run.records if r.op == op}


def assert_checked_and_passed(run: RunResult, op: str = "tanh") -> None:
    """``op`` (the correct one) was really checked, in full, and passed."""
    recs = of(run, op)
    assert recs, f"no records for {op}"
    for key, r in recs.items():
        assert r.status == "pass", (key, r.status, r.message)
        assert r.examples > 0, (key, "passed without a single example")


def assert_whole_op(run: RunResult, op: str, status: str, *fragments: str) -> None:
    """Every record of ``op`` has ``status`` and a message with all ``fragments``."""
    recs = of(run, op)
    assert recs
    for key, r in recs.items():
        assert r.status == status, (key, r.status, r.message)
        for f in fragments:
            assert f in r.message, (key, f, r.message)


# --- 1. a call that raises ----------------------------------------------------------------------


def test_raising_backward_is_an_error_with_the_candidates_own_traceback():
    run = check(target("raises.py"))
    relu = of(run, "relu")
    for key in GRADIENT_KEYS:
        r = relu[key]
        assert r.status == "error"
        assert r.message == "relu_backward raised ValueError: boom: the candidate's own error"
        tb = r.traceback or ""
        assert "raises.py" in tb and "in relu_backward" in tb and "in _check_positive" in tb
        assert tb.rstrip().endswith("ValueError: boom: the candidate's own error")
        assert HARNESS_DIR not in tb, "the harness's own frames leaked into the candidate's traceback"
        assert r.counterexample is not None, "an error must say on which input it happened"
    assert_checked_and_passed(run, "tanh")
    assert not run.passed and run.complete


def test_raising_backward_leaves_the_forward_record_alone():
    r = of(check(target("raises.py")), "relu")[("forward", "torch")]
    assert r.status == "pass", r.message


def test_raising_forward_is_an_error_for_the_forward():
    run = check(target("raises.py", "forward"))
    r = of(run, "relu")[("forward", "torch")]
    assert r.status == "error"
    assert r.message.startswith("relu_forward raised ValueError")
    assert "in _bad_forward" in (r.traceback or "") and HARNESS_DIR not in (r.traceback or "")
    assert_checked_and_passed(run, "tanh")


# --- 2. a call that hangs -------------------------------------------------------------------------


def test_python_hang_is_interrupted_after_the_timeout_and_the_run_goes_on():
    run = check(target("hangs.py", "python"), timeout=1.0)
    assert_whole_op(run, "relu", "error", "timed out after 1 s", "relu backward")
    assert "could not be interrupted" not in of(run, "relu")[("dx", "torch")].message  # the alarm did it
    assert_checked_and_passed(run, "tanh")
    assert run.complete


def test_native_hang_the_alarm_cannot_reach_is_killed_by_the_parent():
    # SIGALRM blocked, then libc pause(): only the parent's kill can end this call.
    run = check(target("hangs.py", "native"), timeout=1.0)
    assert_whole_op(run, "relu", "error", "timed out after 1 s in relu backward", "could not be interrupted")
    assert_checked_and_passed(run, "tanh")
    assert not multiprocessing.active_children(), "a stuck worker was left running"


# --- 3. a call that ends its process ----------------------------------------------------------------


@pytest.mark.parametrize("variant, fragment", [
    ("exit3", "the worker process exited with status 3 during relu backward"),
    ("segfault", "the worker process was killed by SIGSEGV during relu backward"),
    ("sigkill", "the worker process was killed by SIGKILL during relu backward"),
    ("closes_pipe", "during relu backward"),
])
def test_process_killing_call_is_recorded_against_its_op_and_the_next_op_gets_a_fresh_worker(variant, fragment):
    run = check(target("crashes.py", variant))
    assert_whole_op(run, "relu", "error", fragment)
    assert_checked_and_passed(run, "tanh")
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("variant, fragment", [
    ("segfault", "killed by SIGSEGV during relu backward"),
    ("hangs", "timed out after 1 s in relu backward"),
])
def test_faults_with_two_workers_at_once_stay_with_their_op(variant, fragment):
    tgt = target("hangs.py", "native") if variant == "hangs" else target("crashes.py", variant)
    run = check(tgt, ops=("tanh", "relu"), timeout=1.0, jobs=2)
    assert [r.op for r in run.records][:1] == ["tanh"], "records keep the order of the ops asked for"
    assert_whole_op(run, "relu", "error", fragment)
    assert_checked_and_passed(run, "tanh")
    assert not multiprocessing.active_children()


def test_sys_exit_in_a_candidate_is_an_error_of_that_call():
    run = check(target("crashes.py", "sysexit"))
    r = of(run, "relu")[("dx", "torch")]
    assert r.status == "error" and "raised SystemExit: 4" in r.message
    assert "sys.exit(4)" in (r.traceback or "")
    assert_checked_and_passed(run, "tanh")


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


def test_runaway_allocation_hits_the_worker_memory_cap(monkeypatch):
    # A small cap keeps this safe on any machine: a worker starts with about the address space
    # this process has (the same libraries loaded), so the candidate can touch about 1 GiB.
    cap_mib = max(2048, _status_kib("VmSize") // 1024 + 1024)
    monkeypatch.setenv(MEMORY_LIMIT_ENV, f"{cap_mib}M")
    assert memory_limit_bytes() == cap_mib << 20
    run = check(target("crashes.py", "memory"), timeout=60.0)
    r = of(run, "relu")[("dx", "torch")]
    assert r.status == "error"
    assert "relu_backward raised MemoryError" in r.message
    assert_checked_and_passed(run, "tanh")


def test_memory_cap_setting_is_parsed_strictly(monkeypatch):
    for text, expected in [("2G", 2 << 30), ("512M", 512 << 20), ("1.5GiB", 3 << 29), ("4096", 4096)]:
        monkeypatch.setenv(MEMORY_LIMIT_ENV, text)
        assert memory_limit_bytes() == expected
    for text in ("lots", "-1G", "0", "2X"):
        monkeypatch.setenv(MEMORY_LIMIT_ENV, text)
        with pytest.raises(ValueError, match=MEMORY_LIMIT_ENV):
            memory_limit_bytes()
    monkeypatch.delenv(MEMORY_LIMIT_ENV)
    assert memory_limit_bytes(jobs=4) <= memory_limit_bytes(jobs=1)


def test_thread_left_running_by_the_candidate_does_not_keep_its_worker_alive():
    run = check(target("crashes.py", "threads"))
    assert_checked_and_passed(run, "relu")
    assert_checked_and_passed(run, "tanh")
    assert not multiprocessing.active_children(), "a worker outlived its op"


def test_import_that_never_finishes_is_a_load_error(monkeypatch):
    import gradcheck.run.worker

    monkeypatch.setattr(gradcheck.run.worker, "IMPORT_TIMEOUT_S", 1.0)
    with pytest.raises(LoadError, match=r"import_hang.py did not finish within 1 s"):
        run_check(target("import_hang.py"), "native", RunConfig(ops=["relu"], profile="ci", timeout=1.0))
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("name, fragment", [
    ("import_exit.py", "ended its process (the process exited with status 0)"),
    ("import_segfault.py", "ended its process (the process was killed by SIGSEGV)"),
    ("import_error.py", "failed: RuntimeError: cannot initialise the candidate"),
])
def test_import_that_ends_or_breaks_its_process_is_a_load_error(name, fragment):
    with pytest.raises(LoadError, match=re.escape(fragment)):
        run_check(target(name), "native", RunConfig(ops=["relu"], profile="ci", timeout=1.0))


# --- 4. garbage returns ------------------------------------------------------------------------------


@pytest.mark.parametrize("variant, key, status, fragments", [
    ("none", ("shape-dtype", "structure"), "fail", ["dx: None, expected an ndarray of shape (1, 1, 1, 1)"]),
    ("none", ("dx", "torch"), "fail", ["expected an ndarray of shape", "got None"]),
    ("list", ("shape-dtype", "structure"), "fail", ["dx: list [[[", "expected an ndarray of shape"]),
    ("float32", ("shape-dtype", "structure"), "fail", ["dx: dtype float32, expected float64"]),
    ("nan", ("finite", "structure"), "fail", ["dx: 1 NaN and 0 infinite values"]),
    ("inf", ("finite", "structure"), "fail", ["dx: 0 NaN and 1 infinite values"]),
    ("tuple2", ("dx", "torch"), "fail", ["relu_backward must return 1 gradient (dx), returned a tuple of length 2"]),
    ("torch", ("shape-dtype", "structure"), "fail", ["dx: torch.Tensor (a numpy array was expected)"]),
    ("shape", ("shape-dtype", "structure"), "fail", ["dx: shape (", "expected ("]),
    ("shape", ("dx", "torch"), "fail", ["dx: shape (", "expected ("]),
])
def test_garbage_return_is_named(variant, key, status, fragments):
    run = check(target("garbage.py", variant), ops=["relu"])
    r = of(run, "relu")[key]
    assert r.status == status, (r.status, r.message)
    for f in fragments:
        assert f in r.message, (f, r.message)
    assert not run.passed


@pytest.mark.parametrize("variant", [
    "none", "list", "float32", "tuple2", "torch", "nan", "inf", "shape",
])
def test_garbage_gradient_is_never_reported_as_passing(variant):
    run = check(target("garbage.py", variant), ops=["relu"])
    relu = of(run, "relu")
    for key in GRADIENT_KEYS:
        assert relu[key].status in ("fail", "error"), (key, relu[key].status, relu[key].examples)
    det = relu[("determinism", "structure")]
    assert not det.message.startswith("nondeterministic"), det.message  # the same garbage twice is deterministic


def test_returned_object_whose_repr_raises_is_an_error_of_that_op():
    run = check(target("garbage.py", "repr_raises"), ops=["relu"])
    r = of(run, "relu")[("shape-dtype", "structure")]
    assert r.status == "fail" and "its repr raised RuntimeError" in r.message, r.message
    assert "internal error" not in r.message


def test_returned_object_whose_repr_never_returns_is_stopped_between_calls():
    # Candidate code running outside a watched call: only the parent's silence limit stops it.
    run = check(target("garbage.py", "repr_hangs"), ops=["relu"], timeout=1.0)
    assert_whole_op(run, "relu", "error", "after relu backward returned", "the worker was stopped")
    assert not multiprocessing.active_children()


# --- 5. nondeterminism -----------------------------------------------------------------------------------


def test_nondeterministic_backward_fails_determinism_only():
    run = check(target("nondeterministic.py"), ops=["relu"])
    relu = of(run, "relu")
    det = relu[("determinism", "structure")]
    assert det.status == "fail"
    m = re.fullmatch(r"nondeterministic: two calls on the same input differ; dx by up to (\S+) \(\S+ ulp\)", det.message)
    assert m, det.message
    assert float(m.group(1)) > 1e-9  # the noise, far above float64 rounding of values ~1
    for key in GRADIENT_KEYS:
        assert relu[key].status != "fail", (key, relu[key].message)
    assert relu[("forward", "torch")].status == "pass"


def test_gradient_checks_skipped_for_nondeterminism_say_so():
    relu = of(check(target("nondeterministic.py"), ops=["relu"]), "relu")
    for key in GRADIENT_KEYS:
        assert relu[key].status == "pass" or "nondetermin" in relu[key].message, (key, relu[key].message)


# --- 6. interrupts, atomic reports ---------------------------------------------------------------------


#: name -> (arguments after the target, the stderr line after which the signal is sent,
#: the signal, sent to the whole process group as Ctrl-C does, or to the main process as kill does)
_INTERRUPTS = {
    "SIGINT": ([target("slow.py"), "--ops", "relu,sigmoid,tanh"], "[1/3] relu:", signal.SIGINT, True),
    "SIGTERM": ([target("slow.py"), "--ops", "relu,sigmoid,tanh"], "[1/3] relu:", signal.SIGTERM, False),
    "SIGINT-in-ledger": (["reference", "--ops", "relu", "--ledger"], "checking the seed's equations", signal.SIGINT, True),
}


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory) -> dict[str, dict]:
    """Runs of the command line, started together, each interrupted at a chosen moment.

    ``SIGINT`` and ``SIGTERM``: the slow candidate, signalled once its first op is reported
    done (each later op would take 20 s or more). ``SIGINT-in-ledger``: the reference with the
    equation ledger, signalled while the ledger is being checked (after the ops are done).
    """
    tmp = tmp_path_factory.mktemp("interrupted")
    with ThreadPoolExecutor(max_workers=len(_INTERRUPTS)) as pool:
        futures = {name: pool.submit(_interrupt_one, tmp, name) for name in _INTERRUPTS}
        out = {name: f.result() for name, f in futures.items()}
    out["leftovers"] = [p.name for p in tmp.iterdir() if p.name.startswith(".tmp-")]
    return out


def _interrupt_one(tmp: Path, name: str) -> dict:
    args, after, sig, group = _INTERRUPTS[name]
    cmd = [sys.executable, "-m", "gradcheck.cli", "check", *args, "--max-examples", "3", "--kink-examples", "1",
           "--timeout", "10", "--json", str(tmp / f"{name}.json"), "--report", str(tmp / f"{name}.html")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp,
                            start_new_session=True)
    lines = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # progress lines go to stderr
            lines.append(line)
            if line.startswith(after):
                break
        try:
            os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
        except ProcessLookupError:  # it ended by itself; the assertions will say how
            pass
        stdout, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    json_path, html_path = tmp / f"{name}.json", tmp / f"{name}.html"
    return {
        "rc": proc.returncode, "stdout": stdout, "stderr": "".join(lines) + rest,
        "json": json.loads(json_path.read_text()) if json_path.exists() else None,
        "html": html_path.read_text() if html_path.exists() else None,
    }


@pytest.mark.parametrize("how", list(_INTERRUPTS))
def test_interrupt_stops_and_writes_what_was_done_marked_incomplete(interrupted, how):
    res = interrupted[how]
    assert res["rc"] == 130, res["stderr"]
    assert "Traceback" not in res["stdout"] + res["stderr"]
    assert "interrupted" in res["stderr"]
    assert "INCOMPLETE" in res["stdout"]  # the summary was printed
    data = res["json"]
    assert data is not None, "no JSON written"
    assert data["complete"] is False and data["passed"] is False
    ops = {c["op"] for c in data["checks"]}
    assert ops == {"relu"}, f"expected exactly the op finished before the signal, got {ops}"
    assert all(c["status"] in ("pass", "not-provided") for c in data["checks"])
    from gradcheck.judge.battery import check_keys
    from gradcheck.ops import SPECS

    assert len(data["checks"]) == len(check_keys(SPECS["relu"]))
    assert res["html"] is not None and "INCOMPLETE" in res["html"]
    assert not interrupted["leftovers"], "a temporary file was left behind"


class _Torn:
    """A file object whose write() writes half the text, then fails."""

    def __init__(self, fh, exc: BaseException):
        self.fh, self.exc = fh, exc

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.fh.close()

    def write(self, text: str) -> int:
        self.fh.write(text[: len(text) // 2])
        self.fh.flush()
        raise self.exc


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_atomic_write_never_leaves_a_partial_file(tmp_path, monkeypatch, exc):
    path = tmp_path / "report.json"
    write_text_atomic(path, "old contents\n")
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: _Torn(real_fdopen(fd, *a, **k), exc))
    with pytest.raises(type(exc)):
        write_text_atomic(path, "new contents " * 1000)
    monkeypatch.undo()
    assert path.read_text() == "old contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


# --- 8. markup in what a candidate controls ----------------------------------------------------------------


class _Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script_text.append(data)


def test_markup_from_the_candidate_is_escaped_in_the_html_report(tmp_path):
    evil = tmp_path / "<img src=x onerror=alert(4)>.py"
    shutil.copy(BAD / "markup.py", evil)
    run = check(str(evil))
    relu, tanh = of(run, "relu"), of(run, "tanh")
    assert "<script>alert(1)</script>" in relu[("dx", "torch")].message
    assert "<svg onload=alert(2)>" in (relu[("dx", "torch")].traceback or "")
    assert "<img src=x onerror=alert(3)>" in tanh[("shape-dtype", "structure")].message
    out = tmp_path / "report.html"
    write_html(run, out)
    page = out.read_text()
    parser = _Tags()
    parser.feed(page)
    for tag, attrs in parser.tags:
        assert tag not in ("img", "svg") or not any(k.startswith("on") for k in attrs), (tag, attrs)
        for k, v in attrs.items():
            assert not (k.startswith("on") and "alert(" in (v or "")), (tag, k, v)
    assert not any("alert(" in s for s in parser.script_text), "candidate text inside a script element"
    for raw in ("<script>alert(1)</script>", "<svg onload=alert(2)>", "<img src=x onerror=alert(3)>",
                "<img src=x onerror=alert(4)>"):
        assert raw not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(3)&gt;" in page


# --- 9. bounded memory over a long run -------------------------------------------------------------------------


def test_parent_memory_and_descriptors_stay_bounded_over_many_ops():
    cfg = RunConfig(ops=["relu"], profile="ci", max_examples=1, kink_examples=0, timeout=5.0)
    got: list[list[Record]] = []

    def on_done(label, records, coverage):
        got.append(records)

    tgt = target("wrong_scale.py")  # fails: every op comes back with counterexamples and arrays
    run_ops_isolated(tgt, "native", [("relu", "relu")] * 2, cfg, on_done)  # warm up
    rss0, fds0 = _status_kib("VmRSS"), len(os.listdir("/proc/self/fd"))
    n = 8
    run_ops_isolated(tgt, "native", [("relu", "relu")] * n, cfg, on_done)
    grown_mib = (_status_kib("VmRSS") - rss0) / 1024
    assert len(got) == 2 + n
    assert all(any(r.status == "fail" for r in recs) for recs in got)
    assert len(os.listdir("/proc/self/fd")) <= fds0, "descriptors leak per op"
    assert not multiprocessing.active_children()
    assert grown_mib < 32, f"the parent grew by {grown_mib:.0f} MiB over {n} ops"
    per_op = max(len(json.dumps(to_jsonable(recs))) for recs in got)
    assert per_op < 200_000, f"one op's records serialise to {per_op} bytes"


def _array_elements(value) -> int:
    return int(np.asarray(value, dtype=object).size) if value is not None else 0


def test_records_of_a_large_failing_case_hold_no_large_arrays():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 16, 16))
    x[np.abs(x) < 1e-3] = 0.5  # clear of the kink
    case = Case("relu", {"x": x}, {}, rng.standard_normal(x.shape), "smooth", "float64", 0)
    recs = evaluate(Runner(load(target("wrong_scale.py")), "relu", SPECS["relu"]), case)
    failed = [r for r in recs.values() if r.status == "fail"]
    assert failed, "the wrong candidate should fail on this case"
    for r in recs.values():
        assert r.counterexample is None or r.counterexample.inputs is None, r.key
        for name, arr in (r.arrays or {}).items():
            assert _array_elements(arr) <= SMALL_ARRAY, (r.key, name)
        assert len(json.dumps(to_jsonable(r))) < 50_000, r.key
