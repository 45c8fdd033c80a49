"""The ``gradcheck`` command line.

- ``gradcheck check TARGET [TARGET ...]``: check an implementation (``reference`` for the built-in one),
  or many at once with a summary of target × op (``gradcheck.report.summary``);
- ``gradcheck equations``: the ledger of the seed's numbered equations;
- ``gradcheck bench``: the harness against ``torch.autograd.gradcheck`` and torch's kernels.

Exit status: 0 all checks passed (or the command ran, for ``equations``/``bench``); 1 a check
failed or the candidate errored; 2 bad arguments, a target that cannot be loaded or an output
file that cannot be written (one line on stderr, no traceback; the other outputs are still
written); 130 interrupted, also while the equation ledger is being checked (what was done is
still reported, marked incomplete).

Long because each subcommand's options are declared here, with their help texts.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from typing import Sequence

from gradcheck.dtypes import DTYPES
from gradcheck.argtypes import comma_list, non_negative_int, positive_float, positive_int

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _ops(text: str) -> list[str]:
    return comma_list(text, "ops")


def default_report_path(target: str) -> str:
    """``reports/<target>.html`` with the target's name made safe for a file name.

    A file loses its ``.py`` (``path/to/layers.py`` -> ``layers``); a module keeps its dotted
    name (``mypkg.layers``), so two modules of one package do not share a report.
    """
    base = os.path.basename(target.rstrip("/\\").split(":")[0])
    stem = (base[:-3] if base.endswith(".py") else base) or "target"
    if ":" in target:
        stem += "-" + target.rsplit(":", 1)[1]
    return os.path.join("reports", re.sub(r"[^A-Za-z0-9_.-]+", "_", stem) + ".html")


def _add_check(sub: argparse._SubParsersAction) -> None:
    from gradcheck.adapters import APIS
    from gradcheck.config import PROFILES
    from gradcheck.ops import OP_NAMES

    p = sub.add_parser(
        "check",
        help="check an implementation against finite differences, torch and scipy",
        description="Check the forward and backward of every op TARGET provides. TARGET is `reference`, a module "
        "(mypkg.layers), a file (path/to/layers.py), optionally followed by :attribute. Ops: " + ", ".join(OP_NAMES),
    )
    p.add_argument("targets", nargs="+", metavar="target",
                   help="one or more targets; several (submissions/*/layers.py) are checked one after the other and "
                   "summarised in --out")
    p.add_argument("--api", choices=APIS, default="native", help="the calling convention (default: native)")
    p.add_argument("--ops", type=_ops, help="comma-separated ops to check (default: all the target provides)")
    p.add_argument("--profile", choices=list(PROFILES), default=None, help="hypothesis profile (default: ci, or $GRADCHECK_PROFILE)")
    p.add_argument("--max-examples", type=positive_int, help="smooth cases per op (default: the profile's)")
    p.add_argument("--kink-examples", type=non_negative_int, help="kink and tie cases per op (default: the profile's)")
    p.add_argument("--seed", type=non_negative_int, help="randomise case generation reproducibly")
    p.add_argument("--dtype", choices=DTYPES, default="float64",
                   help="dtype given to the candidate (float16 and bfloat16 are judged against torch's own error in "
                        "that dtype; bfloat16 needs --api torch)")
    p.add_argument("--deterministic", action="store_true",
                   help="repeated calls must be bitwise equal (by default they may differ within rounding)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (torch API only)")
    p.add_argument("--allow-tf32", action="store_true", help="leave TF32 on for CUDA convs (and judge them by TF32's roundoff)")
    p.add_argument("--timeout", type=positive_float, default=20.0, help="seconds one candidate call may take (default 20)")
    p.add_argument("--jobs", type=positive_int, default=1, help="ops checked at once, each in its own process")
    p.add_argument("--json", metavar="PATH", help="write the records as JSON")
    p.add_argument("--report", metavar="PATH", help="HTML report path (default reports/<target>.html)")
    p.add_argument("--no-report", action="store_true", help="write no HTML report")
    p.add_argument("--out", metavar="DIR", help="write each target's JSON and report, summary.json and index.html into "
                   "DIR (default with several targets: reports)")
    p.add_argument("--ledger", action=argparse.BooleanOptionalAction, default=None,
                   help="include the seed's equation ledger in the reports (default: for the reference only)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_run_check)


def _outputs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """``[(what, path)]`` of the files the run will write."""
    out = [("JSON", args.json)] if args.json else []
    if not args.no_report:
        out.append(("report", args.report or default_report_path(args.target)))
    return out


def _output_problem(path: str) -> str | None:
    """Why ``path`` cannot be written (checked before a run, so a long run is not wasted)."""
    if os.path.isdir(path):
        return f"{path} is a folder"
    probe = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        return f"{probe} is not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"no permission to write in {probe}"
    return None


def _write_outputs(run, args) -> tuple[list[str], bool]:
    """Write the JSON and the HTML report; ``(notes, all written)``. A file that cannot be
    written is one line on stderr, and the others are still written."""
    from gradcheck.records import write_json_atomic

    notes, ok = [], True
    for what, path in _outputs(args):
        try:
            if what == "JSON":
                write_json_atomic(path, run.to_dict())
            else:
                from gradcheck.report import write_html

                write_html(run, path)
        except OSError as exc:
            sys.stderr.write(f"gradcheck: error: could not write the {what} to {path}: {exc.strerror or exc}\n")
            ok = False
            continue
        notes.append(f"{what}: {path}")
    return notes, ok


def _summary(run) -> str:
    from gradcheck.report.terminal import format_summary

    return format_summary(run, color=sys.stdout.isatty())


def _run_check(args: argparse.Namespace) -> int:
    from gradcheck.adapters import LoadError
    from gradcheck.config import run_config
    from gradcheck.records import RunResult
    from gradcheck.run.runner import run_check

    try:
        cfg = run_config(
            ops=args.ops, profile=args.profile, max_examples=args.max_examples, kink_examples=args.kink_examples,
            seed=args.seed, timeout=args.timeout, dtype=args.dtype, device=args.device, allow_tf32=args.allow_tf32,
            jobs=args.jobs, deterministic=args.deterministic,
        )
        if args.dtype == "bfloat16" and args.api != "torch":
            raise ValueError("--dtype bfloat16 needs --api torch: numpy has no bfloat16 (float16 works with every API)")
        from gradcheck.run.worker import memory_limit_bytes

        memory_limit_bytes(args.jobs)  # a malformed $GRADCHECK_MEMORY_LIMIT is bad input
    except ValueError as exc:
        sys.stderr.write(f"gradcheck: error: {exc}\n")
        return 2
    if args.device != "cpu" and not re.fullmatch(r"cuda(:\d+)?", args.device):
        sys.stderr.write(f"gradcheck: error: --device must be cpu or cuda[:N], got {args.device!r}\n")
        return 2
    args.target = args.targets[0]
    if len(args.targets) > 1 or args.out:
        return _run_many(args, cfg)
    for what, path in _outputs(args):
        problem = _output_problem(path)
        if problem:
            sys.stderr.write(f"gradcheck: error: cannot write the {what} to {path}: {problem}\n")
            return 2
    run = RunResult(target=args.target, api=args.api)
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    status = 0
    started = time.perf_counter()
    try:
        run_check(args.target, args.api, cfg, progress=progress, result=run)
        _add_second_order(run, args, cfg, progress)
    except LoadError as exc:
        sys.stderr.write(f"gradcheck: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        run.complete = False
        status = 130
        sys.stderr.write("gradcheck: interrupted; writing what was checked so far (marked incomplete)\n")
    wants_ledger = args.ledger or (args.ledger is None and args.target == "reference")
    if run.complete and wants_ledger and (args.json or not args.no_report):
        status = _add_ledger(run, progress) or status
    run.duration_s = time.perf_counter() - started  # the total: loading, checks, second order, ledger
    print(_summary(run))
    notes, written = _write_outputs(run, args)
    for note in notes:
        print(note)
    if status:
        return status
    if not written:
        return 2
    return 0 if run.passed else 1


def _add_second_order(run, args: argparse.Namespace, cfg, progress) -> None:
    """torch.autograd.Function ops: the second-order checks (``gradcheck.judge.second_order``)."""
    if args.api == "torch":
        import time

        from gradcheck.run.second_order import add_second_order

        t0 = time.perf_counter()
        add_second_order(run, args.target, args.api, cfg, progress=progress)
        run.duration_s += time.perf_counter() - t0


def _run_many(args: argparse.Namespace, cfg) -> int:
    """Several targets (or ``--out``): each checked and written into the folder, then the summary."""
    from gradcheck.report.summary import run_many

    if args.json or args.report:
        sys.stderr.write("gradcheck: error: --json and --report name one target's files; with several targets (or "
                         "--out) each target's JSON and report go into --out DIR\n")
        return 2
    folder = args.out or "reports"
    problem = _output_problem(os.path.join(folder, "summary.json"))
    if problem:
        sys.stderr.write(f"gradcheck: error: cannot write into {folder}: {problem}\n")
        return 2
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    wants_ledger = bool(args.ledger) and not args.no_report

    def ledger(run) -> None:
        if wants_ledger and run.complete:
            _add_ledger(run, progress)

    try:
        summary, interrupted = run_many(args.targets, args.api, cfg, folder, report=not args.no_report,
                                        progress=progress, ledger=ledger)
    except OSError as exc:
        sys.stderr.write(f"gradcheck: error: could not write into {folder}: {exc.strerror or exc}\n")
        return 2
    from gradcheck.report.summary import format_table

    print(format_table(summary))
    print(f"summary: {os.path.join(folder, 'summary.json')}, {os.path.join(folder, 'index.html')}")
    if interrupted:
        sys.stderr.write("gradcheck: interrupted; the summary holds what was checked (marked incomplete)\n")
        return 130
    return 0 if summary["passed"] else 1


def _add_ledger(run, progress) -> int:
    """Put the equation ledger into ``run``; the checks already done are kept whatever happens.

    Returns 130 when interrupted (the run is then marked incomplete), else 0.
    """
    from gradcheck.run.runner import sigterm_as_interrupt

    try:
        with sigterm_as_interrupt():
            if progress:
                progress("checking the seed's equations for the report (gradcheck equations)")
            from gradcheck.ledger import run_ledger

            run.ledger = run_ledger(progress=progress)
    except KeyboardInterrupt:
        run.complete = False
        sys.stderr.write("gradcheck: interrupted while checking the equations; writing the checks without the ledger "
                         "(marked incomplete)\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the checks must still be written
        sys.stderr.write(f"gradcheck: warning: the equation ledger could not be made ({type(exc).__name__}: {exc}); "
                         "writing the checks without it\n")
    return 0


def _first_positional(argv: Sequence[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def _add_optional(sub: argparse._SubParsersAction, name: str, module: str, help_text: str, wanted: bool) -> None:
    """Register a subcommand whose module is imported only when the command is the one asked for
    (so ``gradcheck check`` never pays for it, nor fails when it cannot be imported)."""
    import importlib

    p = sub.add_parser(name, help=help_text, description=help_text)
    if not wanted:
        return
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        message = f"the {name} command is not available: {exc}"

        def unavailable(args: argparse.Namespace) -> int:
            sys.stderr.write(f"gradcheck: error: {message}\n")
            return 2

        p.set_defaults(func=unavailable)
        return
    p.description = (mod.__doc__ or help_text).strip().splitlines()[0]
    mod.add_arguments(p)
    p.set_defaults(func=mod.run)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; the optional subcommands' modules are imported only when ``argv`` names them
    (``argv=None`` imports them all, as for a full ``--help``)."""
    parser = _Parser(prog="gradcheck", description="Gradient verification for convolution, activation and pooling layers.")
    from gradcheck import __version__

    parser.add_argument("--version", action="version", version=f"gradcheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_check(sub)
    command = None if argv is None else _first_positional(argv)
    for name, module, help_text in (
        ("equations", "gradcheck.ledger.cli", "check every numbered equation of the seed as printed"),
        ("bench", "gradcheck.bench", "time the harness against torch.autograd.gradcheck and torch's kernels"),
    ):
        _add_optional(sub, name, module, help_text, wanted=argv is None or command == name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from gradcheck.config import keep_hypothesis_files_in_cache

    keep_hypothesis_files_in_cache()  # no .hypothesis folder in the user's current one
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        sys.stderr.write("gradcheck: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
