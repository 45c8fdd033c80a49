"""Classification losses on logits and integer labels: softmax cross-entropy and the multiclass
hinge (CS231n's ``svm_loss``), each the mean over the batch.

x (N, K) logits, y (N,) integer labels in [0, K) -> 0-d E; the upstream gradient delta is 0-d.
The labels are not differentiated: a case holds them among its params (hypothesis draws and
shrinks them there) and candidates receive them as an int64 array after x.

- softmax_cross_entropy: ``E = (1/N) sum_i (log sum_j exp x_ij - x_{i, y_i})``, ``dx = (delta/N)
  (softmax(x) - onehot(y))``. Logits of 1e3 are among the smooth cases: a softmax without the
  max shift overflows there.
- svm_loss: ``E = (1/N) sum_i sum_{j != y_i} max(0, x_ij - x_{i, y_i} + 1)``. At a margin of
  exactly 0 the hinge has a kink: any share c in [0, 1] of that margin's gradient is valid
  (``gradcheck.judge.subgradient``, rule ``"hinge"``); smooth cases keep every margin clear of 0.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from gradcheck.ops.spec import (Bench, CS231n, Family, Geometry, Kink, ModuleMatch, OpProtocol, OpSpec, Params, Pick, Shapes,
                                TorchCall, check_limits, torch)

__all__ = ["ClassifyFamily", "CLASSIFY", "SOFTMAX_CROSS_ENTROPY", "SVM_LOSS", "SPECS", "margins"]


class ClassifyFamily(Family):
    """Geometry of a batch of logits: N samples of K classes and one label per sample."""

    name = "classify"
    features = ("N>1", "K>2", "shared label", "label K-1")
    constraint_keys = {"batch": ("max", "max_batch"), "classes": ("max", "max_classes")}
    small = {"max_batch": 3, "max_classes": 3}
    bench_group = "losses"

    def geometry(self, pick: Pick, *, max_batch: int = 4, max_classes: int = 5) -> Geometry:
        """Shapes ``{"x": (N, K)}`` and params ``{"y": (y_0, ..., y_{N-1})}``, K from 2."""
        check_limits(max_batch=max_batch, max_classes=max_classes)
        n, k = pick(1, max_batch), pick(2, max(2, max_classes))
        return {"x": (n, k)}, {"y": tuple(pick(0, k - 1) for _ in range(n))}

    def limits_within(self, shapes: Shapes, params: Params) -> dict[str, int]:
        return {"max_batch": shapes["x"][0], "max_classes": shapes["x"][1]}

    def long_reduction(self, own: dict[str, Any]) -> Geometry:
        n, k = 64, 1000
        return {"x": (n, k)}, {"y": tuple(i * 37 % k for i in range(n))}

    def features_of(self, shapes: Shapes, params: Params) -> set[str]:
        n, k = shapes["x"]
        y = params["y"]
        on = {"N>1": n > 1, "K>2": k > 2, "shared label": len(set(y)) < len(y), "label K-1": k - 1 in y}
        return {f for f, v in on.items() if v}


CLASSIFY = ClassifyFamily()


def _labels(p: Params):
    return torch().as_tensor(np.asarray(p["y"], dtype=np.int64))


def _rows(case: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(case.inputs["x"], np.float64)
    y = np.asarray(case.params["y"], dtype=np.int64)
    return x, y, np.arange(x.shape[0])


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _ce_magnitudes(spec: OpSpec, case: Any, torch_run: Callable) -> dict[str, np.ndarray]:
    """Forward: per sample |max x| + log K + |x_y| (the terms of the stable log-sum-exp), averaged;
    dx: |delta|/N (p + onehot)."""
    x, y, rows = _rows(case)
    n, k = x.shape
    onehot = np.zeros_like(x)
    onehot[rows, y] = 1
    per = np.abs(x).max(axis=1) + math.log(k) + np.abs(x[rows, y])
    return {"forward": np.asarray(per.mean()), "dx": abs(float(case.delta)) / n * (_softmax(x) + onehot)}


def _ce_torch(t: dict[str, Any], p: Params):
    return torch().nn.functional.cross_entropy(t["x"], _labels(p))


def _ce_scipy(spec: OpSpec, case: Any):
    from scipy.special import log_softmax, softmax

    x, y, rows = _rows(case)
    n = x.shape[0]
    e = -log_softmax(x, axis=1)[rows, y].mean()
    dx = softmax(x, axis=1)
    dx[rows, y] -= 1
    return np.asarray(e), {"dx": float(case.delta) / n * dx}


_CS = dict(arrays=("x",), labels=("y",))

SOFTMAX_CROSS_ENTROPY = OpSpec(
    OpProtocol("softmax_cross_entropy", ("x",), ("dx",), (), labels=("y",)), CLASSIFY, _ce_torch,
    lambda t, p: f"F.cross_entropy({t['x']}, torch.tensor({list(p['y'])}))",
    lambda s, p: (), {"x": "full"},
    lambda s, p: {"forward": s["x"][1] + s["x"][0] + 2, "dx": s["x"][1] + 2},
    scipy=_ce_scipy, scipy_grads=True, magnitudes=_ce_magnitudes, batched=False,
    cs231n=(CS231n("softmax_loss", None, **_CS),),
    module=ModuleMatch(hints=("crossentropy", "softmax"), rank=1),
    torch_call=TorchCall("cross_entropy"),
    bench=(Bench({"x": (64, 1000)}, {"y": tuple(i * 37 % 1000 for i in range(64))}, "cross_entropy",
                 {"x": (16, 100)}),),
)


# -- the multiclass hinge ----------------------------------------------------------------------------
def margins(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``m_ij = x_ij + (1 - x_{i, y_i})`` for ``j != y_i`` (torch's order of operations), NaN
    at ``j = y_i``."""
    rows = np.arange(x.shape[0])
    m = x + (1 - x[rows, y])[:, None]
    m[rows, y] = np.nan
    return m


