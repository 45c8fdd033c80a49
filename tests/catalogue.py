"""The catalogue: implementations with one known bug each, and correct variants, checked two ways.

Every entry is a file of ``tests/candidates/`` (a source checkout is needed) and the ops to check
in it. A bug entry names the ``(op, quantity)`` pairs its bug must fail (optionally with the
oracle), the pairs that may fail with it (a wrong shape also fails ``shape-dtype``), and the
``(op, quantity, oracle)`` checks that must still pass (a forward bug with a consistent backward
passes finite differences). A correct entry must pass with cases actually run.

``python tests/catalogue.py`` runs the harness (in-process, the ``ci`` profile unless told
otherwise) and ``torch.autograd.gradcheck`` (default settings, float64, slow and fast mode, on one
fixed input per op, the candidate wrapped as a ``torch.autograd.Function``) over the catalogue
and prints one row per entry, then the catch and false-alarm rates of each.

- *flagged*: the run fails (``gradcheck check`` would exit 1) / ``gradcheck`` returned False or
  raised. A bug flagged is caught; a correct variant flagged is a false alarm.
- *located* (the harness only): flagged where the entry says, and nowhere else.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from gradcheck.config import RunConfig
from gradcheck.records import Record, RunResult

__all__ = ["CANDIDATES", "Entry", "CATALOGUE", "judge", "run_ours", "run_torch", "torch_inputs", "main"]

#: Where the candidate files live (in a source checkout).
CANDIDATES = Path(__file__).resolve().parent / "candidates"

Pair = tuple[str, ...]  # (op, quantity) or (op, quantity, oracle)


@dataclass(frozen=True)
class Entry:
    """One catalogue entry: ``file`` (in :data:`CANDIDATES`) checked for ``ops`` through ``api``.

    - ``fails``: ``(op, quantity[, oracle])`` that must fail or error; empty for a correct variant.
    - ``also``: ``(op, quantity)`` that may fail as well, as a consequence of the same bug.
    - ``holds``: ``(op, quantity, oracle)`` that must pass despite the bug.
    - ``raises``: the candidate function whose exception is the finding (its errors name it and
      may cover every check of the op).
    """

    file: str
    api: str
    ops: tuple[str, ...]
    what: str
    fails: tuple[Pair, ...] = ()
    also: tuple[Pair, ...] = ()
    holds: tuple[Pair, ...] = ()
    raises: str | None = None

    @property
    def name(self) -> str:
        stem = Path(self.file).stem
        return f"{stem}[{','.join(self.ops)}]" if stem.endswith("_layers") or "_ties_" in stem else stem

    @property
    def correct(self) -> bool:
        return not self.fails

    @property
    def path(self) -> str:
        return str(CANDIDATES / self.file)


def _bug(file: str, op: str, what: str, fails: Sequence[Pair], **kw: Any) -> Entry:
    api = file.split("_")[0]
    return Entry(f"{file}.py", api, (op,), what, tuple((op, *f) for f in fails),
                 tuple((op, *a) for a in kw.pop("also", ())), tuple((op, *h) for h in kw.pop("holds", ())), **kw)


def _ok(file: str, op: str, what: str) -> Entry:
    return Entry(f"{file}.py", file.split("_")[0], (op,), what)


_SHAPE = [("shape-dtype",)]
_FD = [("dx", "fd"), ("dw", "fd"), ("db", "fd")]
_TRUTH_FWD_DX = (("forward", "torch"), ("dx", "torch"))
_TRUTH = [("forward", "torch"), ("dx", "torch"), ("dw", "torch")]  # a forward bug: only the truth sees it

CATALOGUE: tuple[Entry, ...] = (
    # CS231n convention: correct code, then one realistic bug per file
    _ok("cs231n_layers", "conv2d", "naive loops"),
    _ok("cs231n_layers", "max_pool2d", "naive loops, first maximum"),
    _ok("cs231n_layers", "relu", "mask from the input"),
    _ok("cs231n_layers", "dense", "affine, w (F, K)"),
    _ok("cs231n_relu_mask_from_output", "relu", "mask from the output (valid)"),
    _bug("cs231n_conv_dw_stride_ignored", "conv2d", "stride ignored in dw", [("dw",)]),
    _bug("cs231n_conv_dx_crop_pad", "conv2d", "dx[..., pad:-pad, pad:-pad] (empty at pad 0)", [("dx",)], also=_SHAPE),
    _bug("cs231n_conv_db_no_batch_sum", "conv2d", "db without the batch sum", [("db",)]),
    _bug("cs231n_conv_db_wrong_axes", "conv2d", "db summed over the wrong axes", [("db",)], also=_SHAPE),
    _bug("cs231n_conv_batch_one", "conv2d", "backward only right for batch 1", [("dx",), ("dw",)]),
    _bug("cs231n_conv_flipped_forward", "conv2d", "true convolution forward, consistent backward",
         _TRUTH, also=[("forward",), ("dx",), ("dw",)], holds=_FD),
    _bug("cs231n_conv_dx_unflipped", "conv2d", "dx with the unflipped kernel", [("dx",)]),
    _bug("cs231n_maxpool_all_ties", "max_pool2d", "routes to every tied maximum", [("dx", "subgradient")],
         holds=[("dx", "fd"), ("dx", "torch")]),
    _bug("cs231n_maxpool_overwrite", "max_pool2d", "= instead of += for overlapping windows", [("dx",)]),
    _bug("cs231n_maxpool_backward_stride_ignored", "max_pool2d", "stride ignored in backward", [("dx",)]),
    _bug("cs231n_relu_passthrough", "relu", "dout passed through unchanged", [("dx",)]),
    _bug("cs231n_relu_inplace_x", "relu", "clamps x in place", [("inputs-unmodified",)],
         holds=[("dx", "fd"), ("dx", "torch")]),
    _bug("cs231n_relu_inplace_dout", "relu", "zeroes dout in place", [("inputs-unmodified",)],
         holds=[("dx", "torch")]),
    _bug("cs231n_relu_backward_none", "relu", "backward stub returns None", [("dx",)], also=_SHAPE),
    _bug("cs231n_affine_backward_stub", "dense", "backward stub returns (None, None, None)",
         [("dx",), ("dw",), ("db",)], also=_SHAPE),
    _bug("cs231n_conv_backward_zeros", "conv2d", "backward stub returns zeros", [("dx",), ("dw",), ("db",)]),
    _bug("cs231n_conv_dw_scaled", "conv2d", "dw * 1.0001", [("dw",)]),
    _bug("cs231n_conv_dx_hw_swapped", "conv2d", "H for W in the dx crop", [("dx",)], also=_SHAPE),
    _bug("cs231n_affine_dw_transposed", "dense", "dw transposed, shape (K, F)", [("dw",)], also=_SHAPE),
    # native convention: correct variants (vectorised, other tie-breaking, other subgradients at 0)
    *(_ok("native_layers", op, "vectorised, im2col") for op in
      ("conv2d", "max_pool2d", "avg_pool2d", "l2_pool2d", "relu", "sigmoid", "tanh", "dense")),
    _ok("native_ties_last_relu_one", "max_pool2d", "ties to the last maximum"),
    _ok("native_ties_last_relu_one", "relu", "f'(0) = 1"),
    _ok("native_ties_split_relu_half", "max_pool2d", "ties split evenly"),
    _ok("native_ties_split_relu_half", "relu", "f'(0) = 1/2"),
    _bug("native_maxpool_padding_ignored", "max_pool2d", "padding ignored in backward (numpy-ml)", [("dx",)],
         raises="max_pool2d_backward"),
    _bug("native_conv_dx_dilation_ignored", "conv2d", "dilation ignored in dx", [("dx",)]),
    _bug("native_avgpool_count_exclude_pad", "avg_pool2d", "backward divides by the non-padded count", [("dx",)]),
    _bug("native_l2pool_missing_inv_o", "l2_pool2d", "backward missing the 1/o", [("dx",)]),
    _bug("native_sigmoid_fx_1mx", "sigmoid", "f(x) * (1 - x)", [("dx",)]),
    _bug("native_tanh_1mx2", "tanh", "1 - x**2", [("dx",)]),
    _bug("native_conv_edge_padding", "conv2d", "edge padding forward, consistent backward", _TRUTH,
         also=[("forward",), ("dx",), ("dw",)], holds=_FD),
    _bug("native_dense_no_bias", "dense", "forward without the bias", [("forward",), ("db", "fd")],
         holds=[("db", "torch"), ("dx", "fd"), ("dw", "fd")]),
    _bug("native_batchnorm_dx_no_mean_path", "batch_norm", "dx forgets that mu and var depend on x", [("dx",)],
         holds=[("forward", "torch"), ("dgamma", "torch"), ("dbeta", "torch")]),
    _bug("native_batchnorm_dgamma_one_sample", "batch_norm", "dgamma not summed over the batch", [("dgamma",)],
         holds=[("forward", "torch"), ("dx", "torch"), ("dbeta", "torch")]),
    _bug("native_batchnorm_unbiased_var", "batch_norm", "unbiased variance, consistent backward",
         [("forward",), ("dx", "torch"), ("dgamma", "torch")], holds=[("dx", "fd"), ("dgamma", "fd"), ("dbeta", "torch")]),
    _ok("native_batchnorm_sums", "batch_norm", "explicit sums, chain rule through mu and var"),
    _bug("native_layernorm_dx_no_mean_path", "layer_norm", "dx forgets that mu and var depend on x", [("dx",)],
         holds=[("forward", "torch"), ("dgamma", "torch"), ("dbeta", "torch")]),
    _bug("native_layernorm_dgamma_one_sample", "layer_norm", "dgamma not summed over the batch", [("dgamma",)],
         holds=[("forward", "torch"), ("dx", "torch"), ("dbeta", "torch")]),
    _bug("native_layernorm_over_batch", "layer_norm", "normalised over the batch, consistent backward",
         [("forward",), ("dx", "torch"), ("dgamma", "torch"), ("batch-independence", "structure")],
         holds=[("dx", "fd"), ("dgamma", "fd"), ("dbeta", "torch")]),
    _ok("native_layernorm_transpose", "layer_norm", "a batch norm of the transpose"),
    # N-d, grouped and transposed convolution
    _bug("native_conv2d_depthwise_mixes_channels", "conv2d",
         "filters tiled over every group's channels, consistent backward", _TRUTH,
         also=[("forward",), ("dx",), ("dw",)], holds=_FD),
    _bug("native_conv2d_groups_dw_wrong_group", "conv2d", "dw against group 0's input channels", [("dw",)]),
    _bug("native_conv2d_groups_dx_no_group_offset", "conv2d", "dx of every group into group 0's channels", [("dx",)]),
    _ok("native_conv2d_grouped_loop", "conv2d", "loop over groups, ungrouped im2col each"),
    _bug("native_conv1d_dx_no_flip", "conv1d", "dx correlates with the unflipped kernel", [("dx",)]),
    _bug("native_conv1d_db_no_batch_sum", "conv1d", "db over sample 0 only", [("db",)]),
    _bug("native_conv1d_stride_dw", "conv1d", "stride ignored in dw", [("dw",)]),
    _ok("native_conv1d_fft", "conv1d", "FFT correlation, read at the stride"),
    _bug("native_conv3d_axes_swapped", "conv3d", "dw read with the kernel's H and W lengths swapped", [("dw",)],
         also=_SHAPE),
    _bug("native_conv3d_padding_dx_crop", "conv3d", "dx cropped one position early where padded", [("dx",)]),
    _bug("native_conv3d_dilation_forward", "conv3d", "taps ignore dilation, consistent backward", _TRUTH,
         also=[("forward",), ("dx",), ("dw",)], holds=_FD),
    _ok("native_conv3d_unfold", "conv3d", "sliding_window_view and einsum"),
    _bug("native_convT2d_ignores_output_padding", "conv_transpose2d", "forward without output_padding",
         [("forward",), ("shape-dtype",)], holds=[("dx", "torch"), ("dw", "torch"), ("db", "torch")]),
    _bug("native_convT2d_dw_transposed_layout", "conv_transpose2d", "dw in conv layout, reshaped", [("dw",)]),
    _bug("native_convT2d_dx_stride_ignored", "conv_transpose2d", "stride ignored in dx", [("dx",)]),
    _ok("native_convT2d_scatter", "conv_transpose2d", "scatter-add per kernel tap"),
    _ok("native_convT1d_as_conv_of_dilated", "conv_transpose1d", "conv of the spread input, flipped kernel"),
    _bug("native_convT1d_db_wrong", "conv_transpose1d", "db summed over batch and channels", [("db",)], also=_SHAPE),
    _ok("native_convT3d_scatter", "conv_transpose3d", "scatter-add per kernel tap"),
    _bug("native_convT3d_groups_ignored", "conv_transpose3d", "dw as if groups = 1", [("dw",)]),
    _bug("native_convT1d_dw_sample0", "conv_transpose1d", "dw over sample 0 only", [("dw",)]),
    _bug("native_convT1d_crop_one_side", "conv_transpose1d", "padding cropped off the end only, right backward",
         [("forward",), ("dx", "fd"), ("dw", "fd")], holds=[("dx", "torch"), ("dw", "torch"), ("db", "torch")]),
    _bug("native_convT3d_dw_sample0", "conv_transpose3d", "dw over sample 0 only", [("dw",)]),
    _bug("native_convT3d_db_batch_mean", "conv_transpose3d", "db the batch mean, not the sum", [("db",)]),
    # group norm, dropout, classification losses
    _bug("native_groupnorm_dx_no_mean_path", "group_norm", "dx forgets that mu and var depend on x", [("dx",)]),
    _bug("native_groupnorm_stats_per_channel", "group_norm", "statistics per channel, consistent backward",
         [("forward", "torch"), ("dx", "torch"), ("dgamma", "torch")], also=[("forward",), ("dx",), ("dgamma",)],
         holds=[("dx", "fd"), ("dgamma", "fd"), ("dbeta", "torch")]),
    _bug("native_groupnorm_dgamma_no_batch_sum", "group_norm", "dgamma and dbeta of sample 0 only",
         [("dgamma",), ("dbeta",)]),
    _ok("native_groupnorm_reshape", "group_norm", "rows of (N*G, -1), batch-norm backward"),
    _ok("cs231n_groupnorm", "group_norm", "CS231n spatial_groupnorm, gamma (1, C, 1, 1)"),
    _bug("native_dropout_fresh_mask", "dropout", "backward draws a fresh mask", [("dx", "fd"), ("dx", "mask")],
         holds=[("forward", "mask")]),
    _bug("native_dropout_no_rescale", "dropout", "no 1/(1-p), consistent backward", [("forward", "mask"), ("dx", "mask")],
         holds=[("dx", "fd")]),
    _bug("native_dropout_keep_prob_confusion", "dropout", "p taken as the keep probability",
         [("forward", "mask"), ("dx", "mask"), ("mask-statistics",)], holds=[("dx", "fd")]),
    _ok("native_dropout_scaled_mask", "dropout", "binomial mask stored scaled"),
    _ok("cs231n_dropout", "dropout", "CS231n dropout, p the keep probability"),
    _bug("cs231n_dropout_fresh_mask", "dropout", "CS231n backward draws a new mask", [("dx", "fd"), ("dx", "mask")],
         holds=[("forward", "mask")]),
    _bug("native_softmax_no_max_shift", "softmax_cross_entropy", "exp without the max shift (overflows at 1e3)",
         [("forward",), ("dx",)], also=[("finite",)]),
    _bug("native_softmax_sum_not_mean", "softmax_cross_entropy", "sum over the batch, consistent backward",
         _TRUTH_FWD_DX, also=[("forward",), ("dx",)], holds=[("dx", "fd")]),
    _bug("native_softmax_dx_no_onehot", "softmax_cross_entropy", "dx without the one-hot", [("dx",)]),
    _ok("native_softmax_logsumexp", "softmax_cross_entropy", "np.logaddexp.reduce"),
    _ok("cs231n_softmax_loss", "softmax_cross_entropy", "CS231n softmax_loss -> (loss, dx)"),
    _bug("native_svm_margin_counts_label", "svm_loss", "the j = y term counted", [("forward",), ("dx",)]),
    _bug("native_svm_dx_label_sign", "svm_loss", "dx at the label with the wrong sign", [("dx",)]),
    _bug("native_svm_no_batch_mean", "svm_loss", "dx without the 1/N", [("dx",)]),
    _ok("native_svm_loop", "svm_loss", "explicit loops, a margin > 0 active"),
    _ok("cs231n_svm_loss", "svm_loss", "CS231n svm_loss -> (loss, dx)"),
)


def _matches(rec: Record, pair: Pair) -> bool:
    return (rec.op, rec.quantity, rec.oracle)[: len(pair)] == tuple(pair)


def judge(entry: Entry, run: RunResult) -> list[str]:
    """What is wrong with ``run`` as the harness's verdict on ``entry`` (empty: as expected)."""
    recs = [r for r in run.records if r.op in entry.ops]
    bad = [r for r in recs if r.status in ("fail", "error")]
    problems = []
    if entry.correct:
        problems += [f"false alarm: {r.op} {r.quantity} vs {r.oracle}: {r.message}" for r in bad]
    for op in entry.ops:
        if not any(r.examples > 0 for r in recs if r.op == op):
            problems.append(f"vacuous: {op}: no case was run")
    for pair in entry.fails:
        if not any(_matches(r, pair) for r in bad):
            problems.append(f"missed: {'/'.join(pair)} did not fail")
    allowed = entry.fails + entry.also
    for r in bad:
        named = entry.raises is not None and r.status == "error" and entry.raises in r.message
        if not entry.correct and not named and not any(_matches(r, p) for p in allowed):
            problems.append(f"misplaced: {r.op}/{r.quantity}/{r.oracle} failed: {r.message}")
    for pair in entry.holds:
        if not any(_matches(r, pair) and r.status == "pass" for r in recs):
            problems.append(f"broken: {'/'.join(pair)} should pass")
    return problems


