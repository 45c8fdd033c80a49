"""Reproductions (gradcheck.judge.repro): each snippet runs in a fresh interpreter and shows the bug.

A snippet must import the candidate's own functions (not gradcheck), call them the way the
candidate is written and print ``... difference D (allowed A)`` with ``|D| > A`` for a broken
candidate; an error record's snippet raises the candidate's own exception. The catalogue part
runs a subset of the catalogue's bugs that covers every convention, every kind of oracle
(torch and scipy, finite differences, subgradient rules, structure), shapes and errors.
"""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from catalogue import CATALOGUE, run_ours
from gradcheck.config import RunConfig
from gradcheck.records import Record
from gradcheck.judge.repro import _import_lines, command, python_snippet
from gradcheck.run.runner import add_repro, run_check

DIFF = re.compile(r"difference (\S+) \(allowed (\S+)\)")

#: (catalogue entry, kind of oracle) whose snippet is run: every convention, every kind of oracle,
#: shape failures, an error, a forward bug, a structural finding.
SUBSET = (
    ("cs231n_conv_dx_unflipped", "truth"),
    ("cs231n_affine_dw_transposed", "truth"),
    ("cs231n_maxpool_all_ties", "subgradient"),
    ("cs231n_relu_inplace_dout", "structure"),
    ("native_dense_no_bias", "fd"),
    ("native_conv_dx_dilation_ignored", "truth"),
    ("native_maxpool_padding_ignored", "error"),
)


def _run(code: str, where: Path) -> subprocess.CompletedProcess:
    path = where / "snippet.py"
    path.write_text(code)
    return subprocess.run([sys.executable, str(path)], capture_output=True, text=True, cwd=where, timeout=120)


def _shows_the_bug(rec: Record, proc: subprocess.CompletedProcess) -> bool:
    if rec.status == "error":
        exc = re.search(r"raised (\w+)", rec.message or "")
        return proc.returncode != 0 and (exc is None or exc.group(1) in proc.stderr)
    if proc.returncode != 0:
        return False
    return any(abs(float(d)) > float(a) for d, a in DIFF.findall(proc.stdout))


def _kind(rec: Record) -> str:
    if rec.status == "error":
        return "error"
    return rec.oracle if rec.oracle in ("fd", "subgradient", "structure") else "truth"


@pytest.fixture(scope="module")
def catalogue_runs() -> dict[str, list[Record]]:
    """The records of each entry of the subset, reproductions attached (3 smooth, 2 kink cases)."""
    out = {}
    for entry in (e for e in CATALOGUE if e.name in dict(SUBSET)):
        run = run_ours(entry, 3, 2)
        cfg = RunConfig(ops=list(entry.ops), max_examples=3, kink_examples=2, isolate=False)
        for rec in run.records:
            add_repro(rec, entry.path, entry.api, cfg)
        out[entry.name] = run.records
    return out


@pytest.fixture(scope="module")
def catalogue_snippets(catalogue_runs, tmp_path_factory) -> list[tuple[str, Record, subprocess.CompletedProcess]]:
    """The snippet of each (entry, kind) of the subset, run in an interpreter of its own."""
    jobs = []
    for name, kind in SUBSET:
        rec = next((r for r in catalogue_runs[name] if r.status in ("fail", "error") and _kind(r) == kind
                    and (r.repro or {}).get("python")), None)
        assert rec is not None, f"{name}: no {kind} finding with a snippet"
        jobs.append((name, rec, rec.repro["python"], tmp_path_factory.mktemp("snippet")))
    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = list(pool.map(lambda j: _run(j[2], j[3]), jobs))
    return [(name, rec, proc) for (name, rec, _, _), proc in zip(jobs, procs)]


def test_catalogue_subset_is_what_it_says():
    names = {e.name for e in CATALOGUE if not e.correct}
    assert {name for name, _ in SUBSET} <= names
    assert {kind for _, kind in SUBSET} == {"truth", "fd", "subgradient", "structure", "error"}
    assert {name.split("_")[0] for name, _ in SUBSET} == {"cs231n", "native"}


def test_every_catalogue_snippet_shows_its_bug(catalogue_snippets):
    bad = [f"{name} {rec.key}: rc {p.returncode}\n{p.stdout}\n{p.stderr[-800:]}"
           for name, rec, p in catalogue_snippets if not _shows_the_bug(rec, p)]
    assert not bad, "\n\n".join(bad)


def test_catalogue_snippets_import_the_candidate_not_the_harness(catalogue_snippets):
    for name, rec, _ in catalogue_snippets:
        code = rec.repro["python"]
        assert not re.search(r"^\s*(import|from)\s+gradcheck", code, re.M), (name, rec.key)
        assert "sys.path.insert(0, " in code and f"from {name} import" in code


