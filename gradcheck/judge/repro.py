"""Reproductions of a failing record: a command, and a Python snippet in the candidate's own terms.

The command (``gradcheck check TARGET --api API --ops OP ...``) re-runs just that op with the
same settings. The snippet imports the candidate's own functions (a file from its path: its
folder — or its package root — on ``sys.path``), calls them the way the candidate is written
(``out, cache = conv_forward_naive(x, w, b, conv_param)`` / ``dx, dw, db =
conv_backward_naive(dout, cache)`` for CS231n, ``conv2d_backward(delta, x, w, b, stride=...)``
for the native protocol, the callable and ``out.backward(...)`` for the torch API) on the
smallest failing case, computes the truth and *prints* the difference at the worst element:

- against torch autograd in float64 (the torch and scipy oracles, the forward);
- against central differences of the candidate's own forward at that element (the fd oracle:
  backward must agree with one's own forward), with torch's value beside it;
- against the nearest valid gradient (subgradient rules: at a kink or a tie there is a set of
  valid answers, and torch's is one of them, not *the* truth);
- structural checks print the property itself (an input changed in place, two calls that
  differ, backward not linear in ``delta``).

Every snippet ends with a line ``... difference D (allowed A)``, D > A when the bug is there.
Counterexamples too large to write out (``Counterexample.inputs`` is ``None``) get the command only.

Long because a snippet is written in each convention's own terms (native, CS231n, torch), for
each kind of oracle.
"""
from __future__ import annotations

import json
import os
import shlex
import sys
from typing import Any

from gradcheck.adapters.loader import is_file_target, package_root, split_target
from gradcheck.config import PROFILES, RunConfig
from gradcheck.adapters.cs231n import OPS as CS231N_OPS
from gradcheck.ops import PROTOCOL, SPECS
from gradcheck.records import Record

__all__ = ["add_repro", "command", "python_snippet"]

_STRUCTURE_SNIPPETS = ("inputs-unmodified", "determinism", "linearity")


def command(rec: Record, target: str, api: str, cfg: RunConfig) -> str:
    """The ``gradcheck check`` command that re-runs ``rec``'s op with the run's settings."""
    cmd = ["gradcheck", "check", target, "--api", api, "--ops", rec.op]
    if cfg.profile != "ci":
        cmd += ["--profile", cfg.profile]
    smooth, kink = PROFILES[cfg.profile]
    if cfg.max_examples != smooth:
        cmd += ["--max-examples", str(cfg.max_examples)]
    if cfg.kink_examples != kink:
        cmd += ["--kink-examples", str(cfg.kink_examples)]
    if cfg.seed is not None:
        cmd += ["--seed", str(cfg.seed)]
    if cfg.dtype != "float64":
        cmd += ["--dtype", cfg.dtype]
    if cfg.deterministic:
        cmd += ["--deterministic"]
    if cfg.device != "cpu":
        cmd += ["--device", cfg.device]
    if cfg.allow_tf32:
        cmd += ["--allow-tf32"]
    return shlex.join(cmd)


def add_repro(rec: Record, target: str, api: str, cfg: RunConfig) -> None:
    """Attach ``{"command", "python"}`` (the snippet when the case is small) to a failing record."""
    if rec.status not in ("fail", "error"):
        return
    rec.repro = {"command": command(rec, target, api, cfg)}
    snippet = python_snippet(rec, target, api, device=cfg.device)
    if snippet:
        rec.repro["python"] = snippet