def run_ours(entry: Entry, max_examples: int | None = None, kink_examples: int | None = None) -> RunResult:
    """The harness on ``entry``, in this process."""
    from gradcheck.run.runner import run_check

    cfg = RunConfig(ops=list(entry.ops), max_examples=max_examples, kink_examples=kink_examples, isolate=False)
    return run_check(entry.path, entry.api, cfg)


# ---- torch.autograd.gradcheck on one fixed input per op ------------------------------------

#: The fixed geometry of each op: batch 2, non-square, stride 2, padding, overlapping windows,
#: dilation where the convention has it; values standard normal (no ties, no zeros).
#: torch's gradcheck column: the fixed hyper-parameters (and labels) of the ops below, as a case holds them
_FIXED = {"group_norm": {"groups": (2,)}, "dropout": {"p": (0.5,), "seed": (3,)},
          "softmax_cross_entropy": {"y": (0, 2, 4, 1)}, "svm_loss": {"y": (0, 2, 4, 1)}}
_FIXED_SHAPES = {"group_norm": [(2, 4, 3, 3), (4,), (4,)], "dropout": [(2, 3, 4, 5)],
                 "softmax_cross_entropy": [(4, 5)], "svm_loss": [(4, 5)]}
_CS231N_PARAMS = {"conv2d": {"stride": 2, "pad": 1}, "max_pool2d": {"pool_height": 3, "pool_width": 2, "stride": 2}}
_NATIVE_PARAMS = {
    "conv2d": {"stride": (2, 1), "padding": (1, 1), "dilation": (2, 1)},
    "pool": {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1)},
    # the N-d convolutions: two groups, each with more than one channel in and out
    "conv1d": {"stride": (2,), "padding": (1,), "dilation": (2,), "groups": 2},
    "conv3d": {"stride": (2, 1, 2), "padding": (1, 1, 0), "dilation": (1, 2, 1), "groups": 2},
    "conv_transpose1d": {"stride": (2,), "padding": (1,), "output_padding": (1,), "dilation": (2,), "groups": 2},
    "conv_transpose2d": {"stride": (2, 1), "padding": (1, 0), "output_padding": (1, 0), "dilation": (1, 2),
                         "groups": 2},
    "conv_transpose3d": {"stride": (2, 1, 2), "padding": (1, 0, 0), "output_padding": (1, 0, 0),
                         "dilation": (1, 1, 1), "groups": 2},
}

