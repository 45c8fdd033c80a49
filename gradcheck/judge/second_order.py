"""Second-order checks of a ``torch.autograd.Function``'s hand-written backward.

A Function whose backward is not marked ``@once_differentiable`` claims it can be
differentiated again; torch then differentiates the backward's own graph. Two checks follow
what ``torch.autograd.gradgradcheck`` and ``gradcheck(check_forward_ad=True)`` do, as records:

- ``<g>-double`` vs ``fd`` (``dx-double``, ``dw-double``, ``db-double``) and
  ``ddelta-double`` vs ``fd``: with ``s = <u, backward(delta)>`` for a random ``u``, the
  gradient of ``s`` that autograd gives by differentiating the backward (double backward)
  against central finite differences of ``s`` — the candidate's own forward and backward run
  again on perturbed inputs. Intermediates saved on ``ctx`` as constants, a backward that leaves
  the graph (numpy, ``.detach()``, ``torch.no_grad``) or a wrong derivative of the backward
  all show here.
- ``jvp`` vs ``backward``, where the Function defines ``jvp``: forward-mode AD's ``J t`` for a
  random tangent along each input, against ``J t`` assembled from the backward
  (``(J^T e_i) . t`` for each output element ``i``).

A backward marked ``@once_differentiable`` gets ``not-provided`` double records saying so, and a
Function without ``jvp`` a ``not-provided`` jvp record. Cases are small, float64 and clear of
kinks by far more than the step; each failure is shrunk by hypothesis. Tolerances are
gradgradcheck's: ``|autograd - fd| <= atol + rtol * |fd|`` with ``atol = 1e-5``, ``rtol = 1e-3``.

Long because double backward and jvp checks share their case drawing, shrinking and evaluation.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from gradcheck.adapters.base import BadReturn, CandidateError, Unsupported, call_candidate
from gradcheck.adapters.constraints import call_kwargs, combine, signature_limits
from gradcheck.cases import SMALL_ARRAY, Case
from gradcheck.config import RunConfig
from gradcheck.ops import SPECS
from gradcheck.records import Record, Worst

__all__ = ["KEYS_NOTE", "second_order_keys", "check_function", "is_once_differentiable", "defines_jvp", "ATOL", "RTOL",
           "STEP"]

ATOL, RTOL, STEP = 1e-5, 1e-3, 1e-6
#: Values are kept at least this far from ReLU zeros, pooling ties and all-zero windows.
_MARGIN = 0.05
#: Judged cases one shrink may spend.
_SHRINK_CALLS = 30
KEYS_NOTE = "second-order checks of a torch.autograd.Function (double backward vs fd, jvp vs backward)"

Key = tuple[str, str]
Call = Callable[..., Any]


def second_order_keys(op: str) -> list[Key]:
    """The ``(quantity, oracle)`` of every second-order check of ``op``, in display order."""
    spec = SPECS[op]
    return [(f"{g}-double", "fd") for g in spec.grads] + [("ddelta-double", "fd"), ("jvp", "backward")]


def is_once_differentiable(fn: Any) -> bool:
    """Whether the Function's backward is wrapped by ``torch.autograd.function.once_differentiable``."""
    backward = getattr(fn, "backward", None)
    code = getattr(backward, "__code__", None)
    return bool(code is not None and getattr(backward, "__wrapped__", None) is not None
                and code.co_filename.replace("\\", "/").endswith("torch/autograd/function.py"))


def defines_jvp(fn: Any) -> bool:
    """Whether the Function (or a base class below ``torch.autograd.Function``) defines ``jvp``."""
    import torch

    for cls in fn.__mro__:
        if cls is torch.autograd.Function:
            return False
        if "jvp" in vars(cls):
            return True
    return False


# ---- cases ------------------------------------------------------------------------------------


