"""Reports of a run: a self-contained HTML page, the equation ledger, a terminal summary.

All three render the same :class:`gradcheck.records.RunResult` (and ledger entries); none
holds logic of its own about what passed or failed.
"""
from gradcheck.report.html import render_html, render_ledger_html, write_html, write_ledger_html
from gradcheck.report.terminal import format_summary

__all__ = [
    "render_html",
    "write_html",
    "render_ledger_html",
    "write_ledger_html",
    "format_summary",
]