#: x, w, b of the N-d convolutions (non-cubic kernels; transposed: w is (C_in, C_out/groups, *k)).
_ND_SHAPES = {
    "conv1d": [(2, 4, 7), (6, 2, 3), (6,)],
    "conv3d": [(2, 2, 4, 5, 4), (4, 1, 2, 3, 2), (4,)],
    "conv_transpose1d": [(2, 4, 4), (4, 3, 3), (6,)],
    "conv_transpose2d": [(2, 4, 3, 4), (4, 3, 3, 2), (6,)],
    "conv_transpose3d": [(2, 4, 2, 3, 2), (4, 1, 2, 3, 2), (2,)],
}


def torch_inputs(api: str, op: str) -> list[np.ndarray]:
    """The fixed float64 inputs torch's gradcheck gets for ``op`` (seeded, standard normal)."""
    rng = np.random.default_rng(0)
    if op == "conv2d":
        shapes = [(2, 2, 5, 6), (3, 2, 3, 2), (3,)]
    elif op in _ND_SHAPES:
        shapes = _ND_SHAPES[op]
    elif op in _FIXED_SHAPES:
        shapes = _FIXED_SHAPES[op]
    elif op == "dense":
        shapes = [(3, 4), (4, 5) if api == "cs231n" else (5, 4), (5,)]
    elif op.endswith("pool2d"):
        shapes = [(2, 2, 6, 5)]
    elif op in ("batch_norm", "layer_norm"):
        shapes = [(4, 3), (3,), (3,)]
    else:
        shapes = [(2, 3, 4, 5)]
    return [rng.standard_normal(s) for s in shapes]


