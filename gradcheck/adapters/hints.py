"""Which calling convention a target looks written for, to say so when ``--api`` is another.

A CS231n ``layers.py`` checked with the native convention would otherwise have its
``relu_forward`` / ``relu_backward`` (names both conventions use) called the native way and fail
baffling checks, and its convolution not be seen at all. :func:`convention_hint` finds the
convention whose functions the target defines; :func:`gradcheck.adapters.load` turns a mismatch
into one line suggesting the right ``--api``.
"""
from __future__ import annotations

from typing import Any

from gradcheck.ops import PROTOCOL
from gradcheck.adapters.cs231n import OPS as _CS231N_OPS

__all__ = ["convention_names", "convention_hint"]


def _callable(obj: Any, name: str) -> bool:
    try:
        return callable(getattr(obj, name, None))
    except Exception:  # noqa: BLE001 - a target's attribute may raise when read
        return False


def convention_names(obj: Any) -> dict[str, dict[str, list[str]]]:
    """Per convention, ``{op: [the names of it obj defines]}`` for every op it defines whole."""
    native = {op: [p.forward_name, p.backward_name] for op, p in PROTOCOL.items()}
    cs231n = {label: [n for n in (c.forward, c.backward) if n] for label, (_, c) in _CS231N_OPS.items()}
    torch = {op: [op] for op in PROTOCOL}
    out: dict[str, dict[str, list[str]]] = {}
    for api, table in (("native", native), ("cs231n", cs231n), ("torch", torch)):
        out[api] = {op: names for op, names in table.items() if all(_callable(obj, n) for n in names)}
    return out


def convention_hint(obj: Any, target: str, api: str) -> str | None:
    """One line suggesting another ``--api`` when ``obj`` is written for another convention, else ``None``.

    The other convention is suggested when it recognises more ops than ``api`` does and every
    function ``api`` recognises is one that convention uses too (``relu_forward`` in a CS231n
    file), so nothing is lost by switching.
    """
    found = convention_names(obj)
    mine = found.get(api, {})
    my_names = {n for names in mine.values() for n in names}
    best = None
    for other, ops in found.items():
        if other == api or len(ops) <= len(mine):
            continue
        their_names = {n for names in ops.values() for n in names}
        if not my_names <= their_names:
            continue
        if best is None or len(ops) > len(found[best]):
            best = other
    if best is None:
        return None
    names = [n for names in found[best].values() for n in names if n not in my_names] or \
        [n for names in found[best].values() for n in names]
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    seen = (f"with --api {api} only {', '.join(mine)} would be checked" if mine
            else f"it defines no function of the {api} convention")
    return (f"{target} looks written for the {best} convention (it defines {shown}); {seen}: "
            f"check it with --api {best}")