def _values(op: str, shapes: dict[str, tuple[int, ...]], params: dict[str, Any], rng: np.random.Generator):
    """Standard-normal values clear of the op's kinks by ``_MARGIN`` (``None``: draw again)."""
    spec = SPECS[op]
    if spec.kink is not None and spec.kink.spread:
        n, rest = shapes["x"][0], int(np.prod(shapes["x"][1:]))
        ranks = np.argsort(rng.random((n, rest)), axis=1)
        inputs = {"x": ((ranks - rest / 2) * 2 * _MARGIN + rng.uniform(0, _MARGIN / 2, ranks.shape)).reshape(shapes["x"])}
    else:
        inputs = {k: rng.standard_normal(s) for k, s in shapes.items()}
    if spec.kink is not None and spec.kink.away:
        x = inputs["x"]
        inputs["x"] = np.where(np.abs(x) < _MARGIN, np.copysign(_MARGIN, x) + x, x)
    if spec.kink is not None and spec.kink.clear is not None:
        import torch

        t = {k: torch.from_numpy(v) for k, v in inputs.items()}
        with torch.no_grad():  # the window norms, or the pre-activations, must stay clear of 0
            z = spec.torch_forward(t, params) if spec.inner is None else spec.inner.torch_forward(t, params)
        if float(z.abs().min()) < _MARGIN:
            return None
    delta = rng.standard_normal(spec.out_shape(shapes, params))
    return inputs, delta


@st.composite
def _cases(draw, op: str, limits: dict[str, Any]) -> Case:
    from hypothesis import assume

    from gradcheck.cases.strategies import geometry

    shapes, params = draw(geometry(op, **limits))
    seed = draw(st.integers(0, 2**32 - 1))
    got = _values(op, shapes, params, np.random.default_rng(seed))
    assume(got is not None)
    inputs, delta = got
    return Case(op, inputs, params, delta, kind="smooth", dtype="float64", seed=seed)


# ---- one case ---------------------------------------------------------------------------------