def _candidate_pair(impl: Any, api: str, op: str) -> tuple[Callable, Callable]:
    """``forward(*arrays) -> (out, saved)`` and ``backward(delta, saved) -> grads`` of one op."""
    if op in _FIXED:
        return _fixed_pair(impl, api, op)
    if api == "cs231n":
        names = {"conv2d": "conv_{}_naive", "max_pool2d": "max_pool_{}_naive", "relu": "relu_{}", "dense": "affine_{}"}[op]
        fwd, bwd = getattr(impl, names.format("forward")), getattr(impl, names.format("backward"))
        extra = (_CS231N_PARAMS[op],) if op in _CS231N_PARAMS else ()
        return (lambda *a: fwd(*a, *extra)), bwd
    params = _NATIVE_PARAMS.get("pool" if op.endswith("pool2d") else op, {})
    fwd, bwd = getattr(impl, f"{op}_forward"), getattr(impl, f"{op}_backward")
    return (lambda *a: (fwd(*a, **params), a)), (lambda d, a: bwd(d, *a, **params))


def _fixed_pair(impl: Any, api: str, op: str) -> tuple[Callable, Callable]:
    """:func:`_candidate_pair` for the ops of :data:`_FIXED`, called as the adapters call them."""
    from gradcheck.adapters.cs231n import OPS, call_args
    from gradcheck.ops import SPECS

    spec, params = SPECS[op], _FIXED[op]
    p = spec.protocol
    if api == "cs231n":
        conv = OPS[op][1]
        fwd = getattr(impl, conv.forward)

        def forward(*a):
            out, cache = fwd(*call_args(conv, dict(zip(spec.inputs, a)), params)[0])
            return out, (cache, [x.shape for x in a])

        def backward(d, saved):
            cache, shapes = saved
            if conv.backward is None:
                return cache * d
            grads = getattr(impl, conv.backward)(d, cache)
            grads = grads if isinstance(grads, tuple) else (grads,)
            return tuple(np.reshape(g, s) for g, s in zip(grads, shapes))

        return forward, backward
    fwd, bwd = getattr(impl, p.forward_name), getattr(impl, p.backward_name)
    labels, kw = p.call_labels(params), p.call_kwargs(params)
    return (lambda *a: (fwd(*a, *labels, **kw), a)), (lambda d, a: bwd(d, *a, *labels, **kw))


