"""Running the ledger: every entry checked, a verdict each, as JSON-able dicts and a table.

Verdicts are decided by the checks (:func:`gradcheck.ledger.checks.check_class`), never by
the text of an entry:

- ``fails-as-printed``: the transcription disagrees with an oracle on the seed's own setting
  (the entry's first case class); the smallest such case, shrunk by hypothesis, is recorded,
  and the corrected form is checked on the same oracles and cases;
- ``holds``: it agrees on the seed's setting and on every wider class;
- ``holds-conditionally``: it agrees on the seed's setting but not on some wider class; the
  condition is what those classes break (``non-overlapping windows (stride = N)``, ...).

Beside the literal verdict, each entry's *standing* says how wrong it is, for a reader who must
act on it (:data:`STANDINGS`): it holds; it holds under a condition; it fails as printed but holds
under a standard reading (the seed's own operation with another index convention, such as ``*``
as scipy's ``mode='valid'``: an index shift); it holds only if a symbol is given another meaning
(``*`` read as a cross-correlation); or it is wrong in every reading tried.
"""
from __future__ import annotations

import contextlib
import inspect
import platform
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from gradcheck.ledger.checks import TOLERANCES, ClassResult, check_class, finite_or_none
from gradcheck.ledger.entries import ENTRIES, Entry

__all__ = ["VERDICTS", "STANDINGS", "check_entry", "run_ledger", "format_table", "ledger_json", "standing"]

#: Every verdict an entry can get.
VERDICTS = ("holds", "fails-as-printed", "holds-conditionally")

#: Every standing an entry can get, with its label: how wrong the equation is.
STANDINGS = {
    "holds": "holds",
    "holds-conditionally": "holds under a condition",
    "holds-under-standard-reading": "holds under a standard reading",
    "holds-under-other-reading": "holds only under another reading",
    "wrong-in-every-reading": "wrong in every reading tried",
}

#: Where the equations come from (for the JSON's metadata).
SOURCE = "seed/backpropagation-in-cnns.md (Jefkine, 2016): equations 1-22 and the pooling rules"


def _source(fn: Any) -> str:
    return inspect.getsource(fn)


def _shapes(cx: dict[str, Any] | None) -> str:
    if not cx:
        return ""
    return ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in cx["shapes"].items())


def _err(v: float | None) -> str:
    return "n/a (shapes or NaNs differ)" if v is None else f"{v:.3g}"


def _reason(entry: Entry, out: dict[str, Any], classes: list[ClassResult]) -> str:
    verdict = out["verdict"]
    if verdict == "holds":
        text = (f"agrees with {', '.join(out['checked_against'])} on {out['examples']} cases "
                f"(max |err| {out['max_abs_err']:.1e})")
    elif verdict == "fails-as-printed":
        cx = out["counterexample"]
        why = entry.explain or f"disagrees with {cx['oracle'] if cx else 'its oracle'}"
        text = f"{why}; smallest case {_shapes(cx)}, |err| {_err(cx and cx['max_abs_err'])}"
        if out["corrected"]:
            text += f"; corrected form {out['corrected']['verdict']}"
    else:
        broken = [f"{c.label}: disagrees with {', '.join(c.disagreeing)}"
                  for c in classes[1:] if not c.holds]
        text = f"holds only with {out['condition']} ({'; '.join(broken)})"
    failing = [a["short"] for a in out["alternatives"] if a["verdict"] == "fails"]
    holding = [a["short"] for a in out["alternatives"] if a["verdict"] == "holds"]
    if verdict == "holds" and failing:
        text += f"; not if read as: {', '.join(failing)}"
    if verdict != "holds" and holding:
        text += f"; holds if read as: {', '.join(holding)}"
    if verdict != "holds" and failing:
        text += f"; fails too if read as: {', '.join(failing)}"
    return text