class _Evaluator:
    """The candidate Function on one case: first and second order, forward mode."""

    def __init__(self, fn: Any, label: str, op: str, device: str, call: Call):
        self.fn, self.label, self.op, self.spec, self.device, self.call = fn, label, op, SPECS[op], device, call
        self.wrt = self.spec.grad_inputs

    def _tensors(self, case: Case, grad: bool) -> dict[str, Any]:
        import torch

        return {k: torch.tensor(v, dtype=torch.float64, device=self.device, requires_grad=grad and k in self.wrt)
                for k, v in case.inputs.items()}

    def _apply(self, case: Case, tensors: dict[str, Any]):
        import torch

        hyper = call_kwargs(case.op, self.fn.forward, case.params).values()
        out = self.call(f"{self.label}.apply", self.fn.apply, *tensors.values(), *hyper)
        if not isinstance(out, torch.Tensor):
            raise BadReturn(f"{self.label}.apply must return a torch.Tensor, returned {type(out).__name__}")
        return out

    def _first(self, case: Case, tensors: dict[str, Any], v, create_graph: bool) -> list:
        import torch

        with torch.enable_grad():
            out = self._apply(case, tensors)
            return list(self.call(f"{self.label} backward", torch.autograd.grad, out, [tensors[k] for k in self.wrt], v,
                                  create_graph=create_graph, allow_unused=True))

    def s(self, case: Case, u: list[np.ndarray], inputs: dict[str, np.ndarray], delta: np.ndarray) -> float:
        """``<u, backward(delta)>`` at ``inputs`` (plain first order, for finite differences)."""
        import torch

        c = Case(case.op, inputs, case.params, delta)
        tensors = self._tensors(c, True)
        grads = self._first(c, tensors, torch.tensor(delta, dtype=torch.float64, device=self.device), False)
        return float(sum(float((g.detach().cpu().double() * torch.from_numpy(uk)).sum()) for g, uk in zip(grads, u)
                         if g is not None))

    def double(self, case: Case, u: list[np.ndarray]) -> tuple[dict[str, np.ndarray], str]:
        """Autograd's gradient of ``s`` w.r.t. each input and ``delta``, and a note when the
        backward's result is not connected to them."""
        import torch

        tensors = self._tensors(case, True)
        v = torch.tensor(case.delta, dtype=torch.float64, device=self.device, requires_grad=True)
        with torch.enable_grad():
            grads = self._first(case, tensors, v, True)
            terms = [(g * torch.as_tensor(uk, device=g.device, dtype=g.dtype)).sum() for g, uk in zip(grads, u)
                     if g is not None and g.requires_grad]
            wrt = [tensors[k] for k in self.wrt] + [v]
            note = ""
            if not terms:
                second = [None] * len(wrt)
                note = "the backward's result does not depend on anything through autograd (it left the graph)"
            else:
                second = self.call(f"{self.label} double backward", torch.autograd.grad, sum(terms), wrt,
                                   allow_unused=True)
        names = [f"d{k}" for k in self.wrt] + ["ddelta"]
        arrays = [case.inputs[k] for k in self.wrt] + [case.delta]
        out = {n: (np.zeros_like(a) if g is None else g.detach().cpu().double().numpy())
               for n, g, a in zip(names, second, arrays)}
        return out, note

    def fd(self, case: Case, u: list[np.ndarray]) -> dict[str, np.ndarray]:
        """Central differences of ``s`` along every element of every input and of ``delta``."""
        out = {}
        for k in list(self.wrt) + ["delta"]:
            base = case.delta if k == "delta" else case.inputs[k]
            grad = np.zeros_like(base)
            for idx in np.ndindex(base.shape):
                vals = []
                for sign in (1.0, -1.0):
                    moved = base.copy()
                    moved[idx] += sign * STEP
                    ins = case.inputs if k == "delta" else {**case.inputs, k: moved}
                    vals.append(self.s(case, u, ins, moved if k == "delta" else case.delta))
                grad[idx] = (vals[0] - vals[1]) / (2 * STEP)
            out["ddelta" if k == "delta" else f"d{k}"] = grad
        return out

    def jvp(self, case: Case, k: str, tangent: np.ndarray) -> np.ndarray | None:
        """Forward-mode AD's ``J t`` along input ``k`` (``None`` when no tangent came out)."""
        import torch
        import torch.autograd.forward_ad as fwAD

        tensors = self._tensors(case, False)
        with fwAD.dual_level():
            tensors[k] = fwAD.make_dual(tensors[k], torch.tensor(tangent, dtype=torch.float64, device=self.device))
            out = self._apply(case, tensors)
            t = fwAD.unpack_dual(out).tangent
        return None if t is None else t.detach().cpu().double().numpy()

    def jvp_from_backward(self, case: Case, k: str, tangent: np.ndarray) -> np.ndarray:
        """``J t`` along input ``k``, one backward per output element."""
        import torch

        tensors = self._tensors(case, True)
        with torch.enable_grad():
            out = self._apply(case, tensors)
            ref = np.zeros(tuple(out.shape))
            for idx in np.ndindex(ref.shape):
                e = torch.zeros_like(out)
                e[idx] = 1.0
                (g,) = self.call(f"{self.label} backward", torch.autograd.grad, out, [tensors[k]], e, retain_graph=True,
                                 allow_unused=True)
                ref[idx] = 0.0 if g is None else float((g.detach().cpu().double().numpy() * tangent).sum())
        return ref


# ---- comparison ---------------------------------------------------------------------------------


def _compare(label: str, quantity: str, oracle: str, actual: np.ndarray, expected: np.ndarray, case: Case,
             what: str) -> Record:
    err = np.abs(actual - expected)
    allowed = ATOL + RTOL * np.abs(expected)
    ratio = err / allowed
    rel = float((err / np.maximum(np.abs(expected), 1e-300)).max()) if err.size else 0.0
    rec = Record(label, quantity, oracle, "pass", max_abs_err=float(err.max()) if err.size else 0.0, max_rel_err=rel,
                 tolerance=RTOL, examples=1)
    if not err.size or not (ratio > 1).any() and np.isfinite(actual).all():
        return rec
    idx = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(ratio), ratio, np.inf))), err.shape)
    bad = int((~(ratio <= 1)).sum())
    rec.status = "fail"
    rec.counterexample = case.counterexample()
    rec.worst = Worst(index=[int(i) for i in idx], actual=float(actual[idx]), expected=float(expected[idx]),
                      abs_err=float(err[idx]), tolerance=float(allowed[idx]))
    rec.message = (f"{what}: {bad} of {err.size} elements differ; worst at {list(map(int, idx))}: "
                   f"{actual[idx]:.6g} vs {expected[idx]:.6g} (|error| {err[idx]:.3g}, allowed {allowed[idx]:.3g})")
    if err.size <= SMALL_ARRAY:
        rec.arrays = {"expected": expected, "actual": actual, "error": ratio}
    return rec


