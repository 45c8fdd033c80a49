"""Time the harness side by side with its anchors: torch.autograd.gradcheck and torch's kernels.

Rows (``--only`` takes these names, or the groups ``gradients``, ``kernels``, ``pools``):

- ``elementwise``: finite differences of every element of conv2d's ``dx``, ``dw``, ``db`` and
  the comparison with the backward, against ``torch.autograd.gradcheck`` (slow mode) on the
  same conv (x (4,8,16,16), w (8,8,3,3), padding 1, float64). Target: 20x faster.
- ``planted``: the same, on a conv whose backward is wrong in one ``dx`` element; both must
  catch it and the harness must name the element.
- ``directional``: the directional screen against ``gradcheck(..., fast_mode=True)``. Target:
  no slower.
- ``elementwise-133k``, ``elementwise-438k``: the element-wise check of conv2d at x
  (8,16,32,32) w (16,16,3,3) and x (8,64,28,28) w (64,64,3,3) against its own floor, two
  forward evaluations a colour (each forward timed alongside); the note gives the forward
  evaluations per colour and the time of one. Target: within 1.3x of the floor.
- ``localise``: one wrong ``dx`` element planted in a ResNet-sized conv (x (8,64,56,56),
  w (64,64,3,3)): the harness's large-case check (directional screen, then group testing)
  against ``gradcheck(..., fast_mode=True)``, which can only say False; the slow mode's cost
  extrapolated from a timed fraction. Target: located in at most 100 forward evaluations and
  under 20 s.
- ``localise-correct``: the same layer, correct: the screen passes, and the group-testing
  search, forced to run with both halves tested at every level, raises no alarm.
- ``conv2d``, ``max_pool2d-k2s2`` ... ``l2_pool2d-k3s2``: the reference's forward + backward
  against torch's on the CPU in float64 (x (32,64,32,32)), with peak memory. Target: within
  1.5x of torch.
- ``check``: wall time of ``gradcheck check reference`` (all ops, ci profile). Target: under
  a minute.

Times are medians of ``--repeat`` runs per side, the two sides taken alternately in one
process; the slow gradcheck runs ``--slow-repeat`` times (default 1); ``--threads`` sets
torch's intra-op threads for both sides (the ``check`` row's workers keep their own).
``speedup`` is ``anchor_s / ours_s``. The exit status is 0 when every row ran (whether or not
it met its target), 1 when a row raised, 2 for bad options, 130 when interrupted.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from typing import Any

from gradcheck.argtypes import comma_list, positive_int
from gradcheck.bench.kernels import KERNELS

__all__ = ["add_arguments", "run", "ROW_NAMES", "GROUPS"]

_GRADIENT_ROWS = ("elementwise", "planted", "directional", "elementwise-133k", "elementwise-438k", "localise",
                  "localise-correct")
_KERNEL_ROWS = tuple(k.name for k in KERNELS)
ROW_NAMES: tuple[str, ...] = (*_GRADIENT_ROWS, *_KERNEL_ROWS, "check")
#: Groups of rows: the gradient checks, every kernel, and the kernels of each op family
#: (``pools``, ``convs``, ...).
GROUPS: dict[str, tuple[str, ...]] = {
    "gradients": _GRADIENT_ROWS,
    "kernels": _KERNEL_ROWS,
    **{g: tuple(k.name for k in KERNELS if k.group == g) for g in dict.fromkeys(k.group for k in KERNELS)},
}


def _rows(text: str) -> list[str]:
    names = comma_list(text, "row names")
    out: list[str] = []
    for n in names:
        if n not in ROW_NAMES and n not in GROUPS:
            raise argparse.ArgumentTypeError(f"unknown row {n!r}; choose from {', '.join(ROW_NAMES + tuple(GROUPS))}")
        out += [m for m in GROUPS.get(n, (n,)) if m not in out]
    return [n for n in ROW_NAMES if n in out]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``gradcheck bench``."""
    parser.add_argument("--repeat", type=positive_int, default=3, metavar="N", help="runs per side; medians are reported (default 3)")
    parser.add_argument("--slow-repeat", type=positive_int, default=1, metavar="N",
                        help="runs of the slow torch.autograd.gradcheck anchor (default 1: it takes minutes)")
    parser.add_argument("--only", type=_rows, metavar="ROWS", help="comma-separated rows or groups: " + ", ".join(ROW_NAMES + tuple(GROUPS)))
    parser.add_argument("--threads", type=positive_int, metavar="N",
                        help="torch intra-op threads for both sides (default: torch's own choice)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test (times are not meaningful)")
    parser.add_argument("--json", metavar="PATH", help='write {"rows": [{"case", "ours_s", "anchor", "anchor_s", "speedup", ...}]}')