# -- importing the candidate ------------------------------------------------------------------
def _import_lines(target: str, names: list[str]) -> tuple[list[str], str]:
    """Lines that import ``names`` from ``target``, and the prefix the calls take (``"Impl."``)."""
    where, attr = split_target(target.strip())
    wanted = [attr] if attr else names
    prefix = f"{attr}." if attr else ""
    if where == "reference" or not is_file_target(where):
        return [f"from {where} import {', '.join(wanted)}"], prefix
    path = os.path.abspath(where)
    found = package_root(path)
    if found is not None:
        root, dotted = found
        return [f"sys.path.insert(0, {root!r})  # the package root of {dotted}",
                f"from {dotted} import {', '.join(wanted)}"], prefix
    if os.path.isdir(path):
        path = os.path.join(path, "__init__.py")
    folder, stem = os.path.dirname(path), os.path.splitext(os.path.basename(path))[0]
    lines = [f"sys.path.insert(0, {folder!r})  # so that {os.path.basename(path)} finds its own imports"]
    if stem.isidentifier() and stem not in sys.stdlib_module_names and stem not in ("numpy", "torch", "scipy"):
        return lines + [f"from {stem} import {', '.join(wanted)}"], prefix
    return lines + [
        "import importlib.util",
        f"_spec = importlib.util.spec_from_file_location('candidate', {path!r})",
        "candidate = importlib.util.module_from_spec(_spec)",
        "_spec.loader.exec_module(candidate)",
        *[f"{n} = candidate.{n}" for n in wanted],
    ], prefix


# -- the candidate's calls ----------------------------------------------------------------------
def _param_text(params: dict[str, Any], p) -> dict[str, str]:
    """Keyword hyper-parameters as the candidate receives them (``OpProtocol.written_kwargs``:
    scalars as one number, labels left out, an optional one at its default left out)."""
    return {k: repr(v) for k, v in p.written_kwargs(params).items()}


def taking_lines(p) -> list[str]:
    """Snippet lines defining ``taking(fn, params)``: ``params`` less an optional hyper-parameter
    ``fn`` does not take, as gradcheck calls it (empty for an op without optional ones)."""
    if not p.optional:
        return []
    names = tuple(name for name, _, _ in p.optional)
    return [
        f"OPTIONAL = {names!r}  # a candidate may leave these out of its signature",
        "",
        "",
        "def taking(fn, params):",
        "    \"\"\"params less an optional one fn does not take, as gradcheck calls it.\"\"\"",
        "    import inspect",
        "    try:",
        "        ps = inspect.signature(fn).parameters",
        "    except (TypeError, ValueError):",
        "        return params",
        "    if any(q.kind is q.VAR_KEYWORD for q in ps.values()):",
        "        return params",
        "    return {k: v for k, v in params.items() if k not in OPTIONAL or k in ps}",
        "",
        "",
    ]


def _positional(p) -> str:
    """The forward's positional arguments in the native protocol: the inputs, then the labels."""
    return ", ".join((*p.inputs, *p.labels))


def _cs231n_args(label: str, params: dict[str, Any], names: Any = None) -> tuple[list[str], str]:
    """(setup lines, the forward's argument text) of a CS231n pair; ``names`` maps an input to
    its expression (default: its name)."""
    _, c = CS231N_OPS[label]
    name = names or (lambda k: k)
    args = [(f"{name(k)}.reshape(1, -1, 1, 1)" if k in c.shaped else name(k)) for k in c.arrays]
    args += list(c.labels) + [repr(params[k][0]) for k in c.scalars]
    setup = []
    if c.param is not None:
        pname, value = c.param(params)
        setup = [f"{pname} = {value!r}"]
        args.append(pname)
    return setup, ", ".join(args)


def _cs231n_calls(label: str, op: str, params: dict[str, Any], p, pre: str) -> tuple[list[str], list[str], str]:
    """(setup lines, call lines, name of delta) for the CS231n convention."""
    _, c = CS231N_OPS[label]
    setup, args = _cs231n_args(label, params)
    grads = ", ".join(p.grads)
    if c.backward is None:  # (loss, dx): the loss's own gradient, times the upstream one
        return setup, [f"out, {grads} = {pre}{c.forward}({args})", f"{grads} = {grads} * dout"], "dout"
    back = [f"{g} = np.reshape({g}, -1)  # held as (1, C, 1, 1) by the convention" for g in p.grads if g[1:] in c.shaped]
    return setup, [f"out, cache = {pre}{c.forward}({args})", f"{grads} = {pre}{c.backward}(dout, cache)", *back], "dout"