def _error(label: str, key: Key, exc: BaseException, case: Case) -> Record:
    if isinstance(exc, CandidateError):
        message, tb = f"{exc.where} raised {type(exc.exc).__name__}: {exc.exc}", exc.tb
    else:
        message, tb = str(exc) or type(exc).__name__, None
    return Record(label, *key, "error", examples=1, message=message, traceback=tb, counterexample=case.counterexample())


def _judge(ev: _Evaluator, case: Case, keys: list[Key], once: bool, jvp: bool) -> dict[Key, Record]:
    """The records of one case for ``keys``."""
    rng = np.random.default_rng((case.seed or 0) + 17)
    out: dict[Key, Record] = {}
    double_keys = [k for k in keys if k[0].endswith("-double")]
    if double_keys and not once:
        u = [rng.standard_normal(case.inputs[k].shape) for k in ev.wrt]
        try:
            auto, note = ev.double(case, u)
            num = ev.fd(case, u)
        except (CandidateError, BadReturn) as exc:
            out.update({k: _error(ev.label, k, exc, case) for k in double_keys})
        else:
            for k in double_keys:
                name = k[0][: -len("-double")]
                what = (f"double backward: d<u, backward(delta)>/{name[1:]} from autograd vs finite differences of the "
                        "backward")
                rec = _compare(ev.label, k[0], "fd", auto[name], num[name], case, what)
                if rec.status == "fail" and note:
                    rec.message += f" ({note})"
                out[k] = rec
    if ("jvp", "backward") in keys and jvp:
        found: list[Record] = []
        try:
            for k in ev.wrt:
                t = rng.standard_normal(case.inputs[k].shape)
                got = ev.jvp(case, k, t)
                ref = ev.jvp_from_backward(case, k, t)
                found.append(_compare(ev.label, "jvp", "backward", np.zeros_like(ref) if got is None else got, ref, case,
                                      f"jvp along {k}: forward-mode J t vs J t from the backward"
                                      + (" (forward mode gave no tangent)" if got is None else "")))
        except (CandidateError, BadReturn) as exc:
            found.append(_error(ev.label, ("jvp", "backward"), exc, case))
        bad = [r for r in found if r.status != "pass"]
        out[("jvp", "backward")] = bad[0] if bad else max(found, key=lambda r: r.max_abs_err or 0.0)
    return out


# ---- the search -----------------------------------------------------------------------------------


def _settings(cfg: RunConfig, n: int, phases: tuple) -> settings:
    return settings(max_examples=n, derandomize=cfg.seed is None, database=None, deadline=None, print_blob=False,
                    report_multiple_bugs=False, phases=phases, suppress_health_check=list(HealthCheck))


class _Found(Exception):
    pass


def _merge(old: Record | None, new: Record) -> Record:
    if old is None:
        return new
    order = {"error": 3, "fail": 2, "pass": 1}
    keep = old if order[old.status] >= order[new.status] else new
    out = Record(**{**keep.__dict__})
    out.examples = old.examples + new.examples
    for f in ("max_abs_err", "max_rel_err"):
        vals = [v for v in (getattr(old, f), getattr(new, f)) if v is not None]
        setattr(out, f, max(vals) if vals else None)
    return out


