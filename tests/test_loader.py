"""Loading targets the way students lay them out, and the one-line hints for the usual mistakes.

- a file inside a package (``cs231n/layers.py`` doing ``from cs231n.im2col import *``) is
  imported under its package name with the package root on ``sys.path``, and says which root;
- the same without ``cs231n/__init__.py`` (a namespace package);
- a file written for another convention than ``--api`` gets one line naming the right one;
- ``--ops relu,relu`` is relu once.
"""
from __future__ import annotations

import os
import re
import sys
import textwrap
from pathlib import Path

import pytest

from gradcheck.adapters import LoadError, load
from gradcheck.adapters.hints import convention_hint
from gradcheck.adapters.loader import describe_import, load_target, package_root
from gradcheck.cli import main
from gradcheck.run.runner import select_ops

CANDIDATES = Path(__file__).parent / "candidates"

IM2COL = '''
import numpy as np


def positive(x):
    return (x > 0).astype(x.dtype)
'''

LAYERS = '''
from cs231n.im2col import *


def relu_forward(x):
    out = x * positive(x)
    return out, x


def relu_backward(dout, cache):
    return dout * positive(cache)
'''


@pytest.fixture
def assignment(tmp_path, monkeypatch):
    """``tmp/assignment2/cs231n/{__init__,im2col,layers}.py``; ``cs231n`` forgotten afterwards."""
    root = tmp_path / "assignment2"
    pkg = root / "cs231n"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "im2col.py").write_text(textwrap.dedent(IM2COL))
    (pkg / "layers.py").write_text(textwrap.dedent(LAYERS))
    monkeypatch.setenv("HYPOTHESIS_STORAGE_DIRECTORY", str(tmp_path / "hypothesis"))
    yield pkg
    for name in [m for m in sys.modules if m == "cs231n" or m.startswith("cs231n.")]:
        del sys.modules[name]


def test_package_root_is_the_nearest_folder_without_init(assignment):
    root = str(assignment.parent)
    assert package_root(str(assignment / "layers.py")) == (root, "cs231n.layers")
    assert package_root(str(assignment)) == (root, "cs231n")
    assert package_root(str(CANDIDATES / "cs231n_layers.py")) is None  # a file on its own
    assert describe_import(str(assignment / "layers.py")) == \
        f"imported as cs231n.layers, with its package root {root} on sys.path"
    assert describe_import("mypkg.layers") is None


def test_a_file_inside_a_package_loads_and_sys_path_is_left_alone(assignment):
    before = list(sys.path)
    module = load_target(str(assignment / "layers.py"))
    assert module.__name__ == "cs231n.layers"
    assert module.relu_backward.__module__ == "cs231n.layers"
    assert sys.path == before


def test_a_namespace_package_loads_too(assignment):
    (assignment / "__init__.py").unlink()
    assert package_root(str(assignment / "layers.py")) == (str(assignment.parent), "cs231n.layers")
    assert load_target(str(assignment / "layers.py")).__name__ == "cs231n.layers"
    # a file that does not import its folder by name stays a file on its own
    (assignment / "alone.py").write_text("def relu_forward(x):\n    return x\n")
    assert package_root(str(assignment / "alone.py")) is None


def test_an_import_error_inside_a_package_names_the_root(assignment):
    (assignment / "layers.py").write_text("from cs231n.im2col import *\nraise RuntimeError('half done')\n")
    with pytest.raises(LoadError) as err:
        load_target(str(assignment / "layers.py"))
    text = str(err.value)
    assert "imported as cs231n.layers, with its package root" in text and "RuntimeError: half done" in text
    assert "\n" not in text


def test_another_package_of_the_same_name_is_refused_in_one_line(assignment, tmp_path):
    other = tmp_path / "elsewhere" / "cs231n"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("")
    (other / "layers.py").write_text(textwrap.dedent(LAYERS))
    (other / "im2col.py").write_text(textwrap.dedent(IM2COL))
    load_target(str(assignment / "layers.py"))
    with pytest.raises(LoadError, match="another package named cs231n is already imported"):
        load_target(str(other / "layers.py"))


def test_the_command_line_checks_a_package_file_and_says_its_root(assignment, capsys):
    code = main(["check", str(assignment / "layers.py"), "--api", "cs231n", "--ops", "relu,relu",
                 "--max-examples", "3", "--kink-examples", "1", "--no-report", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    flat = re.sub(r"\n\s+", " ", out)  # wrapped lines joined
    assert f"imported as cs231n.layers, with its package root {assignment.parent} on sys.path" in flat
    assert sum(ln.startswith("relu ") for ln in out.splitlines()) == 1  # relu once


def test_select_ops_names_each_op_once():
    available = {"relu": "relu", "conv2d": "conv2d"}
    assert select_ops(available, ["relu", "relu", "conv2d", "relu"]) == [("relu", "relu"), ("conv2d", "conv2d")]
    with pytest.raises(LoadError, match="unknown op nope"):
        select_ops(available, ["relu", "nope"])


# -- hints for the usual mistakes -----------------------------------------------------------------
@pytest.mark.parametrize("file, api, right", [
    ("cs231n_layers.py", "native", "cs231n"),
    ("cs231n_layers.py", "torch", "cs231n"),
    ("native_layers.py", "cs231n", "native"),
    ("native_layers.py", "torch", "native"),
])
def test_a_file_of_another_convention_gets_one_line_naming_it(file, api, right):
    target = str(CANDIDATES / file)
    with pytest.raises(LoadError) as err:
        load(target, api)
    text = str(err.value)
    assert text.endswith(f"check it with --api {right}") and "\n" not in text
    assert f"looks written for the {right} convention" in text


def test_no_hint_for_the_right_convention_or_a_mixed_file(tmp_path):
    load_target_ok = load(str(CANDIDATES / "cs231n_layers.py"), "cs231n")
    assert load_target_ok.api == "cs231n"
    mixed = tmp_path / "mixed.py"
    mixed.write_text("def relu_forward(x):\n    return x\n\ndef relu_backward(d, x):\n    return d\n")
    assert convention_hint(load_target(str(mixed)), str(mixed), "native") is None  # as many ops either way


def test_the_hint_from_the_command_line_is_one_line_and_exit_status_2(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HYPOTHESIS_STORAGE_DIRECTORY", str(tmp_path))
    code = main(["check", str(CANDIDATES / "cs231n_conv_dw_stride_ignored.py"), "--quiet", "--no-report"])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "--api cs231n" in lines[0] and "conv_forward_naive" in lines[0]
    assert os.path.basename(lines[0].split()[2]) == "cs231n_conv_dw_stride_ignored.py"