def _native_calls(op: str, params: dict[str, Any], p, pre: str) -> tuple[list[str], list[str], str]:
    args = _positional(p)
    grads = ", ".join(p.grads)
    fwd, bwd = f"{pre}{p.forward_name}", f"{pre}{p.backward_name}"
    if p.optional:
        kw = ", ".join(f"{k}={v!r}" for k, v in p.call_kwargs(params).items())
        return [f"params = dict({kw})", *taking_lines(p)], [
            f"out = {fwd}({args}, **taking({fwd}, params))",
            f"{grads} = {bwd}(delta, {args}, **taking({bwd}, params))"], "delta"
    kw = "".join(f", {k}={v}" for k, v in _param_text(params, p).items())
    return [], [f"out = {fwd}({args}{kw})", f"{grads} = {bwd}(delta, {args}{kw})"], "delta"


def _torch_calls(op: str, params: dict[str, Any], p, pre: str, device: str,
                 dtype: str = "float64") -> tuple[list[str], list[str], str]:
    kw = ", ".join(f"{k}={v!r}" for k, v in p.call_kwargs(params).items())
    take = (lambda fn: f"taking({fn}, params)") if p.optional else (lambda fn: "params")
    tensors = ", ".join([f"{k}_t" for k in p.inputs] + [f"torch.as_tensor({k}, device={device!r})" for k in p.labels])
    tc = SPECS[op].torch_call
    seed = [f"    torch.manual_seed({int(params['seed'][0])})  # gradcheck seeds torch's generator before each call"] \
        if tc is not None and tc.seeded else []
    plain = [f"    return {tc.source}" if tc is not None and tc.source else f"    return fn(*tensors, **{take('fn')})"]
    setup = [
        f"params = dict({kw})" if kw else "params = {}",
        "",
        "",
        *taking_lines(p),
        "def call(fn, *tensors):",
        "    \"\"\"Your op, called as gradcheck calls it: a function, a torch.autograd.Function or an nn.Module.\"\"\"",
        *seed,
        "    if isinstance(fn, type) and issubclass(fn, torch.autograd.Function):",
        f"        return fn.apply(*tensors, *{take('fn.forward')}.values())",
        "    if isinstance(fn, type) and issubclass(fn, torch.nn.Module):",
        f"        return fn(**{take('fn')})(*tensors)",
        *([f"    {', '.join(p.inputs + p.labels)}, = tensors"] if tc is not None and tc.source else []),
        *plain,
        "",
        "",
    ]
    as_dtype = ", dtype=torch.bfloat16" if dtype == "bfloat16" else ""  # numpy has no bfloat16
    calls = [f"{k}_t = torch.tensor({k}, device={device!r}{as_dtype}, requires_grad={('d' + k) in p.grads})"
             for k in p.inputs]
    calls += [f"out_t = call({pre}{SPECS[op].torch_name}, {tensors})",
              "out_t.backward(torch.tensor(delta, dtype=out_t.dtype, device=out_t.device))",
              "out = out_t.detach().cpu().to(torch.float64).numpy()"]
    calls += [f"{g} = {g[1:]}_t.grad.detach().cpu().to(torch.float64).numpy()" for g in p.grads]
    return setup, calls, "delta"


# -- the truth ---------------------------------------------------------------------------------
def _torch_truth(op: str, params: dict[str, Any], p, transposed: tuple[str, ...] = ()) -> list[str]:
    """Lines computing ``out_true`` and ``<grad>_true`` with torch autograd in float64 (the
    inputs in ``transposed`` are written out transposed, as the convention holds them)."""
    t = {k: f"t[{k!r}]" + (".T" if k in transposed else "") for k in p.inputs}
    spec = SPECS[op]
    if spec.random:  # its own mask, read from its forward: there is no other truth
        scale = f"(1 - {float(params['p'][0])!r})"
        return ["keep = np.asarray(out) != 0  # your mask, read from your forward",
                f"out_true = np.where(keep, {p.inputs[0]} / {scale}, 0.0)",
                *(f"{g}_true = np.where(keep, DELTA / {scale}, 0.0)" for g in p.grads)]
    expr = spec.torch_source(t, params)
    names = ", ".join(f"{k}={k}" for k in p.inputs)
    grads = ", ".join(f"{g}_true" for g in p.grads)
    sources = ", ".join(repr(g[1:]) for g in p.grads)
    return [
        f"t = {{k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in dict({names}).items()}}",
        f"out_true = {expr}",
        "out_true.backward(torch.tensor(DELTA, dtype=torch.float64))",
        "out_true = out_true.detach().numpy()",
        f"{grads}{',' if len(p.grads) == 1 else ''} = (t[k].grad.numpy() for k in ({sources}{',' if len(p.grads) == 1 else ''}))",
    ]