def check_function(fn: Any, label: str, op: str, cfg: RunConfig, *, limits: dict[str, Any] | None = None,
                   device: str = "cpu", call: Call = call_candidate) -> list[Record]:
    """The second-order records of one ``torch.autograd.Function`` for one op.

    Parameters
    ----------
    fn : type
        The ``torch.autograd.Function`` subclass (called as ``fn.apply(*tensors, *params)``).
    label, op : str
        The op label the records carry, and the protocol op it implements.
    cfg : RunConfig
        ``max_examples`` cases are drawn (``seed`` randomises them); every failure is shrunk.
    limits : dict, optional
        The candidate's constraints (strategy limits); cases also stay small.
    device : str
        Where the tensors live.
    call : callable
        ``call(where, fn, *args, **kwargs)`` runs candidate code (a watched process passes one
        that also bounds its time).

    Returns
    -------
    list of Record
        One per :func:`second_order_keys`, in that order.
    """
    started = time.perf_counter()
    keys = second_order_keys(op)
    once, jvp = is_once_differentiable(fn), defines_jvp(fn)
    fixed: dict[Key, Record] = {}
    for k in keys:
        if k[0].endswith("-double") and once:
            fixed[k] = Record(label, *k, "not-provided", message="the backward is marked @once_differentiable: it says it "
                              "cannot be differentiated again, so double backward is not checked")
        elif k == ("jvp", "backward") and not jvp:
            fixed[k] = Record(label, *k, "not-provided", message="the Function defines no jvp (forward-mode AD): not checked")
    live = [k for k in keys if k not in fixed]
    agg: dict[Key, Record] = {}
    first: dict[Key, Record] = {}
    skipped: list[str] = []
    ev = _Evaluator(fn, label, op, device, call)
    small = combine(SPECS[op].family.small, limits or {}, signature_limits(op, getattr(fn, "forward", None)))
    strategy = _cases(op, small)

    def judge(case: Case, keys_now: list[Key]) -> dict[Key, Record]:
        try:
            return _judge(ev, case, keys_now, once, jvp)
        except Unsupported as exc:
            skipped.append(str(exc))
            return {}
        except Exception as exc:  # noqa: BLE001 - a fault of the harness is a record of this case, never the end
            import traceback

            return {k: Record(label, *k, "error", examples=1, message=f"internal error while checking: "
                              f"{type(exc).__name__}: {exc}", traceback="".join(traceback.format_exception(exc)),
                              counterexample=case.counterexample()) for k in keys_now}

    def explore(case: Case) -> None:
        for k, r in judge(case, live).items():
            agg[k] = _merge(agg.get(k), r)
            if r.status != "pass":
                first.setdefault(k, r)

    if live:
        _run(cfg, strategy, explore, cfg.max_examples, (Phase.generate,))
    for k in [k for k in live if k in first]:
        found: list[Record] = []
        _run(cfg, strategy, _shrinker(judge, k, first[k].status, found), max(cfg.max_examples, 10),
             (Phase.generate, Phase.shrink))
        best = found[0] if found else first[k]
        rec = agg[k]
        for f in ("status", "message", "counterexample", "worst", "arrays", "traceback"):
            setattr(rec, f, getattr(best, f))
    out = []
    for k in keys:
        rec = fixed.get(k) or agg.get(k)
        if rec is None:
            why = f"not judged: the candidate declined every case ({skipped[0]})" if skipped else "no case was judged"
            rec = Record(label, *k, "error", message=why, skipped=len(skipped))
        rec.skipped = len(skipped)
        out.append(rec)
    elapsed = time.perf_counter() - started
    for r in out:
        r.duration_s = elapsed / len(out)
    return out


def _shrinker(judge: Callable[[Case, list[Key]], dict[Key, Record]], key: Key, status: str,
              found: list[Record]) -> Callable[[Case], None]:
    """A hypothesis body that stops at a case where ``key`` has ``status`` (keeping its record
    in ``found``), within ``_SHRINK_CALLS`` judged cases."""
    calls = [0]

    def body(case: Case) -> None:
        if calls[0] >= _SHRINK_CALLS:
            return
        calls[0] += 1
        r = judge(case, [key]).get(key)
        if r is not None and r.status == status:
            found[:] = [r]
            raise _Found()

    return body


def _run(cfg: RunConfig, strategy, body: Callable[[Case], None], n: int, phases: tuple) -> None:
    test = _settings(cfg, n, phases)(given(strategy)(body))
    if cfg.seed is not None:
        test = hypothesis_seed(cfg.seed)(test)
    try:
        test()
    except _Found:
        pass