def _as_function(forward: Callable, backward: Callable) -> Callable:
    """The candidate as a ``torch.autograd.Function``; it gets numpy views of the input tensors and of
    the upstream gradient (so in-place writes reach them, as in a hand-written wrapper)."""
    import torch

    class Candidate(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *xs):  # type: ignore[override]
            out, ctx.saved = forward(*(x.detach().numpy() for x in xs))
            return torch.from_numpy(np.array(out, dtype=np.float64))

        @staticmethod
        def backward(ctx, dout):  # type: ignore[override]
            grads = backward(dout.detach().numpy(), ctx.saved)
            grads = grads if isinstance(grads, tuple) else (grads,)
            return tuple(None if g is None else torch.from_numpy(np.array(g, dtype=np.float64)) for g in grads)

    return Candidate.apply


def run_torch(entry: Entry, fast_mode: bool = False) -> str:
    """``"flagged"``, ``"passed"`` or ``"raised <Error>"`` for torch.autograd.gradcheck on ``entry``."""
    import torch

    from gradcheck.adapters.loader import load_target

    impl = load_target(entry.path)
    verdicts = []
    for op in entry.ops:
        fn = _as_function(*_candidate_pair(impl, entry.api, op))
        inputs = [torch.tensor(a, requires_grad=True) for a in torch_inputs(entry.api, op)]
        try:
            ok = torch.autograd.gradcheck(fn, inputs, raise_exception=False, fast_mode=fast_mode)
            verdicts.append("passed" if ok else "flagged")
        except Exception as exc:  # noqa: BLE001 - an exception is what the user sees: a flag
            verdicts.append(f"raised {type(exc).__name__}")
    return next((v for v in verdicts if v != "passed"), "passed")