def _array_line(name: str, value: Any, dtype: str, comment: str = "") -> str:
    if dtype == "bfloat16":  # bfloat16 values are exact in float32; the call casts them back
        dtype, comment = "float32", (comment + "; " if comment else "") + "bfloat16 values, held in float32"
    tail = f"  # {comment}" if comment else ""
    return f"{name} = np.array({json.dumps(value)}, dtype={dtype!r}){tail}"


def _transpose_2d(value: Any) -> Any:
    return [list(row) for row in zip(*value)]


def python_snippet(rec: Record, target: str, api: str, *, device: str = "cpu") -> str | None:
    """A self-contained Python program that shows ``rec``'s failure when run, or ``None``.

    ``None`` when the record has no counterexample with its arrays (too large to write out) or
    its op is not one of the protocol's.
    """
    ce = rec.counterexample
    op = rec.op.split(":")[0]
    if ce is None or not ce.inputs or op not in PROTOCOL or "delta" not in ce.inputs:
        return None
    p = PROTOCOL[op]
    if any(k not in ce.inputs for k in p.inputs):
        return None
    if api == "cs231n" and rec.op not in CS231N_OPS:
        return None
    conv = CS231N_OPS[rec.op][1] if api == "cs231n" else None
    held = conv.transposed if conv is not None else ()
    quantity = rec.quantity
    if api == "cs231n":
        fns = [n for n in (conv.forward, conv.backward) if n]
    elif api == "torch":
        fns = [SPECS[op].torch_name]
    else:
        fns = [p.forward_name, p.backward_name]
    imports, pre = _import_lines(target, fns)
    if api == "cs231n":
        setup, calls, dname = _cs231n_calls(rec.op, op, ce.params, p, pre)
    elif api == "torch":
        setup, calls, dname = _torch_calls(op, ce.params, p, pre, device, ce.dtype)
    else:
        setup, calls, dname = _native_calls(op, ce.params, p, pre)

    arrays = []
    for k in p.inputs:
        value = ce.inputs[k]
        if k in held:
            value = _transpose_2d(value)
        arrays.append(_array_line(k, value, ce.dtype, f"transposed, as {conv.forward} takes it" if k in held else ""))
    arrays += [f"{k} = np.array({list(ce.params[k])!r}, dtype=np.int64)  # the labels" for k in p.labels]
    arrays.append(_array_line(dname, ce.inputs["delta"], ce.dtype, f"the upstream gradient dE/d{'out' if dname == 'dout' else 'o'}"))

    where = f"{rec.op} {quantity} (checked against {rec.oracle})"
    lines = [
        f'"""Reproduces a finding of gradcheck: {where}, on the smallest failing case.',
        "",
        "Run it with python: it calls your functions and prints the difference from the truth.",
        '"""',
        "import sys",
        "",
        "import numpy as np",
        "import torch",
        "import torch.nn.functional as F",
        "",
        *imports,
        "",
        f"# the smallest failing case ({ce.kind}, {ce.dtype})",
        *arrays,
        *setup,
        "",
    ]
    idx = list(rec.worst.index) if rec.worst is not None else None
    if quantity[1:] in held and idx is not None and len(idx) == 2:
        idx = idx[::-1]  # the candidate's own, transposed layout
    allowed = rec.worst.tolerance if rec.worst is not None else None

    if rec.status == "error":
        lines += ["# yours: this call is where the error came from", *calls]
        lines += ["print('no error this time: the error may depend on a case that was not the smallest')"]
        return "\n".join(lines) + "\n"
    if rec.oracle == "structure":
        body = _structure_lines(rec, calls, p, dname, api)
        if body is None:
            return None
        return "\n".join(lines + body) + "\n"

    forward_only = quantity == "forward"
    lines += ["# yours", *(calls[:1] if forward_only and api != "torch" else calls), ""]
    truth = [ln.replace("DELTA", dname) for ln in _torch_truth(op, ce.params, p, held)]
    if rec.oracle == "subgradient":
        lines += _subgradient_truth(rec, op, truth, quantity)
        name_true, who = f"{quantity}_valid", "nearest valid"
    elif rec.oracle == "fd" and quantity != "forward" and idx is not None:
        lines += ["# the truth for this check: central differences of YOUR forward (your backward must agree with",
                  "# your own forward), and torch autograd in float64 beside it", *truth, ""]
        lines += _fd_lines(rec, op, quantity, p, api, idx, dname, pre)
        name_true, who = f"{quantity}_fd", "your forward's finite differences"
    else:
        lines += ["# the truth: torch autograd in float64", *truth, ""]
        name_true, who = f"{quantity}_true" if quantity != "forward" else "out_true", "torch"
    mine = "out" if quantity == "forward" else quantity
    lines += ["if np.shape(out) == np.shape(out_true):",
              "    print(f\"forward: largest |difference| from torch {np.abs(np.asarray(out, float) - out_true).max():.3g}\")"]
    if idx is None:
        lines += [f"print(f\"{mine} has shape {{np.shape({mine})}}; the truth's is {{np.shape({name_true})}}: "
                  f"difference {{np.inf}} (allowed 0)\")"]
        return "\n".join(lines) + "\n"
    lines += [
        f"if np.shape({mine}) != np.shape({name_true}):",
        f"    print(f\"{mine} has shape {{np.shape({mine})}}; the truth's is {{np.shape({name_true})}}: "
        f"difference {{np.inf}} (allowed 0)\")",
        "else:",
        f"    i = {tuple(idx)!r}  # the worst element gradcheck found",
        f"    yours, truth = np.asarray({mine}, float)[i], np.asarray({name_true}, float)[i]",
        f"    print(f\"{mine}{{list(i)}}: yours {{yours:.6g}}, {who} {{truth:.6g}}: difference {{yours - truth:.3g}} "
        f"(allowed {allowed:.3g})\")",
    ]
    if name_true.endswith("_fd"):
        lines += [f"    print(f\"torch autograd at that element: {{{quantity}_true[i]:.6g}}; largest |difference| from torch \"",
                  f"          f\"over {mine}: {{np.abs(np.asarray({mine}, float) - {quantity}_true).max():.3g}}\")"]
    else:
        lines += [f"    print(f\"largest |difference| over {mine}: "
                  f"{{np.abs(np.asarray({mine}, float) - {name_true}).max():.3g}}\")"]
    return "\n".join(lines) + "\n"


