"""The candidate interface is declared once (``gradcheck.adapters.base``) and every adapter, and
the parent's view of a target loaded in another process, implement it."""
from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck.adapters import load
from gradcheck.adapters.base import Implementation, Target
from gradcheck.config import RunConfig
from gradcheck.run.worker import LoadedTarget, load_isolated

CANDIDATES = Path(__file__).resolve().parent / "candidates"
TARGETS = [("reference", "native"), (str(CANDIDATES / "cs231n_layers.py"), "cs231n"), ("torch.nn.functional", "torch")]


@pytest.mark.parametrize("target,api", TARGETS, ids=[a for _, a in TARGETS])
def test_every_adapter_implements_the_declared_interface(target, api):
    impl = load(target, api)
    assert isinstance(impl, Implementation) and isinstance(impl, Target)
    ops = impl.ops()
    assert ops and all(isinstance(label, str) and isinstance(op, str) for label, op in ops.items())
    label = next(label for label in ops if impl.missing(label) is None)
    assert isinstance(impl.constraints(label), dict)
    assert impl.tolerance_dtype(label, "float64") == "float64"


def test_a_target_loaded_in_another_process_is_a_target_and_agrees_with_the_adapter():
    loaded = load_isolated("reference", "native", RunConfig())
    assert isinstance(loaded, LoadedTarget) and isinstance(loaded, Target)
    here = load("reference", "native")
    assert loaded.ops() == here.ops()
    assert all(loaded.missing(k) == here.missing(k) and loaded.constraints(k) == here.constraints(k) for k in here.ops())