# ---- the table -----------------------------------------------------------------------------


def _found(entry: Entry, run: RunResult) -> str:
    """Failing checks as ``quantity[oracle,...]``, or why the run passed."""
    bad: dict[str, list[str]] = {}
    for r in run.records:
        if r.status in ("fail", "error"):
            bad.setdefault(r.quantity, []).append(r.oracle + ("!" if r.status == "error" else ""))
    if not bad:
        ran = sum(r.examples for r in run.records)
        return "-" if ran else "- (0 cases run)"
    if entry.raises and all(r.status == "error" for r in run.records if r.status != "pass"):
        return f"error in {entry.raises} (all checks)"
    return " ".join(f"{q}[{','.join(o)}]" for q, o in bad.items())


def _rate(n: int, d: int) -> str:
    return f"{n}/{d} = {100.0 * n / d:.0f}%" if d else "n/a"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tests/catalogue.py", description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, help="smooth cases per op (default: the ci profile's)")
    parser.add_argument("--kink-examples", type=int, help="kink cases per op (default: the ci profile's)")
    parser.add_argument("--only", default="", help="entries whose name contains this text")
    args = parser.parse_args(argv)
    entries = [e for e in CATALOGUE if args.only in e.name]
    head = f"{'entry':44s} {'kind':7s} {'gradcheck (ours)':9s} {'torch':7s} {'fast':7s}  found by ours (quantity[oracles], ! = error)"
    print(head + "\n" + "-" * len(head))
    tally = {k: [0, 0] for k in ("ours", "located", "torch", "fast")}  # [bugs flagged, correct flagged]
    t0 = time.perf_counter()
    for e in entries:
        run = run_ours(e, args.max_examples, args.kink_examples)
        problems = judge(e, run)
        verdicts = {"ours": "flagged" if not run.passed else "passed",
                    "torch": run_torch(e), "fast": run_torch(e, fast_mode=True)}
        flags = {k: v != "passed" for k, v in verdicts.items()}
        flags["located"] = flags["ours"] and not problems
        for k in tally:
            tally[k][e.correct] += flags[k]
        mark = "" if not problems else "  << " + "; ".join(p[:90] for p in problems)
        print(f"{e.name:44s} {'correct' if e.correct else 'bug':7s} {verdicts['ours']:16s} "
              f"{verdicts['torch'][:7]:7s} {verdicts['fast'][:7]:7s}  {_found(e, run)}{mark}")
    bugs = sum(not e.correct for e in entries)
    good = len(entries) - bugs
    print(f"\n{bugs} bugs, {good} correct variants, {time.perf_counter() - t0:.0f} s")
    for k, label in (("ours", "gradcheck"), ("located", "gradcheck, at the expected op/quantity"),
                     ("torch", "torch.autograd.gradcheck"), ("fast", "torch.autograd.gradcheck fast_mode")):
        alarms = f" false alarms {_rate(tally[k][1], good)}" if k != "located" else ""
        print(f"{label:42s} catch rate {_rate(tally[k][0], bugs):14s}{alarms}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