def _subgradient_truth(rec: Record, op: str, truth: list[str], quantity: str) -> list[str]:
    expected = (rec.arrays or {}).get("expected")
    valid = _array_line(f"{quantity}_valid", expected, "float64") if expected is not None else \
        f"{quantity}_valid = {quantity}_true"
    kinks = SPECS[op].kinks
    if kinks == "max":
        why = ["# At a tie of maxima the gradient of a window may go to any of its maximal units, in any non-negative",
               "# split summing to the window's upstream gradient. torch's max pooling sends it to one maximum: one",
               "# valid answer among many, not the only one. The valid answer nearest to yours (gradcheck computed",
               "# it window by window) is the one to compare with:"]
    elif kinks == "l2":
        why = ["# At an all-zero window the L2 norm has no gradient: any vector of norm at most |delta| is valid,",
               "# torch's answer is one of them. The valid answer nearest to yours (computed by gradcheck):"]
    else:
        kink = SPECS[op].kink
        (left, right), title = kink.slopes if kink else (0.0, 1.0), kink.title if kink and kink.title else op
        why = [f"# At x = 0 the derivative of {title} may be anything in [{left:g}, {right:g}] (a subgradient); torch "
               f"picks {left:g}, one",
               "# valid answer among many. The valid answer nearest to yours (computed by gradcheck):"]
    return ["# torch autograd in float64 (one valid answer)", *truth, "", *why, valid, ""]