def standing(out: dict[str, Any], standard: dict[str, bool]) -> tuple[str, str]:
    """``(standing, note)`` of a checked entry ``out``; ``standard`` says which alternative
    readings (by ``short``) are standard ones (see :class:`~gradcheck.ledger.entries.Alternative`)."""
    verdict = out["verdict"]
    if verdict == "holds":
        return "holds", ""
    if verdict == "holds-conditionally":
        return "holds-conditionally", f"holds only with {out['condition']}"
    alts = out.get("alternatives") or []
    holding = [a for a in alts if a["verdict"] == "holds"]
    fixed = out.get("corrected") and out["corrected"]["verdict"] == "holds"
    tail = "; the corrected form holds" if fixed else ""
    for a in holding:
        if standard.get(a["short"]):
            return "holds-under-standard-reading", (f"right up to the index convention: holds when read as "
                                                    f"{a['reading']}{tail}")
    if holding:
        a = holding[0]
        return "holds-under-other-reading", (f"wrong in the seed's own reading; holds only if read as {a['reading']}"
                                             f"{tail}")
    tried = len(alts)
    others = f" and in the {tried} other reading{'s' if tried != 1 else ''} tried" if tried else \
        " (no other reading was found to try)"
    return "wrong-in-every-reading", f"wrong as printed{others}{tail}"


