"""The equation ledger: every numbered equation of the seed checked exactly as printed.

Each equation 1-22 of ``seed/backpropagation-in-cnns.md`` and each pooling routing rule is
transcribed literally (:mod:`.transcriptions`), run on hypothesis-drawn inputs, and compared
with scipy, torch autograd, finite differences or another equation of the seed. The verdict
(``holds``, ``fails-as-printed``, ``holds-conditionally``) comes from those checks; failures
carry the smallest counterexample found and a corrected form, itself checked. Each entry's
standing says how wrong it is: right under a standard reading (an index shift), right only
under another reading, or wrong in every reading tried.

>>> from gradcheck.ledger import run_ledger, format_table
>>> print(format_table(run_ledger(max_examples=20)))  # doctest: +SKIP
"""
from __future__ import annotations

from gradcheck.ledger.verify import STANDINGS, VERDICTS, check_entry, format_table, ledger_json, run_ledger

__all__ = ["VERDICTS", "STANDINGS", "run_ledger", "format_table", "ledger_json", "check_entry"]