def _fd_lines(rec: Record, op: str, quantity: str, p, api: str, idx, dname: str, pre: str) -> list[str]:
    """Lines computing ``<quantity>_fd``: the candidate's forward differenced at the worst element."""
    name = quantity[1:]
    if api == "cs231n":
        _, args = _cs231n_args(rec.op, rec.counterexample.params, lambda k: f"v[{k!r}]")
        call = f"{pre}{CS231N_OPS[rec.op][1].forward}({args})[0]"
    elif api == "torch":
        tensors = [f"torch.tensor(v[{k!r}])" for k in p.inputs] + [f"torch.as_tensor({k})" for k in p.labels]
        call = f"call({pre}{SPECS[op].torch_name}, {', '.join(tensors)}).detach().cpu().numpy()"
    else:
        kw = (f", **taking({pre}{p.forward_name}, params)" if p.optional else
              "".join(f", {k}={v}" for k, v in _param_text(rec.counterexample.params, p).items()))
        call = f"{pre}{p.forward_name}({', '.join([f'v[{k!r}]' for k in p.inputs] + list(p.labels))}{kw})"
    i = tuple(idx) if idx is not None else ()
    return [
        "def your_forward(v):",
        f"    return np.asarray({call}, dtype=np.float64)",
        "",
        "",
        f"i = {i!r}  # the worst element gradcheck found",
        f"h = 1e-6 * max(1.0, abs(float({name}[i])))",
        f"plus = {{k: np.array(a, dtype=np.float64) for k, a in dict({', '.join(f'{k}={k}' for k in p.inputs)}).items()}}",
        "minus = {k: a.copy() for k, a in plus.items()}",
        f"plus[{name!r}][i] += h",
        f"minus[{name!r}][i] -= h",
        f"{quantity}_fd = np.full(np.shape({name}), np.nan)  # at the worst element only",
        f"{quantity}_fd[i] = np.sum({dname} * (your_forward(plus) - your_forward(minus))) / (2 * h)",
        "",
    ]


def _structure_lines(rec: Record, calls: list[str], p, dname: str, api: str) -> list[str] | None:
    """The property a structural record checks, printed; ``None`` for those without a snippet."""
    q = rec.quantity
    inputs = list(p.inputs)
    if q == "inputs-unmodified":
        keep = ", ".join(f"{k}_before" for k in inputs + [dname])
        copies = ", ".join(f"{k}.copy()" for k in inputs + [dname])
        names = ", ".join(inputs + [dname])
        return [
            f"{keep} = {copies}",
            "# yours",
            *calls,
            "",
            f"for name, before, after in zip({[*inputs, dname]!r}, ({keep},), ({names},)):",
            "    change = np.abs(np.asarray(after, float) - before).max(initial=0.0)",
            "    print(f\"{name} changed in place by up to: difference {change:.3g} (allowed 0)\")",
        ]
    if q == "determinism":
        grads = list(p.grads)
        return [
            "# yours, twice on the same input",
            *calls,
            f"first = {grads[0]}.copy()",
            *calls,
            f"print(f\"two calls differ in {grads[0]} by up to: difference {{np.abs({grads[0]} - first).max():.3g}} "
            f"(allowed 0)\")",
        ]
    if q == "linearity" and api != "torch":
        g = p.grads[0]
        return [
            "# yours, for delta and for -2 * delta: backward is linear in delta",
            *calls,
            f"first = np.asarray({g}, float).copy()",
            f"{dname} = -2 * {dname}",
            *calls,
            f"print(f\"{g} for -2*delta against -2 * ({g} for delta): difference "
            f"{{np.abs(np.asarray({g}, float) + 2 * first).max():.3g}} (allowed {rec.tolerance or 0:.3g})\")",
        ]
    return None
