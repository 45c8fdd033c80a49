"""The equation ledger: every numbered equation of the seed checked exactly as printed.

Each equation 1-22 of ``seed/backpropagation-in-cnns.md`` and each pooling routing rule is
transcribed literally (:mod:`.transcriptions`), run on hypothesis-drawn inputs, and compared
with scipy, torch autograd, finite differences or another equation of the seed. The verdict
(``holds``, ``fails-as-printed``, ``holds-conditionally``) comes from those checks; failures
carry the smallest counterexample found and a corrected form, itself checked.

>>> from gradcheck.ledger import run_ledger, format_table
>>> print(format_table(run_ledger(max_examples=20)))  # doctest: +SKIP
"""
from __future__ import annotations

from .verify import VERDICTS, check_entry, format_table, ledger_json, run_ledger

__all__ = ["VERDICTS", "run_ledger", "format_table", "ledger_json", "check_entry"]