def check_entry(entry: Entry, *, max_examples: int = 50, seed: int = 0) -> dict[str, Any]:
    """Check one entry on all its case classes, its corrected form and its alternatives.

    Returns the entry's JSON-able dict (see :func:`run_ledger` for the keys).
    """
    classes = [check_class(entry.evaluate, entry.oracles, cls, max_examples=max_examples,
                           seed=seed) for cls in entry.classes]
    base, wider = classes[0], classes[1:]
    if not base.holds:
        verdict, condition, cx = "fails-as-printed", "", base.counterexample
        max_err = base.max_abs_err
    elif all(c.holds for c in wider):
        verdict, condition, cx = "holds", "", None
        max_err = max(c.max_abs_err for c in classes)
    else:
        verdict = "holds-conditionally"
        condition = " and ".join(c.requires for c in wider if not c.holds)
        cx = next(c.counterexample for c in wider if not c.holds)
        max_err = base.max_abs_err

    corrected = None
    if verdict == "fails-as-printed" and entry.corrected is not None:
        cr = check_class(entry.corrected.evaluate, entry.oracles, entry.classes[0],
                         max_examples=max_examples, seed=seed)
        corrected = {"latex": entry.corrected.latex,
                     "transcription": _source(entry.corrected.transcription),
                     "verdict": "holds" if cr.holds else "fails-as-printed",
                     "max_abs_err": finite_or_none(cr.max_abs_err), "examples": cr.examples,
                     "counterexample": cr.counterexample}

    alternatives = []
    for alt in entry.alternatives:  # other readings: reported, not shrunk, half the cases
        oracles = alt.oracles or entry.oracles
        cls = entry.classes[alt.case_class]
        ar = check_class(alt.evaluate, oracles, cls, max_examples=max(1, max_examples // 2),
                         seed=seed, shrink=False)
        alternatives.append({"short": alt.short, "reading": alt.reading, "cases": cls.label,
                             "checked_against": [o.name for o in oracles],
                             "verdict": "holds" if ar.holds else "fails",
                             "max_abs_err": finite_or_none(ar.max_abs_err),
                             "examples": ar.examples})

    out: dict[str, Any] = {
        "id": entry.id,
        "number": entry.number,
        "title": entry.title,
        "latex": entry.latex,
        "transcription": _source(entry.transcription),
        "reading": entry.reading,
        "setting": entry.setting,
        "checked_against": entry.checked_against,
        "verdict": verdict,
        "condition": condition,
        "reason": "",
        "max_abs_err": finite_or_none(max_err),
        "examples": sum(c.examples for c in classes),
        "counterexample": cx,
        "corrected": corrected,
        "classes": [c.to_dict() for c in classes],
        "alternatives": alternatives,
    }
    out["reason"] = _reason(entry, out, classes)
    out["standing"], out["standing_note"] = standing(out, {a.short: a.standard for a in entry.alternatives})
    out["standing_label"] = STANDINGS[out["standing"]]
    return out


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run torch single-threaded (its thread pool costs far more than these tiny ops save),
    restoring the caller's setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_ledger(*, max_examples: int = 50, seed: int = 0,
               ids: Iterable[str] | None = None,
               progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Check every equation of the seed as printed; one JSON-able dict per entry.

    Parameters
    ----------
    max_examples : int
        Hypothesis cases per case class (positive).
    seed : int
        Seed of every hypothesis run; the same seed gives the same verdicts and counterexamples.
    ids : iterable of str, optional
        Only these entries (``"eq1"`` ... ``"eq22"``, ``"pool-max"``, ``"pool-avg"``,
        ``"pool-l2"``), in the ledger's order; all by default.
    progress : callable, optional
        Called with one line (``"[3/25] eq3: fails-as-printed (wrong in every reading tried)"``)
        after each entry is checked.

    Returns
    -------
    list of dict
        Keys: ``id``, ``number`` (int or None), ``title``, ``latex``, ``transcription``
        (source of the literal code), ``reading``, ``setting``, ``checked_against``,
        ``verdict`` (one of :data:`VERDICTS`), ``condition``, ``reason``, ``max_abs_err``,
        ``examples``, ``counterexample`` (None or small arrays as nested lists with their
        shapes), ``corrected`` (None or ``latex``, ``transcription``, ``verdict``,
        ``max_abs_err``, ``examples``), ``classes``, ``alternatives``, and ``standing`` (one of
        :data:`STANDINGS`), ``standing_label`` and ``standing_note`` (what the standing rests on).
    """
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
        raise ValueError(f"max_examples must be a positive int, got {max_examples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    entries = ENTRIES
    if ids is not None:
        wanted = set(ids)
        unknown = wanted - {e.id for e in ENTRIES}
        if unknown:
            raise ValueError(f"unknown ledger entries: {', '.join(sorted(unknown))}")
        entries = tuple(e for e in ENTRIES if e.id in wanted)
    out = []
    with _one_torch_thread():
        for k, e in enumerate(entries, 1):
            out.append(check_entry(e, max_examples=max_examples, seed=seed))
            if progress:
                verdict, label = out[-1]["verdict"], out[-1]["standing_label"]
                progress(f"[{k}/{len(entries)}] {e.id}: {verdict}" + (f" ({label})" if label != verdict else ""))
    return out


def format_table(entries: list[dict[str, Any]]) -> str:
    """A plain-text table: equation, verdict, standing (how wrong), one-line reason; a row per entry.

    Entries checked by an older version (no ``standing``) show their verdict in its place.
    """
    rows = [("equation", "verdict", "at a glance", "reason")]
    rows += [(e["id"], e["verdict"], e.get("standing_label") or e["verdict"], e["reason"]) for e in entries]
    w = [max(len(r[k]) for r in rows) for k in range(3)]
    lines = [f"{a:<{w[0]}}  {b:<{w[1]}}  {c:<{w[2]}}  {d}" for a, b, c, d in rows]
    lines.insert(1, f"{'-' * w[0]}  {'-' * w[1]}  {'-' * w[2]}  {'-' * 6}")
    counts: dict[str, int] = {}
    for e in entries:
        label = e.get("standing_label") or e["verdict"]
        counts[label] = counts.get(label, 0) + 1
    lines += ["", "; ".join(f"{label}: {n}" for label, n in counts.items())]
    return "\n".join(lines)


def ledger_json(entries: list[dict[str, Any]], *, seed: int | None = None,
                max_examples: int | None = None) -> dict[str, Any]:
    """The ledger as one JSON document: ``{"equations": entries, ...metadata}``."""
    import hypothesis
    import numpy
    import scipy
    import torch

    counts = {v: sum(e["verdict"] == v for e in entries) for v in VERDICTS}
    standings = {v: sum(e.get("standing") == v for e in entries) for v in STANDINGS}
    return {
        "schema": "gradcheck-ledger/1",
        "source": SOURCE,
        "seed": seed,
        "max_examples": max_examples,
        "tolerances": dict(TOLERANCES),
        "counts": counts,
        "standings": standings,
        "versions": {"python": platform.python_version(), "numpy": numpy.__version__,
                     "scipy": scipy.__version__, "torch": torch.__version__,
                     "hypothesis": hypothesis.__version__},
        "equations": entries,
    }
