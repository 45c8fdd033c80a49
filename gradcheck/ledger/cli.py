"""Check every numbered equation of the seed exactly as printed.

Usage: ``gradcheck equations [--json PATH] [--report PATH] [--max-examples N] [--seed S] [--quiet]``.
Progress goes to stderr, one line per equation, as ``gradcheck check`` reports its ops.
The main ``gradcheck`` command registers this module as its ``equations`` subcommand by
calling :func:`add_arguments` on the subcommand's parser and :func:`run` on the parsed
arguments. ``run`` prints the table and returns 0 whenever the ledger ran, whatever the
verdicts; 2 for a usage error (one line on stderr, nothing run).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, Callable

from gradcheck.records import write_json_atomic

from gradcheck.ledger.verify import format_table, ledger_json, run_ledger

__all__ = ["add_arguments", "run"]

PROG = "gradcheck equations"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ledger's options to ``parser`` (values are validated by :func:`run`)."""
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="also write the ledger as JSON to PATH")
    parser.add_argument("--report", metavar="PATH", default=None,
                        help="also write an HTML report of the ledger to PATH")
    parser.add_argument("--max-examples", metavar="N", default="50",
                        help="hypothesis cases per check (positive integer, default 50)")
    parser.add_argument("--seed", metavar="S", default="0",
                        help="seed of every hypothesis run (integer, default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    return int(str(value).strip())


def _html_writer() -> Callable[[list[dict[str, Any]], str], Any] | None:
    try:
        report = importlib.import_module("gradcheck.report")
    except ImportError:
        return None
    writer = getattr(report, "write_ledger_html", None)
    return writer if callable(writer) else None


def _usage_error(message: str) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Run the ledger, print its table, write the files asked for; return the exit status."""
    try:
        max_examples = _int(args.max_examples)
        if max_examples < 1:
            raise ValueError(max_examples)
    except ValueError:
        return _usage_error(f"--max-examples must be a positive integer, got {args.max_examples!r}")
    try:
        seed = _int(args.seed)
    except ValueError:
        return _usage_error(f"--seed must be an integer, got {args.seed!r}")
    writer = None
    if args.report:
        writer = _html_writer()
        if writer is None:
            return _usage_error("HTML reports are unavailable (no "
                                "gradcheck.report.write_ledger_html); nothing was run")

    quiet = getattr(args, "quiet", False)
    progress = None if quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    entries = run_ledger(max_examples=max_examples, seed=seed, progress=progress)
    print(format_table(entries))
    try:
        if args.json:
            write_json_atomic(args.json,
                              ledger_json(entries, seed=seed, max_examples=max_examples))
            print(f"JSON written to {args.json}")
        if writer is not None:
            writer(entries, args.report)
            print(f"HTML report written to {args.report}")
    except OSError as exc:
        print(f"{PROG}: cannot write {exc.filename or 'output'}: {exc.strerror or exc}",
              file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: ``python -m gradcheck.ledger.cli``."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