def test_cs231n_snippet_calls_the_candidate_as_written(catalogue_runs):
    rec = next(r for r in catalogue_runs["cs231n_conv_dx_unflipped"]
               if r.status == "fail" and r.quantity == "dx" and r.oracle == "torch")
    code = rec.repro["python"]
    assert "from cs231n_conv_dx_unflipped import conv_forward_naive, conv_backward_naive" in code
    assert "out, cache = conv_forward_naive(x, w, b, conv_param)" in code
    assert "dx, dw, db = conv_backward_naive(dout, cache)" in code
    assert "conv_param = {'stride': " in code and "F.conv2d(" in code and "torch.float64" in code


def test_subgradient_snippet_does_not_call_torch_the_truth(catalogue_runs):
    rec = next(r for r in catalogue_runs["cs231n_maxpool_all_ties"] if r.status == "fail" and r.oracle == "subgradient")
    code = rec.repro["python"]
    assert "valid answer among many" in code and "dx_valid = np.array(" in code
    assert "# the truth: torch" not in code


def test_cs231n_dense_snippet_uses_the_candidates_layout(catalogue_runs):
    rec = next(r for r in catalogue_runs["cs231n_affine_dw_transposed"] if r.status == "fail" and r.quantity == "dw")
    code = rec.repro["python"]
    assert "# transposed, as affine_forward takes it" in code and "F.linear(t['x'], t['w'].T, t['b'])" in code


# -- conventions written by hand ------------------------------------------------------------------
NATIVE = '''
import numpy as np


def relu_forward(x):
    return np.maximum(x, 0)


def relu_backward(delta, x):
    return 2.0 * delta * (x > 0)  # the bug: twice the gradient
'''

TORCH = '''
import torch


class relu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3.0 * g * (x > 0)  # the bug: three times the gradient
'''


def _failing(target: str, api: str, ops: list[str]) -> list[Record]:
    cfg = RunConfig(ops=ops, max_examples=3, kink_examples=0, isolate=False)
    run = run_check(target, api, cfg)
    return [r for r in run.records if r.status == "fail" and r.repro and r.repro.get("python")]


@pytest.mark.parametrize("api, source, call", [
    ("native", NATIVE, "dx = relu_backward(delta, x)"),
    ("torch", TORCH, "out_t = call(relu, x_t)"),
])
def test_hand_written_candidates(tmp_path, api, source, call):
    path = tmp_path / "my_layers.py"
    path.write_text(textwrap.dedent(source))
    recs = _failing(str(path), api, ["relu"])
    rec = next(r for r in recs if r.oracle == "torch")
    code = rec.repro["python"]
    assert "from my_layers import relu" in code and call in code
    proc = _run(code, tmp_path)
    assert _shows_the_bug(rec, proc), (proc.stdout, proc.stderr)


def test_attribute_and_package_targets(tmp_path):
    pkg = tmp_path / "course" / "cs231n"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "helpers.py").write_text("import numpy as np\n\ndef mask(x):\n    return (x > 0).astype(float)\n")
    (pkg / "layers.py").write_text(textwrap.dedent('''
        import numpy as np
        from cs231n.helpers import mask


        class Impl:
            @staticmethod
            def relu_forward(x):
                return np.maximum(x, 0)

            @staticmethod
            def relu_backward(delta, x):
                return delta * mask(x) + 1.0  # the bug: one too many
    '''))
    target = f"{pkg / 'layers.py'}:Impl"
    rec = next(r for r in _failing(target, "native", ["relu"]) if r.oracle == "torch")
    code = rec.repro["python"]
    assert f"sys.path.insert(0, {str(tmp_path / 'course')!r})  # the package root of cs231n.layers" in code
    assert "from cs231n.layers import Impl" in code and "Impl.relu_backward(delta, x)" in code
    proc = _run(code, tmp_path)
    assert _shows_the_bug(rec, proc), (proc.stdout, proc.stderr)


def test_import_lines_for_modules_and_odd_file_names(tmp_path):
    assert _import_lines("mypkg.layers", ["a", "b"]) == (["from mypkg.layers import a, b"], "")
    assert _import_lines("reference", ["conv2d_forward"]) == (["from reference import conv2d_forward"], "")
    odd = tmp_path / "my-layers.py"
    odd.write_text("")
    lines, _ = _import_lines(str(odd), ["relu_forward"])
    assert any("spec_from_file_location" in ln for ln in lines)
    assert lines[-2:] == ["_spec.loader.exec_module(candidate)", "relu_forward = candidate.relu_forward"]


def test_command_carries_every_setting_that_changes_the_cases():
    rec = Record("conv2d", "dw", "torch", "fail")
    assert command(rec, "layers.py", "cs231n", RunConfig()) == "gradcheck check layers.py --api cs231n --ops conv2d"
    cfg = RunConfig(profile="thorough", max_examples=7, kink_examples=1, seed=3, dtype="float32")
    assert command(rec, "my layers.py", "native", cfg) == (
        "gradcheck check 'my layers.py' --api native --ops conv2d --profile thorough --max-examples 7 "
        "--kink-examples 1 --seed 3 --dtype float32")


def test_no_snippet_without_the_arrays():
    rec = Record("conv2d", "dw", "torch", "fail")
    assert python_snippet(rec, "layers.py", "native") is None