def _machine() -> dict[str, Any]:
    import numpy as np
    import torch

    return {
        "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
        "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                             "OMP_WAIT_POLICY") if k in os.environ},
    }


def _anchor(name: str) -> str:
    """The anchor a row is measured against."""
    from gradcheck.bench.kernels import KERNELS
    from gradcheck.bench.rows import FAST, FLOOR, SLOW

    fixed = {"elementwise": SLOW, "planted": SLOW, "directional": FAST, "elementwise-133k": FLOOR, "elementwise-438k": FLOOR,
             "localise": FAST, "localise-correct": FAST, "check": "none"}
    return fixed.get(name) or next(k.anchor for k in KERNELS if k.name == name)


def _one(name: str, settings: Any, ref: Any, ref_error: str | None):
    from gradcheck.bench import rows as R
    from gradcheck.bench.kernels import KERNELS
    from gradcheck.bench.timing import Row

    gradient_rows = {"elementwise": R.elementwise_row, "planted": R.planted_row, "directional": R.directional_row,
                     "localise": R.localise_row, "localise-correct": R.localise_correct_row}
    if name in gradient_rows:
        return gradient_rows[name](settings)
    if name in settings.floor_shapes:
        return R.floor_row(settings, name)
    if ref is None:
        case = "gradcheck check reference" if name == "check" else f"reference {name} forward+backward"
        return Row(name, case, _anchor(name), skipped=True, note=f"skipped: the reference is not importable yet ({ref_error})")
    kernel = next((k for k in KERNELS if k.name == name), None)
    return R.kernel_row(settings, kernel, ref) if kernel is not None else R.check_row(settings)


def run(args: argparse.Namespace) -> int:
    """Run the selected rows, print the table, write ``--json``. See the module docstring for exit statuses."""
    from gradcheck.records import write_json_atomic
    from gradcheck.bench.kernels import load_reference
    from gradcheck.bench.rows import Settings
    from gradcheck.bench.timing import Row, format_table, loadavg

    if args.json:
        folder = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(folder):
            sys.stderr.write(f"gradcheck: error: --json: no such folder: {folder}\n")
            return 2
        if os.path.isdir(args.json):
            sys.stderr.write(f"gradcheck: error: --json: {args.json} is a folder\n")
            return 2
    names = args.only or list(ROW_NAMES)
    # Idle OpenMP threads spin by default, stealing the cores the other side is then timed on;
    # passive waiting keeps the two sides from slowing each other (read when torch loads).
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    settings = Settings(repeat=args.repeat, slow_repeat=args.slow_repeat, quick=args.quick)
    ref, ref_error = None, None
    if any(n not in GROUPS["gradients"] for n in names):
        try:
            ref = load_reference()
        except Exception as exc:  # noqa: BLE001 - the reference may be mid-edit
            ref_error = f"{type(exc).__name__}: {exc}"
    doc: dict[str, Any] = {"quick": settings.quick, "repeat": settings.repeat, "slow_repeat": settings.slow_repeat,
                           "machine": _machine(), "loadavg_start": loadavg(), "rows": [], "complete": True}
    rows: list[Row] = []
    status = 0
    started = time.perf_counter()
    try:
        for name in names:
            print(f"bench: {name} ...", file=sys.stderr, flush=True)
            try:
                row = _one(name, settings, ref, ref_error)
            except Exception as exc:  # noqa: BLE001 - a row that raises is reported, the others still run
                row = Row(name, name, _anchor(name), error=f"{type(exc).__name__}: {exc}")
                status = 1
            rows.append(row)
            if row.error:
                status = 1
    except KeyboardInterrupt:
        doc["complete"] = False
        status = 130
        sys.stderr.write("gradcheck: interrupted; reporting the rows done so far\n")
    doc.update(rows=[r.to_dict() for r in rows], loadavg_end=loadavg(), wall_s=time.perf_counter() - started)
    print(format_table(rows))
    if args.json:
        write_json_atomic(args.json, doc)
        print(f"JSON: {args.json}")
    return status