def _svm_margins(case: Any) -> np.ndarray:
    x, y, _ = _rows(case)
    return margins(x, y)


def _svm_torch(t: dict[str, Any], p: Params):
    x = t["x"]
    # K * multi_margin_loss: torch divides each sample's sum by the number of classes
    return torch().nn.functional.multi_margin_loss(x, _labels(p)) * x.shape[1]


def _svm_scipy(spec: OpSpec, case: Any):
    x, y, rows = _rows(case)
    n = x.shape[0]
    m = np.nan_to_num(_svm_margins(case), nan=-1.0)
    active = (m > 0).astype(np.float64)
    dx = active.copy()
    dx[rows, y] = -active.sum(axis=1)
    return np.asarray(np.maximum(m, 0).sum() / n), {"dx": float(case.delta) / n * dx}


def _svm_magnitudes(spec: OpSpec, case: Any, torch_run: Callable) -> dict[str, np.ndarray]:
    x, y, rows = _rows(case)
    n, k = x.shape
    terms = np.abs(x) + np.abs(x[rows, y])[:, None] + 1
    terms[rows, y] = 0
    dx = np.full(x.shape, abs(float(case.delta)) / n)
    dx[rows, y] *= k - 1
    return {"forward": np.asarray(terms.sum() / n), "dx": dx}


def _svm_tie(inputs: dict[str, np.ndarray], params: Params, lo: int, hi: int) -> None:
    """Put sample 0's first wrong class exactly on the margin: x_0j = x_{0, y_0} - 1."""
    x, y0 = inputs["x"], params["y"][0]
    j = 1 if y0 == 0 else 0
    x[0, j] = x[0, y0] - 1


def _svm_on_tie(case: Any) -> set[str]:
    return {"margin = 0"} if (_svm_margins(case) == 0).any() else set()


def _svm_clear(case: Any, scale: float, margin: float) -> bool:
    m = np.abs(_svm_margins(case))
    return bool(np.nanmin(m, initial=np.inf) > margin * max(scale, float(np.nanmax(m, initial=0.0))))


HINGE = Kink("hinge", ("margin = 0",), _svm_on_tie, _svm_tie, values=(-2, 2), clear=_svm_clear, title="the hinge")

SVM_LOSS = OpSpec(
    OpProtocol("svm_loss", ("x",), ("dx",), (), labels=("y",)), CLASSIFY, _svm_torch,
    lambda t, p: f"F.multi_margin_loss({t['x']}, torch.tensor({list(p['y'])})) * {t['x']}.shape[1]",
    lambda s, p: (), {"x": "full"},
    lambda s, p: {"forward": s["x"][0] * s["x"][1] + 2, "dx": s["x"][1] + 2},
    kink=HINGE, scipy=_svm_scipy, scipy_grads=True, magnitudes=_svm_magnitudes, batched=False,
    cs231n=(CS231n("svm_loss", None, **_CS),),
    module=ModuleMatch(hints=("svm", "hinge", "multimargin"), rank=1),
    bench=(Bench({"x": (64, 1000)}, {"y": tuple(i * 37 % 1000 for i in range(64))}, "multi_margin_loss",
                 {"x": (16, 100)}),),
)

SPECS = (SOFTMAX_CROSS_ENTROPY, SVM_LOSS)
